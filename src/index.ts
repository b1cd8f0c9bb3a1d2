/**
 * effect-session-redis: server-side HTTP sessions in Redis for
 * `@effect/platform`, wire-compatible with pyramid_session_redis.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as CookieSigner from "./CookieSigner.js"

/** @since 0.1.0 */
export * as InvalidSession from "./InvalidSession.js"

/** @since 0.1.0 */
export * as RedisClient from "./RedisClient.js"

/** @since 0.2.0 */
export * as Serializer from "./Serializer.js"

/** @since 0.1.0 */
export * as Session from "./Session.js"

/** @since 0.2.0 */
export * as SessionDuration from "./SessionDuration.js"

/** @since 0.1.0 */
export * as SessionMiddleware from "./SessionMiddleware.js"

/** @since 0.1.0 */
export * as SessionPolicy from "./SessionPolicy.js"

/** @since 0.2.0 */
export * as UserSessions from "./UserSessions.js"
