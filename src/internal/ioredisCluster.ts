/**
 * `RedisClientShape` over an ioredis `Cluster`. Redis Cluster runs a command
 * or a script only when all its keys hash to one slot, and two session ids
 * almost never do. So every single-key command is `fromIoredis`'s own, and
 * the three operations that span several keys are rebuilt from single-key
 * steps:
 *
 * - `move`: `SET to NX [EX]`, then `DEL from`. When `DEL` finds `from`
 *   already gone (a logout or revocation got there first), `to` is deleted
 *   again and the answer is `Gone`, as on a single server: a deleted session
 *   is never brought back. Two round trips instead of one; in between, `to`
 *   exists under an id that only this request knows.
 * - `indexAdd`: a script on the index key alone (`ZADD`, the TTL rule, then
 *   `ZRANGE`), then one `TTL` per other member, concurrently, and one `ZREM`
 *   of the members whose key is gone. Pruning is housekeeping: a dead member
 *   is harmless (listing skips and drops it), so a failed `TTL` or `ZREM`
 *   leaves it for the next bind or list instead of failing the bind.
 * - `getMany`: one `GET` per key, concurrently (one round trip per node).
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { IoredisClient, RedisClientShape } from "../RedisClient.js"
import { commandSpan, fromIoredis, runner } from "./ioredisClient.js"
import * as Tracing from "./tracing.js"

/**
 * KEYS = [index], ARGV = [member, score, ttl or ""]: adds the member, lets
 * the TTL only grow (or removes it), and answers every member.
 */
const indexAddScript = `redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if ARGV[3] == '' then redis.call('PERSIST', KEYS[1])
elseif redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)`

const members = (reply: unknown): ReadonlyArray<string> =>
  Array.isArray(reply) ? reply.filter((member): member is string => typeof member === "string") : []

/** @internal */
export const fromIoredisCluster = (client: IoredisClient, commandTimeout: Duration.DurationInput): RedisClientShape => {
  const base = fromIoredis(client, commandTimeout)
  const run = runner(commandTimeout)
  // Built here, not at module load: this module and ioredisClient.ts import each other through RedisClient.ts.
  const spans = {
    indexAdd: commandSpan("indexAdd", "EVAL"),
    move: Tracing.withSpan("RedisClient.move", { "db.system": "redis", "db.operation": "SET+DEL" }),
    getMany: Tracing.withSpan("RedisClient.getMany", { "db.system": "redis", "db.operation": "GET" })
  }

  const prune = (index: string, added: string, all: ReadonlyArray<string>) => {
    const others = all.filter((member) => member !== added)
    return Effect.forEach(others, (member) => base.ttl(member), { concurrency: "unbounded" }).pipe(
      Effect.flatMap((ttls) => base.indexRemove(index, others.filter((_, i) => ttls[i] === -2))),
      Effect.catchAll((error) => Effect.logDebug("user index not pruned", error.message))
    )
  }

  return {
    ...base,
    move: (from, to, value, options) =>
      spans.move(
        Effect.flatMap(base.set(to, value, { condition: "NX", ttlSeconds: options?.ttlSeconds }), (written) =>
          written
            ? base.del(from).pipe(
              Effect.flatMap((existed) =>
                existed ? Effect.succeed("Moved" as const) : Effect.as(base.del(to), "Gone" as const)
              ),
              // `from` may or may not be gone: fail closed, without the copy
              Effect.tapError(() => Effect.ignore(base.del(to)))
            )
            : Effect.succeed("Taken" as const))
      ),
    getMany: (keys) => spans.getMany(Effect.forEach(keys, (key) => base.get(key), { concurrency: "unbounded" })),
    indexAdd: (index, member, score, ttlSeconds) =>
      Effect.flatMap(
        run(
          spans.indexAdd,
          () => client.eval(indexAddScript, 1, index, member, score, ttlSeconds ?? ""),
          members
        ),
        (all) => prune(index, member, all)
      )
  }
}
