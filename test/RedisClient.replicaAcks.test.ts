/**
 * `replicaAcks` on a real master and replica: a write answers once the
 * replica has it; with the replica stopped (SIGSTOP) it answers after the
 * `WAIT` timeout, still succeeds, and is counted as a shortfall; TTL slides
 * don't wait; bad options are refused; on a Cluster each write waits for its
 * own master's replica. Real time throughout.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { Redis as Redis5 } from "ioredis"
import { Redis as Redis6 } from "ioredis6"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RedisClient from "../src/RedisClient.js"
import { startRedisCluster } from "./support/redisCluster.js"
import { type IoredisClass, type RedisServerHarness, startRedisServer } from "./support/redisServer.js"

const commandTimeout = Duration.seconds(1)
const waitTimeout = Duration.millis(300)

let master: RedisServerHarness
let replica: RedisServerHarness
/** Reads the replica directly (a plain client, no session library). */
let onReplica: Redis5

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const replicated = async (): Promise<void> => {
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    const info = await onReplica.info("replication")
    if (info.includes("master_link_status:up")) return
    await sleep(25)
  }
  throw new Error("the replica did not connect to its master within 5 s")
}

beforeAll(async () => {
  master = await startRedisServer()
  replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(master.port)] })
  onReplica = new Redis5(replica.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await onReplica.connect()
  await replicated()
})

afterAll(async () => {
  onReplica.disconnect()
  await replica?.stop()
  await master?.stop()
})

const clients: ReadonlyArray<readonly [string, IoredisClass]> = [["ioredis 5", Redis5], ["ioredis 6", Redis6]]

/** Runs `use` with a `RedisClient` over a fresh client of `Client` on the master. */
const withStore = async <A>(
  Client: IoredisClass,
  replicaAcks: RedisClient.ReplicaAcksOptions | undefined,
  use: (redis: RedisClient.RedisClientShape) => Effect.Effect<A, RedisClient.SessionStoreError>
): Promise<A> => {
  const client = new Client(master.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  await client.connect()
  try {
    return await Effect.runPromise(
      Effect.flatMap(RedisClient.RedisClient, use).pipe(
        Effect.provide(RedisClient.layerFromClient(client, { commandTimeout, replicaAcks }))
      )
    )
  } finally {
    client.disconnect()
  }
}

/** The master's commandstats without the replica's own `REPLCONF`s. */
const dataCommands = async () => {
  const { replconf: _, ...stats } = await master.commandstats()
  return stats
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.timed(effect), ([elapsed, value]) => ({ millis: Duration.toMillis(elapsed), value }))

const shortfalls = (command: string) =>
  Effect.runSync(Metric.value(Metric.tagged(RedisClient.replicaAckShortfalls, "command", command))).count

/** Stops the replica for `millis`, from now. */
const stallReplica = (millis: number) => {
  replica.pause()
  return sleep(millis).then(() => replica.resume())
}

const stallMillis = 150

/** Runs `write` with the replica stopped for `stallMillis` from the moment it is issued; how long it took. */
const whileReplicaStalls = <A>(write: Effect.Effect<A, RedisClient.SessionStoreError>) =>
  Effect.gen(function*() {
    const resumed = stallReplica(stallMillis)
    const result = yield* timed(write)
    yield* Effect.promise(() => resumed)
    return result
  })

describe.each(clients)("replicaAcks on %s", (_, Client) => {
  const acks = { replicas: 1, timeout: waitTimeout }

  it("a SET answers only once the replica has it", async () => {
    const key = randomUUID()
    const { millis, value } = await withStore(Client, acks, (redis) => whileReplicaStalls(redis.set(key, "v1")))
    expect(value).toBe(true)
    expect(millis).toBeGreaterThanOrEqual(stallMillis - 10)
    expect(await onReplica.get(key)).toBe("v1")
  })

  it("without replicaAcks the same SET answers while the replica is still stopped", async () => {
    const { millis, value } = await withStore(
      Client,
      undefined,
      (redis) => whileReplicaStalls(redis.set(randomUUID(), "v1"))
    )
    expect(value).toBe(true)
    expect(millis).toBeLessThan(stallMillis / 2)
  })

  it("move, indexAdd, indexRemove and del answer only once the replica has them", async () => {
    const [from, to, index] = [randomUUID(), randomUUID(), randomUUID()]
    const stalled = <A>(write: Effect.Effect<A, RedisClient.SessionStoreError>) =>
      Effect.map(whileReplicaStalls(write), ({ millis, value }) => {
        expect(millis).toBeGreaterThanOrEqual(stallMillis - 10)
        return value
      })
    await withStore(Client, acks, (redis) =>
      Effect.gen(function*() {
        yield* redis.set(from, "v")
        expect(yield* stalled(redis.move(from, to, "v2", { ttlSeconds: 60 }))).toBe("Moved")
        expect(yield* Effect.promise(() => onReplica.mget(from, to))).toEqual([null, "v2"])
        yield* stalled(redis.indexAdd(index, to, 1, 60))
        expect(yield* Effect.promise(() => onReplica.zrange(index, 0, -1))).toEqual([to])
        yield* stalled(redis.indexRemove(index, [to]))
        expect(yield* Effect.promise(() => onReplica.exists(index))).toBe(0)
        expect(yield* stalled(redis.del(to))).toBe(true)
        expect(yield* Effect.promise(() => onReplica.exists(to))).toBe(0)
      }))
  })

  it("with the replica stopped, a write succeeds after the WAIT timeout and counts a shortfall", async () => {
    const key = randomUUID()
    const before = shortfalls("SET")
    replica.pause()
    try {
      const { millis, value } = await withStore(Client, acks, (redis) => timed(redis.set(key, "v1")))
      expect(value).toBe(true)
      expect(millis).toBeGreaterThanOrEqual(Duration.toMillis(waitTimeout) - 10)
      expect(millis).toBeLessThan(Duration.toMillis(commandTimeout))
      expect(shortfalls("SET")).toBe(before + 1)
    } finally {
      replica.resume()
    }
    await replicated()
    expect(await onReplica.get(key)).toBe("v1")
  })

  it("with the replica stopped, 20 concurrent writes and a read all answer within two WAIT timeouts", async () => {
    const keys = Array.from({ length: 20 }, () => randomUUID())
    replica.pause()
    try {
      const { millis } = await withStore(Client, acks, (redis) =>
        timed(Effect.all([
          Effect.forEach(keys, (key) => redis.set(key, "v"), { concurrency: "unbounded" }),
          Effect.delay(redis.get(keys[0] ?? ""), "10 millis")
        ], { concurrency: "unbounded" })))
      expect(millis).toBeLessThan(2 * Duration.toMillis(waitTimeout) + 100)
    } finally {
      replica.resume()
    }
    await replicated()
  })

  it("GETEX and EXPIRE (TTL slides) don't wait", async () => {
    const key = randomUUID()
    await withStore(Client, acks, (redis) => redis.set(key, "v"))
    await master.resetStats()
    const { millis } = await withStore(
      Client,
      acks,
      (redis) => whileReplicaStalls(Effect.zip(redis.getEx(key, 100), redis.expire(key, 200)))
    )
    expect(millis).toBeLessThan(stallMillis / 2)
    expect(await dataCommands()).toEqual({ getex: 1, expire: 1 })
  })
})

describe("replicaAcks options", () => {
  it("one WAIT per write, sent with it", async () => {
    const key = randomUUID()
    await master.resetStats()
    await withStore(
      Redis5,
      { replicas: 1, timeout: waitTimeout },
      (redis) => Effect.zip(redis.set(key, "v"), redis.del(key))
    )
    expect(await dataCommands()).toEqual({ set: 1, del: 1, wait: 2 })
  })

  it("writes issued together share one WAIT", async () => {
    const keys = Array.from({ length: 10 }, () => randomUUID())
    await master.resetStats()
    await withStore(
      Redis5,
      { replicas: 1, timeout: waitTimeout },
      (redis) => Effect.forEach(keys, (key) => redis.set(key, "v"), { concurrency: "unbounded" })
    )
    expect(await dataCommands()).toEqual({ set: 10, wait: 1 })
  })

  it.each([
    [{ replicas: 0, timeout: waitTimeout }, /replicas must be a whole number/],
    [{ replicas: 1, timeout: Duration.zero }, /at least 1 millisecond/],
    [{ replicas: 1, timeout: commandTimeout }, /must be shorter than commandTimeout/]
  ])("refuses %o", async (replicaAcks, message) => {
    const client = new Redis5(master.url, { lazyConnect: true })
    const exit = await Effect.runPromiseExit(
      Effect.provide(RedisClient.RedisClient, RedisClient.layerFromClient(client, { commandTimeout, replicaAcks }))
    )
    expect(Exit.isFailure(exit) && String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(message)
  })

  it.each([
    [{ REDIS_URL: "redis://127.0.0.1:1" }, Option.none()],
    [{ REDIS_URL: "redis://127.0.0.1:1", REDIS_REPLICA_ACKS: "2" }, Option.some({ replicas: 2, ms: 100 })],
    [
      { REDIS_URL: "redis://127.0.0.1:1", REDIS_REPLICA_ACKS: "1", REDIS_REPLICA_ACKS_TIMEOUT: "250 millis" },
      Option.some({ replicas: 1, ms: 250 })
    ]
  ])("reads %o from the environment", (env, expected) => {
    const read = Effect.runSync(
      Effect.withConfigProvider(
        RedisClient.replicaAcksConfig,
        ConfigProvider.fromMap(new Map(Object.entries(env)))
      )
    )
    expect(Option.map(read, (acks) => ({ replicas: acks.replicas, ms: Duration.toMillis(acks.timeout) }))).toEqual(
      expected
    )
  })

  it.each([
    [{ REDIS_URL: "redis://127.0.0.1:1", REDIS_REPLICA_ACKS: "0" }, /at least 1/],
    [{ REDIS_URL: "redis://127.0.0.1:1", REDIS_REPLICA_ACKS: "1", REDIS_REPLICA_ACKS_TIMEOUT: "2 seconds" }, /shorter/]
  ])("layerConfig refuses %o with a ConfigError", async (env, message) => {
    const exit = await Effect.runPromiseExit(
      Effect.provide(RedisClient.RedisClient, RedisClient.layerConfig()).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(message)
  })
})

describe("replicaAcks on a Redis Cluster (3 masters, 1 replica each)", () => {
  it("each write's WAIT goes to its slot's master, which its replica acknowledges", async () => {
    const cluster = await startRedisCluster({ masters: 3, replicas: 1 })
    try {
      const keys = Array.from({ length: 30 }, () => randomUUID())
      const before = shortfalls("SET")
      await cluster.resetStats()
      await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(
            Layer.build(RedisClient.layerCluster({
              nodes: cluster.addresses,
              // generous bounds: this test is about where each WAIT goes, not how fast it answers
              commandTimeout: Duration.seconds(5),
              replicaAcks: { replicas: 1, timeout: Duration.seconds(3) }
            })),
            (context) =>
              Effect.forEach(keys, (key) => Context.get(context, RedisClient.RedisClient).set(key, "v"), {
                concurrency: "unbounded"
              })
          )
        )
      )
      expect(await cluster.commandstats()).toEqual({ set: 30, wait: 30 })
      expect(shortfalls("SET")).toBe(before)
    } finally {
      await cluster.stop()
    }
  }, 60_000)
})
