/**
 * The session policy: pyramid_session_redis's options, their defaults, the combinations it
 * forbids (rejected when the Layer is built, with a typed error naming the
 * options), and reading them from configuration under its setting
 * names.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as CookieSigner from "../src/CookieSigner.js"
import * as SessionDuration from "../src/SessionDuration.js"
import * as SessionPolicy from "../src/SessionPolicy.js"

const SECRET = "code-secret-0123456789abcdef-0123456789abcdef"
const secret = Redacted.make(SECRET)
const ENV_SECRET = "env-secret-fedcba9876543210-fedcba9876543210"

const make = (options: Omit<SessionPolicy.Options, "secret"> = {}) => SessionPolicy.make({ secret, ...options })

/** The error a set of options is rejected with. */
const rejection = (options: SessionPolicy.Options) => Effect.flip(SessionPolicy.make(options))

type Rejection = SessionPolicy.InvalidPolicy | SessionDuration.InvalidDuration

/** The options a rejection names: a rule between options, or the one option whose duration breaks the rule. */
const optionsOf = (error: Rejection): ReadonlyArray<string> =>
  error._tag === "InvalidPolicy" ? error.options : [error.name]

const expectInvalid = (error: Rejection, ...options: ReadonlyArray<string>) => {
  expect(optionsOf(error)).toEqual(expect.arrayContaining([...options]))
  for (const option of options) expect(error.message).toContain(option)
}

/** Options given where the types forbid them: what plain JavaScript or a cast can pass. */
const untyped = (options: Record<string, unknown>): SessionPolicy.Options => options as SessionPolicy.Options

const BASE64URL_64 = /^[A-Za-z0-9_-]{64}$/

const provider = (env: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })

/** The policy `layerConfig(options)` builds from these variables. */
const fromEnv = (env: Record<string, string>, options: SessionPolicy.Options = {}) =>
  SessionPolicy.SessionPolicy.pipe(
    Effect.provide(SessionPolicy.layerConfig(options)),
    Effect.withConfigProvider(provider(env))
  )

/** Variables with a valid secret, plus these. */
const withSecret = (env: Record<string, string> = {}) => ({ SESSION_SECRET: ENV_SECRET, ...env })

describe("SessionPolicy.make", () => {
  describe("defaults", () => {
    it.effect("timeout is 1200 seconds", () =>
      Effect.gen(function*() {
        expect((yield* make()).timeout).toBe(1200)
      }))

    it.effect("the timeout lives in the Redis TTL", () =>
      Effect.gen(function*() {
        expect((yield* make()).redisTtl).toBe(true)
      }))

    it.effect("payload expiry is off", () =>
      Effect.gen(function*() {
        expect((yield* make()).payloadExpiry).toBe(false)
      }))

    it.effect("no timeout trigger and not read-heavy", () =>
      Effect.gen(function*() {
        const policy = yield* make()
        expect(policy.timeoutTrigger).toBeUndefined()
        expect(policy.readHeavy).toBe(false)
      }))

    it.effect("changes are detected", () =>
      Effect.gen(function*() {
        expect((yield* make()).detectChanges).toBe(true)
      }))

    it.effect("an undecodable payload fails rather than starting a new session", () =>
      Effect.gen(function*() {
        expect((yield* make()).deserializationFailsNew).toBe(false)
      }))

    it.effect("empty sessions are not invalidated", () =>
      Effect.gen(function*() {
        expect((yield* make()).invalidateEmptySession).toBe(false)
      }))

    it.effect("the cookie is `session` on `/`, Secure, HttpOnly, SameSite=Lax, browser-session, no Domain", () =>
      Effect.gen(function*() {
        expect((yield* make()).cookie).toStrictEqual({
          name: "session",
          path: "/",
          domain: undefined,
          secure: true,
          httpOnly: true,
          sameSite: "lax",
          maxAge: undefined,
          expires: undefined,
          partitioned: false
        })
      }))

    it.effect("the cookie is sent on failed requests too", () =>
      Effect.gen(function*() {
        expect((yield* make()).cookieOnException).toBe(true)
      }))

    it.effect("no response check and no invalid-session hook", () =>
      Effect.gen(function*() {
        const policy = yield* make()
        expect(policy.responseAllowsCookie).toBeUndefined()
        expect(policy.onInvalid).toBeUndefined()
      }))

    it.effect("the secret signs like CookieSigner.make with pyramid_session_redis's salt", () =>
      Effect.gen(function*() {
        const policy = yield* make()
        expect(policy.signer.sign("abc")).toBe(CookieSigner.make(secret).sign("abc"))
      }))

    it.effect("generated ids are 64 characters of base64url, all distinct", () =>
      Effect.gen(function*() {
        const policy = yield* make()
        const ids = Array.from({ length: 200 }, () => policy.generateId())
        for (const id of ids) expect(id).toMatch(BASE64URL_64)
        expect(new Set(ids).size).toBe(ids.length)
      }))
  })

  describe("resolved options", () => {
    it.effect("a timeout trigger turns payload expiry on", () =>
      Effect.gen(function*() {
        const policy = yield* make({ timeoutTrigger: "600 seconds" })
        expect(policy.timeoutTrigger).toBe(600)
        expect(policy.payloadExpiry).toBe(true)
      }))

    it.effect("timeout null means no timeout, so no Redis TTL", () =>
      Effect.gen(function*() {
        const policy = yield* make({ timeout: null })
        expect(policy.timeout).toBeUndefined()
        expect(policy.redisTtl).toBe(false)
      }))

    it.effect("timeout 0 means no timeout, so no Redis TTL", () =>
      Effect.gen(function*() {
        const policy = yield* make({ timeout: 0 })
        expect(policy.timeout).toBeUndefined()
        expect(policy.redisTtl).toBe(false)
      }))

    it.effect("timeout `0 seconds` means no timeout", () =>
      Effect.gen(function*() {
        expect((yield* make({ timeout: "0 seconds" })).timeout).toBeUndefined()
      }))

    it.effect("a timeout is whole seconds, whatever DurationInput it is given as", () =>
      Effect.gen(function*() {
        expect((yield* make({ timeout: "20 minutes" })).timeout).toBe(1200)
        expect((yield* make({ timeout: Duration.hours(1) })).timeout).toBe(3600)
      }))

    it.effect("a bare number is refused with InvalidDuration: milliseconds to Effect, seconds to pyramid_session_redis", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(make(untyped({ timeout: 90_000 })))
        assert.instanceOf(error, SessionDuration.InvalidDuration)
        expect(error.name).toBe("timeout")
      }))

    it.effect("setRedisTtl false is LRU mode: a timeout but no Redis TTL", () =>
      Effect.gen(function*() {
        const policy = yield* make({ setRedisTtl: false })
        expect(policy.timeout).toBe(1200)
        expect(policy.redisTtl).toBe(false)
      }))

    it.effect("read-heavy mode with a timeout and Redis TTLs is accepted", () =>
      Effect.gen(function*() {
        const policy = yield* make({ readHeavy: true })
        expect(policy.readHeavy).toBe(true)
        expect(policy.redisTtl).toBe(true)
      }))

    it.effect("cookie max-age is resolved to seconds", () =>
      Effect.gen(function*() {
        expect((yield* make({ cookieMaxAge: "1 hour" })).cookie.maxAge).toBe(3600)
      }))

    it.effect("idPrefix starts every generated id", () =>
      Effect.gen(function*() {
        const policy = yield* make({ idPrefix: "session:" })
        const id = policy.generateId()
        expect(id.startsWith("session:")).toBe(true)
        expect(id.slice("session:".length)).toMatch(BASE64URL_64)
      }))

    it.effect("idPrefix also prefixes a custom generator's ids", () =>
      Effect.gen(function*() {
        const policy = yield* make({ idPrefix: "app:", generateId: () => "fixed" })
        expect(policy.generateId()).toBe("app:fixed")
      }))

    it.effect("a custom signer is used instead of a secret", () =>
      Effect.gen(function*() {
        const signer: CookieSigner.CookieSigner = { sign: (id) => `signed:${id}`, verify: () => Option.none() }
        const policy = yield* SessionPolicy.make({ signer })
        expect(policy.signer).toBe(signer)
      }))
  })

  describe("writeMode", () => {
    const custom = { serialize: (value: unknown) => JSON.stringify(value), deserialize: (text: string) => text }
    const declaredJson = { ...custom, format: "json" as const }

    it.effect.each<
      { readonly case: string; readonly options: Omit<SessionPolicy.Options, "secret">; readonly mode: string }
    >([
      { case: "the default is replace", options: {}, mode: "replace" },
      { case: "merge when asked", options: { writeMode: "merge" }, mode: "merge" },
      {
        case: "merge with a custom serializer that declares JSON",
        options: { serializer: declaredJson, writeMode: "merge" },
        mode: "merge"
      },
      { case: "a custom serializer without a mode builds (replace)", options: { serializer: custom }, mode: "replace" }
    ])("$case", ({ mode, options }) =>
      Effect.gen(function*() {
        expect((yield* make(options)).writeMode).toBe(mode)
      }))

    it.effect("merge with a serializer that does not declare JSON is refused when the policy is built", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, serializer: custom, writeMode: "merge" }), "writeMode", "serializer")
      }))

    it.effect("an unknown mode is refused", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection(untyped({ secret, writeMode: "patch" })), "writeMode")
      }))

    it.effect("a serializer format other than json is refused", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection(untyped({ secret, serializer: { ...custom, format: "msgpack" } })), "serializer")
      }))

    it.effect("SESSION_WRITE_MODE sets it from configuration", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_WRITE_MODE: "replace" }))).writeMode).toBe("replace")
        expect((yield* fromEnv(withSecret({ SESSION_WRITE_MODE: " Merge " }))).writeMode).toBe("merge")
        const error = yield* Effect.flip(fromEnv(withSecret({ SESSION_WRITE_MODE: "patch" })))
        expect(String(error)).toContain("SESSION_WRITE_MODE")
      }))
  })

  describe("rejected combinations", () => {
    it.effect("both secret and signer", () =>
      Effect.gen(function*() {
        const signer = CookieSigner.make(secret)
        expectInvalid(yield* rejection({ secret, signer }), "secret", "signer")
      }))

    it.effect("neither secret nor signer", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({}), "secret", "signer")
      }))

    it.effect("a secret shorter than 32 characters", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret: Redacted.make("x".repeat(31)) }), "secret")
      }))

    it.effect("a secret of exactly 32 characters is accepted", () =>
      Effect.gen(function*() {
        const policy = yield* SessionPolicy.make({ secret: Redacted.make("x".repeat(32)) })
        expect(policy.timeout).toBe(1200)
      }))

    it.effect("read-heavy without a timeout", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, readHeavy: true, timeout: null }), "readHeavy", "timeout")
      }))

    it.effect("read-heavy without Redis TTLs", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, readHeavy: true, setRedisTtl: false }), "readHeavy", "setRedisTtl")
      }))

    it.effect("read-heavy with a timeout trigger", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, readHeavy: true, timeoutTrigger: "600 seconds" }),
          "readHeavy",
          "timeoutTrigger"
        )
      }))

    it.effect("read-heavy with payload expiry", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, readHeavy: true, payloadExpiry: true }), "readHeavy", "payloadExpiry")
      }))

    it.effect("a timeout trigger without a timeout", () =>
      Effect.gen(function*() {
        const error = yield* rejection({ secret, timeout: null, timeoutTrigger: "600 seconds" })
        expectInvalid(error, "timeoutTrigger", "timeout")
        expect(error.message).toContain("a timeout trigger needs a timeout")
      }))

    it.effect("a timeout trigger equal to the timeout", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, timeout: "600 seconds", timeoutTrigger: "600 seconds" }),
          "timeoutTrigger",
          "timeout"
        )
      }))

    it.effect("a timeout trigger longer than the timeout", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, timeout: "600 seconds", timeoutTrigger: "601 seconds" }),
          "timeoutTrigger",
          "timeout"
        )
      }))

    it.effect("a timeout trigger with payloadExpiry: false", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, timeoutTrigger: "600 seconds", payloadExpiry: false }),
          "timeoutTrigger",
          "payloadExpiry"
        )
      }))

    it.effect("payload expiry without a timeout", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, payloadExpiry: true, timeout: null }), "payloadExpiry", "timeout")
      }))

    it.effect("SameSite=None without Secure", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookieSameSite: "none", cookieSecure: false }),
          "cookieSameSite",
          "cookieSecure"
        )
      }))

    it.effect("SameSite=None with Secure is accepted", () =>
      Effect.gen(function*() {
        expect((yield* make({ cookieSameSite: "none" })).cookie.sameSite).toBe("none")
      }))

    it.effect("a __Host- cookie with a Domain", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookieName: "__Host-session", cookieDomain: "example.com" }),
          "cookieName",
          "cookieDomain"
        )
      }))

    it.effect("a __Host- cookie without Secure", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookieName: "__Host-session", cookieSecure: false }),
          "cookieName",
          "cookieSecure"
        )
      }))

    it.effect("a __Host- cookie on a path other than /", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookieName: "__Host-session", cookiePath: "/app" }),
          "cookieName",
          "cookiePath"
        )
      }))

    it.effect("a __Host- cookie with Secure, no Domain and Path=/ is accepted", () =>
      Effect.gen(function*() {
        expect((yield* make({ cookieName: "__Host-session" })).cookie.name).toBe("__Host-session")
      }))

    it.effect("a __Secure- cookie without Secure", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookieName: "__Secure-session", cookieSecure: false }),
          "cookieName",
          "cookieSecure"
        )
      }))

    it.effect("a Partitioned cookie without Secure", () =>
      Effect.gen(function*() {
        expectInvalid(
          yield* rejection({ secret, cookiePartitioned: true, cookieSecure: false }),
          "cookiePartitioned",
          "cookieSecure"
        )
      }))

    it.effect("a cookie name with a space", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, cookieName: "a b" }), "cookieName")
      }))

    it.effect("a cookie name with a semicolon", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, cookieName: "a;b" }), "cookieName")
      }))

    it.effect("an empty cookie name", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, cookieName: "" }), "cookieName")
      }))

    it.effect("a timeout given as a bare number of milliseconds that is not whole seconds", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection(untyped({ secret, timeout: 1500 })), "timeout")
      }))

    it.effect("a timeout of a fraction of a second in a string", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, timeout: "1.5 seconds" }), "timeout")
      }))

    it.effect("an infinite timeout (use null for no timeout)", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, timeout: Duration.infinity }), "timeout")
      }))

    it.effect("an id prefix with a space", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secret, idPrefix: "my session:" }), "idPrefix")
      }))

    it.effect("the error's message never contains the secret", () =>
      Effect.gen(function*() {
        const short = "short-but-secret"
        const error = yield* rejection({ secret: Redacted.make(short) })
        expect(error.message).not.toContain(short)
        expect(String(error)).not.toContain(short)
        expect(JSON.stringify(error)).not.toContain(short)
      }))
  })
})

describe("SessionPolicy.layer", () => {
  it.effect("provides the resolved policy", () =>
    Effect.gen(function*() {
      const policy = yield* SessionPolicy.SessionPolicy.pipe(
        Effect.provide(SessionPolicy.layer({ secret, timeout: "10 minutes", cookieName: "sid" }))
      )
      expect(policy.timeout).toBe(600)
      expect(policy.cookie.name).toBe("sid")
    }))

  it.effect("fails to build with InvalidPolicy for a rejected combination", () =>
    Effect.gen(function*() {
      const error = yield* SessionPolicy.SessionPolicy.pipe(
        Effect.provide(SessionPolicy.layer({ secret, readHeavy: true, setRedisTtl: false })),
        Effect.flip
      )
      expectInvalid(error, "readHeavy", "setRedisTtl")
    }))
})

describe("SessionPolicy.layerConfig", () => {
  describe("reads pyramid_session_redis's settings, upper-cased", () => {
    it.effect("SESSION_SECRET is the secret", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret())
        expect(policy.signer.sign("abc")).toBe(CookieSigner.make(Redacted.make(ENV_SECRET)).sign("abc"))
      }))

    it.effect("SESSION_SECRET is read as a Redacted that does not reveal it", () =>
      Effect.gen(function*() {
        const options = yield* Effect.withConfigProvider(SessionPolicy.config, provider(withSecret()))
        const read = options.secret
        assert.isTrue(Redacted.isRedacted(read))
        if (read === undefined) return
        expect(Redacted.value(read)).toBe(ENV_SECRET)
        expect(String(read)).not.toContain(ENV_SECRET)
        expect(`${read}`).not.toContain(ENV_SECRET)
        expect(JSON.stringify(options)).not.toContain(ENV_SECRET)
      }))

    it.effect("an InvalidPolicy built from configuration never contains the secret", () =>
      Effect.gen(function*() {
        const short = "too-short-env-secret"
        const error = yield* Effect.flip(fromEnv({ SESSION_SECRET: short }))
        assert.instanceOf(error, SessionPolicy.InvalidPolicy)
        expectInvalid(error, "secret")
        expect(error.message).not.toContain(short)
        expect(String(error)).not.toContain(short)
        expect(JSON.stringify(error)).not.toContain(short)
      }))

    it.effect("an InvalidPolicy for another option never contains a valid secret", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          fromEnv(withSecret({ SESSION_SET_REDIS_TTL_READHEAVY: "true", SESSION_TIMEOUT: "none" }))
        )
        assert.instanceOf(error, SessionPolicy.InvalidPolicy)
        expectInvalid(error, "readHeavy", "timeout")
        expect(String(error)).not.toContain(ENV_SECRET)
        expect(JSON.stringify(error)).not.toContain(ENV_SECRET)
      }))

    it.effect("no variables at all fails with a ConfigError naming SESSION_SECRET", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fromEnv({}))
        assert.isTrue(ConfigError.isConfigError(error) && ConfigError.isMissingData(error))
        expect(String(error)).toContain("at SESSION_SECRET:")
        expect(String(error)).toContain("or a secret, secrets or signer given in code")
      }))

    it.effect("only SESSION_SECRET set gives the defaults", () =>
      Effect.gen(function*() {
        const fromConfig = yield* fromEnv(withSecret())
        const fromCode = yield* SessionPolicy.make({ secret: Redacted.make(ENV_SECRET) })
        const { generateId: _a, signer: _b, ...configured } = fromConfig
        const { generateId: _c, signer: _d, ...coded } = fromCode
        expect(configured).toStrictEqual(coded)
      }))

    it.effect("SESSION_TIMEOUT is seconds", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_TIMEOUT: "1500" }))).timeout).toBe(1500)
      }))

    it.effect("SESSION_TIMEOUT=0 means no timeout", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_TIMEOUT: "0" }))
        expect(policy.timeout).toBeUndefined()
        expect(policy.redisTtl).toBe(false)
      }))

    it.effect("SESSION_TIMEOUT=none means no timeout", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_TIMEOUT: "none" }))
        expect(policy.timeout).toBeUndefined()
        expect(policy.redisTtl).toBe(false)
      }))

    it.effect("SESSION_TIMEOUT_TRIGGER is seconds and turns payload expiry on", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_TIMEOUT_TRIGGER: "600" }))
        expect(policy.timeoutTrigger).toBe(600)
        expect(policy.payloadExpiry).toBe(true)
      }))

    it.effect("SESSION_SET_REDIS_TTL=false is LRU mode", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_SET_REDIS_TTL: "false" }))).redisTtl).toBe(false)
      }))

    it.effect("SESSION_SET_REDIS_TTL_READHEAVY=true is read-heavy mode", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_SET_REDIS_TTL_READHEAVY: "true" }))).readHeavy).toBe(true)
      }))

    it.effect("SESSION_PYTHON_EXPIRES=true is payload expiry", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_PYTHON_EXPIRES: "true" }))).payloadExpiry).toBe(true)
      }))

    it.effect("SESSION_DETECT_CHANGES=false turns change detection off", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_DETECT_CHANGES: "false" }))).detectChanges).toBe(false)
      }))

    it.effect("SESSION_DESERIALIZED_FAILS_NEW=true starts a new session on an undecodable payload", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_DESERIALIZED_FAILS_NEW: "true" }))
        expect(policy.deserializationFailsNew).toBe(true)
      }))

    it.effect("SESSION_INVALIDATE_EMPTY_SESSION=true invalidates empty sessions", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_INVALIDATE_EMPTY_SESSION: "true" }))
        expect(policy.invalidateEmptySession).toBe(true)
      }))

    it.effect("SESSION_COOKIE_NAME, _PATH and _DOMAIN set the cookie's name, path and domain", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({
          SESSION_COOKIE_NAME: "sid",
          SESSION_COOKIE_PATH: "/app",
          SESSION_COOKIE_DOMAIN: "example.com"
        }))
        expect(policy.cookie.name).toBe("sid")
        expect(policy.cookie.path).toBe("/app")
        expect(policy.cookie.domain).toBe("example.com")
      }))

    it.effect("SESSION_COOKIE_SECURE=false drops Secure", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_SECURE: "false" }))).cookie.secure).toBe(false)
      }))

    it.effect("SESSION_COOKIE_HTTPONLY=false drops HttpOnly", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_HTTPONLY: "false" }))).cookie.httpOnly).toBe(false)
      }))

    it.effect("SESSION_COOKIE_SAMESITE sets SameSite, in either case", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_SAMESITE: "strict" }))).cookie.sameSite).toBe("strict")
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_SAMESITE: "Strict" }))).cookie.sameSite).toBe("strict")
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_SAMESITE: "None" }))).cookie.sameSite).toBe("none")
      }))

    it.effect("SESSION_COOKIE_MAX_AGE is seconds", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_MAX_AGE: "3600" }))).cookie.maxAge).toBe(3600)
      }))

    it.effect("SESSION_COOKIE_ON_EXCEPTION=false keeps the cookie off failed requests", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv(withSecret({ SESSION_COOKIE_ON_EXCEPTION: "false" }))).cookieOnException).toBe(false)
      }))

    it.effect("SESSION_PREFIX starts every generated id", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_PREFIX: "session:" }))
        const id = policy.generateId()
        expect(id.startsWith("session:")).toBe(true)
        expect(id.slice("session:".length)).toMatch(BASE64URL_64)
      }))
  })

  describe("booleans accept true/false/1/0", () => {
    const booleans = [
      ["SESSION_DETECT_CHANGES", (policy: SessionPolicy.SessionPolicyShape) => policy.detectChanges],
      ["SESSION_DESERIALIZED_FAILS_NEW", (policy: SessionPolicy.SessionPolicyShape) => policy.deserializationFailsNew],
      ["SESSION_INVALIDATE_EMPTY_SESSION", (policy: SessionPolicy.SessionPolicyShape) => policy.invalidateEmptySession],
      ["SESSION_COOKIE_SECURE", (policy: SessionPolicy.SessionPolicyShape) => policy.cookie.secure],
      ["SESSION_COOKIE_HTTPONLY", (policy: SessionPolicy.SessionPolicyShape) => policy.cookie.httpOnly],
      ["SESSION_COOKIE_ON_EXCEPTION", (policy: SessionPolicy.SessionPolicyShape) => policy.cookieOnException],
      ["SESSION_PYTHON_EXPIRES", (policy: SessionPolicy.SessionPolicyShape) => policy.payloadExpiry],
      ["SESSION_SET_REDIS_TTL_READHEAVY", (policy: SessionPolicy.SessionPolicyShape) => policy.readHeavy],
      ["SESSION_SET_REDIS_TTL", (policy: SessionPolicy.SessionPolicyShape) => policy.redisTtl]
    ] as const
    const spellings = [["true", true], ["1", true], ["false", false], ["0", false]] as const

    // every variable with every spelling: one test each, named like "SESSION_COOKIE_SECURE=0 is false"
    const cases = booleans.flatMap(([variable, read]) =>
      spellings.map(([text, value]) => [variable, text, value, read] as const)
    )

    it.effect.each(cases)("%s=%s is %s", ([variable, text, value, read]) =>
      Effect.gen(function*() {
        expect(read(yield* fromEnv(withSecret({ [variable]: text })))).toBe(value)
      }))
  })

  describe("a bad value fails with an error naming the variable and what it expects", () => {
    const bad = [
      ["SESSION_TIMEOUT", "abc", `Expected whole seconds or "none", got "abc"`],
      ["SESSION_TIMEOUT", "1.5", `Expected whole seconds or "none", got "1.5"`],
      ["SESSION_TIMEOUT", "-5", `Expected whole seconds or "none", got "-5"`],
      ["SESSION_COOKIE_SECURE", "maybe", "Expected a boolean value"],
      ["SESSION_COOKIE_SAMESITE", "sideways", `Expected lax, strict or none, got "sideways"`],
      ["SESSION_WRITE_MODE", "patch", `Expected merge or replace, got "patch"`],
      ["SESSION_ON_STORE_UNAVAILABLE", "retry", `Expected fail or anonymous, got "retry"`],
      ["SESSION_TIMEOUT_TRIGGER", "soon", "Expected an integer value"],
      ["SESSION_TIMEOUT_TRIGGER", "-5", "Expected whole seconds, zero or more"],
      ["SESSION_COOKIE_MAX_AGE", "1h", "Expected an integer value"],
      ["SESSION_MAX_LIFETIME", "-1", "Expected whole seconds, zero or more"],
      ["SESSION_SET_REDIS_TTL", "yes please", "Expected a boolean value"]
    ] as const

    it.effect.each(bad)("%s=%s: %s", ([variable, text, expected]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fromEnv(withSecret({ [variable]: text })))
        assert.isTrue(ConfigError.isConfigError(error))
        // exactly the variable's name, as `(Invalid data at SESSION_TIMEOUT: "...")`
        expect(String(error)).toContain(`at ${variable}:`)
        expect(String(error)).toContain(expected)
        expect(String(error)).not.toContain(ENV_SECRET)
      }))
  })

  describe("enumerated values and `none` are read in any case, around spaces", () => {
    it.effect.each(
      [
        ["SESSION_TIMEOUT", " NONE ", (p: SessionPolicy.SessionPolicyShape) => p.timeout, undefined],
        ["SESSION_TIMEOUT", " 90 ", (p: SessionPolicy.SessionPolicyShape) => p.timeout, 90],
        ["SESSION_COOKIE_SAMESITE", " Strict ", (p: SessionPolicy.SessionPolicyShape) => p.cookie.sameSite, "strict"],
        ["SESSION_COOKIE_SAMESITE", "LAX", (p: SessionPolicy.SessionPolicyShape) => p.cookie.sameSite, "lax"],
        ["SESSION_MAX_LIFETIME", "0", (p: SessionPolicy.SessionPolicyShape) => p.maxLifetime, undefined],
        ["SESSION_WRITE_MODE", " REPLACE ", (p: SessionPolicy.SessionPolicyShape) => p.writeMode, "replace"],
        [
          "SESSION_ON_STORE_UNAVAILABLE",
          " Anonymous ",
          (p: SessionPolicy.SessionPolicyShape) => p.onStoreUnavailable,
          "anonymous"
        ]
      ] as const
    )("%s=%j", ([variable, text, read, expected]) =>
      Effect.gen(function*() {
        expect(read(yield* fromEnv(withSecret({ [variable]: text })))).toBe(expected)
      }))
  })

  describe("configuration and code", () => {
    it.effect("a variable overrides the option given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(
          { SESSION_TIMEOUT: "300", SESSION_COOKIE_NAME: "from-env", SESSION_COOKIE_SECURE: "true" },
          { secret, timeout: "10 minutes", cookieName: "from-code", cookieSecure: false }
        )
        expect(policy.timeout).toBe(300)
        expect(policy.cookie.name).toBe("from-env")
        expect(policy.cookie.secure).toBe(true)
      }))

    it.effect("SESSION_SECRET overrides the secret given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret(), { secret })
        expect(policy.signer.sign("abc")).toBe(CookieSigner.make(Redacted.make(ENV_SECRET)).sign("abc"))
      }))

    it.effect("SESSION_TIMEOUT=none overrides a timeout given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv({ SESSION_TIMEOUT: "none" }, { secret, timeout: "10 minutes" })
        expect(policy.timeout).toBeUndefined()
      }))

    it.effect("an unset variable leaves the option given in code alone", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv({}, {
          secret,
          timeout: "10 minutes",
          cookieName: "sid",
          cookieSecure: false,
          detectChanges: false,
          idPrefix: "app:"
        })
        expect(policy.signer.sign("abc")).toBe(CookieSigner.make(secret).sign("abc"))
        expect(policy.timeout).toBe(600)
        expect(policy.cookie.name).toBe("sid")
        expect(policy.cookie.secure).toBe(false)
        expect(policy.detectChanges).toBe(false)
        expect(policy.generateId().startsWith("app:")).toBe(true)
      }))

    it.effect("a timeout of null in code is kept when SESSION_TIMEOUT is unset", () =>
      Effect.gen(function*() {
        expect((yield* fromEnv({}, { secret, timeout: null })).timeout).toBeUndefined()
      }))

    it.effect("options only code can give (a signer) combine with variables", () =>
      Effect.gen(function*() {
        const signer = CookieSigner.make(secret)
        const policy = yield* fromEnv({ SESSION_COOKIE_NAME: "sid" }, { signer })
        expect(policy.signer).toBe(signer)
        expect(policy.cookie.name).toBe("sid")
      }))

    it.effect("variables combine with code into a rejected combination, reported as InvalidPolicy", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fromEnv({ SESSION_SET_REDIS_TTL: "false" }, { secret, readHeavy: true }))
        assert.instanceOf(error, SessionPolicy.InvalidPolicy)
        expectInvalid(error, "readHeavy", "setRedisTtl")
      }))

    it.effect("the config provider can also be given with Layer.setConfigProvider", () =>
      Effect.gen(function*() {
        const policy = yield* SessionPolicy.SessionPolicy.pipe(
          Effect.provide(
            SessionPolicy.layerConfig().pipe(
              Layer.provide(Layer.setConfigProvider(provider(withSecret({ SESSION_TIMEOUT: "900" }))))
            )
          )
        )
        expect(policy.timeout).toBe(900)
      }))
  })
})

describe("negative durations", () => {
  it.effect("a negative timeout is rejected instead of meaning no timeout", () =>
    Effect.gen(function*() {
      for (const timeout of [-1000, "-5 seconds"] as const) {
        const error = yield* Effect.flip(
          SessionPolicy.make(untyped({ secret: Redacted.make("s".repeat(32)), timeout }))
        )
        expect(optionsOf(error)).toContain("timeout")
      }
    }))

  it.effect("a negative SESSION_TIMEOUT_TRIGGER fails naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SessionPolicy.config.pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["SESSION_TIMEOUT_TRIGGER", "-5"]]), { pathDelim: "_" })
        )
      ))
      expect(String(error)).toContain("SESSION_TIMEOUT_TRIGGER")
    }))
})

describe("cookie details", () => {
  const secret = Redacted.make("s".repeat(32))

  it.effect("a cookie Max-Age of zero is rejected: it would delete every session cookie at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SessionPolicy.make({ secret, cookieMaxAge: "0 seconds" }))
      expect(optionsOf(error)).toContain("cookieMaxAge")
    }))

  it.effect("a cookie path the platform would refuse is rejected when the Layer is built", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SessionPolicy.make({ secret, cookiePath: "/caf\u00e9" }))
      expect(optionsOf(error)).toContain("cookiePath")
    }))

  it.effect("SESSION_COOKIE_SAMESITE is read whatever its case", () =>
    Effect.gen(function*() {
      const options = yield* SessionPolicy.config.pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["SESSION_COOKIE_SAMESITE", "STRICT"]]), { pathDelim: "_" })
        )
      )
      expect(options.cookieSameSite).toBe("strict")
    }))
})

describe("every option is checked at run time, not only by its type", () => {
  it.effect.each<{ readonly option: string; readonly value: unknown }>([
    { option: "cookieSameSite", value: "lenient" },
    { option: "cookieSameSite", value: "Lax " },
    { option: "cookieSecure", value: "false" },
    { option: "cookieHttpOnly", value: 0 },
    { option: "setRedisTtl", value: "yes" },
    { option: "detectChanges", value: null },
    { option: "cookieName", value: 42 },
    { option: "cookiePath", value: ["/"] },
    { option: "idPrefix", value: {} },
    { option: "generateId", value: "not a function" },
    { option: "responseAllowsCookie", value: true },
    { option: "onInvalid", value: "log" },
    { option: "signer", value: { sign: () => "" } },
    { option: "serializer", value: JSON }
  ])("$option: $value is refused", ({ option, value }) =>
    Effect.gen(function*() {
      const base: Record<string, unknown> = option === "signer" ? {} : { secret }
      expectInvalid(yield* rejection(untyped({ ...base, [option]: value })), option)
    }))

  it.effect("a secret that is not Redacted is refused", () =>
    Effect.gen(function*() {
      expectInvalid(yield* rejection(untyped({ secret: SECRET })), "secret")
    }))

  it("a policy can only come from make, layer or layerConfig: one built by hand is not a SessionPolicyShape", () => {
    const handmade = {
      signer: CookieSigner.make(secret),
      timeout: 1200,
      timeoutTrigger: undefined,
      redisTtl: true,
      readHeavy: false,
      payloadExpiry: false,
      detectChanges: true,
      deserializationFailsNew: false,
      invalidateEmptySession: false,
      cookie: {
        name: "session",
        path: "/",
        domain: undefined,
        secure: true,
        httpOnly: true,
        sameSite: "none",
        maxAge: undefined,
        expires: undefined,
        partitioned: false
      },
      cookieOnException: true,
      responseAllowsCookie: undefined,
      onInvalid: undefined,
      generateId: () => "id",
      serializer: { serialize: JSON.stringify, deserialize: JSON.parse }
    } as const
    // @ts-expect-error the resolved policy is branded: only SessionPolicy.make (and its Layers) produce one
    const policy: SessionPolicy.SessionPolicyShape = handmade
    expect(policy).toBe(handmade)
  })
})

describe("maxLifetime", () => {
  it.effect("is whole seconds, and none by default", () =>
    Effect.gen(function*() {
      expect((yield* make()).maxLifetime).toBeUndefined()
      expect((yield* make({ maxLifetime: "8 hours" })).maxLifetime).toBe(28_800)
    }))

  it.effect("gives keys a TTL even without an idle timeout", () =>
    Effect.gen(function*() {
      expect((yield* make({ timeout: null, maxLifetime: "8 hours" })).redisTtl).toBe(true)
    }))

  it.effect("SESSION_MAX_LIFETIME is read in seconds", () =>
    Effect.gen(function*() {
      expect((yield* fromEnv(withSecret({ SESSION_MAX_LIFETIME: "3600" }))).maxLifetime).toBe(3600)
    }))

  it.effect("follows the duration rule: a bare number is InvalidDuration", () =>
    Effect.gen(function*() {
      expectInvalid(yield* rejection(untyped({ secret, maxLifetime: 3600 })), "maxLifetime")
    }))
})

describe("secret rotation (secrets, SESSION_SECRET_PREVIOUS)", () => {
  const PREVIOUS = "previous-secret-0123456789abcdef-0123456789"
  const OLDEST = "oldest-secret-0123456789abcdef-0123456789ab"
  const signedWith = (text: string, id = "abc") => CookieSigner.make(Redacted.make(text)).sign(id)

  /** What a policy's signer makes of cookies signed with each of these secrets. */
  const verdicts = (policy: SessionPolicy.SessionPolicyShape, ...texts: ReadonlyArray<string>) =>
    texts.map((text) => {
      const value = signedWith(text)
      return { verified: Option.getOrNull(policy.signer.verify(value)), stale: policy.signer.isStale?.(value) ?? false }
    })

  const current = { verified: "abc", stale: false }
  const stale = { verified: "abc", stale: true }
  const rejected = { verified: null, stale: false }

  describe("SessionPolicy.make", () => {
    it.effect("signs with the first secret, accepts every listed one, and only previous ones are stale", () =>
      Effect.gen(function*() {
        const policy = yield* SessionPolicy.make({ secrets: [secret, Redacted.make(PREVIOUS), Redacted.make(OLDEST)] })
        expect(policy.signer.sign("abc")).toBe(signedWith(SECRET))
        expect(verdicts(policy, SECRET, PREVIOUS, OLDEST, ENV_SECRET)).toEqual([current, stale, stale, rejected])
      }))

    it.effect("one secret in secrets is the same as secret", () =>
      Effect.gen(function*() {
        const policy = yield* SessionPolicy.make({ secrets: [secret] })
        expect(policy.signer.sign("abc")).toBe(signedWith(SECRET))
        expect(verdicts(policy, SECRET, PREVIOUS)).toEqual([current, rejected])
      }))

    it.effect.each(
      [
        { given: "secret and secrets", options: { secret, secrets: [secret] } },
        { given: "secrets and signer", options: { secrets: [secret], signer: CookieSigner.make(secret) } },
        { given: "all three", options: { secret, secrets: [secret], signer: CookieSigner.make(secret) } },
        { given: "none of them", options: {} }
      ] satisfies ReadonlyArray<{ given: string; options: SessionPolicy.Options }>
    )(
      "$given: exactly one of secret, secrets and signer",
      ({ options }) =>
        Effect.gen(function*() {
          expectInvalid(yield* rejection(options), "secret", "secrets", "signer")
        })
    )

    it.effect("a previous secret shorter than 32 characters is refused, and not shown", () =>
      Effect.gen(function*() {
        const short = "short-previous-secret"
        const error = yield* rejection({ secrets: [secret, Redacted.make(short)] })
        expectInvalid(error, "secrets")
        expect(JSON.stringify(error) + String(error)).not.toContain(short)
        expect(String(error)).not.toContain(SECRET)
      }))

    it.effect("a short current secret is refused", () =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection({ secrets: [Redacted.make("x".repeat(31)), secret] }), "secrets")
      }))

    it.effect.each<{ readonly value: unknown }>([
      { value: [] },
      { value: [SECRET] },
      { value: [secret, PREVIOUS] },
      { value: secret },
      { value: "a,b" }
    ])("secrets: $value is refused at run time", ({ value }) =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection(untyped({ secrets: value })), "secrets")
      }))

    it.effect("a custom signer's isStale, when given, must be a function", () =>
      Effect.gen(function*() {
        const signer = { ...CookieSigner.make(secret), isStale: true }
        expectInvalid(yield* rejection(untyped({ signer })), "signer")
      }))

    it.effect("a custom signer with isStale is used as it is", () =>
      Effect.gen(function*() {
        const signer = CookieSigner.rotating([CookieSigner.make(secret), CookieSigner.make(Redacted.make(PREVIOUS))])
        expect((yield* SessionPolicy.make({ signer })).signer).toBe(signer)
      }))
  })

  describe("SessionPolicy.layerConfig", () => {
    it.effect("SESSION_SECRET_PREVIOUS is comma-separated, after SESSION_SECRET; parts trimmed, empty ones ignored", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: ` ${PREVIOUS} ,, ${OLDEST},` }))
        expect(policy.signer.sign("abc")).toBe(signedWith(ENV_SECRET))
        expect(verdicts(policy, ENV_SECRET, PREVIOUS, OLDEST, SECRET)).toEqual([current, stale, stale, rejected])
      }))

    it.effect("the variables are read as secrets, in order, each a Redacted that does not reveal it", () =>
      Effect.gen(function*() {
        const options = yield* Effect.withConfigProvider(
          SessionPolicy.config,
          provider(withSecret({ SESSION_SECRET_PREVIOUS: `${PREVIOUS},${OLDEST}` }))
        )
        expect(options.secret).toBeUndefined()
        expect(options.secrets?.map((each) => Redacted.value(each))).toEqual([ENV_SECRET, PREVIOUS, OLDEST])
        const shown = JSON.stringify(options) + String(options.secrets)
        for (const text of [ENV_SECRET, PREVIOUS, OLDEST]) expect(shown).not.toContain(text)
      }))

    it.effect.each(["", " ", " , ,"])(
      "SESSION_SECRET_PREVIOUS=%j lists nothing: SESSION_SECRET alone",
      (list) =>
        Effect.gen(function*() {
          const options = yield* Effect.withConfigProvider(
            SessionPolicy.config,
            provider(withSecret({ SESSION_SECRET_PREVIOUS: list }))
          )
          expect(options.secrets).toBeUndefined()
          expect(verdicts(yield* fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: list })), ENV_SECRET)).toEqual([current])
        })
    )

    it.effect("SESSION_SECRET_PREVIOUS without SESSION_SECRET fails with a ConfigError naming SESSION_SECRET", () =>
      Effect.gen(function*() {
        // even with a secret in code: previous secrets belong to the current one they were listed with
        const error = yield* Effect.flip(fromEnv({ SESSION_SECRET_PREVIOUS: PREVIOUS }, { secret }))
        assert.isTrue(ConfigError.isConfigError(error) && ConfigError.isMissingData(error))
        expect(String(error)).toContain("at SESSION_SECRET:")
        expect(String(error)).toContain("the current secret, next to SESSION_SECRET_PREVIOUS")
        expect(String(error)).not.toContain(PREVIOUS)
      }))

    it.effect("a short previous secret from configuration is refused without being shown", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: `${PREVIOUS},too-short` })))
        assert.instanceOf(error, SessionPolicy.InvalidPolicy)
        expectInvalid(error, "secrets")
        for (const text of [ENV_SECRET, PREVIOUS, "too-short"]) {
          expect(JSON.stringify(error) + String(error)).not.toContain(text)
        }
      }))

    it.effect("SESSION_SECRET and SESSION_SECRET_PREVIOUS replace the secrets given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: PREVIOUS }), {
          secrets: [secret, Redacted.make(OLDEST)]
        })
        expect(verdicts(policy, ENV_SECRET, PREVIOUS, SECRET, OLDEST)).toEqual([current, stale, rejected, rejected])
      }))

    it.effect("SESSION_SECRET and SESSION_SECRET_PREVIOUS replace a single secret given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: PREVIOUS }), { secret })
        expect(verdicts(policy, ENV_SECRET, PREVIOUS, SECRET)).toEqual([current, stale, rejected])
      }))

    it.effect("SESSION_SECRET alone replaces the secrets given in code", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv(withSecret(), { secrets: [secret, Redacted.make(PREVIOUS)] })
        expect(verdicts(policy, ENV_SECRET, SECRET, PREVIOUS)).toEqual([current, rejected, rejected])
      }))

    it.effect("secrets given in code are kept when no secret variable is set", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv({ SESSION_TIMEOUT: "60" }, { secrets: [secret, Redacted.make(PREVIOUS)] })
        expect(verdicts(policy, SECRET, PREVIOUS)).toEqual([current, stale])
        expect(policy.timeout).toBe(60)
      }))

    it.effect("SESSION_SECRET with SESSION_SECRET_PREVIOUS and a signer in code is refused as InvalidPolicy", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          fromEnv(withSecret({ SESSION_SECRET_PREVIOUS: PREVIOUS }), { signer: CookieSigner.make(secret) })
        )
        assert.instanceOf(error, SessionPolicy.InvalidPolicy)
        expectInvalid(error, "secrets", "signer")
      }))
  })
})

describe("unknown options", () => {
  it.effect.each(["cookieSecrue", "timout", "sameSite"])(
    "%s is refused, naming it",
    (option) =>
      Effect.gen(function*() {
        expectInvalid(yield* rejection(untyped({ secret, [option]: false })), option)
      })
  )
})

describe("security options from configuration", () => {
  it.effect.each([
    {
      variable: "SESSION_HASH_IDS",
      text: "true",
      read: (p: SessionPolicy.SessionPolicyShape) => p.storageKey("abc") !== "abc",
      expected: true
    },
    {
      variable: "SESSION_MAX_PAYLOAD_BYTES",
      text: "1024",
      read: (p: SessionPolicy.SessionPolicyShape) => p.maxPayloadBytes,
      expected: 1024
    },
    {
      variable: "SESSION_MAX_TIMEOUT",
      text: "7200",
      read: (p: SessionPolicy.SessionPolicyShape) => p.maxTimeout,
      expected: 7200
    }
  ])("$variable=$text is read", ({ expected, read, text, variable }) =>
    Effect.gen(function*() {
      expect(read(yield* fromEnv(withSecret({ [variable]: text })))).toBe(expected)
    }))

  it.effect("the defaults: ids as keys, 64 KiB payloads, 30-day per-session timeouts", () =>
    Effect.gen(function*() {
      const policy = yield* make()
      expect(policy.storageKey("abc")).toBe("abc")
      expect(policy.maxPayloadBytes).toBe(65_536)
      expect(policy.maxTimeout).toBe(30 * 86_400)
    }))
})

describe("maxTimeout against timeout", () => {
  it.effect("a cap shorter than the policy's own timeout is refused", () =>
    Effect.gen(function*() {
      expectInvalid(yield* rejection({ secret, timeout: "1 hour", maxTimeout: "1 minute" }), "maxTimeout", "timeout")
    }))

  it.effect("a timeout trigger of zero means no trigger, and no payload expiry", () =>
    Effect.gen(function*() {
      const policy = yield* make({ timeoutTrigger: "0 seconds" })
      expect(policy.timeoutTrigger).toBeUndefined()
      expect(policy.payloadExpiry).toBe(false)
    }))

  it.effect.each(["timeoutTrigger", "maxTimeout", "maxLifetime"])(
    "a %s that is not a duration is refused, naming it",
    (option) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(make({ [option]: "soon" as never }))
        expect(String(error)).toContain(option)
      })
  )

  it.effect("a cap equal to the policy's own timeout is accepted", () =>
    Effect.gen(function*() {
      expect((yield* make({ timeout: "1 hour", maxTimeout: "1 hour" })).maxTimeout).toBe(3600)
    }))

  it.effect("a policy timeout over 30 days raises the default cap to it", () =>
    Effect.gen(function*() {
      expect((yield* make({ timeout: "40 days" })).maxTimeout).toBe(40 * 86_400)
    }))
})
