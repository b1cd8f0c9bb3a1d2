/**
 * The Redis commands each kind of request costs, per mode, counted on a real
 * redis-server with INFO commandstats: the "ours" column of
 * docs/redis-usage.md. The same counts hold on a Sentinel-managed master and
 * on a Redis Cluster (summed over its masters), but for regeneration, which
 * Cluster runs as two single-key commands (docs/scaling.md).
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Redis } from "ioredis"
import * as CookieSigner from "../src/CookieSigner.js"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import * as UserSessions from "../src/UserSessions.js"
import {
  announceSkip,
  clusterUnsupported,
  type Deployment,
  layerRedisCluster,
  layerRedisSentinel,
  RedisCluster,
  RedisSentinel
} from "./support/redisCluster.js"
import { layerRedisServer, RedisServer } from "./support/redisServer.js"
import { layerWith, makeClient, recordingTracer, secret } from "./support/sessionApp.js"

/** The deployment under test, and a `RedisClient` on it (one connection per test). */
class Backend extends Context.Tag("test/Backend")<Backend, {
  readonly deployment: Deployment
  readonly redis: Layer.Layer<RedisClient.RedisClient>
}>() {}

const withSessions = <A, E, R>(
  options: Partial<SessionPolicy.Options>,
  body: Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const { deployment, redis } = yield* Backend
    yield* Effect.promise(() => deployment.flushall())
    // Every master knows the merge script from here on (a merge into a missing key loads it and
    // writes nothing): counts never depend on which test ran first. The first merge after a
    // restart or SCRIPT FLUSH has its own test.
    yield* Effect.provide(loadMergeScript, redis)
    return yield* Effect.provide(body, layerWith(redis, options))
  })

const emptyPatch: RedisClient.PayloadPatch = { set: [], remove: [], rest: "}" }
/** Missing keys in slots 3300, 7365 and 15495: one on each master of a 3-master cluster. */
const loadMergeScript = Effect.flatMap(
  RedisClient.RedisClient,
  (redis) => Effect.forEach(["b", "c", "a"], (key) => redis.mergePayload(key, emptyPatch), { discard: true })
)

/** A merge write: one EVALSHA, with the GET and the SET it runs inside counted too. */
const merge = { evalsha: 1, get: 1, set: 1 }

/** Runs `effect` and returns the commands Redis received meanwhile. */
const commandsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const { deployment } = yield* Backend
    yield* Effect.promise(() => deployment.resetStats())
    yield* effect
    return yield* Effect.promise(() => deployment.commandstats())
  })

const ttlOf = (key: string) => Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(key))

/** A regeneration's commands: where they differ between topologies. */
interface Regenerate {
  readonly title: string
  readonly commands: Record<string, number>
}

/** What a user's sessions cost: a login that binds (the user has one other live session), and a listing of two. */
interface UserIndex {
  readonly loginBind: Record<string, number>
  readonly list: Record<string, number>
}

const singleServerIndex: UserIndex = {
  // GETEX; the move's EVAL (EXISTS, SET, DEL); the index EVAL (ZRANGE, EXISTS of the other member, ZADD, PERSIST)
  loginBind: { getex: 1, eval: 2, exists: 2, set: 1, del: 1, zrange: 1, zadd: 1, persist: 1 },
  list: { zrange: 1, mget: 1 }
}

const oneScript: Regenerate = {
  title: "regenerating a session is GETEX + one EVAL (EXISTS, SET NX EX and DEL run inside it)",
  commands: { getex: 1, eval: 1, exists: 1, set: 1, del: 1 }
}

const clusterSkip = await clusterUnsupported()
if (clusterSkip !== undefined) announceSkip("the command counts on Redis Cluster", clusterSkip)

const backends: ReadonlyArray<{
  readonly name: string
  readonly layer: Layer.Layer<Backend>
  readonly regenerate: Regenerate
  readonly userIndex: UserIndex
  readonly skip?: boolean
}> = [
  {
    name: "redis-server",
    layer: Layer.effect(
      Backend,
      Effect.map(RedisServer, (server) => ({
        deployment: server,
        redis: Layer.orDie(RedisClient.layer({ url: server.url }))
      }))
    ).pipe(Layer.provide(layerRedisServer)),
    regenerate: oneScript,
    userIndex: singleServerIndex
  },
  {
    name: "Sentinel (master + replica + 3 sentinels)",
    layer: Layer.effect(
      Backend,
      Effect.map(RedisSentinel, (sentinel) => ({
        deployment: sentinel,
        redis: Layer.orDie(
          RedisClient.layerSentinel({ sentinels: sentinel.sentinelAddresses, masterName: sentinel.masterName })
        )
      }))
    ).pipe(Layer.provide(layerRedisSentinel())),
    regenerate: oneScript,
    userIndex: singleServerIndex
  },
  {
    name: "Redis Cluster (3 masters)",
    layer: Layer.effect(
      Backend,
      Effect.map(RedisCluster, (cluster) => ({
        deployment: cluster,
        redis: Layer.orDie(RedisClient.layerCluster({ nodes: cluster.addresses }))
      }))
    ).pipe(Layer.provide(layerRedisCluster())),
    regenerate: {
      title: "regenerating a session is GETEX + SET NX EX of the new key + DEL of the old one (two slots)",
      commands: { getex: 1, set: 1, del: 1 }
    },
    userIndex: {
      // GETEX; SET NX + DEL (the move); the index EVAL (ZADD, PERSIST, ZRANGE); TTL of the other member
      loginBind: { getex: 1, set: 1, del: 1, eval: 1, zadd: 1, persist: 1, zrange: 1, ttl: 1 },
      list: { zrange: 1, get: 2 }
    },
    skip: clusterSkip !== undefined
  }
]

describe.each(backends)("Redis commands per request, on $name", ({ layer: backend, regenerate, skip, userIndex }) => {
  if (skip === true) return
  layer(backend, { timeout: 60_000 })((it) => {
    describe("default mode (timeout in the Redis TTL)", () => {
      it.effect("a request that never touches the session sends nothing", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/noop"))).toEqual({})
            expect(yield* commandsOf(client.request("/noop", { cookie: undefined }))).toEqual({})
          })
        ))

      it.effect("reading without a cookie sends nothing and sets no cookie", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            const stats = yield* commandsOf(Effect.tap(client.request("/read"), (reply) => {
              expect(reply.setCookies).toEqual([])
            }))
            expect(stats).toEqual({})
          })
        ))

      it.effect("creating a session is one SET NX EX", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ set: 1 })
          })
        ))

      it.effect("reading a session is one GETEX", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ getex: 1 })
          })
        ))

      it.effect("writing a session is GETEX + SET XX", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ getex: 1, set: 1 })
          })
        ))

      it.effect("invalidating without reading is one DEL", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/invalidate"))).toEqual({ del: 1 })
          })
        ))

      it.effect("reading then invalidating is GETEX + DEL", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/read-invalidate"))).toEqual({ getex: 1, del: 1 })
          })
        ))

      it.effect(regenerate.title, () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/regenerate"))).toEqual(regenerate.commands)
          })
        ))

      it.effect("regenerating keeps the TTL rule: the new key carries the timeout", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            yield* client.request("/regenerate")
            const id = yield* Effect.flatMap(
              Effect.succeed(client.cookie),
              (cookie) => Effect.succeed(Option.getOrThrow(CookieSigner.make(secret).verify(cookie ?? "")))
            )
            expect(yield* ttlOf(id)).toBe(1200)
          })
        ))

      it.effect("a new session's key carries the timeout as its TTL", () =>
        withSessions(
          { timeout: "300 seconds" },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/ensure-id")
            const reply = yield* client.request("/ensure-id")
            const id = (reply.body as { id: string }).id
            const ttl = yield* ttlOf(id)
            expect(ttl).toBeGreaterThan(290)
            expect(ttl).toBeLessThanOrEqual(300)
          })
        ))
    })

    describe("merge writes (writeMode: merge)", () => {
      it.effect("writing a session is GETEX + one EVALSHA (GET and SET run inside it)", () =>
        withSessions(
          { writeMode: "merge" },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ getex: 1, ...merge })
          })
        ))

      it.effect("creating and regenerating are unchanged: SET NX, and the move", () =>
        withSessions(
          { writeMode: "merge" },
          Effect.gen(function*() {
            const client = yield* makeClient
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ set: 1 })
            expect(yield* commandsOf(client.request("/regenerate"))).toEqual(regenerate.commands)
          })
        ))

      it.effect("LRU mode: GET + one EVALSHA whose SET has no EX", () =>
        withSessions(
          { writeMode: "merge", setRedisTtl: false },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            const id = Option.getOrThrow(CookieSigner.make(secret).verify(client.cookie ?? ""))
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ ...merge, get: 2 })
            expect(yield* ttlOf(id)).toBe(-1)
          })
        ))
    })

    describe("LRU mode (setRedisTtl off)", () => {
      it.effect("reading is one GET and keys have no TTL", () =>
        withSessions(
          { setRedisTtl: false },
          Effect.gen(function*() {
            const client = yield* makeClient
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ set: 1 })
            expect(yield* commandsOf(client.request("/read"))).toEqual({ get: 1 })
            const id = ((yield* client.request("/ensure-id")).body as { id: string }).id
            expect(yield* ttlOf(id)).toBe(-1)
          })
        ))

      it.effect("writing is GET + SET XX without EX", () =>
        withSessions(
          { setRedisTtl: false },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/incr"))).toEqual({ get: 1, set: 1 })
          })
        ))
    })

    describe("no timeout", () => {
      it.effect("reading is one GET and keys never expire", () =>
        withSessions(
          { timeout: null },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ get: 1 })
            const id = ((yield* client.request("/ensure-id")).body as { id: string }).id
            expect(yield* ttlOf(id)).toBe(-1)
          })
        ))
    })

    describe("timeout trigger (timeout 1200, trigger 600)", () => {
      const options = { timeout: "1200 seconds", timeoutTrigger: "600 seconds" } as const

      it.effect("reads before the threshold are one GET, with no EXPIRE", () =>
        withSessions(
          options,
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            yield* TestClock.adjust("599 seconds")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ get: 1 })
          })
        ))

      it.effect("the first read past the threshold is GET + one SET with the new expiry, then GET again", () =>
        withSessions(
          options,
          Effect.gen(function*() {
            const client = yield* makeClient
            // The TestClock is shared by this block: measure from where it stands.
            const start = Math.ceil((yield* Clock.currentTimeMillis) / 1000)
            yield* client.request("/incr")
            yield* TestClock.adjust("600 seconds")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ get: 1, set: 1 })
            expect(yield* commandsOf(client.request("/read"))).toEqual({ get: 1 })
            const who = (yield* client.request("/whoami")).body as { expires: number }
            expect(who.expires).toBe(start + 600 + 1200)
          })
        ))
    })

    describe("read-heavy mode", () => {
      it.effect("a read is one round trip that also slides the TTL", () =>
        withSessions(
          { readHeavy: true },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ getex: 1 })
          })
        ))
    })

    describe("payload expiry without a trigger", () => {
      it.effect("reads within the same second cost one GETEX; a later second rewrites the expiry once", () =>
        withSessions(
          { payloadExpiry: true },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ getex: 1 })
            yield* TestClock.adjust("5 seconds")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ getex: 1, set: 1 })
          })
        ))

      it.effect("a read past the payload's expiry deletes the key: GETEX + DEL", () =>
        withSessions(
          { payloadExpiry: true, timeout: "60 seconds" },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            const id = ((yield* client.request("/ensure-id")).body as { id: string }).id
            yield* TestClock.adjust("120 seconds")
            expect(yield* commandsOf(client.request("/read"))).toEqual({ getex: 1, del: 1 })
            expect(yield* ttlOf(id)).toBe(-2)
          })
        ))
    })

    describe("per-session timeout", () => {
      it.effect("a read restores the session's own TTL after the response", () =>
        withSessions(
          { timeout: "100 seconds" },
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            yield* client.request("/adjust-timeout?seconds=5000")
            const stats = yield* commandsOf(client.request("/read"))
            expect(stats).toEqual({ getex: 1, expire: 1 })
            const id = ((yield* client.request("/ensure-id")).body as { id: string }).id
            expect(yield* ttlOf(id)).toBeGreaterThan(4000)
          })
        ))
    })

    describe("no orphan keys", () => {
      it.effect("two persistNow at once on a new session leave one key", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const { deployment } = yield* Backend
            const client = yield* makeClient
            yield* client.request("/persist-now-twice-at-once")
            expect(yield* Effect.promise(() => deployment.keys())).toHaveLength(1)
          })
        ))

      it.effect("a refused cookie means no key is written for a new session", () =>
        withSessions(
          { responseAllowsCookie: (_req, res) => res.headers["cache-control"] === undefined },
          Effect.gen(function*() {
            const client = yield* makeClient
            const stats = yield* commandsOf(Effect.tap(client.request("/cacheable"), (reply) => {
              expect(reply.setCookies).toEqual([])
            }))
            expect(stats).toEqual({})
          })
        ))

      it.effect("a failed request without cookieOnException writes no new session", () =>
        withSessions(
          { cookieOnException: false },
          Effect.gen(function*() {
            const client = yield* makeClient
            const stats = yield* commandsOf(Effect.tap(client.request("/fail-after-write"), (reply) => {
              expect(reply.status).toBe(500)
              expect(reply.setCookies).toEqual([])
            }))
            expect(stats).toEqual({})
          })
        ))

      it.effect("a session persisted early is deleted again when its cookie is refused", () =>
        withSessions(
          { responseAllowsCookie: SessionPolicyCheck },
          Effect.gen(function*() {
            const client = yield* makeClient
            const stats = yield* commandsOf(client.request("/persist-now-cacheable"))
            expect(stats).toEqual({ set: 1, del: 1 })
            expect(client.cookie).toBeUndefined()
          })
        ))
    })

    describe("tracing", () => {
      it.effect("with a tracer installed, each Redis command gets a span", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const { tracer, names } = recordingTracer()
            yield* Effect.gen(function*() {
              const client = yield* makeClient
              yield* client.request("/incr")
              yield* client.request("/incr")
            }).pipe(Effect.withTracer(tracer))
            expect(names.filter((name) => name.startsWith("RedisClient."))).toEqual([
              "RedisClient.set",
              "RedisClient.getEx",
              "RedisClient.set"
            ])
          })
        ))
    })

    describe("a user's sessions", () => {
      it.effect("a login that binds, while the user has another live session", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const other = yield* makeClient
            yield* other.request("/incr")
            yield* other.request("/login-bind?user=gus&label=a")
            const client = yield* makeClient
            yield* client.request("/incr")
            expect(yield* commandsOf(client.request("/login-bind?user=gus&label=b"))).toEqual(userIndex.loginBind)
          })
        ))

      it.effect("ending a bound session that was read: GETEX + DEL + ZREM, and the user's index is gone with it", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const { deployment } = yield* Backend
            const client = yield* makeClient
            yield* client.request("/incr")
            yield* client.request("/login-bind?user=gus&label=a")
            expect((yield* Effect.promise(() => deployment.keys())).length).toBe(2)
            expect(yield* commandsOf(client.request("/read-invalidate"))).toEqual({ getex: 1, del: 1, zrem: 1 })
            expect(yield* Effect.promise(() => deployment.keys())).toEqual([])
          })
        ))

      it.effect("UserSessions.list of two live sessions", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            for (const label of ["a", "b"]) {
              const client = yield* makeClient
              yield* client.request("/incr")
              yield* client.request(`/login-bind?user=gus&label=${label}`)
            }
            const sessions = UserSessions.make(yield* SessionPolicy.SessionPolicy, yield* RedisClient.RedisClient)
            const stats = yield* commandsOf(Effect.tap(sessions.list("gus"), (list) => {
              expect(list).toHaveLength(2)
            }))
            expect(stats).toEqual(userIndex.list)
          })
        ))
    })

    describe("no resurrection", () => {
      it.effect("a write that finishes after a logout does not re-create the session", () =>
        withSessions(
          {},
          Effect.gen(function*() {
            const client = yield* makeClient
            yield* client.request("/incr")
            const reply = yield* client.request("/incr-racing-logout")
            const id = (reply.body as { id: string }).id
            expect(reply.status).toBe(200)
            expect(yield* ttlOf(id)).toBe(-2)
            // the session is dead in Redis already; its cookie is left to the logout's own response
            expect(reply.setCookies).toEqual([])
          })
        ))
    })
  })
})

layer(layerRedisServer, { timeout: 30_000 })("the merge script on redis-server", (it) => {
  it.effect("the first merge after SCRIPT FLUSH (or a restart) is EVALSHA, NOSCRIPT, then one EVAL", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      yield* Effect.promise(() => server.flushall())
      const redis = Layer.orDie(RedisClient.layer({ url: server.url }))
      yield* Effect.provide(loadMergeScript, redis)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const admin = new Redis(server.url)
        yield* Effect.promise(() => admin.script("FLUSH").finally(() => admin.quit()))
        const commands = (request: Effect.Effect<unknown, unknown>) =>
          Effect.gen(function*() {
            yield* Effect.promise(() => server.resetStats())
            yield* request
            return yield* Effect.promise(() => server.commandstats())
          })
        expect(yield* commands(client.request("/incr"))).toEqual({ getex: 1, eval: 1, ...merge })
        expect(yield* commands(client.request("/incr"))).toEqual({ getex: 1, ...merge })
      }).pipe(Effect.provide(layerWith(redis, { writeMode: "merge" })))
    }))
})

const SessionPolicyCheck: SessionPolicy.ResponseCheck = (_request, response) =>
  response.headers["cache-control"] === undefined
