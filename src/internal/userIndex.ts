/**
 * A user's sessions index: a sorted set of the Redis keys of the sessions
 * bound to the user, scored by binding time. Members whose key is gone are
 * dropped when a session is bound and when the index is listed: a score
 * can't follow a TTL that every read slides, existence can. The index gets a
 * TTL only when sessions have a `maxLifetime` (none of them outlives it);
 * otherwise it has none and stays as small as its live sessions.
 */
import type * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import type { RedisClientShape, SessionStoreError } from "../RedisClient.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"

const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64url")

/** The index's key: user ids may be personal data, so only their hash names a key. */
export const indexKey = (policy: SessionPolicyShape, userId: string): string =>
  `${policy.idPrefix}user:${sha256(userId)}`

/** A stable, non-reversible handle for a session, safe to show and to send back: never the id or its key. */
export const handleOf = (storageKey: string): string => sha256(`effect-session-redis/handle:${storageKey}`).slice(0, 22)

/** The index change owed by a session written under `id`. */
export const apply = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  change: { readonly _tag: "Add" | "Remove"; readonly userId: string },
  id: string,
  now: number
): Effect.Effect<void, SessionStoreError> => {
  const key = indexKey(policy, change.userId)
  const member = policy.storageKey(id)
  return change._tag === "Add"
    ? redis.indexAdd(key, member, now, policy.maxLifetime)
    : redis.indexRemove(key, [member])
}
