/**
 * Every command of `RedisClientShape`, named as Redis (and the error's
 * `command`) names it: for tests that must hold for each of them.
 */
import type * as Effect from "effect/Effect"
import type * as RedisClient from "../../src/RedisClient.js"

export const allCommands = (
  redis: RedisClient.RedisClientShape,
  key: string
): ReadonlyArray<readonly [string, Effect.Effect<unknown, RedisClient.SessionStoreError>]> => [
  ["GET", redis.get(key)],
  ["GETEX", redis.getEx(key, 100)],
  ["SET", redis.set(key, "value", { ttlSeconds: 100 })],
  ["EXPIRE", redis.expire(key, 100)],
  ["DEL", redis.del(key)],
  ["TTL", redis.ttl(key)],
  ["EVAL", redis.move(key, `${key}:moved`, "value", { ttlSeconds: 100 })],
  ["MGET", redis.getMany([key])],
  ["EVAL", redis.indexAdd(`${key}:index`, key, 1, 100)],
  ["ZRANGE", redis.indexMembers(`${key}:index`)],
  ["ZREM", redis.indexRemove(`${key}:index`, [key])],
  ["EVALSHA", redis.mergePayload(key, { set: [], remove: [], rest: ",\"c\":1,\"v\":1}" }, { ttlSeconds: 100 })]
]
