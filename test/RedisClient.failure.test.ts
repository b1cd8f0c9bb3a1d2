/**
 * How the ioredis-backed `RedisClient` behaves when Redis is down, hung or
 * unreachable: commands fail fast with a `SessionStoreError`, never hang, and
 * the client recovers on its own. Real time throughout (no TestClock).
 */
import { describe, expect, layer, vi } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import * as net from "node:net"
import * as RedisClient from "../src/RedisClient.js"
import { allCommands } from "./support/commands.js"
import { layerRedisCluster, RedisCluster } from "./support/redisCluster.js"
import { freePort, layerRedisServer, RedisServer, type RedisServerHarness, send } from "./support/redisServer.js"

const commandTimeout = Duration.millis(300)

const freshKey = (name: string) => `failure:${randomUUID()}:${name}`

/** Succeeds with the error of `self`; dies if `self` succeeds. */
const failure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  self.pipe(Effect.zipRight(Effect.dieMessage("expected a failure, got a success")), Effect.flip)

const makeClient = (server: RedisServerHarness) =>
  RedisClient.make({ url: server.url, commandTimeout, connectTimeout: "1 second" })

/** Leaves the server running for the next test, whatever this one did to it. */
const restartWhenDone = (server: RedisServerHarness) =>
  Effect.addFinalizer(() => Effect.promise(() => server.running ? Promise.resolve() : server.restart()))

/** Retries `self` every 100 ms for up to `within`. */
const eventually = <A, E, R>(self: Effect.Effect<A, E, R>, within: Duration.DurationInput) =>
  self.pipe(
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`no success within ${Duration.format(within)}`) })
  )

/** Records what ioredis prints for error events nobody listens to. */
const unhandledErrorEvents = Effect.acquireRelease(
  Effect.sync(() => vi.spyOn(console, "error")),
  (spy) => Effect.sync(() => spy.mockRestore())
).pipe(
  Effect.map((spy) => () =>
    spy.mock.calls.filter((args) => String(args[0]).includes("[ioredis] Unhandled error event"))
  )
)

/** A TCP server that accepts connections, reads, and never answers; counts connections, and those still open. */
const silentServer = Effect.acquireRelease(
  Effect.async<{
    readonly port: number
    readonly connections: () => number
    readonly open: () => number
    readonly close: () => void
  }>(
    (resume) => {
      const sockets = new Set<net.Socket>()
      let connections = 0
      const server = net.createServer((socket) => {
        connections++
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        // reads what it is sent (so a client's FIN arrives and closes the socket), answers nothing
        socket.resume()
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = address !== null && typeof address === "object" ? address.port : 0
        resume(Effect.succeed({
          port,
          connections: () => connections,
          open: () => sockets.size,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        }))
      })
    }
  ),
  (server) => Effect.sync(() => server.close())
)

describe("RedisClient failures", () => {
  layer(layerRedisServer, { excludeTestServices: true, timeout: "30 seconds" })("against redis-server", (it) => {
    it.scoped("after the server dies, every command fails within 1.5 s with Connection or Timeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* restartWhenDone(server)
        const unhandled = yield* unhandledErrorEvents
        const redis = yield* makeClient(server)
        const key = freshKey("killed")
        yield* redis.set(key, "value")

        yield* Effect.promise(() => server.kill())

        // right after the crash, and again while the client is reconnecting
        for (const round of [1, 2]) {
          for (const [command, effect] of allCommands(redis, key)) {
            const [elapsed, error] = yield* Effect.timed(failure(effect))
            expect(error).toBeInstanceOf(RedisClient.SessionStoreError)
            expect({ round, command: error.command }).toStrictEqual({ round, command })
            expect(["Connection", "Timeout"]).toContain(error.reason)
            expect(error.detail).not.toContain(key)
            expect(Duration.toMillis(elapsed)).toBeLessThan(1500)
          }
          yield* Effect.sleep("300 millis")
        }
        expect(unhandled()).toStrictEqual([])
      }))

    it.scoped("after the server dies, the client tries again after 100 ms, 200 ms, … up to 1 s apart", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* restartWhenDone(server)
        yield* makeClient(server)
        yield* Effect.promise(() => server.kill())
        // the port now refuses Redis: each attempt is accepted and closed at once
        const attempts: Array<number> = []
        const closing = net.createServer((socket) => {
          attempts.push(Date.now())
          socket.destroy()
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            closing.listen(server.port, "127.0.0.1", () => resume(Effect.void))
          }),
          () =>
            Effect.async<void>((resume) => {
              closing.close(() => resume(Effect.void))
            })
        )
        yield* Effect.sleep("2500 millis")
        // 100 + 200 + … + 600 ms: about six attempts, neither a busy loop nor one a second
        expect(attempts.length).toBeGreaterThanOrEqual(4)
        expect(attempts.length).toBeLessThanOrEqual(8)
      }))

    it.scoped("after the server comes back, the same client works again within a few seconds", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* restartWhenDone(server)
        const redis = yield* makeClient(server)
        const key = freshKey("restarted")

        yield* Effect.promise(() => server.kill())
        yield* failure(redis.get(key))
        yield* Effect.promise(() => server.restart())

        const [elapsed] = yield* Effect.timed(eventually(redis.set(key, "value"), "5 seconds"))
        expect(Duration.toMillis(elapsed)).toBeLessThan(5000)
        expect(yield* redis.get(key)).toStrictEqual(Option.some("value"))
      }))

    it.scoped("a hung server makes commands fail with Timeout after about commandTimeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const redis = yield* makeClient(server)
        const key = freshKey("hung")
        yield* redis.set(key, "value")

        yield* Effect.acquireRelease(
          Effect.sync(() => server.pause()),
          () => Effect.sync(() => server.resume())
        )
        for (const [command, effect] of allCommands(redis, key)) {
          const [elapsed, error] = yield* Effect.timed(failure(effect))
          expect(error).toMatchObject({ command, reason: "Timeout" })
          expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(250)
          expect(Duration.toMillis(elapsed)).toBeLessThan(800)
        }

        server.resume()
        yield* eventually(redis.get(key), "3 seconds")
      }))

    it.scoped("a client the layer owns says QUIT when its scope closes, and is gone", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const quits = Effect.promise(async () =>
          Number(/^cmdstat_quit:calls=(\d+)/m.exec(String(await send(server.port, ["INFO", "commandstats"])))?.[1] ?? 0)
        )
        const before = yield* quits
        yield* Effect.scoped(Effect.flatMap(makeClient(server), (redis) => redis.get(freshKey("quit"))))
        expect(yield* quits).toBe(before + 1)
      }))

    it.scoped("a server that does not answer QUIT holds up the scope's close for 1 s, no longer", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* Effect.addFinalizer(() => Effect.sync(() => server.resume()))
        const [elapsed] = yield* Effect.timed(
          Effect.scoped(
            Effect.flatMap(
              makeClient(server),
              (redis) => Effect.zipRight(redis.get(freshKey("paused-quit")), Effect.sync(() => server.pause()))
            )
          )
        )
        expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(950)
        expect(Duration.toMillis(elapsed)).toBeLessThan(1500)
      }))

    it.scoped("layerFromClient leaves the application's client connected when its scope closes", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const client = yield* Effect.acquireRelease(
          Effect.promise(async () => {
            const client = new Redis(server.url, { lazyConnect: true })
            await client.connect()
            return client
          }),
          (client) => Effect.promise(() => client.quit())
        )
        const key = freshKey("from-client")

        yield* Effect.scoped(
          Effect.gen(function*() {
            const context = yield* Layer.build(RedisClient.layerFromClient(client, { commandTimeout }))
            const redis = Context.get(context, RedisClient.RedisClient)
            expect(yield* redis.set(key, "value")).toBe(true)
          })
        )

        expect(client.status).toBe("ready")
        expect(yield* Effect.promise(() => client.get(key))).toBe("value")
      }))
  })

  layer(Layer.empty, { excludeTestServices: true })("unreachable Redis", (it) => {
    it.scoped("layer fails to build with a Connection error when nothing listens on the port", () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(() => freePort())
        const unhandled = yield* unhandledErrorEvents
        const [elapsed, error] = yield* Effect.timed(
          failure(Layer.build(RedisClient.layer({ url: `redis://127.0.0.1:${port}`, connectTimeout: "500 millis" })))
        )
        expect(error).toMatchObject({ _tag: "SessionStoreError", command: "CONNECT", reason: "Connection" })
        expect(Duration.toMillis(elapsed)).toBeLessThan(1000)
        expect(unhandled()).toStrictEqual([])
      }))

    it.scoped("layer fails within connectTimeout against a server that never answers, and stops retrying", () =>
      Effect.gen(function*() {
        const silent = yield* silentServer
        const [elapsed, error] = yield* Effect.timed(
          failure(
            Layer.build(RedisClient.layer({ url: `redis://127.0.0.1:${silent.port}`, connectTimeout: "500 millis" }))
          )
        )
        expect(error).toMatchObject({ _tag: "SessionStoreError", command: "CONNECT", reason: "Connection" })
        expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(450)
        expect(Duration.toMillis(elapsed)).toBeLessThan(1000)

        // the abandoned client does not keep reconnecting in the background, nor keep its connection
        const attempts = silent.connections()
        yield* Effect.sleep("1500 millis")
        expect(silent.connections()).toBe(attempts)
        expect(silent.open()).toBe(0)
      }))
  })

  layer(layerRedisCluster(), { excludeTestServices: true, timeout: "60 seconds" })("a Cluster", (it) => {
    it.scoped("whose nodes are all gone fails each command at once with Connection, never queued until its bound", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster
        const redis = yield* RedisClient.makeCluster({ nodes: cluster.addresses, commandTimeout: "3 seconds" })
        yield* redis.set(freshKey("cluster"), "v")
        yield* Effect.promise(() => Promise.all(cluster.nodes.map((node) => cluster.kill(node))))
        // the client has seen its connections close
        yield* Effect.sleep("500 millis")
        const [elapsed, error] = yield* Effect.timed(failure(redis.get(freshKey("cluster"))))
        expect(error).toMatchObject({ _tag: "SessionStoreError", command: "GET", reason: "Connection" })
        expect(Duration.toMillis(elapsed)).toBeLessThan(1000)
      }))
  })
})
