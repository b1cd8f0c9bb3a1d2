/**
 * The Redis commands each kind of request costs, per mode, counted on a real
 * redis-server with INFO commandstats: the "ours" column of
 * docs/redis-usage.md.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Redis } from "ioredis"
import * as CookieSigner from "../src/CookieSigner.js"
import * as RedisClient from "../src/RedisClient.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { layerRedisServer, RedisServer } from "./support/redisServer.js"
import { layerWith, makeClient, recordingTracer, secret } from "./support/sessionApp.js"

const withSessions = <A, E, R>(
  options: Partial<SessionPolicy.Options>,
  body: Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const server = yield* RedisServer
    yield* Effect.promise(() => server.flushall())
    const redis = Layer.orDie(RedisClient.layer({ url: server.url }))
    // The server knows the merge script from here on (a merge into a missing key loads it and
    // writes nothing): counts never depend on which test ran first. The first merge after a
    // restart or SCRIPT FLUSH has its own test.
    yield* Effect.provide(loadMergeScript, redis)
    return yield* Effect.provide(body, layerWith(redis, options))
  })

const emptyPatch: RedisClient.PayloadPatch = { set: [], remove: [], rest: "}" }
const loadMergeScript = Effect.flatMap(
  RedisClient.RedisClient,
  (redis) => redis.mergePayload("no-such-session", emptyPatch)
)

/** A merge write: one EVALSHA, with the GET and the SET it runs inside counted too. */
const merge = { evalsha: 1, get: 1, set: 1 }

/** Runs `effect` and returns the commands Redis received meanwhile. */
const commandsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const server = yield* RedisServer
    yield* Effect.promise(() => server.resetStats())
    yield* effect
    return yield* Effect.promise(() => server.commandstats())
  })

const ttlOf = (key: string) => Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(key))

layer(layerRedisServer, { timeout: 30_000 })("Redis commands per request", (it) => {
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

    it.effect("regenerating a session is GETEX + one EVAL (EXISTS, SET NX EX and DEL run inside it)", () =>
      withSessions(
        {},
        Effect.gen(function*() {
          const client = yield* makeClient
          yield* client.request("/incr")
          expect(yield* commandsOf(client.request("/regenerate"))).toEqual({
            getex: 1,
            eval: 1,
            exists: 1,
            set: 1,
            del: 1
          })
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

    it.effect("creating and regenerating are unchanged: SET NX, and the move EVAL", () =>
      withSessions(
        { writeMode: "merge" },
        Effect.gen(function*() {
          const client = yield* makeClient
          expect(yield* commandsOf(client.request("/incr"))).toEqual({ set: 1 })
          expect(yield* commandsOf(client.request("/regenerate"))).toEqual({
            getex: 1,
            eval: 1,
            exists: 1,
            set: 1,
            del: 1
          })
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

    it.effect("the first merge after SCRIPT FLUSH (or a restart) is EVALSHA, NOSCRIPT, then one EVAL", () =>
      withSessions(
        { writeMode: "merge" },
        Effect.gen(function*() {
          const server = yield* RedisServer
          const client = yield* makeClient
          yield* client.request("/incr")
          const admin = new Redis(server.url)
          yield* Effect.promise(() => admin.script("FLUSH").finally(() => admin.quit()))
          expect(yield* commandsOf(client.request("/incr"))).toEqual({ getex: 1, eval: 1, ...merge })
          expect(yield* commandsOf(client.request("/incr"))).toEqual({ getex: 1, ...merge })
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
          const server = yield* RedisServer
          const client = yield* makeClient
          yield* client.request("/persist-now-twice-at-once")
          const keys = yield* Effect.acquireUseRelease(
            Effect.sync(() => new Redis(server.url)),
            (redis) => Effect.promise(() => redis.dbsize()),
            (redis) => Effect.sync(() => redis.disconnect())
          )
          expect(keys).toBe(1)
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

const SessionPolicyCheck: SessionPolicy.ResponseCheck = (_request, response) =>
  response.headers["cache-control"] === undefined
