/**
 * How sessions behave: every option of pyramid_session_redis, validated once
 * when the Layer is built and resolved into the plain values the engine
 * reads. This module is the one place where options become behaviour.
 *
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import type * as CookieSigner from "./CookieSigner.js"
import * as PolicyConfig from "./internal/policyConfig.js"
import * as internal from "./internal/policyMake.js"
import { signingOptions } from "./internal/policyRules.js"
import { sharedCacheable } from "./internal/responseHeaders.js"
import type { InvalidSession } from "./InvalidSession.js"
import type * as Serializer from "./Serializer.js"
import type * as SessionDuration from "./SessionDuration.js"

/**
 * @since 0.1.0
 * @category models
 */
export type SameSite = "lax" | "strict" | "none"

/**
 * Decides, from the final response, whether a session cookie may be sent.
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseCheck = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
) => boolean

/**
 * Told about every session that could not be used, before a new one starts.
 *
 * @since 0.1.0
 * @category models
 */
export type InvalidSessionHook = (
  request: HttpServerRequest.HttpServerRequest,
  cause: InvalidSession
) => Effect.Effect<void>

/**
 * Options, as a user writes them. Durations follow `SessionDuration`'s rule
 * ("20 minutes", `Duration.seconds(1200)`: whole seconds, never a bare
 * number). Every option is also checked at run time, for options that come
 * from untyped code or configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Signs the cookie (pyramid_session_redis: `secret`). Exactly one of `secret`, `secrets` and `signer`. */
  readonly secret?: Redacted.Redacted<string> | undefined
  /**
   * Secret rotation: `[current, ...previous]`. Cookies are signed with the
   * first and accepted under any; one signed with a previous secret is sent
   * again, signed with the current one.
   */
  readonly secrets?: readonly [Redacted.Redacted<string>, ...Array<Redacted.Redacted<string>>] | undefined
  /** A custom cookie signer instead of `secret` (`cookie_signer`). */
  readonly signer?: CookieSigner.CookieSigner | undefined
  /** Idle timeout; `null` or zero means sessions never time out. Default 1200 seconds. */
  readonly timeout?: SessionDuration.SessionDuration | null | undefined
  /** Refresh the stored expiry only once less than this is left (`timeout_trigger`). Turns on `payloadExpiry`. */
  readonly timeoutTrigger?: SessionDuration.SessionDuration | undefined
  /** Keep the timeout in the Redis TTL. `false` is LRU mode (`set_redis_ttl`). Default true. */
  readonly setRedisTtl?: boolean | undefined
  /**
   * pyramid_session_redis's `set_redis_ttl_readheavy`: slide the TTL in the
   * same round trip as the read. Every read here already does that with one
   * `GETEX`, so this changes no command; it is accepted, with that library's
   * rules (it needs a timeout and Redis TTLs, and excludes a trigger and
   * payload expiry), so existing settings carry over unchanged.
   */
  readonly readHeavy?: boolean | undefined
  /** Track the expiry inside the payload (`x`) as well (`python_expires`). Default false. */
  readonly payloadExpiry?: boolean | undefined
  /** Detect changes to nested values by hashing the serialized data (`detect_changes`). Default true. */
  readonly detectChanges?: boolean | undefined
  /** An undecodable payload starts a new session instead of failing the request (`deserialized_fails_new`). Default false. */
  readonly deserializationFailsNew?: boolean | undefined
  /**
   * Absolute lifetime, counted from creation whatever the activity; a
   * session past it is over (`LifetimeExceeded`). Default: none.
   */
  readonly maxLifetime?: SessionDuration.SessionDuration | undefined
  /**
   * The longest idle timeout `adjustTimeout` may give one session; longer
   * ones are capped to it. Default: 30 days, or `timeout` if that is longer.
   */
  readonly maxTimeout?: SessionDuration.SessionDuration | undefined
  /** The largest serialized payload written, in bytes (UTF-8); a larger one is `SessionTooLarge`. Default 65536. */
  readonly maxPayloadBytes?: number | undefined
  /**
   * Store a hash of each session id as its Redis key instead of the id, so
   * a leaked `MONITOR`, `KEYS` or RDB file can't be replayed as cookies.
   * Default false: keys stay those of pyramid_session_redis.
   */
  readonly hashIds?: boolean | undefined
  /** A session left with no data is deleted, and its cookie with it (`invalidate_empty_session`). Default false. */
  readonly invalidateEmptySession?: boolean | undefined
  /** Default `session`. */
  readonly cookieName?: string | undefined
  /** Default `/`. */
  readonly cookiePath?: string | undefined
  readonly cookieDomain?: string | undefined
  /** Default true. */
  readonly cookieSecure?: boolean | undefined
  /** Default true. */
  readonly cookieHttpOnly?: boolean | undefined
  /** Default `lax`. */
  readonly cookieSameSite?: SameSite | undefined
  /** Default: none (a browser-session cookie). */
  readonly cookieMaxAge?: SessionDuration.SessionDuration | undefined
  /** An absolute date, or a duration from the moment the cookie is sent. */
  readonly cookieExpires?: Date | SessionDuration.SessionDuration | undefined
  readonly cookiePartitioned?: boolean | undefined
  /** Send the cookie on responses of failed requests too (`cookie_on_exception`). Default true. */
  readonly cookieOnException?: boolean | undefined
  /** May the final response carry a session cookie? (`func_check_response_allow_cookies`). */
  readonly responseAllowsCookie?: ResponseCheck | undefined
  /** Told about every invalid session (`func_invalid_logger`). */
  readonly onInvalid?: InvalidSessionHook | undefined
  /** New session ids; default 48 CSPRNG bytes, base64url (`id_generator`). */
  readonly generateId?: (() => string) | undefined
  /** Prefix of generated ids; it travels inside the cookie (`prefix`). */
  readonly idPrefix?: string | undefined
  /** Payload serializer; default `Serializer.json`, wire-compatible with pyramid_session_redis. */
  readonly serializer?: Serializer.Serializer | undefined
  /**
   * How a request writes an existing session it changed (`SESSION_WRITE_MODE`).
   *
   * - `"merge"`: only the keys this request set or removed are applied to the payload stored *now*, in one
   *   atomic server-side step (one `EVALSHA`). Concurrent requests of one
   *   session that change different keys all keep their changes; the same
   *   key changed by both: the last writer wins. Top-level fields (expiry,
   *   timeout, user binding) are the last writer's. A session deleted or
   *   regenerated meanwhile is never brought back.
   * - `"replace"` (the default): the whole payload as this request sees it
   *   (`SET XX`): the last writer's payload wins, and concurrent changes to
   *   other keys are lost.
   *
   * Merge needs a serializer that declares `format: "json"`; with another
   * one, `"merge"` fails the Layer with `InvalidPolicy`. New sessions,
   * `regenerate`, `clear` and `markChanged` always write the whole payload.
   */
  readonly writeMode?: WriteMode | undefined
  /**
   * When loading a session finds Redis unreachable (`SessionStoreError` with reason `Connection` or
   * `Timeout`): `"fail"` answers `503` with `Retry-After` (the default); `"anonymous"` goes on with an
   * anonymous session that is never written, leaving the client's cookie alone. A route can choose
   * for itself with `SessionMiddleware.tolerateStoreOutage` / `failOnStoreOutage`.
   *
   * @since 0.2.0
   */
  readonly onStoreUnavailable?: StoreOutageMode | undefined
}

/**
 * See `Options.writeMode`.
 *
 * @since 0.2.0
 * @category models
 */
export type WriteMode = "merge" | "replace"

/**
 * What a request does when its session store cannot be reached (see `Options.onStoreUnavailable`).
 *
 * @since 0.2.0
 * @category models
 */
export type StoreOutageMode = "fail" | "anonymous"

/**
 * A policy whose options contradict each other or are unsafe. Raised when
 * the Layer is built; `options` names the options involved.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPolicy extends Schema.TaggedError<InvalidPolicy>()("InvalidPolicy", {
  options: Schema.Array(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid session policy (${this.options.join(", ")}): ${this.reason}`
  }
}

/**
 * Cookie attributes, resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface CookiePolicy {
  readonly name: string
  readonly path: string
  readonly domain: string | undefined
  readonly secure: boolean
  readonly httpOnly: boolean
  readonly sameSite: SameSite
  /** Seconds. */
  readonly maxAge: number | undefined
  /** Absolute date, or seconds from the moment the cookie is sent. */
  readonly expires: Date | number | undefined
  readonly partitioned: boolean
}

declare const Resolved: unique symbol

/**
 * The resolved policy: what the engine reads. Times are whole seconds. Only
 * `make`, `layer` and `layerConfig` produce one, so every policy the engine
 * sees has been validated.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionPolicyShape {
  readonly [Resolved]: true
  readonly signer: CookieSigner.CookieSigner
  /** Idle timeout in seconds; `undefined` = sessions never time out. */
  readonly timeout: number | undefined
  readonly timeoutTrigger: number | undefined
  /** Keys get a TTL: `setRedisTtl`, and a timeout or a lifetime. */
  readonly redisTtl: boolean
  /** Absolute lifetime in seconds; `undefined` = none. */
  readonly maxLifetime: number | undefined
  readonly maxPayloadBytes: number
  /** The Redis key of a session id: the id itself, or its hash (`hashIds`). */
  readonly storageKey: (id: string) => string
  /** The prefix of generated ids, also the namespace of users' session indexes. */
  readonly idPrefix: string
  /** The cap on per-session timeouts, seconds. */
  readonly maxTimeout: number
  readonly readHeavy: boolean
  /** The payload carries its expiry `x` (payload expiry, or a timeout trigger). */
  readonly payloadExpiry: boolean
  readonly detectChanges: boolean
  readonly deserializationFailsNew: boolean
  readonly invalidateEmptySession: boolean
  readonly cookie: CookiePolicy
  readonly cookieOnException: boolean
  readonly responseAllowsCookie: ResponseCheck | undefined
  readonly onInvalid: InvalidSessionHook | undefined
  readonly generateId: () => string
  readonly serializer: Serializer.Serializer
  /** How an existing session is updated: `merge` only with a JSON serializer. */
  readonly writeMode: WriteMode
  /** The default for routes that don't choose (`SessionMiddleware.tolerateStoreOutage`). */
  readonly onStoreUnavailable: StoreOutageMode
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SessionPolicy extends Context.Tag("effect-session-redis/SessionPolicy")<
  SessionPolicy,
  SessionPolicyShape
>() {}

/**
 * The ready response check: no session cookie on a response a shared cache
 * could store (`public`, `s-maxage`, or `max-age`/`Expires` without
 * `private`/`no-store`), so no cache ever hands someone's cookie to another
 * visitor. `no-store` and `private, no-cache` pages keep their cookie.
 *
 * @since 0.1.0
 * @category response checks
 */
export const refuseCacheableResponses: ResponseCheck = (_request, response) => {
  const date = response.headers["date"]
  // A response check runs synchronously; its time is the response's own `Date` (NaN without one), or the wall clock.
  // Stryker disable next-line StringLiteral: equivalent, any text that is not a date parses to NaN
  const now = Date.parse(date ?? "")
  return !sharedCacheable(
    response.headers["cache-control"],
    response.headers["expires"],
    Number.isFinite(now) ? now : Date.now()
  )
}

/**
 * The shortest secret accepted (characters). Use `CookieSigner.make` as the
 * `signer` to keep a shorter legacy secret.
 *
 * @since 0.1.0
 * @category constants
 */
export const minimumSecretLength = 32

/**
 * The default `maxPayloadBytes`: 64 KiB, far above what a session of ids,
 * flags and a few messages holds, and far below what makes Redis slow.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxPayloadBytes = 65_536

/**
 * 48 random bytes from the CSPRNG, base64url: 64 characters, 384 bits.
 *
 * @since 0.1.0
 * @category id generators
 */
export const defaultGenerateId = (): string => randomBytes(48).toString("base64url")

/**
 * Validates options and resolves them into a policy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<SessionPolicyShape, InvalidPolicy | SessionDuration.InvalidDuration> = internal.make

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<SessionPolicy, InvalidPolicy | SessionDuration.InvalidDuration> =>
  Layer.effect(SessionPolicy, make(options))

/**
 * The options that come from configuration, under pyramid_session_redis's setting names
 * upper-cased (`SESSION_SECRET`, `SESSION_TIMEOUT`, ...). Times in seconds.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = PolicyConfig.options

/**
 * Drops the options a configuration left unset, so they don't override code.
 */
const definedOnly = (options: Options): Options =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))

/**
 * Reads the policy from `Config` (see `config`). Options given in code are
 * the base; every variable that is set overrides them. Options that cannot
 * come from configuration (hooks, serializer, signer) are given in code.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Options = {}
): Layer.Layer<SessionPolicy, LayerConfigError> =>
  Layer.effect(
    SessionPolicy,
    Effect.flatMap(config, (fromConfig): Effect.Effect<SessionPolicyShape, LayerConfigError> => {
      const set = definedOnly(fromConfig)
      // SESSION_SECRET (with SESSION_SECRET_PREVIOUS) replaces the code's secret or secrets as a whole.
      const { secret: _secret, secrets: _secrets, ...codeWithoutSecrets } = options
      const code = set.secret === undefined && set.secrets === undefined ? options : codeWithoutSecrets
      const merged: Options = { ...code, ...set }
      return signingOptions.every((name) => merged[name] === undefined)
        ? Effect.fail(ConfigError.MissingData(["SESSION_SECRET"], missingSecret))
        : make(merged)
    })
  )

type LayerConfigError = InvalidPolicy | SessionDuration.InvalidDuration | ConfigError.ConfigError

const missingSecret =
  `Expected SESSION_SECRET (at least ${minimumSecretLength} characters), or a secret, secrets or signer given in code`
