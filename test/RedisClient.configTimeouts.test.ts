/**
 * The `connectTimeout` and `commandTimeout` that the `layer…Config` layers
 * read from their `Config` options bound the connection and every command:
 * against a server that accepts connections and never answers, and against a
 * redis-server, a Sentinel's master or a Cluster's masters whose clients are
 * paused (`CLIENT PAUSE`). (A Cluster whose nodes never answer fails after
 * about 1 second without a bound of ours, by ioredis's own slots refresh,
 * with its own message, "timeout": a bound read from Config is told apart by
 * its message.)
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as net from "node:net"
import * as RedisClient from "../src/RedisClient.js"
import { layerRedisCluster, layerRedisSentinel, RedisCluster, RedisSentinel } from "./support/redisCluster.js"
import { layerRedisServer, RedisServer, send } from "./support/redisServer.js"

/** A TCP server on loopback that accepts every connection and never answers; its port. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly server: net.Server; readonly sockets: Set<net.Socket> }>((resume) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      sockets.forEach((socket) => socket.destroy())
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const connectTimeout = Config.succeed(Duration.millis(200))

describe("connectTimeout from Config", () => {
  it.live.each(
    [
      [
        "layerConfig",
        (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` }),
        RedisClient.layerConfig({ connectTimeout })
      ],
      [
        "layerSentinelConfig",
        (port: number) => ({ REDIS_SENTINELS: `127.0.0.1:${port}`, REDIS_SENTINEL_MASTER: "sessions" }),
        RedisClient.layerSentinelConfig({ connectTimeout })
      ],
      [
        "layerClusterConfig",
        (port: number) => ({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}` }),
        RedisClient.layerClusterConfig({ connectTimeout })
      ]
    ] as const
  )(
    "%s gives up on a server that never answers at that bound, not the default 2 seconds",
    ([, env, store]) =>
      Effect.gen(function*() {
        const port = yield* silentServer
        const started = Date.now()
        const error = yield* Layer.build(store).pipe(Effect.scoped, Effect.flip, withEnv(env(port)))
        expect(error._tag === "SessionStoreError" && { command: error.command, detail: error.detail }).toStrictEqual({
          command: "CONNECT",
          detail: "not connected within 200ms"
        })
        expect(Date.now() - started).toBeLessThan(1_800)
      }).pipe(Effect.scoped),
    { timeout: 10_000 }
  )
})

describe("replicaAcks without a commandTimeout", () => {
  const tooLong = { replicas: 1, timeout: Duration.seconds(2) }
  const problem = "replicaAcks.timeout (2s) must be shorter than commandTimeout (1s)"

  it.live.each(
    [
      ["layer", RedisClient.layer({ url: "redis://127.0.0.1:1", replicaAcks: tooLong })],
      [
        "layerSentinel",
        RedisClient.layerSentinel({
          sentinels: [{ host: "127.0.0.1", port: 1 }],
          masterName: "m",
          replicaAcks: tooLong
        })
      ],
      ["layerCluster", RedisClient.layerCluster({ nodes: [{ host: "127.0.0.1", port: 1 }], replicaAcks: tooLong })]
    ] as const
  )("%s checks them against the default of 1 second", ([, store]) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(store).pipe(Effect.scoped))
      expect(exit._tag === "Failure" && Cause.isDie(exit.cause) && String(Cause.squash(exit.cause))).toContain(problem)
    }))

  it.live.each(
    [
      ["layerSentinelConfig", RedisClient.layerSentinelConfig(), {
        REDIS_SENTINELS: "127.0.0.1:1",
        REDIS_SENTINEL_MASTER: "m"
      }],
      ["layerClusterConfig", RedisClient.layerClusterConfig(), { REDIS_CLUSTER_NODES: "127.0.0.1:1" }]
    ] as const
  )("%s checks them against the default of 1 second", ([, store, env]) =>
    Effect.gen(function*() {
      const error = yield* Layer.build(store).pipe(
        Effect.scoped,
        Effect.flip,
        withEnv({ ...env, REDIS_REPLICA_ACKS: "1", REDIS_REPLICA_ACKS_TIMEOUT: "2 seconds" })
      )
      expect(String(error)).toContain(problem)
    }))
})

describe("commandTimeout from Config", () => {
  const commandTimeout = Config.succeed(Duration.millis(100))

  /** Connects, pauses the given servers' clients for 600 ms, and answers how a `GET` then fails. */
  const pausedGet = (
    store: Layer.Layer<RedisClient.RedisClient, unknown>,
    ports: () => Promise<ReadonlyArray<number>>
  ) =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      yield* Effect.promise(async () => {
        for (const port of await ports()) await send(port, ["CLIENT", "PAUSE", "600", "ALL"])
      })
      const error = yield* Effect.flip(redis.get("key"))
      return { reason: error.reason, detail: error.detail }
    }).pipe(Effect.provide(store), Effect.orDie)

  const timedOut = { reason: "Timeout", detail: "no reply within 100ms" }

  layer(layerRedisServer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("layerConfig bounds each command by it: a paused server fails the command as Timeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const store = RedisClient.layerConfig({ commandTimeout })
        const failure = yield* pausedGet(store, async () => [server.port]).pipe(withEnv({ REDIS_URL: server.url }))
        expect(failure).toStrictEqual(timedOut)
      }))
  })

  layer(layerRedisSentinel(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("layerSentinelConfig bounds each command by it: a paused master fails the command as Timeout", () =>
      Effect.gen(function*() {
        const sentinel = yield* RedisSentinel
        const store = RedisClient.layerSentinelConfig({ commandTimeout })
        const failure = yield* pausedGet(store, async () => [(await sentinel.currentMaster()).port]).pipe(
          withEnv({ REDIS_SENTINELS: sentinel.sentinelsVariable, REDIS_SENTINEL_MASTER: sentinel.masterName })
        )
        expect(failure).toStrictEqual(timedOut)
      }))
  })

  layer(layerRedisCluster(), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("layerClusterConfig bounds each command by it: paused masters fail the command as Timeout", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster
        const store = RedisClient.layerClusterConfig({ commandTimeout })
        const failure = yield* pausedGet(store, async () => (await cluster.masters()).map((node) => node.port)).pipe(
          withEnv({ REDIS_CLUSTER_NODES: cluster.nodesVariable })
        )
        expect(failure).toStrictEqual(timedOut)
      }))
  })
})
