/**
 * The session of the current request.
 *
 * Nothing touches Redis until an operation needs the stored data; a new
 * session is written only once it holds data, and all changes are written
 * once, before the response is sent.
 *
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { InvalidSession, SessionPayloadError } from "./InvalidSession.js"
import type { SessionStoreError } from "./RedisClient.js"
import type { SessionDuration } from "./SessionDuration.js"

/**
 * What any operation that needs the stored session can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionError = SessionStoreError | SessionPayloadError

/**
 * A stored value did not decode with its key's schema. Names the key, never
 * the session. (A value that fails to *encode* on `set` is a bug in the
 * caller's schema or value, and is a defect.)
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionValueError extends Schema.TaggedError<SessionValueError>()("SessionValueError", {
  key: Schema.String,
  reason: Schema.String
}) {}

/**
 * The session's serialized payload is over the policy's `maxPayloadBytes`:
 * it was not written, and the stored session is unchanged. At the end of a
 * request the response becomes a 413; `persistNow` fails with it, for an
 * application that wants to handle it in the handler.
 *
 * @since 0.2.0
 * @category errors
 */
export class SessionTooLarge extends Schema.TaggedError<SessionTooLarge>()(
  "SessionTooLarge",
  { bytes: Schema.Number, limit: Schema.Number },
  HttpApiSchema.annotations({ status: 413 })
) {
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.text("Session too large", { status: 413 }))
  }
}

/**
 * Counts payloads refused for their size.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tooLarge = Metric.counter("session_too_large_total", {
  description: "Session writes refused because the payload exceeded maxPayloadBytes",
  incremental: true
})

/**
 * The size of each session payload written, in bytes (UTF-8).
 *
 * @since 0.2.0
 * @category metrics
 */
export const payloadBytes = Metric.histogram(
  "session_payload_bytes",
  MetricBoundaries.exponential({ start: 256, factor: 2, count: 10 }),
  "Serialized size of the session payloads written"
)

/**
 * A session key with a schema: values are decoded on read and encoded on
 * write.
 *
 * @since 0.1.0
 * @category keys
 */
export interface SessionKey<A, I = A> {
  readonly name: string
  readonly schema: Schema.Schema<A, I>
}

/**
 * Declares a typed key, e.g. `Session.key("userId", Schema.String)`.
 *
 * @since 0.1.0
 * @category keys
 */
export const key = <A, I>(name: string, schema: Schema.Schema<A, I>): SessionKey<A, I> =>
  new SessionKeyWithCodec(name, schema)

/**
 * Flash message options (pyramid_session_redis: `flash(msg, queue, allow_duplicate)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FlashOptions {
  /** Default `""`, stored under `_f_` + queue. */
  readonly queue?: string | undefined
  /** Default true; false skips a message already queued. */
  readonly allowDuplicate?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SessionShape {
  /** The raw value under a key. */
  readonly get: (key: string) => Effect.Effect<Option.Option<unknown>, SessionError>
  readonly set: (key: string, value: unknown) => Effect.Effect<void, SessionError>
  /** Removes a key; succeeds with whether it was there. */
  readonly delete: (key: string) => Effect.Effect<boolean, SessionError>
  readonly has: (key: string) => Effect.Effect<boolean, SessionError>
  readonly keys: Effect.Effect<ReadonlyArray<string>, SessionError>
  readonly entries: Effect.Effect<ReadonlyArray<readonly [string, unknown]>, SessionError>
  /** Sets several keys at once (Python's `dict.update`). */
  readonly update: (values: Readonly<Record<string, unknown>>) => Effect.Effect<void, SessionError>
  readonly clear: Effect.Effect<void, SessionError>
  /** Removes a key and succeeds with its value. */
  readonly pop: (key: string) => Effect.Effect<Option.Option<unknown>, SessionError>
  /** Marks the session as changed, for mutations `detectChanges` is off for. */
  readonly changed: Effect.Effect<void, SessionError>
  /** Deletes the session; later writes in this request start a new one. */
  readonly invalidate: Effect.Effect<void, SessionError>
  /**
   * A new id for the same data and creation time: the old key is gone and
   * the new cookie is on this response (one atomic `EVAL` at the commit).
   * Use it on login and any change of privilege, against session fixation;
   * use `invalidate` to end a session and drop its data.
   */
  readonly regenerate: Effect.Effect<void, SessionError>
  /**
   * Succeeds when the request brought a valid session; otherwise fails with
   * why not (`NoSessionCookie`, `InvalidCookie`, `NotInBackend`,
   * `PayloadTimeout`, `LifetimeExceeded`, …), each a 401 under `HttpApi`.
   */
  readonly require: Effect.Effect<void, SessionError | InvalidSession>
  /** When the session ends whatever its activity (`maxLifetime`), epoch seconds. */
  readonly lifetimeEnds: Effect.Effect<Option.Option<number>, SessionError>
  /**
   * Binds the session to a user (at login), with an optional label such as
   * the user agent: `UserSessions` can then list and revoke it. Costs one
   * more round trip, once, when the session is written.
   */
  readonly bindUser: (
    userId: string,
    options?: { readonly label?: string | undefined }
  ) => Effect.Effect<void, SessionError>
  /** Removes the binding (the session leaves the user's index). */
  readonly unbindUser: Effect.Effect<void, SessionError>
  /** The user the session is bound to. */
  readonly boundUser: Effect.Effect<Option.Option<string>, SessionError>
  /** This session's handle in `UserSessions` listings, once it is stored. */
  readonly handle: Effect.Effect<Option.Option<string>, SessionError>
  /** The session id, creating the session (and its cookie) if it is new. */
  readonly ensureId: Effect.Effect<string, SessionError>
  /** The id if the session exists and holds data, without creating one (`session_id_safecheck`). */
  readonly idIfExists: Effect.Effect<Option.Option<string>, SessionError>
  readonly flash: (message: unknown, options?: FlashOptions) => Effect.Effect<void, SessionError>
  readonly peekFlash: (queue?: string) => Effect.Effect<ReadonlyArray<unknown>, SessionError>
  readonly popFlash: (queue?: string) => Effect.Effect<ReadonlyArray<unknown>, SessionError>
  /** A fresh CSRF token (64 hex characters), stored under `_csrft_`. */
  readonly newCsrfToken: Effect.Effect<string, SessionError>
  /** The stored CSRF token, creating one if there is none. */
  readonly getCsrfToken: Effect.Effect<string, SessionError>
  /**
   * This session's idle timeout from now on (`adjust_session_timeout`); zero restores the
   * policy's. Durations follow `SessionDuration`'s rule: one that breaks it is a defect.
   */
  readonly adjustTimeout: (timeout: SessionDuration) => Effect.Effect<void, SessionError>
  /**
   * This session's payload expiry `x`, epoch seconds (`adjust_session_expires`). Like
   * pyramid_session_redis's, it holds until activity extends it, and it needs `payloadExpiry` (or a timeout
   * trigger): with the expiry kept in the Redis TTL alone, the next read drops `x`.
   */
  readonly adjustPayloadExpiry: (expiresAt: number) => Effect.Effect<void, SessionError>
  /** The cookie's Max-Age for this response (`undefined`: none); resends the cookie. */
  readonly adjustCookieMaxAge: (maxAge: SessionDuration | undefined) => Effect.Effect<void>
  /** The cookie's Expires for this response (`undefined`: none); resends the cookie. */
  readonly adjustCookieExpires: (expires: Date | SessionDuration | undefined) => Effect.Effect<void>
  /** Sends the cookie again on this response. */
  readonly recookie: Effect.Effect<void>
  /** Writes the session now rather than before the response. */
  readonly persistNow: Effect.Effect<void, SessionError | SessionTooLarge>
  /** Slides the Redis TTL now. */
  readonly refreshNow: Effect.Effect<void, SessionError>
  readonly isNew: Effect.Effect<boolean, SessionError>
  /** Creation time, epoch seconds. */
  readonly created: Effect.Effect<number, SessionError>
  /** Idle timeout in seconds; none when sessions never time out. */
  readonly timeout: Effect.Effect<Option.Option<number>, SessionError>
  /** When the session expires if left idle from now, epoch seconds. */
  readonly expires: Effect.Effect<Option.Option<number>, SessionError>
  /**
   * False when Redis was unreachable and this request goes on with an anonymous session that is
   * never written (`onStoreUnavailable: "anonymous"`, or `SessionMiddleware.tolerateStoreOutage`).
   *
   * @since 0.2.0
   */
  readonly storeAvailable: Effect.Effect<boolean, SessionError>
}

/**
 * The current request's session, provided by `SessionMiddleware`.
 *
 * @since 0.1.0
 * @category tags
 */
export class Session extends Context.Tag("effect-session-redis/Session")<Session, SessionShape>() {}

const keyName = (key: string | { readonly name: string }): string => typeof key === "string" ? key : key.name

// The reason names what was expected, never the stored value (it may be a token).
const valueError = <A, I>(key: SessionKey<A, I>) => (_error: ParseResult.ParseError) =>
  new SessionValueError({ key: key.name, reason: `does not match ${String(key.schema.ast)}` })

/** A key's decoder and encoder, built once per key rather than on every read and write. */
class Codec<A, I> {
  readonly decode: (raw: unknown) => Effect.Effect<A, SessionValueError>
  /** A value of type `A` that its own schema cannot encode is the caller's bug: a defect. */
  readonly encode: (value: unknown) => Effect.Effect<I>
  constructor(key: SessionKey<A, I>) {
    const decode = Schema.decodeUnknown(key.schema)
    const encode = Schema.encodeUnknown(key.schema)
    const toError = valueError(key)
    this.decode = (raw) => Effect.mapError(decode(raw), toError)
    this.encode = (value) => Effect.orDieWith(encode(value), toError)
  }
}

/** What `key()` returns: the key with its codec. */
class SessionKeyWithCodec<A, I> implements SessionKey<A, I> {
  readonly codec: Codec<A, I>
  constructor(readonly name: string, readonly schema: Schema.Schema<A, I>) {
    this.codec = new Codec(this)
  }
}

const codecOf = <A, I>(key: SessionKey<A, I>): Codec<A, I> =>
  key instanceof SessionKeyWithCodec ? key.codec : new Codec(key)

const decodeFound = <A, I>(key: SessionKey<A, I>) => {
  const codec = codecOf(key)
  return (found: Option.Option<unknown>): Effect.Effect<Option.Option<A>, SessionValueError> =>
    Option.isNone(found) ? Effect.succeedNone : Effect.asSome(codec.decode(found.value))
}

/**
 * Reads a key: raw with a string, decoded with a `SessionKey`.
 *
 * @since 0.1.0
 * @category accessors
 */
export function get<A, I>(
  key: SessionKey<A, I>
): Effect.Effect<Option.Option<A>, SessionError | SessionValueError, Session>
export function get(key: string): Effect.Effect<Option.Option<unknown>, SessionError, Session>
export function get<A, I>(
  key: string | SessionKey<A, I>
): Effect.Effect<Option.Option<unknown>, SessionError | SessionValueError, Session> {
  return Effect.flatMap(
    Session,
    (session) => typeof key === "string" ? session.get(key) : Effect.flatMap(session.get(key.name), decodeFound(key))
  )
}

/**
 * Writes a key: raw with a string, encoded with a `SessionKey`. A value its
 * key's schema cannot encode is a defect (`SessionValueError`): the types
 * already promised it could.
 *
 * @since 0.1.0
 * @category accessors
 */
export function set<A, I>(key: SessionKey<A, I>, value: A): Effect.Effect<void, SessionError, Session>
export function set(key: string, value: unknown): Effect.Effect<void, SessionError, Session>
export function set<A, I>(key: string | SessionKey<A, I>, value: unknown): Effect.Effect<void, SessionError, Session> {
  return Effect.flatMap(Session, (session) => {
    if (typeof key === "string") return session.set(key, value)
    return Effect.flatMap(
      codecOf(key).encode(value),
      (encoded) => session.set(key.name, encoded)
    )
  })
}

/**
 * Removes a key and succeeds with its value, decoded with a `SessionKey`.
 *
 * @since 0.1.0
 * @category accessors
 */
export function pop<A, I>(
  key: SessionKey<A, I>
): Effect.Effect<Option.Option<A>, SessionError | SessionValueError, Session>
export function pop(key: string): Effect.Effect<Option.Option<unknown>, SessionError, Session>
export function pop<A, I>(
  key: string | SessionKey<A, I>
): Effect.Effect<Option.Option<unknown>, SessionError | SessionValueError, Session> {
  return Effect.flatMap(
    Session,
    (session) => typeof key === "string" ? session.pop(key) : Effect.flatMap(session.pop(key.name), decodeFound(key))
  )
}

/**
 * Updates a key from its current value.
 *
 * @since 0.1.0
 * @category accessors
 */
export const modify = <A, I>(
  key: SessionKey<A, I>,
  f: (current: Option.Option<A>) => A
): Effect.Effect<A, SessionError | SessionValueError, Session> =>
  Effect.flatMap(get(key), (current) => {
    const next = f(current)
    return Effect.as(set(key, next), next)
  })

/**
 * @since 0.1.0
 * @category accessors
 */
export const remove = (key: string | { readonly name: string }): Effect.Effect<boolean, SessionError, Session> =>
  Effect.flatMap(Session, (session) => session.delete(keyName(key)))

/**
 * @since 0.1.0
 * @category accessors
 */
export const has = (key: string | { readonly name: string }): Effect.Effect<boolean, SessionError, Session> =>
  Effect.flatMap(Session, (session) => session.has(keyName(key)))

/**
 * @since 0.1.0
 * @category accessors
 */
export const invalidate: Effect.Effect<void, SessionError, Session> = Effect.flatMap(Session, (s) => s.invalidate)

/**
 * A new id for the same data (see `SessionShape.regenerate`).
 *
 * @since 0.2.0
 * @category accessors
 */
export const regenerate: Effect.Effect<void, SessionError, Session> = Effect.flatMap(Session, (s) => s.regenerate)

/**
 * A valid session is required: fails with the `InvalidSession` cause when
 * the request brought none.
 *
 * @since 0.2.0
 * @category accessors
 */
export const require: Effect.Effect<void, SessionError | InvalidSession, Session> = Effect.flatMap(
  Session,
  (s) => s.require
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const flash = (message: unknown, options?: FlashOptions): Effect.Effect<void, SessionError, Session> =>
  Effect.flatMap(Session, (session) => session.flash(message, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const popFlash = (queue?: string): Effect.Effect<ReadonlyArray<unknown>, SessionError, Session> =>
  Effect.flatMap(Session, (session) => session.popFlash(queue))

/**
 * @since 0.1.0
 * @category accessors
 */
export const getCsrfToken: Effect.Effect<string, SessionError, Session> = Effect.flatMap(Session, (s) => s.getCsrfToken)
