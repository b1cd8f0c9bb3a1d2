/**
 * On a server without GETEX (Redis < 6.2), a read is a pipelined GET + EXPIRE:
 * still one round trip, same result.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RedisClient from "../src/RedisClient.js"
import { startRedisServer } from "./support/redisServer.js"

it.live("without GETEX on the server, getEx reads and slides the TTL with GET + EXPIRE", () =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startRedisServer({ args: ["--rename-command", "GETEX", ""] })),
      (server) => Effect.promise(() => server.stop())
    )
    const redis = yield* RedisClient.make({ url: server.url })
    yield* redis.set("k", "v", { ttlSeconds: 10 })
    yield* Effect.promise(() => server.resetStats())
    expect(yield* redis.getEx("k", 500)).toEqual(Option.some("v"))
    expect(yield* redis.getEx("k", 500)).toEqual(Option.some("v"))
    expect(yield* redis.getEx("missing", 500)).toEqual(Option.none())
    expect(yield* redis.ttl("k")).toBeGreaterThan(400)
    const stats = yield* Effect.promise(() => server.commandstats())
    expect(stats["getex"]).toBeUndefined()
    expect(stats["get"]).toBe(3)
    expect(stats["expire"]).toBe(3)
  }).pipe(Effect.scoped))
