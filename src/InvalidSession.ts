/**
 * Why a request did not get its existing session. Each cause is a tagged
 * error; the engine reports it to the policy's `onInvalid` hook and counts
 * it, then carries on with a new, empty session. `Session.require` fails
 * with it, and under `HttpApi` each renders as 401. None of them carries a
 * raw session id or secret.
 *
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"

/**
 * The request carried no session cookie.
 *
 * @since 0.1.0
 * @category causes
 */
export class NoSessionCookie
  extends Schema.TaggedError<NoSessionCookie>()("NoSessionCookie", {}, HttpApiSchema.annotations({ status: 401 }))
{}

/**
 * A session cookie was present but failed verification (tampered, truncated,
 * signed with another secret, malformed, oversized).
 *
 * @since 0.1.0
 * @category causes
 */
export class InvalidCookie
  extends Schema.TaggedError<InvalidCookie>()("InvalidCookie", {}, HttpApiSchema.annotations({ status: 401 }))
{}

/**
 * The cookie was genuine but Redis has no such session (expired, evicted or
 * logged out).
 *
 * @since 0.1.0
 * @category causes
 */
export class NotInBackend
  extends Schema.TaggedError<NotInBackend>()("NotInBackend", {}, HttpApiSchema.annotations({ status: 401 }))
{}

/**
 * The stored payload could not be decoded, and the policy says to start a
 * new session in that case (`deserializationFailsNew`). Without that option
 * the request fails with `SessionPayloadError` instead.
 *
 * @since 0.1.0
 * @category causes
 */
export class PayloadUndecodable extends Schema.TaggedError<PayloadUndecodable>()("PayloadUndecodable", {
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

/**
 * The payload's own expiry (`x`) has passed.
 *
 * @since 0.1.0
 * @category causes
 */
export class PayloadTimeout extends Schema.TaggedError<PayloadTimeout>()("PayloadTimeout", {
  /** The expiry that passed, epoch seconds. */
  expiredAt: Schema.Number
}, HttpApiSchema.annotations({ status: 401 })) {}

/**
 * The session is older than the policy's `maxLifetime`, however active it
 * was. Its key is deleted and the cookie expired.
 *
 * @since 0.2.0
 * @category causes
 */
export class LifetimeExceeded extends Schema.TaggedError<LifetimeExceeded>()("LifetimeExceeded", {
  /** When the lifetime ended, epoch seconds. */
  endedAt: Schema.Number
}, HttpApiSchema.annotations({ status: 401 })) {}

/**
 * The payload predates format version 1 (`v` missing or smaller).
 *
 * @since 0.1.0
 * @category causes
 */
export class PayloadLegacy extends Schema.TaggedError<PayloadLegacy>()("PayloadLegacy", {
  version: Schema.optional(Schema.Number)
}, HttpApiSchema.annotations({ status: 401 })) {}

/**
 * @since 0.1.0
 * @category models
 */
export type InvalidSession =
  | NoSessionCookie
  | InvalidCookie
  | NotInBackend
  | PayloadUndecodable
  | PayloadTimeout
  | LifetimeExceeded
  | PayloadLegacy

/**
 * Every cause as a schema: declare it as an `HttpApi` endpoint's error for
 * a route that needs a valid session (`Session.require`); each renders 401.
 *
 * @since 0.2.0
 * @category schemas
 */
export const InvalidSession: Schema.Union<[
  typeof NoSessionCookie,
  typeof InvalidCookie,
  typeof NotInBackend,
  typeof PayloadUndecodable,
  typeof PayloadTimeout,
  typeof LifetimeExceeded,
  typeof PayloadLegacy
]> = Schema.Union(
  NoSessionCookie,
  InvalidCookie,
  NotInBackend,
  PayloadUndecodable,
  PayloadTimeout,
  LifetimeExceeded,
  PayloadLegacy
)

/**
 * A stored payload could not be decoded and `deserializationFailsNew` is
 * off: the request fails with this error (500) instead of silently starting
 * over, so the broken data gets noticed (pyramid_session_redis raises its
 * `RawDeserializationError`). With the option on, the same payload is the
 * invalid cause `PayloadUndecodable` and the user gets a new session.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionPayloadError extends Schema.TaggedError<SessionPayloadError>()(
  "SessionPayloadError",
  { reason: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/**
 * Counts invalid sessions, tagged with `cause` = the `_tag`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const invalidSessions = Metric.counter("session_invalid_total", {
  description: "Requests whose session could not be used, by cause",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const count = (cause: InvalidSession) => Metric.increment(Metric.tagged(invalidSessions, "cause", cause._tag))
