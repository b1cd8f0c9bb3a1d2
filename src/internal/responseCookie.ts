/**
 * Applies a commit's cookie decision to the response: `Set-Cookie` with the
 * signed id or an expiring one, and the headers `planHeaders` asks for; or,
 * when the commit's write failed, the 503 that replaces the response.
 */
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { SessionStoreError } from "../RedisClient.js"
import { SessionTooLarge } from "../Session.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import * as Commit from "./commit.js"

/** @internal */
export interface CookieContext {
  readonly policy: SessionPolicyShape
  /** This response's Max-Age in seconds (the policy's, or one adjusted in the request). */
  readonly maxAge: number | undefined
  /** An absolute date, or seconds from `now`. */
  readonly expires: Date | number | undefined
  /** Epoch seconds. */
  readonly now: number
  readonly storeRetryAfter: number | undefined
  readonly cookieRead: boolean
}

const cookieOptions = ({ expires, maxAge, now, policy }: CookieContext) => {
  const c = policy.cookie
  const at = typeof expires === "number" ? new Date((now + expires) * 1000) : expires
  return {
    path: c.path,
    secure: c.secure,
    httpOnly: c.httpOnly,
    sameSite: c.sameSite,
    domain: c.domain,
    ...(c.partitioned ? { partitioned: true } : {}),
    maxAge: maxAge === undefined ? undefined : Duration.seconds(maxAge),
    expires: at
  }
}

/** @internal */
export const decorate = (
  response: HttpServerResponse.HttpServerResponse,
  cookie: Commit.CookieAction,
  context: CookieContext
): HttpServerResponse.HttpServerResponse => {
  const name = context.policy.cookie.name
  // Name and attributes were validated with the policy; the value is the signer's output.
  let out = cookie._tag === "Set"
    ? HttpServerResponse.unsafeSetCookie(response, name, context.policy.signer.sign(cookie.id), cookieOptions(context))
    : cookie._tag === "Expire"
    ? HttpServerResponse.unsafeSetCookie(response, name, "", {
      ...cookieOptions(context),
      maxAge: Duration.zero,
      expires: new Date(0)
    })
    : response
  const headers = out.headers
  const changes = Commit.planHeaders(cookie, {
    vary: headers["vary"],
    cacheControl: headers["cache-control"],
    retryAfter: headers["retry-after"],
    status: out.status,
    storeRetryAfter: context.storeRetryAfter,
    cookieRead: context.cookieRead
  })
  if (changes.cacheControl !== undefined) out = HttpServerResponse.setHeader(out, "cache-control", changes.cacheControl)
  if (changes.vary !== undefined) out = HttpServerResponse.setHeader(out, "vary", changes.vary)
  if (changes.retryAfter !== undefined) out = HttpServerResponse.setHeader(out, "retry-after", changes.retryAfter)
  return out
}

/**
 * The response that replaces one whose commit failed (503 for the store,
 * 413 for a payload too large): JSON (the error's
 * encoded form, what an `HttpApi` client decodes) where the response was
 * JSON, the error's own rendering otherwise.
 */
/** @internal */
export const failure = (
  response: HttpServerResponse.HttpServerResponse,
  error: SessionStoreError | SessionTooLarge
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (!isJson(response)) return HttpServerRespondable.toResponse(error)
  return Effect.succeed(
    error._tag === "SessionStoreError"
      ? HttpServerResponse.unsafeJson(Schema.encodeSync(SessionStoreError)(error), {
        status: 503,
        headers: { "retry-after": String(error.retryAfterSeconds) }
      })
      : HttpServerResponse.unsafeJson(Schema.encodeSync(SessionTooLarge)(error), { status: 413 })
  )
}

/** Whether the client is told JSON: the platform sends `headers`, and a response copies its body's content type there. */
const isJson = (response: HttpServerResponse.HttpServerResponse): boolean =>
  response.headers["content-type"]?.includes("json") === true
