/**
 * The session cookie a request brought: read only once the session is used
 * (and only that one cookie), verified once. It holds the request only until
 * released; after that, only the `Cookie` header is kept.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Option from "effect/Option"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import { cookieValue } from "./cookieHeader.js"

/** @internal */
export class ClientCookie {
  #request: HttpServerRequest.HttpServerRequest | undefined
  #header: string | undefined
  #raw: { readonly value: string | undefined } | undefined
  #id: Option.Option<string> | undefined

  constructor(request: HttpServerRequest.HttpServerRequest, readonly policy: SessionPolicyShape) {
    this.#request = request
  }

  /** The request, until released. */
  get request(): HttpServerRequest.HttpServerRequest | undefined {
    return this.#request
  }

  /** The raw cookie value, if the request has one. */
  get raw(): string | undefined {
    if (this.#raw === undefined) {
      const header = this.#request === undefined ? this.#header : this.#request.headers["cookie"]
      this.#raw = { value: header === undefined ? undefined : cookieValue(header, this.policy.cookie.name) }
    }
    return this.#raw.value
  }

  /** The cookie was looked at: the response depends on it (`Vary: Cookie`). */
  get read(): boolean {
    // Stryker disable next-line ConditionalExpression: equivalent, every commit that reaches the response has read the cookie (its load, or the id a recookie or an invalidation looks up)
    return this.#raw !== undefined
  }

  /** The session id the cookie names, if its signature verifies. */
  get id(): Option.Option<string> {
    // Stryker disable next-line ConditionalExpression: equivalent in behaviour, verifying is deterministic; the cache saves the HMAC
    if (this.#id === undefined) {
      const raw = this.raw
      this.#id = raw === undefined ? Option.none() : this.policy.signer.verify(raw)
    }
    return this.#id
  }

  /** Lets go of the request; a session used later still finds its cookie. */
  release(): void {
    // Stryker disable next-line ConditionalExpression: equivalent, a header kept beside a cookie already read is never read
    if (this.#raw === undefined) {
      if (this.#request !== undefined) this.#header = this.#request.headers["cookie"]
    }
    this.#request = undefined
  }
}
