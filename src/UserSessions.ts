/**
 * A user's sessions, across requests: list them, revoke one, all, or all
 * but the current one, from a request or from a background job or admin
 * endpoint. Sessions join a user's index when `Session.bindUser` binds them
 * (at login); a revoked session's next request finds no session
 * (`NotInBackend`).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Payload from "./internal/payload.js"
import { handleOf, indexKey } from "./internal/userIndex.js"
import { RedisClient, type RedisClientShape, type SessionStoreError } from "./RedisClient.js"
import { SessionPolicy, type SessionPolicyShape } from "./SessionPolicy.js"

/**
 * One of a user's sessions. The handle names it for `revoke`; it is not the
 * session id and cannot be turned back into one.
 *
 * @since 0.2.0
 * @category models
 */
export interface SessionInfo {
  readonly handle: string
  /** Creation, epoch seconds. */
  readonly created: number
  /** The last write of the session, epoch seconds. */
  readonly lastWrite: Option.Option<number>
  /** The label given at binding (e.g. the user agent). */
  readonly label: Option.Option<string>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface UserSessionsShape {
  /** The user's live sessions, in the order they were bound (to the second). */
  readonly list: (userId: string) => Effect.Effect<ReadonlyArray<SessionInfo>, SessionStoreError>
  /** Ends one session by its handle; false when it is not (or no longer) the user's. */
  readonly revoke: (userId: string, handle: string) => Effect.Effect<boolean, SessionStoreError>
  /** Ends all of the user's sessions, or all but `except` (a handle); succeeds with how many ended. */
  readonly revokeAll: (
    userId: string,
    options?: { readonly except?: string | undefined }
  ) => Effect.Effect<number, SessionStoreError>
}

/**
 * @since 0.2.0
 * @category tags
 */
export class UserSessions extends Context.Tag("effect-session-redis/UserSessions")<UserSessions, UserSessionsShape>() {}

interface Member {
  readonly key: string
  readonly handle: string
  readonly payload: Payload.Payload
}

/**
 * The index's members that are still sessions of this user; the others
 * (expired, deleted, rebound) leave the index.
 */
const members = (policy: SessionPolicyShape, redis: RedisClientShape, userId: string) => {
  const index = indexKey(policy, userId)
  return Effect.flatMap(redis.indexMembers(index), (keys) =>
    Effect.flatMap(redis.getMany(keys), (values) => {
      const live: Array<Member> = []
      const dead: Array<string> = []
      keys.forEach((key, i) => {
        const value = values[i] ?? Option.none()
        const decoded = Option.isSome(value) ? Payload.decode(policy.serializer, value.value) : undefined
        if (decoded?._tag === "Valid" && decoded.payload.u?.id === userId) {
          live.push({ key, handle: handleOf(key), payload: decoded.payload })
        } else {
          dead.push(key)
        }
      })
      return Effect.as(redis.indexRemove(index, dead), live)
    }))
}

const end = (policy: SessionPolicyShape, redis: RedisClientShape, userId: string, ended: ReadonlyArray<Member>) =>
  Effect.zipRight(
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the results are dropped either way
    Effect.forEach(ended, (member) => redis.del(member.key), { discard: true }),
    Effect.as(redis.indexRemove(indexKey(policy, userId), ended.map((member) => member.key)), ended.length)
  )

/**
 * Builds the service from the policy and the store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (policy: SessionPolicyShape, redis: RedisClientShape): UserSessionsShape => ({
  list: (userId) =>
    Effect.map(members(policy, redis, userId), (live) =>
      live.map(({ handle, payload }): SessionInfo => ({
        handle,
        created: payload.c,
        lastWrite: Option.fromNullable(payload.w),
        // Stryker disable next-line OptionalChaining: equivalent, a live member is bound (its u.id matched)
        label: Option.fromNullable(payload.u?.label)
      }))),
  revoke: (userId, handle) =>
    Effect.flatMap(members(policy, redis, userId), (live) => {
      const found = live.filter((member) => member.handle === handle)
      return Effect.map(end(policy, redis, userId, found), (count) => count > 0)
    }),
  revokeAll: (userId, options) =>
    Effect.flatMap(
      members(policy, redis, userId),
      (live) => end(policy, redis, userId, live.filter((member) => member.handle !== options?.except))
    )
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<UserSessions, never, SessionPolicy | RedisClient> = Layer.effect(
  UserSessions,
  Effect.map(Effect.all([SessionPolicy, RedisClient]), ([policy, redis]) => make(policy, redis))
)
