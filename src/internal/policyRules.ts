/**
 * The policy's validation helpers, one of each, and the cookie options
 * validated against the rules browsers enforce (`SameSite=None` and
 * `Partitioned` need `Secure`, the `__Host-` and `__Secure-` prefixes) and
 * the platform's own, so that a cookie can never fail to be set after its
 * session was written.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as CookieSigner from "../CookieSigner.js"
import * as SessionDuration from "../SessionDuration.js"
import { type CookiePolicy, InvalidPolicy, minimumSecretLength, type Options } from "../SessionPolicy.js"

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** @internal */
export const invalid = (options: ReadonlyArray<string>, reason: string) => new InvalidPolicy({ options, reason })

/** @internal */
export const check = (
  ok: boolean,
  options: ReadonlyArray<string>,
  reason: string
): Effect.Effect<void, InvalidPolicy> => ok ? Effect.void : Effect.fail(invalid(options, reason))

/** @internal */
export const wholeSeconds = (name: string, input: unknown): Effect.Effect<number, SessionDuration.InvalidDuration> =>
  SessionDuration.toSeconds(name, input)

/** @internal */
export const optionalSeconds = (name: string, input: unknown) =>
  input === undefined ? Effect.succeed(undefined) : wholeSeconds(name, input)

/** @internal */
export const resolveCookie = Effect.fn("SessionPolicy.resolveCookie")(function*(options: Options) {
  const name = options.cookieName ?? "session"
  const path = options.cookiePath ?? "/"
  const domain = options.cookieDomain
  const secure = options.cookieSecure ?? true
  const sameSite = options.cookieSameSite ?? "lax"
  const partitioned = options.cookiePartitioned ?? false
  yield* check(COOKIE_NAME.test(name), ["cookieName"], "is not a valid cookie name")
  yield* check(path.startsWith("/") && !/[;\s]/.test(path), ["cookiePath"], "must start with / and hold no ; or spaces")
  yield* check(domain === undefined || /^[.a-zA-Z0-9-]+$/.test(domain), ["cookieDomain"], "is not a valid domain")
  yield* check(sameSite !== "none" || secure, ["cookieSameSite", "cookieSecure"], "SameSite=None needs Secure")
  yield* check(!partitioned || secure, ["cookiePartitioned", "cookieSecure"], "Partitioned needs Secure")
  if (name.startsWith("__Host-")) {
    yield* check(secure, ["cookieName", "cookieSecure"], "a __Host- cookie needs Secure")
    yield* check(domain === undefined, ["cookieName", "cookieDomain"], "a __Host- cookie must not have a Domain")
    yield* check(path === "/", ["cookieName", "cookiePath"], "a __Host- cookie needs Path=/")
  }
  if (name.startsWith("__Secure-")) {
    yield* check(secure, ["cookieName", "cookieSecure"], "a __Secure- cookie needs Secure")
  }
  const maxAge = yield* optionalSeconds("cookieMaxAge", options.cookieMaxAge)
  // Max-Age=0 deletes the cookie at once: every request would start a new session.
  yield* check(
    maxAge !== 0,
    ["cookieMaxAge"],
    "must be at least one second (leave it unset for a browser-session cookie)"
  )
  const expires = options.cookieExpires instanceof Date || options.cookieExpires === undefined
    ? options.cookieExpires
    : yield* wholeSeconds("cookieExpires", options.cookieExpires)
  if (expires instanceof Date) {
    yield* check(!Number.isNaN(expires.getTime()), ["cookieExpires"], "is not a valid date")
  }
  // The platform's own cookie rules too, so a cookie can never fail to be set after its session
  // was written. Today only its path rule (ASCII only) goes further than the checks above; the
  // rest of the probe holds should the platform's rules grow.
  // Stryker disable next-line StringLiteral: the platform checks the value only when it is not empty
  const probe = Cookies.makeCookie(name, "probe", {
    path,
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ObjectLiteral: every domain the check above passes, the platform passes too
    ...(domain === undefined ? {} : { domain }),
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ObjectLiteral: the platform refuses only an infinite Max-Age, and seconds are finite
    ...(maxAge === undefined ? {} : { maxAge: Duration.seconds(maxAge) })
  })
  if (Either.isLeft(probe)) {
    return yield* Effect.fail(
      invalid(["cookieName", "cookiePath", "cookieDomain"], `@effect/platform refuses the cookie: ${probe.left.reason}`)
    )
  }
  return {
    name,
    path,
    domain,
    secure,
    httpOnly: options.cookieHttpOnly ?? true,
    sameSite,
    maxAge,
    expires,
    partitioned
  } satisfies CookiePolicy
})

/** @internal */
export const signingOptions = ["secret", "secrets", "signer"] as const

const shortSecret = (secret: Redacted.Redacted<string>): boolean => {
  const text: unknown = Redacted.value(secret)
  return typeof text !== "string" || text.length < minimumSecretLength
}

/** The cookie signer: from `secret`, from `secrets` (rotating), or the given `signer`. */
export const resolveSigner = (options: Options): Effect.Effect<CookieSigner.CookieSigner, InvalidPolicy> => {
  if (signingOptions.filter((name) => options[name] !== undefined).length !== 1) {
    return Effect.fail(invalid(signingOptions, "give exactly one of secret, secrets and signer"))
  }
  const { secret, secrets, signer } = options
  if (signer !== undefined) return Effect.succeed(signer)
  if (secret !== undefined) {
    return shortSecret(secret)
      ? Effect.fail(invalid(["secret"], `must be at least ${minimumSecretLength} characters`))
      : Effect.succeed(CookieSigner.make(secret))
  }
  // Unreachable, for the type only: exactly one option is given, and it is neither signer nor secret.
  // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent, see above
  if (secrets === undefined) {
    // Stryker disable next-line StringLiteral: equivalent, unreachable
    return Effect.fail(invalid(signingOptions, "give exactly one of secret, secrets and signer"))
  }
  if (secrets.some(shortSecret)) {
    return Effect.fail(invalid(["secrets"], `each must be at least ${minimumSecretLength} characters`))
  }
  return Effect.succeed(CookieSigner.rotating(Arr.map(secrets, (each) => CookieSigner.make(each))))
}
