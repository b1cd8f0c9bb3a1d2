/**
 * One contract for every `RedisClient`: the in-memory store must behave like
 * a real Redis for the commands the session engine uses, and the ioredis-backed
 * client must keep it with ioredis 5 (RESP2) and ioredis 6 (RESP3), on a
 * single server, on a Redis Cluster (where the contract's keys fall in
 * different slots, so a command or script spanning two of them would fail
 * with CROSSSLOT) and on a Sentinel-managed master.
 */
import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Cluster as Cluster5, Redis as Redis5 } from "ioredis"
import { Cluster as Cluster6, Redis as Redis6 } from "ioredis6"
import { randomUUID } from "node:crypto"
import * as Ioredis from "../src/internal/ioredisClient.js"
import * as RedisClient from "../src/RedisClient.js"
import {
  announceSkip,
  clusterUnsupported,
  layerRedisCluster,
  layerRedisSentinel,
  RedisCluster,
  RedisSentinel
} from "./support/redisCluster.js"
import { type IoredisClass, layerRedisServer, RedisServer, send } from "./support/redisServer.js"
import { endingTracer } from "./support/sessionApp.js"

interface Harness {
  /** Registers one test that needs a `RedisClient`. */
  readonly test: (
    name: string,
    self: () => Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient>,
    timeout?: number
  ) => void
  /** Lets time pass for the store: `TestClock.adjust` in memory, a real sleep against Redis. */
  readonly elapse: (duration: Duration.DurationInput) => Effect.Effect<void>
}

const suiteId = randomUUID()
let counter = 0
/** A key no other test (or test run) uses. */
const freshKey = (name: string) => `contract:${suiteId}:${counter++}:${name}`

const contract = ({ elapse, test }: Harness) => {
  test("get of a missing key is none", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      expect(yield* redis.get(freshKey("missing"))).toStrictEqual(Option.none())
    }))

  test("get returns what set wrote", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("set-get")
      expect(yield* redis.set(key, "value")).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.some("value"))
    }))

  test("set overwrites an existing value", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("overwrite")
      yield* redis.set(key, "first")
      expect(yield* redis.set(key, "second")).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.some("second"))
    }))

  test("set NX on an existing key writes nothing and answers false", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("nx-existing")
      yield* redis.set(key, "original")
      expect(yield* redis.set(key, "other", { condition: "NX" })).toBe(false)
      expect(yield* redis.get(key)).toStrictEqual(Option.some("original"))
    }))

  test("set NX on a missing key writes it", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("nx-missing")
      expect(yield* redis.set(key, "value", { condition: "NX", ttlSeconds: 100 })).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.some("value"))
    }))

  test("set XX on a missing key writes nothing and answers false", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("xx-missing")
      expect(yield* redis.set(key, "value", { condition: "XX" })).toBe(false)
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
      expect(yield* redis.ttl(key)).toBe(-2)
    }))

  test("set XX on an existing key overwrites it, with the TTL given", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("xx-existing")
      yield* redis.set(key, "first")
      expect(yield* redis.set(key, "second", { condition: "XX", ttlSeconds: 100 })).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.some("second"))
      expect(yield* redis.ttl(key)).toBeGreaterThan(90)
    }))

  test("set with a TTL gives the key that TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("ttl")
      yield* redis.set(key, "value", { ttlSeconds: 100 })
      const ttl = yield* redis.ttl(key)
      assert.isTrue(ttl >= 99 && ttl <= 100, `ttl ${ttl}`)
    }))

  test("set without a TTL clears a previous TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("clear-ttl")
      yield* redis.set(key, "first", { ttlSeconds: 100 })
      yield* redis.set(key, "second")
      expect(yield* redis.ttl(key)).toBe(-1)
    }))

  test("set with a TTL that is not positive fails with a Reply error", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("bad-ttl")
      const error = yield* redis.set(key, "value", { ttlSeconds: 0 }).pipe(
        Effect.zipRight(Effect.dieMessage("SET EX 0 succeeded")),
        Effect.flip
      )
      expect(error.reason).toBe("Reply")
      expect(error.command).toBe("SET")
      expect(error.detail).not.toContain(key)
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
    }))

  const stored = "{\"m\":{},\"c\":1,\"v\":1}"
  const refusedTtls: ReadonlyArray<
    readonly [
      name: string,
      /** The command the error names: a script's, or on a Cluster the `SET` that `move` sends first. */
      commands: ReadonlyArray<string>,
      detail: string,
      write: (
        redis: RedisClient.RedisClientShape,
        key: string
      ) => Effect.Effect<unknown, RedisClient.SessionStoreError>
    ]
  > = [
    [
      "getEx for 0 seconds",
      ["GETEX"],
      "ERR invalid expire time in 'getex' command",
      (redis, key) => redis.getEx(key, 0)
    ],
    [
      "set for 1.5 seconds",
      ["SET"],
      "ERR value is not an integer or out of range",
      (redis, key) => redis.set(key, "new", { ttlSeconds: 1.5 })
    ],
    [
      "expire by 1.5 seconds",
      ["EXPIRE"],
      "ERR value is not an integer or out of range",
      (redis, key) => redis.expire(key, 1.5)
    ],
    [
      "move with a TTL of 0",
      ["EVAL", "SET"],
      "ERR invalid expire time in 'set' command",
      (redis, key) => redis.move(key, `${key}:to`, "new", { ttlSeconds: 0 })
    ],
    [
      "mergePayload with a TTL of 0",
      ["EVALSHA", "EVAL"],
      "ERR invalid expire time in 'set' command",
      (redis, key) => redis.mergePayload(key, { set: [["\"a\"", "1"]], remove: [], rest: "}" }, { ttlSeconds: 0 })
    ]
  ]
  for (const [name, commands, detail, write] of refusedTtls) {
    test(`${name} fails with Redis's Reply error and changes nothing`, () =>
      Effect.gen(function*() {
        const redis = yield* RedisClient.RedisClient
        const key = freshKey("refused-ttl")
        yield* redis.set(key, stored, { ttlSeconds: 100 })
        const error = yield* write(redis, key).pipe(
          Effect.zipRight(Effect.dieMessage(`${name} succeeded`)),
          Effect.flip
        )
        expect(error.reason).toBe("Reply")
        expect(commands).toContain(error.command)
        expect(error.detail.startsWith(detail)).toBe(true)
        expect(yield* redis.get(key)).toStrictEqual(Option.some(stored))
        expect(yield* redis.ttl(key)).toBeGreaterThan(90)
      }))
  }

  test("mergePayload without options leaves the key without a TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("merge-no-options")
      yield* redis.set(key, stored, { ttlSeconds: 100 })
      expect(yield* redis.mergePayload(key, { set: [["\"a\"", "1"]], remove: [], rest: ",\"c\":1,\"v\":1}" }))
        .toBe("Merged")
      expect(yield* redis.get(key)).toStrictEqual(Option.some("{\"m\":{\"a\":1},\"c\":1,\"v\":1}"))
      expect(yield* redis.ttl(key)).toBe(-1)
    }))

  test("del of a key whose TTL has passed answers false", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("del-expired")
      yield* redis.set(key, "value", { ttlSeconds: 1 })
      yield* elapse("1100 millis")
      expect(yield* redis.del(key)).toBe(false)
    }), 10_000)

  test("getEx returns the value and slides the TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("getex")
      yield* redis.set(key, "value", { ttlSeconds: 10 })
      expect(yield* redis.getEx(key, 1000)).toStrictEqual(Option.some("value"))
      const ttl = yield* redis.ttl(key)
      assert.isTrue(ttl >= 999 && ttl <= 1000, `ttl ${ttl}`)
    }))

  test("getEx of a missing key is none and creates nothing", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("getex-missing")
      expect(yield* redis.getEx(key, 100)).toStrictEqual(Option.none())
      expect(yield* redis.ttl(key)).toBe(-2)
    }))

  test("expire of an existing key sets its TTL and answers true", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("expire")
      yield* redis.set(key, "value")
      expect(yield* redis.expire(key, 100)).toBe(true)
      const ttl = yield* redis.ttl(key)
      assert.isTrue(ttl >= 99 && ttl <= 100, `ttl ${ttl}`)
    }))

  test("expire of a missing key answers false and creates nothing", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("expire-missing")
      expect(yield* redis.expire(key, 100)).toBe(false)
      expect(yield* redis.ttl(key)).toBe(-2)
    }))

  test("expire with 0 seconds deletes the key", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("expire-0")
      yield* redis.set(key, "value")
      expect(yield* redis.expire(key, 0)).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
    }))

  test("del of an existing key deletes it and answers true", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("del")
      yield* redis.set(key, "value")
      expect(yield* redis.del(key)).toBe(true)
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
    }))

  test("del of a missing key answers false", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      expect(yield* redis.del(freshKey("del-missing"))).toBe(false)
    }))

  test("ttl is -2 for a missing key and -1 for a key without TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("ttl-special")
      expect(yield* redis.ttl(key)).toBe(-2)
      yield* redis.set(key, "value")
      expect(yield* redis.ttl(key)).toBe(-1)
    }))

  test("a key with a TTL is gone once the TTL has passed", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("expiry")
      yield* redis.set(key, "value", { ttlSeconds: 1 })
      yield* elapse("1200 millis")
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
      expect(yield* redis.getEx(key, 100)).toStrictEqual(Option.none())
      expect(yield* redis.ttl(key)).toBe(-2)
      expect(yield* redis.expire(key, 100)).toBe(false)
      expect(yield* redis.set(key, "new", { condition: "XX" })).toBe(false)
      expect(yield* redis.set(key, "new", { condition: "NX" })).toBe(true)
    }), 10_000)

  test("move writes the value under the new key with its TTL and deletes the old key", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const from = freshKey("move-from")
      const to = freshKey("move-to")
      yield* redis.set(from, "old", { ttlSeconds: 100 })
      expect(yield* redis.move(from, to, "new", { ttlSeconds: 50 })).toBe("Moved")
      expect(yield* redis.get(from)).toStrictEqual(Option.none())
      expect(yield* redis.get(to)).toStrictEqual(Option.some("new"))
      expect(yield* redis.ttl(to)).toBe(50)
    }))

  test("move without a TTL leaves the new key without one", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const from = freshKey("move-nottl-from")
      const to = freshKey("move-nottl-to")
      yield* redis.set(from, "old")
      expect(yield* redis.move(from, to, "new")).toBe("Moved")
      expect(yield* redis.ttl(to)).toBe(-1)
    }))

  test("move from a missing key is Gone and writes nothing: a deleted session is never brought back", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const from = freshKey("move-gone-from")
      const to = freshKey("move-gone-to")
      expect(yield* redis.move(from, to, "new", { ttlSeconds: 50 })).toBe("Gone")
      expect(yield* redis.get(to)).toStrictEqual(Option.none())
    }))

  test("move onto an existing key is Taken and changes neither key", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const from = freshKey("move-taken-from")
      const to = freshKey("move-taken-to")
      yield* redis.set(from, "old")
      yield* redis.set(to, "someone else's")
      expect(yield* redis.move(from, to, "new")).toBe("Taken")
      expect(yield* redis.get(from)).toStrictEqual(Option.some("old"))
      expect(yield* redis.get(to)).toStrictEqual(Option.some("someone else's"))
    }))

  test("getMany answers each key's value in order, none for a missing one", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const a = freshKey("mget-a")
      const b = freshKey("mget-b")
      yield* redis.set(a, "A")
      expect(yield* redis.getMany([a, freshKey("mget-missing"), a])).toStrictEqual([
        Option.some("A"),
        Option.none(),
        Option.some("A")
      ])
      expect(yield* redis.getMany([])).toStrictEqual([])
      expect(yield* redis.getMany([b])).toStrictEqual([Option.none()])
    }))

  test("indexAdd adds members in score order and drops the members whose key is gone", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const index = freshKey("index")
      const [a, b, c] = [freshKey("member-a"), freshKey("member-b"), freshKey("member-c")]
      yield* redis.set(a, "A")
      yield* redis.set(b, "B")
      yield* redis.indexAdd(index, b, 2, undefined)
      yield* redis.indexAdd(index, a, 1, undefined)
      expect(yield* redis.indexMembers(index)).toStrictEqual([a, b])
      yield* redis.del(a)
      yield* redis.set(c, "C")
      yield* redis.indexAdd(index, c, 3, undefined)
      expect(yield* redis.indexMembers(index)).toStrictEqual([b, c])
      const d = freshKey("member-d")
      yield* redis.set(d, "D")
      yield* redis.indexAdd(index, d, 4, undefined)
      expect(yield* redis.indexMembers(index)).toStrictEqual([b, c, d])
    }))

  test(
    "indexAdd with a TTL gives the index that TTL at least: a shorter one keeps it, it expires at the longest",
    () =>
      Effect.gen(function*() {
        const redis = yield* RedisClient.RedisClient
        const index = freshKey("index-ttl")
        const member = freshKey("member")
        yield* redis.set(member, "M")
        yield* redis.indexAdd(index, member, 1, 2)
        yield* redis.indexAdd(index, member, 1, 1)
        yield* elapse("1200 millis")
        expect(yield* redis.indexMembers(index)).toStrictEqual([member])
        yield* elapse("1000 millis")
        expect(yield* redis.indexMembers(index)).toStrictEqual([])
      }),
    10_000
  )

  test("indexAdd without a TTL takes the index's TTL away", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const index = freshKey("index-persist")
      const member = freshKey("member")
      yield* redis.set(member, "M")
      yield* redis.indexAdd(index, member, 1, 1)
      yield* redis.indexAdd(index, member, 1, undefined)
      yield* elapse("1200 millis")
      expect(yield* redis.indexMembers(index)).toStrictEqual([member])
    }), 10_000)

  test(
    "an index emptied by indexRemove is gone: added to again, it has only the new TTL",
    () =>
      Effect.gen(function*() {
        const redis = yield* RedisClient.RedisClient
        const index = freshKey("index-emptied")
        const member = freshKey("member")
        yield* redis.set(member, "M")
        yield* redis.indexAdd(index, member, 1, 3)
        yield* redis.indexRemove(index, [member])
        yield* redis.indexAdd(index, member, 1, 1)
        yield* elapse("1200 millis")
        expect(yield* redis.indexMembers(index)).toStrictEqual([])
        yield* redis.indexRemove(index, [member])
      }),
    10_000
  )

  test("indexRemove removes the members named, and indexMembers of a missing index is empty", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const index = freshKey("index-rem")
      const [a, b] = [freshKey("rem-a"), freshKey("rem-b")]
      yield* redis.set(a, "A")
      yield* redis.set(b, "B")
      yield* redis.indexAdd(index, a, 1, undefined)
      yield* redis.indexAdd(index, b, 2, undefined)
      yield* redis.indexRemove(index, [a])
      expect(yield* redis.indexMembers(index)).toStrictEqual([b])
      yield* redis.indexRemove(index, [])
      expect(yield* redis.indexMembers(freshKey("no-index"))).toStrictEqual([])
    }))

  test("getEx keeps a key alive past its original TTL", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("sliding")
      yield* redis.set(key, "value", { ttlSeconds: 1 })
      yield* elapse("600 millis")
      expect(yield* redis.getEx(key, 2)).toStrictEqual(Option.some("value"))
      yield* elapse("600 millis")
      expect(yield* redis.get(key)).toStrictEqual(Option.some("value"))
    }), 10_000)
}

const clusterSkip = await clusterUnsupported()
if (clusterSkip !== undefined) announceSkip("the RedisClient contract on Redis Cluster", clusterSkip)

describe("RedisClient contract", () => {
  it.layer(RedisClient.layerMemory)("layerMemory", (it) => {
    contract({ test: (name, self, timeout) => it.effect(name, self, timeout), elapse: TestClock.adjust })

    it.effect("ttl rounds the time left to the nearest second, like Redis", () =>
      Effect.gen(function*() {
        const redis = yield* RedisClient.RedisClient
        const key = freshKey("rounding")
        yield* redis.set(key, "value", { ttlSeconds: 10 })
        yield* TestClock.adjust("1499 millis")
        expect(yield* redis.ttl(key)).toBe(9) // 8501 ms left
        yield* TestClock.adjust("2 millis")
        expect(yield* redis.ttl(key)).toBe(8) // 8499 ms left
      }))
  })

  /** The application's own ioredis client, connected, given to `layerFromClient`; closed with the layer. */
  const layerFromOwnClient = (RedisClass: IoredisClass) => (url: string) =>
    Layer.unwrapScoped(
      Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new RedisClass(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
          await client.connect()
          return client
        }),
        (client) => Effect.promise(() => client.quit())
      ).pipe(Effect.map((client) => RedisClient.layerFromClient(client)))
    )

  // ioredis 6 speaks RESP3 by default, ioredis 5 RESP2: the contract holds under both.
  describe.each([
    { name: "layer (its own ioredis 5 client)", resp: 2, layer: (url: string) => RedisClient.layer({ url }) },
    { name: "layerFromClient (ioredis 5)", resp: 2, layer: layerFromOwnClient(Redis5) },
    { name: "layerFromClient (ioredis 6)", resp: 3, layer: layerFromOwnClient(Redis6) }
  ])("$name against redis-server", ({ layer: makeLayer, resp }) => {
    const layerRedis = Layer.unwrapEffect(
      Effect.map(RedisServer, (server) => makeLayer(server.url))
    ).pipe(Layer.provideMerge(layerRedisServer))

    // Real Redis runs on real time: no TestClock here.
    layer(layerRedis, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
      contract({
        test: (name, self, timeout) => it.effect(name, self, timeout),
        elapse: (duration) => Effect.sleep(Duration.decode(duration))
      })

      it.effect(`the connection speaks RESP${resp}`, () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          expect(yield* Effect.promise(() => server.clientProtocols())).toStrictEqual([resp])
        }))

      it.effect("a single server's move is one EVAL and getMany one MGET (not a Cluster's SET+DEL and GETs)", () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          const redis = yield* RedisClient.RedisClient
          const [from, to] = [freshKey("one-eval-from"), freshKey("one-eval-to")]
          yield* redis.set(from, "value")
          yield* Effect.promise(() => server.resetStats())
          expect(yield* redis.move(from, to, "new")).toBe("Moved")
          expect(yield* redis.getMany([from, to])).toStrictEqual([Option.none(), Option.some("new")])
          const { del: _del, exists: _exists, set: _set, ...stats } = yield* Effect.promise(() => server.commandstats())
          expect(stats).toStrictEqual({ eval: 1, mget: 1 })
        }))

      it.effect("getEx is a single GETEX round trip on Redis >= 6.2", () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          const redis = yield* RedisClient.RedisClient
          const key = freshKey("getex-roundtrip")
          yield* redis.set(key, "value")
          yield* Effect.promise(() => server.resetStats())
          yield* redis.getEx(key, 100)
          expect(yield* Effect.promise(() => server.commandstats())).toStrictEqual({ getex: 1 })
        }))
    })
  })

  /** An application's own client: connected when the layer is built, quit when it is released. */
  const ownClient = <C extends { connect(): Promise<void>; quit(): Promise<unknown> }>(
    make: () => C,
    toLayer: (client: C) => Layer.Layer<RedisClient.RedisClient>
  ) =>
    Layer.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(
          Effect.promise(async () => {
            const client = make()
            await client.connect()
            return client
          }),
          (client) => Effect.promise(() => client.quit())
        ),
        toLayer
      )
    )

  const realTime: Pick<Harness, "elapse"> = { elapse: (duration) => Effect.sleep(Duration.decode(duration)) }

  describe.skipIf(clusterSkip !== undefined)("Redis Cluster (3 masters)", () => {
    const clientOptions = { lazyConnect: true, enableOfflineQueue: false } as const

    layer(layerRedisCluster(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
      describe.each([
        {
          name: "layerCluster (its own ioredis 5 Cluster)",
          layer: Layer.unwrapEffect(
            Effect.map(RedisCluster, (cluster) => RedisClient.layerCluster({ nodes: cluster.addresses }))
          )
        },
        {
          name: "layerFromCluster (ioredis 5)",
          layer: Layer.unwrapEffect(Effect.map(RedisCluster, (cluster) =>
            ownClient(
              () => new Cluster5([...cluster.addresses], clientOptions),
              (client) => RedisClient.layerFromCluster(client)
            )))
        },
        {
          name: "layerFromClient given an ioredis 6 Cluster",
          layer: Layer.unwrapEffect(Effect.map(RedisCluster, (cluster) =>
            ownClient(
              () => new Cluster6([...cluster.addresses], clientOptions),
              (client) => RedisClient.layerFromClient(client)
            )))
        }
      ])("$name", ({ layer: backend }) => {
        it.layer(Layer.orDie(backend), { timeout: "30 seconds" })((it) => {
          contract({ test: (name, self, timeout) => it.effect(name, self, timeout), ...realTime })
        })
      })

      it.scoped("a Cluster's own steps have their spans: move (SET+DEL), getMany (GET), indexAdd (EVAL)", () =>
        Effect.gen(function*() {
          const cluster = yield* RedisCluster
          const { ended, tracer } = yield* endingTracer
          const redis = yield* Layer.build(RedisClient.layerCluster({ nodes: cluster.addresses })).pipe(
            Effect.map((context) => Context.get(context, RedisClient.RedisClient))
          )
          const [from, to, index] = [freshKey("span-from"), freshKey("span-to"), freshKey("span-index")]
          yield* redis.set(from, "value")
          yield* Effect.all([
            redis.move(from, to, "new"),
            redis.getMany([to]),
            redis.indexAdd(index, to, 1, undefined)
          ]).pipe(Effect.withTracer(tracer))
          const described = (name: string) =>
            ended.filter((span) => span.name === name).map((span) => [
              span.attributes.get("db.system"),
              span.attributes.get("db.operation")
            ])
          expect(described("RedisClient.move")).toStrictEqual([["redis", "SET+DEL"]])
          expect(described("RedisClient.getMany")).toStrictEqual([["redis", "GET"]])
          expect(described("RedisClient.indexAdd")).toStrictEqual([["redis", "EVAL"]])
        }))

      it.scoped("the single-server scripts and MGET fail here with CROSSSLOT: this run would catch any multi-slot one", () =>
        Effect.gen(function*() {
          const cluster = yield* RedisCluster
          const client = yield* Effect.acquireRelease(
            Effect.promise(async () => {
              const client = new Cluster5([...cluster.addresses], clientOptions)
              await client.connect()
              return client
            }),
            (client) => Effect.promise(() => client.quit())
          )
          const [from, to] = [freshKey("slot-a"), freshKey("slot-b")]
          const slots = yield* Effect.promise(() =>
            Promise.all([from, to].map((key) => send(cluster.nodes[0]!.port, ["CLUSTER", "KEYSLOT", key])))
          )
          expect(slots[0]).not.toBe(slots[1])
          const singleServer = Ioredis.fromIoredis(client, "1 second")
          yield* singleServer.set(from, "value")
          const moved = yield* Effect.flip(singleServer.move(from, to, "value"))
          expect(moved.reason).toBe("Reply")
          expect(moved.detail).toMatch(/CROSSSLOT|non local key|different slot/i)
          const read = yield* Effect.flip(singleServer.getMany([from, to]))
          expect(read.detail).toMatch(/CROSSSLOT/)
        }))
    })
  })

  describe("Sentinel (a master, a replica, 3 sentinels)", () => {
    layer(layerRedisSentinel(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
      describe.each([
        {
          name: "layerSentinel (its own ioredis 5 client)",
          layer: Layer.unwrapEffect(
            Effect.map(
              RedisSentinel,
              (sentinel) =>
                RedisClient.layerSentinel({ sentinels: sentinel.sentinelAddresses, masterName: sentinel.masterName })
            )
          )
        },
        {
          name: "layerFromClient (an ioredis 6 client through the sentinels)",
          layer: Layer.unwrapEffect(Effect.map(RedisSentinel, (sentinel) =>
            ownClient(
              () =>
                new Redis6({
                  sentinels: [...sentinel.sentinelAddresses],
                  name: sentinel.masterName,
                  lazyConnect: true,
                  enableOfflineQueue: false,
                  maxRetriesPerRequest: 1
                }),
              (client) => RedisClient.layerFromClient(client)
            )))
        }
      ])("$name", ({ layer: backend }) => {
        it.layer(Layer.orDie(backend), { timeout: "30 seconds" })((it) => {
          contract({ test: (name, self, timeout) => it.effect(name, self, timeout), ...realTime })

          it.effect("every command reaches the master", () =>
            Effect.gen(function*() {
              const sentinel = yield* RedisSentinel
              const redis = yield* RedisClient.RedisClient
              yield* Effect.promise(() => sentinel.resetStats())
              yield* redis.set(freshKey("to-master"), "value")
              expect(yield* Effect.promise(() => sentinel.master.commandstats())).toStrictEqual({ set: 1 })
            }))
        })
      })
    })
  })
})
