/**
 * The page's CSRF protection: a signed double-submit token that needs no
 * stored session, so a visitor who only looks creates nothing in Redis.
 *
 * The scheme. The token is `signer.sign("csrf:" + nonce)`: a random 32-byte
 * nonce signed with the session secret (the policy's `CookieSigner`, so it
 * rotates with `SESSION_SECRETS`). The server sends it twice: in a cookie
 * (`csrf`, or `__Host-csrf` when cookies are Secure; `Path=/`, `HttpOnly`,
 * `SameSite=Strict`) and in the page's forms. A POST is accepted only when the
 * form's token equals the cookie's (constant-time comparison) AND the signature
 * verifies with the `csrf:` purpose. Another site can make the browser send the
 * cookie but cannot read it to copy it into the form; a sibling subdomain that
 * plants a cookie of its own cannot sign one. The token is renewed at login and
 * logout, when the session changes hands.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomBytes, timingSafeEqual } from "node:crypto"
import { SessionPolicy } from "../../src/index.js"

const PURPOSE = "csrf:"

/**
 * The policy, whose signer and Secure flag the token uses. Looked up rather
 * than required, so the router's type stays what the benchmark provides; the
 * page's routes are never served without one.
 */
const policy = Effect.flatMap(
  Effect.serviceOption(SessionPolicy.SessionPolicy),
  Option.match({
    onNone: () => Effect.dieMessage("the demo's forms need a SessionPolicy for their CSRF token"),
    onSome: Effect.succeed
  })
)

/** The token cookie's name: `__Host-` requires Secure, Path=/ and no Domain, which it then has. */
export const cookieName = (secure: boolean) => secure ? "__Host-csrf" : "csrf"

/** Compares in constant time. */
const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The token this request's cookie carries, if it is one the server signed. */
export const fromCookie = Effect.gen(function*() {
  const { cookie, signer } = yield* policy
  const request = yield* HttpServerRequest.HttpServerRequest
  const value = request.cookies[cookieName(cookie.secure)]
  if (value === undefined) return Option.none<string>()
  const valid = Option.exists(signer.verify(value), (signed) => signed.startsWith(PURPOSE))
  return valid ? Option.some(value) : Option.none<string>()
})

/** A new token: not stored anywhere; the response's cookie carries it. */
export const fresh = Effect.map(
  policy,
  ({ signer }) => signer.sign(PURPOSE + randomBytes(32).toString("base64url"))
)

/** The cookie's token if valid, else a new one; `isNew` says whether the response must set the cookie. */
export const current = Effect.flatMap(fromCookie, (token) =>
  Option.match(token, {
    onNone: () => Effect.map(fresh, (value) => ({ token: value, isNew: true })),
    onSome: (value) => Effect.succeed({ token: value, isNew: false })
  }))

/** Sets the token cookie on a response. */
export const setCookie = (response: HttpServerResponse.HttpServerResponse, token: string) =>
  Effect.map(policy, ({ cookie }) =>
    HttpServerResponse.unsafeSetCookie(response, cookieName(cookie.secure), token, {
      path: "/",
      httpOnly: true,
      sameSite: "strict",
      secure: cookie.secure
    }))

/** Whether the form's token is the cookie's, and the cookie's is genuine. */
export const verify = (formToken: string | undefined) =>
  Effect.map(fromCookie, (cookie) => formToken !== undefined && Option.exists(cookie, (c) => sameToken(c, formToken)))
