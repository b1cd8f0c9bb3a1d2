/**
 * Applying a commit's plan to the response (`internal/responseCookie.ts`):
 * the cookie with the policy's attributes, the headers the plan adds, and
 * the response that replaces one whose commit failed. No store, no server.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { CookieAction } from "../src/internal/commit.js"
import * as ResponseCookie from "../src/internal/responseCookie.js"
import { SessionStoreError } from "../src/RedisClient.js"
import { SessionTooLarge } from "../src/Session.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { secret } from "./support/sessionApp.js"

const NOW = 1_700_000_000

const context = (options: Partial<SessionPolicy.Options> = {}, overrides: Partial<ResponseCookie.CookieContext> = {}) =>
  Effect.map(SessionPolicy.make({ secret, ...options }), (policy): ResponseCookie.CookieContext => ({
    policy,
    now: NOW,
    maxAge: policy.cookie.maxAge,
    expires: policy.cookie.expires,
    storeRetryAfter: undefined,
    cookieRead: true,
    ...overrides
  }))

const setCookie = (response: HttpServerResponse.HttpServerResponse): string =>
  HttpServerResponse.toWeb(response).headers.getSetCookie().join("\n")

const set: CookieAction = { _tag: "Set", id: "abc" }
const expire: CookieAction = { _tag: "Expire" }
const keep: CookieAction = { _tag: "Keep" }

describe("decorate: the cookie", () => {
  it.effect("a Set cookie carries the signed id and the policy's attributes, and no domain unless one is set", () =>
    Effect.gen(function*() {
      const header = setCookie(ResponseCookie.decorate(HttpServerResponse.empty(), set, yield* context()))
      expect(header).toMatch(/^session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
      expect(header).not.toContain("abc;")
    }))

  it.effect("a domain, partitioning, a Max-Age and an Expires are added when the policy has them", () =>
    Effect.gen(function*() {
      const ctx = yield* context(
        { cookieDomain: "example.com", cookiePartitioned: true, cookieMaxAge: "1 hour", cookieSameSite: "none" },
        { expires: 60 }
      )
      const header = setCookie(ResponseCookie.decorate(HttpServerResponse.empty(), set, ctx))
      expect(header).toContain("; Domain=example.com")
      expect(header).toContain("; Partitioned")
      expect(header).toContain("; Max-Age=3600")
      expect(header).toContain(`; Expires=${new Date((NOW + 60) * 1000).toUTCString()}`)
    }))

  it.effect("an Expire cookie is empty, Max-Age=0 and Expires in 1970, with the policy's path", () =>
    Effect.gen(function*() {
      const header = setCookie(ResponseCookie.decorate(HttpServerResponse.empty(), expire, yield* context()))
      expect(header).toMatch(/^session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure/)
    }))

  it.effect("Keep sets no cookie", () =>
    Effect.gen(function*() {
      expect(setCookie(ResponseCookie.decorate(HttpServerResponse.empty(), keep, yield* context()))).toBe("")
    }))
})

describe("decorate: the headers", () => {
  it.effect("a 503 after a store failure gets the store's Retry-After", () =>
    Effect.gen(function*() {
      const out = ResponseCookie.decorate(
        HttpServerResponse.empty({ status: 503 }),
        keep,
        yield* context({}, { storeRetryAfter: 7 })
      )
      expect(out.headers["retry-after"]).toBe("7")
    }))

  it.effect("a Retry-After the handler set stays", () =>
    Effect.gen(function*() {
      const out = ResponseCookie.decorate(
        HttpServerResponse.empty({ status: 503, headers: { "retry-after": "99" } }),
        keep,
        yield* context({}, { storeRetryAfter: 7 })
      )
      expect(out.headers["retry-after"]).toBe("99")
    }))

  it.effect("a response that read the cookie varies on it; a new cookie is never cached by shared caches", () =>
    Effect.gen(function*() {
      const out = ResponseCookie.decorate(HttpServerResponse.empty(), set, yield* context())
      expect(out.headers["vary"]).toBe("Cookie")
      expect(out.headers["cache-control"]).toBeDefined()
    }))
})

describe("failure: the response that replaces one whose commit failed", () => {
  const storeError = new SessionStoreError({ reason: "Timeout", command: "SET", detail: "driver words" })
  const tooLarge = new SessionTooLarge({ bytes: 300, limit: 200 })
  const bodyText = (response: HttpServerResponse.HttpServerResponse) =>
    response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : undefined

  it.effect("a JSON response becomes the store error's JSON, 503 with Retry-After, without driver words", () =>
    Effect.gen(function*() {
      const out = yield* ResponseCookie.failure(HttpServerResponse.unsafeJson({ ok: true }), storeError)
      expect(out.status).toBe(503)
      expect(out.headers["retry-after"]).toBe(String(storeError.retryAfterSeconds))
      expect(JSON.parse(bodyText(out) ?? "")).toStrictEqual({ _tag: "SessionStoreError", reason: "Timeout" })
    }))

  it.effect("a JSON response becomes SessionTooLarge's JSON, 413", () =>
    Effect.gen(function*() {
      const out = yield* ResponseCookie.failure(HttpServerResponse.unsafeJson({ ok: true }), tooLarge)
      expect(out.status).toBe(413)
      expect(JSON.parse(bodyText(out) ?? "")).toStrictEqual({ _tag: "SessionTooLarge", bytes: 300, limit: 200 })
    }))

  it.effect("a response whose content-type header says JSON, without a body, is answered in JSON", () =>
    Effect.gen(function*() {
      const out = yield* ResponseCookie.failure(
        HttpServerResponse.empty({ headers: { "content-type": "application/problem+json" } }),
        tooLarge
      )
      expect(out.body).toMatchObject({ contentType: "application/json" })
    }))

  it.effect.each<readonly [string, HttpServerResponse.HttpServerResponse]>([
    ["a text response", HttpServerResponse.text("hello")],
    ["an empty response", HttpServerResponse.empty()]
  ])("%s gets the error's own rendering", ([, response]) =>
    Effect.gen(function*() {
      const out = yield* ResponseCookie.failure(response, tooLarge)
      expect(out.status).toBe(413)
      expect(bodyText(out)).toBe("Session too large")
    }))
})
