/**
 * A stalled Redis (busy in `DEBUG SLEEP`, or stopped with SIGSTOP) keeps its
 * sockets open and answers nothing. Every command issued meanwhile fails with
 * `Timeout` about `commandTimeout` after it was issued, however the client
 * queues it (auto-pipelining holds new commands behind the stuck batch), and
 * the same client works again as soon as Redis does. Real time throughout.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis as Redis5 } from "ioredis"
import { Redis as Redis6 } from "ioredis6"
import { randomUUID } from "node:crypto"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { allCommands } from "./support/commands.js"
import { type IoredisClass, layerRedisServerWith, RedisServer, type RedisServerHarness } from "./support/redisServer.js"

const commandTimeout = Duration.seconds(1)

/**
 * How late this process ran its timers while `self` ran: the longest event-loop delay seen. A
 * timeout can fire no sooner than the loop gets to it, so that lag (other test files starting
 * servers on the same two cores) is the machine's, not the client's, and is allowed on top of the
 * bound.
 */
const withLoopLag = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      return histogram
    }),
    (histogram) => Effect.map(self, (a) => [a, histogram.max / 1e6] as const),
    (histogram) => Effect.sync(() => histogram.disable())
  )
/** "The timeout plus a little": well under the two timeouts a queued command used to wait. */
const bound = Duration.times(commandTimeout, 1.5)
const stallSeconds = 5
/** Commands are issued in waves, this far apart, from the start of the stall. */
const waveOffsets: ReadonlyArray<Duration.DurationInput> = [
  "0 millis",
  "300 millis",
  "600 millis",
  "900 millis",
  "1200 millis",
  "1500 millis",
  "2000 millis"
]

interface Outcome {
  readonly wave: number
  readonly command: string
  readonly reason: string | undefined
  readonly millis: number
}

const wave = (redis: RedisClient.RedisClientShape, key: string, index: number) =>
  Effect.forEach(
    allCommands(redis, key),
    ([command, effect]) =>
      Effect.timed(Effect.either(effect)).pipe(
        Effect.map(([elapsed, result]): Outcome => ({
          wave: index,
          command,
          reason: result._tag === "Left" ? result.left.reason : undefined,
          millis: Math.round(Duration.toMillis(elapsed))
        }))
      ),
    { concurrency: "unbounded" }
  )

/** An application's own ioredis client, connected, with auto-pipelining and no driver timeout. */
const ownClient = (RedisClass: IoredisClass) => (server: RedisServerHarness) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new RedisClass(server.url, {
        lazyConnect: true,
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1
      })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.sync(() => client.disconnect())
  ).pipe(
    Effect.flatMap((client) => Layer.build(RedisClient.layerFromClient(client, { commandTimeout }))),
    Effect.map(Context.get(RedisClient.RedisClient))
  )

type MakeClient = (
  server: RedisServerHarness
) => Effect.Effect<RedisClient.RedisClientShape, RedisClient.SessionStoreError, Scope.Scope>

const clients = {
  "make (owned, auto-pipelining)": (server) => RedisClient.make({ url: server.url, commandTimeout }),
  "layerFromClient (ioredis 5)": ownClient(Redis5),
  "layerFromClient (ioredis 6)": ownClient(Redis6)
} satisfies Record<string, MakeClient>

/** Stalls the server for `stallSeconds`; the returned effect completes when it answers again. */
type Stall = (server: RedisServerHarness) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>

const stalls = {
  "DEBUG SLEEP 5": (server) =>
    Effect.gen(function*() {
      const sleeping = yield* Effect.fork(Effect.promise(() => server.debugSleep(stallSeconds)))
      // the DEBUG command has reached the server before anything else is sent
      yield* Effect.sleep("100 millis")
      return Effect.asVoid(Fiber.join(sleeping))
    }),
  "SIGSTOP for 5 s": (server) =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(Effect.sync(() => server.pause()), () => Effect.sync(() => server.resume()))
      const stopped = yield* Effect.fork(
        Effect.sleep(Duration.seconds(stallSeconds)).pipe(Effect.zipRight(Effect.sync(() => server.resume())))
      )
      return Fiber.join(stopped)
    })
} satisfies Record<string, Stall>

const cases: ReadonlyArray<{ readonly client: keyof typeof clients; readonly stall: keyof typeof stalls }> = [
  { client: "make (owned, auto-pipelining)", stall: "DEBUG SLEEP 5" },
  { client: "make (owned, auto-pipelining)", stall: "SIGSTOP for 5 s" },
  { client: "layerFromClient (ioredis 5)", stall: "DEBUG SLEEP 5" },
  { client: "layerFromClient (ioredis 6)", stall: "SIGSTOP for 5 s" }
]

describe("RedisClient with a stalled Redis", () => {
  layer(layerRedisServerWith({ debugCommand: true }), { excludeTestServices: true, timeout: "30 seconds" })(
    "against redis-server",
    (it) => {
      it.scoped.each(cases)(
        "$client, $stall: each command issued during the stall fails with Timeout within 1.5× the timeout, and the client recovers",
        ({ client, stall }) =>
          Effect.gen(function*() {
            const server = yield* RedisServer
            const redis = yield* clients[client](server)
            const key = `stall:${randomUUID()}`
            yield* redis.set(key, "value")
            // the stalled commands run once Redis wakes: keep them off the key read afterwards
            const stalledKey = `${key}:stalled`

            const stalled = yield* stalls[stall](server)
            const [waves, lag] = yield* withLoopLag(Effect.forEach(
              waveOffsets,
              (offset, index) => Effect.delay(wave(redis, stalledKey, index), offset),
              { concurrency: "unbounded" }
            ))
            const outcomes = waves.flat()

            expect(outcomes).toHaveLength(waveOffsets.length * allCommands(redis, stalledKey).length)
            expect(outcomes.filter((o) => o.reason !== "Timeout" || o.millis >= Duration.toMillis(bound) + lag))
              .toStrictEqual([])
            expect(outcomes.filter((o) => o.millis < Duration.toMillis(commandTimeout) - 50)).toStrictEqual([])

            yield* stalled
            const [elapsed, value] = yield* Effect.timed(
              redis.get(key).pipe(Effect.retry(Schedule.spaced("50 millis")), Effect.timeout("3 seconds"))
            )
            expect(value).toStrictEqual(Option.some("value"))
            expect(Duration.toMillis(elapsed)).toBeLessThan(Duration.toMillis(commandTimeout))
          }),
        20_000
      )
    }
  )
})

/** An HTTP app whose session lives in the test's redis-server, through a client the library owns. */
const sessionServer = (server: RedisServerHarness) =>
  HttpServer.serve(SessionMiddleware.middleware(HttpRouter.empty.pipe(
    HttpRouter.get("/write", Effect.as(Session.set("n", 1), HttpServerResponse.text("ok"))),
    HttpRouter.get("/read", Effect.as(Session.get("n"), HttpServerResponse.text("ok")))
  ))).pipe(
    Layer.provide(RedisClient.layer({ url: server.url, commandTimeout })),
    Layer.provide(
      SessionPolicy.layer({ secret: Redacted.make("stall-secret-0123456789abcdef-0123456"), cookieSecure: false })
    ),
    Layer.provideMerge(NodeHttpServer.layerTest),
    // every request logs its failed load; the test counts the replies instead
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

describe("session requests with a stalled Redis", () => {
  layer(layerRedisServerWith({ debugCommand: true }), { excludeTestServices: true, timeout: "30 seconds" })(
    "against redis-server",
    (it) => {
      it.scoped(
        "each gets its 503 within 1.5× the command timeout, with Retry-After, and sessions work again after",
        () =>
          Effect.gen(function*() {
            const server = yield* RedisServer
            const context = yield* Layer.build(sessionServer(server))
            const client = Context.get(context, HttpClient.HttpClient)
            const written = yield* client.get("/write")
            const cookie = (written.headers["set-cookie"] ?? "").split(";")[0] ?? ""
            expect(cookie).toMatch(/^session=/)
            const read = Effect.timed(
              Effect.flatMap(client.get("/read", { headers: { cookie } }), (response) =>
                Effect.succeed({ status: response.status, retryAfter: response.headers["retry-after"] }))
            )

            const stalled = yield* stalls["SIGSTOP for 5 s"](server)
            const [replies, lag] = yield* withLoopLag(Effect.forEach(
              waveOffsets,
              (offset) =>
                Effect.delay(
                  Effect.all(
                    Array.from({ length: 5 }, () =>
                      read),
                    { concurrency: "unbounded" }
                  ),
                  offset
                ),
              { concurrency: "unbounded" }
            ))
            const outcomes = replies.flat().map(([elapsed, reply]) => ({
              ...reply,
              millis: Math.round(Duration.toMillis(elapsed))
            }))
            expect(outcomes).toHaveLength(waveOffsets.length * 5)
            expect(outcomes.filter((o) => o.status !== 503 || o.retryAfter !== "1")).toStrictEqual([])
            expect(outcomes.filter((o) => o.millis >= Duration.toMillis(bound) + lag)).toStrictEqual([])

            yield* stalled
            const after = yield* read.pipe(
              Effect.flatMap(([, reply]) => reply.status === 200 ? Effect.succeed(reply) : Effect.fail(reply)),
              Effect.retry(Schedule.spaced("50 millis")),
              Effect.timeout("3 seconds")
            )
            expect(after.status).toBe(200)
          }),
        20_000
      )
    }
  )
})
