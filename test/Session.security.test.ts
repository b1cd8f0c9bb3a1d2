/**
 * Session security features: `regenerate` (a new id for the same data),
 * an absolute lifetime (`maxLifetime`), and `require` (a typed "valid
 * session required"). Behaviours that depend on the store run on the memory
 * Layer (time on the TestClock) and on a real redis-server.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as CookieSigner from "../src/CookieSigner.js"
import * as RedisClient from "../src/RedisClient.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { layerRedisServer, RedisServer } from "./support/redisServer.js"
import { layerWith, layerWithStore, makeClient, recording, secret } from "./support/sessionApp.js"

const signer = CookieSigner.make(secret)

const stored = (id: string) => Effect.flatMap(RedisClient.RedisClient, (redis) => Effect.map(redis.get(id), Option.getOrNull))
const idOf = (cookie: string | undefined) => Option.getOrThrow(signer.verify(cookie ?? ""))

/** The behaviours of `regenerate`, for a store the caller provides. */
type Spec = Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient | SessionPolicy.SessionPolicy>

const regenerateSpec = (test: (name: string, self: () => Spec) => void) => {
  test("regenerate moves the data and creation time to a new id; the old key is gone and the new cookie is sent", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const oldId = idOf(client.cookie)
      const before = JSON.parse((yield* stored(oldId)) ?? "null")
      const reply = yield* client.request("/regenerate")
      expect(reply.setCookies).toHaveLength(1)
      const newId = idOf(client.cookie)
      expect(newId).not.toBe(oldId)
      expect(yield* stored(oldId)).toBeNull()
      const after = JSON.parse((yield* stored(newId)) ?? "null")
      expect(after.m).toEqual(before.m)
      expect(after.c).toBe(before.c)
      expect((yield* client.request("/read")).body).toEqual({ n: 1 })
    }))

  test("a request that read the session before it was regenerated cannot bring the old key back (SET XX)", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const racing = yield* client.request("/incr-racing-regenerate")
      const oldId = (racing.body as { id: string }).id
      expect(yield* stored(oldId)).toBeNull()
      // the session lives on under its new id, unchanged by the late write
      expect(JSON.parse((yield* stored("moved-away")) ?? "null").m).toEqual({ n: 1 })
      // this request's client holds a cookie for a session that is over here: it is expired
      expect(racing.setCookies.some((line) => /^session=;/.test(line))).toBe(true)
    }))

  test("login with regenerate keeps the anonymous data and adds the user under a new id", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const anonymous = idOf(client.cookie)
      yield* client.request("/login-regenerate?user=alice")
      expect(idOf(client.cookie)).not.toBe(anonymous)
      expect(JSON.parse((yield* stored(idOf(client.cookie))) ?? "null").m).toEqual({ n: 1, user: "alice" })
    }))
}

describe("regenerate", () => {
  describe("memory store", () => {
    regenerateSpec((name, self) => it.effect(name, () => Effect.provide(self(), layerWith(RedisClient.layerMemory, {}))))
  })

  layer(layerRedisServer, { timeout: 30_000 })("redis-server", (it) => {
    regenerateSpec((name, self) =>
      it.effect(name, () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          yield* self().pipe(Effect.provide(layerWith(Layer.orDie(RedisClient.layer({ url: server.url })), {})))
        })))
  })

  it.effect("a session that was never stored only gets a fresh id: nothing to move", () =>
    Effect.gen(function*() {
      const { client: store, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/login-regenerate?user=bob")
        expect(log).toEqual(["set"])
      }).pipe(Effect.provide(layerWithStore(store)))
    }))

  it.effect("a regenerate whose cookie the response may not carry leaves the session where it is", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      const reply = yield* client.request("/regenerate?refuse=1")
      expect(reply.setCookies).toEqual([])
      expect(yield* stored(id)).not.toBeNull()
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {
      responseAllowsCookie: (request) => !request.url.includes("refuse=1")
    }))))
})

/** A write every 15 minutes: the 20-minute idle timeout never ends the session. */
const activeFor45Minutes = (client: Effect.Effect.Success<typeof makeClient>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3; i++) {
      yield* TestClock.adjust("15 minutes")
      yield* client.request("/incr")
    }
  })

describe("maxLifetime", () => {
  const lifetime = layerWith(RedisClient.layerMemory, { maxLifetime: "1 hour", timeout: "20 minutes" })

  it.effect("with Redis TTLs the key is gone when the lifetime ends, however active the session was", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      yield* activeFor45Minutes(client)
      yield* TestClock.adjust("15 minutes")
      expect(yield* stored(id)).toBeNull()
      expect((yield* client.request("/require")).body).toEqual({ refused: "NotInBackend" })
    }).pipe(Effect.provide(lifetime)))

  it.effect("a stored session found past its lifetime (no TTLs) is LifetimeExceeded: key deleted, cookie expired", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      yield* activeFor45Minutes(client)
      yield* TestClock.adjust("15 minutes")
      const reply = yield* client.request("/require")
      expect(reply.body).toEqual({ refused: "LifetimeExceeded" })
      expect(reply.setCookies.some((line) => /^session=;/.test(line))).toBe(true)
      expect(yield* stored(id)).toBeNull()
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {
      maxLifetime: "1 hour",
      timeout: "20 minutes",
      setRedisTtl: false
    }))))

  it.effect("the Redis TTL never outlives the lifetime: a write near its end expires with it", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      yield* activeFor45Minutes(client)
      const ttl = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(id))
      expect(ttl).toBeLessThanOrEqual(900)
      expect(ttl).toBeGreaterThan(890)
    }).pipe(Effect.provide(lifetime)))

  it.effect("a read near the end sets the TTL to the time left after the response", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      yield* activeFor45Minutes(client)
      yield* TestClock.adjust("5 minutes")
      yield* client.request("/read")
      const ttl = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(id))
      expect(ttl).toBeLessThanOrEqual(600)
      expect(ttl).toBeGreaterThan(590)
    }).pipe(Effect.provide(lifetime)))

  it.effect("the session tells when its lifetime ends: creation plus maxLifetime", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const who = (yield* client.request("/whoami")).body as { created: number }
      expect((yield* client.request("/lifetime")).body).toEqual({ ends: who.created + 3600 })
    }).pipe(Effect.provide(lifetime)))

  it.effect("without maxLifetime there is no end", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      expect((yield* client.request("/lifetime")).body).toEqual({ ends: null })
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {}))))
})

describe("require", () => {
  const memory = layerWith(RedisClient.layerMemory, {})

  it.effect.each([
    { brought: "no cookie", cookie: undefined, refused: "NoSessionCookie" },
    { brought: "a cookie with a bad signature", cookie: "not-a-signed-value", refused: "InvalidCookie" },
    { brought: "a genuine cookie for a session Redis does not have", cookie: signer.sign("missing"), refused: "NotInBackend" }
  ])("fails with $refused when the request brought $brought", ({ cookie, refused }) =>
    Effect.gen(function*() {
      const client = yield* makeClient
      expect((yield* client.request("/require", { cookie })).body).toEqual({ refused })
    }).pipe(Effect.provide(memory)))

  it.effect("succeeds when the request brought a valid session", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      expect((yield* client.request("/require")).body).toEqual({ ok: true })
    }).pipe(Effect.provide(memory)))
})
