/**
 * The `connectTimeout` and `commandTimeout` that the `layer…Config` layers
 * read from their `Config` options bound the connection and every command:
 * against a server that accepts connections and never answers, and against a
 * redis-server whose clients are paused (`CLIENT PAUSE`). (A Cluster whose
 * nodes never answer fails sooner than 2 seconds either way, by ioredis's own
 * 1-second slots refresh, so it is not in the table.)
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
  layer(layerRedisServer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("layerConfig bounds each command by it: a paused server fails the command as Timeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const store = RedisClient.layerConfig({ commandTimeout: Config.succeed(Duration.millis(100)) })
        const error = yield* Effect.gen(function*() {
          const redis = yield* RedisClient.RedisClient
          yield* Effect.promise(() => send(server.port, ["CLIENT", "PAUSE", "600", "ALL"]))
          return yield* Effect.flip(redis.get("key"))
        }).pipe(Effect.provide(store), withEnv({ REDIS_URL: server.url }))
        expect({ reason: error.reason, detail: error.detail }).toStrictEqual({
          reason: "Timeout",
          detail: "no reply within 100ms"
        })
      }))
  })
})
