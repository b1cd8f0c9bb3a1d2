/**
 * The policy's environment variables: pyramid_session_redis's setting names,
 * upper-cased, with `SESSION_` in front. Times are whole seconds.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { Options, SameSite, StoreOutageMode, WriteMode } from "../SessionPolicy.js"

const seconds = (name: string) =>
  Config.integer(name).pipe(
    Config.validate({ message: "Expected whole seconds, zero or more", validation: (n) => n >= 0 }),
    Config.map(Duration.seconds)
  )

/**
 * `SESSION_TIMEOUT`: seconds, or `0` / `none` for no timeout (`SessionPolicy.make` reads 0 seconds as none).
 */
const timeoutConfig = Config.string("SESSION_TIMEOUT").pipe(
  Config.mapOrFail((text): Either.Either<Duration.Duration | null, ConfigError.ConfigError> => {
    const value = text.trim().toLowerCase()
    if (value === "none") return Either.right(null)
    return /^\d+$/.test(value)
      ? Either.right(Duration.seconds(Number(value)))
      : Either.left(
        // the provider prefixes this with the variable's path itself
        ConfigError.InvalidData([], `Expected whole seconds or "none", got "${text}"`)
      )
  })
)

const sameSiteConfig = Config.string("SESSION_COOKIE_SAMESITE").pipe(
  Config.mapOrFail((text): Either.Either<SameSite, ConfigError.ConfigError> => {
    const value = text.trim().toLowerCase()
    return value === "lax" || value === "strict" || value === "none"
      ? Either.right(value)
      : Either.left(ConfigError.InvalidData([], `Expected lax, strict or none, got "${text}"`))
  })
)

const writeModeConfig = Config.string("SESSION_WRITE_MODE").pipe(
  Config.mapOrFail((text): Either.Either<WriteMode, ConfigError.ConfigError> => {
    const value = text.trim().toLowerCase()
    return value === "merge" || value === "replace"
      ? Either.right(value)
      : Either.left(ConfigError.InvalidData([], `Expected merge or replace, got "${text}"`))
  })
)

const outageConfig = Config.string("SESSION_ON_STORE_UNAVAILABLE").pipe(
  Config.mapOrFail((text): Either.Either<StoreOutageMode, ConfigError.ConfigError> => {
    const value = text.trim().toLowerCase()
    return value === "fail" || value === "anonymous"
      ? Either.right(value)
      : Either.left(ConfigError.InvalidData([], `Expected fail or anonymous, got "${text}"`))
  })
)

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

type Secrets = Pick<Options, "secret" | "secrets">

const missingCurrent = "Expected SESSION_SECRET, the current secret, next to SESSION_SECRET_PREVIOUS"

/** Comma-separated, each part trimmed, empty parts ignored; every part stays Redacted. */
const splitSecrets = (list: Redacted.Redacted<string>): Array<Redacted.Redacted<string>> =>
  Redacted.value(list).split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) =>
    Redacted.make(part)
  )

/**
 * `SESSION_SECRET`, and `SESSION_SECRET_PREVIOUS` (comma-separated, for
 * rotation) after it: `secret` alone, or `secrets` when there are previous
 * ones. Previous secrets without a current one are refused.
 */
const secretsConfig = Config.all({
  current: optional(Config.redacted("SESSION_SECRET")),
  previous: optional(Config.redacted("SESSION_SECRET_PREVIOUS"))
}).pipe(
  Config.mapOrFail(({ current, previous }): Either.Either<Secrets, ConfigError.ConfigError> => {
    const previousSecrets = previous === undefined ? [] : splitSecrets(previous)
    if (previousSecrets.length === 0) return Either.right({ secret: current })
    return current === undefined
      ? Either.left(ConfigError.MissingData(["SESSION_SECRET"], missingCurrent))
      : Either.right({ secrets: [current, ...previousSecrets] })
  })
)

const otherOptions = Config.all({
  timeout: optional(timeoutConfig),
  timeoutTrigger: optional(seconds("SESSION_TIMEOUT_TRIGGER")),
  setRedisTtl: optional(Config.boolean("SESSION_SET_REDIS_TTL")),
  readHeavy: optional(Config.boolean("SESSION_SET_REDIS_TTL_READHEAVY")),
  payloadExpiry: optional(Config.boolean("SESSION_PYTHON_EXPIRES")),
  detectChanges: optional(Config.boolean("SESSION_DETECT_CHANGES")),
  deserializationFailsNew: optional(Config.boolean("SESSION_DESERIALIZED_FAILS_NEW")),
  invalidateEmptySession: optional(Config.boolean("SESSION_INVALIDATE_EMPTY_SESSION")),
  cookieName: optional(Config.string("SESSION_COOKIE_NAME")),
  cookiePath: optional(Config.string("SESSION_COOKIE_PATH")),
  cookieDomain: optional(Config.string("SESSION_COOKIE_DOMAIN")),
  cookieSecure: optional(Config.boolean("SESSION_COOKIE_SECURE")),
  cookieHttpOnly: optional(Config.boolean("SESSION_COOKIE_HTTPONLY")),
  cookieSameSite: optional(sameSiteConfig),
  cookieMaxAge: optional(seconds("SESSION_COOKIE_MAX_AGE")),
  cookieOnException: optional(Config.boolean("SESSION_COOKIE_ON_EXCEPTION")),
  idPrefix: optional(Config.string("SESSION_PREFIX")),
  maxLifetime: optional(seconds("SESSION_MAX_LIFETIME")),
  maxPayloadBytes: optional(Config.integer("SESSION_MAX_PAYLOAD_BYTES")),
  maxTimeout: optional(seconds("SESSION_MAX_TIMEOUT")),
  hashIds: optional(Config.boolean("SESSION_HASH_IDS")),
  writeMode: optional(writeModeConfig),
  onStoreUnavailable: optional(outageConfig)
})

/** @internal */
export const options: Config.Config<Options> = Config.map(
  Config.all([secretsConfig, otherOptions]),
  ([secrets, others]): Options => ({ ...secrets, ...others })
)
