/**
 * Counts the Redis commands each request issues, for the demo page: a
 * `RedisClient` wrapper adds one to the current request's tally, which
 * `start` opens for the rest of the request's fiber, so the tally includes
 * the commit's writes (a pre-response handler, after the handler's effect).
 *
 * What is counted: calls on the `RedisClient` service, by the Redis command
 * each one sends (`move` and `indexAdd` are one `EVAL` each, a Lua script that
 * runs several commands inside Redis). The in-memory store counts the same
 * calls, though nothing goes over a network. Requests outside a tally (the
 * JSON API) pay one fiber-local read per command.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { RedisClient } from "../../src/index.js"

/** Commands by name, in the order first seen. */
export type Tally = ReadonlyMap<string, number>

const current = FiberRef.unsafeMake<Option.Option<Ref.Ref<Tally>>>(Option.none())

const count = (command: string) =>
  Effect.flatMap(FiberRef.get(current), (tally) =>
    Option.match(tally, {
      onNone: () => Effect.void,
      onSome: (ref) => Ref.update(ref, (map) => new Map(map).set(command, (map.get(command) ?? 0) + 1))
    }))

/** The same client, counting each call under its command's name. */
export const counted = (client: RedisClient.RedisClientShape): RedisClient.RedisClientShape => ({
  get: (key) => Effect.zipRight(count("GET"), client.get(key)),
  getEx: (key, ttl) => Effect.zipRight(count("GETEX"), client.getEx(key, ttl)),
  set: (key, value, options) => Effect.zipRight(count("SET"), client.set(key, value, options)),
  expire: (key, ttl) => Effect.zipRight(count("EXPIRE"), client.expire(key, ttl)),
  del: (key) => Effect.zipRight(count("DEL"), client.del(key)),
  ttl: (key) => Effect.zipRight(count("TTL"), client.ttl(key)),
  move: (from, to, value, options) => Effect.zipRight(count("EVAL (move)"), client.move(from, to, value, options)),
  getMany: (keys) => Effect.zipRight(count("MGET"), client.getMany(keys)),
  indexAdd: (index, member, score, ttl) =>
    Effect.zipRight(count("EVAL (index add)"), client.indexAdd(index, member, score, ttl)),
  indexMembers: (index) => Effect.zipRight(count("ZRANGE"), client.indexMembers(index)),
  // the client sends nothing for an empty list
  indexRemove: (index, members) =>
    Effect.zipRight(members.length === 0 ? Effect.void : count("ZREM"), client.indexRemove(index, members)),
  mergePayload: (key, patch, options) =>
    Effect.zipRight(count("EVALSHA (merge)"), client.mergePayload(key, patch, options))
})

/** Replaces the `RedisClient` below it with the counting one. */
export const layer: Layer.Layer<RedisClient.RedisClient, never, RedisClient.RedisClient> = Layer.effect(
  RedisClient.RedisClient,
  Effect.map(RedisClient.RedisClient, counted)
)

/**
 * Starts a tally for the rest of the current fiber (one request), so the
 * commit, which runs as a pre-response handler after the app's effect, is
 * counted too. Succeeds with a way to read it.
 */
export const start: Effect.Effect<Effect.Effect<Tally>> = Effect.gen(function*() {
  const ref = yield* Ref.make<Tally>(new Map())
  yield* FiberRef.set(current, Option.some(ref))
  return Ref.get(ref)
})
