/**
 * Session security features: `regenerate` (a new id for the same data),
 * an absolute lifetime (`maxLifetime`), and `require` (a typed "valid
 * session required"). Behaviours that depend on the store run on the memory
 * Layer (time on the TestClock) and on a real redis-server.
 */
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as CookieSigner from "../src/CookieSigner.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import { onBothStores, type SpecTest } from "./support/bothStores.js"
import { inOneRequest } from "./support/oneRequest.js"
import { layerRedisServer, RedisServer } from "./support/redisServer.js"
import { layerWith, layerWithStore, makeClient, recording, secret } from "./support/sessionApp.js"

const signer = CookieSigner.make(secret)

const stored = (id: string) =>
  Effect.flatMap(RedisClient.RedisClient, (redis) => Effect.map(redis.get(id), Option.getOrNull))
const idOf = (cookie: string | undefined) => Option.getOrThrow(signer.verify(cookie ?? ""))

/** The behaviours of `regenerate`, for a store the caller provides. */
const regenerateSpec = (test: SpecTest) => {
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
      // and its response leaves the cookie alone: expiring it could delete the new one the login set
      expect(racing.setCookies).toEqual([])
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
  onBothStores(regenerateSpec)

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

/**
 * A new session, then a write every 15 minutes for 45 minutes: the 20-minute
 * idle timeout never ends it. Succeeds with the client and the session's id.
 */
const activeFor45Minutes = Effect.gen(function*() {
  const client = yield* makeClient
  yield* client.request("/incr")
  const id = idOf(client.cookie)
  for (let i = 0; i < 3; i++) {
    yield* TestClock.adjust("15 minutes")
    yield* client.request("/incr")
  }
  return { client, id }
})

const ttlOf = (id: string) => Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(id))

describe("maxLifetime", () => {
  const lifetime = layerWith(RedisClient.layerMemory, { maxLifetime: "1 hour", timeout: "20 minutes" })

  it.effect("with Redis TTLs the key is gone when the lifetime ends, however active the session was", () =>
    Effect.gen(function*() {
      const { client, id } = yield* activeFor45Minutes
      yield* TestClock.adjust("15 minutes")
      expect(yield* stored(id)).toBeNull()
      expect((yield* client.request("/require")).body).toEqual({ refused: "NotInBackend" })
    }).pipe(Effect.provide(lifetime)))

  it.effect("a stored session found past its lifetime (no TTLs) is LifetimeExceeded: key deleted, cookie expired", () =>
    Effect.gen(function*() {
      const { client, id } = yield* activeFor45Minutes
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
      const { id } = yield* activeFor45Minutes
      const ttl = yield* ttlOf(id)
      expect(ttl).toBeLessThanOrEqual(900)
      expect(ttl).toBeGreaterThan(890)
    }).pipe(Effect.provide(lifetime)))

  it.effect("a read near the end sets the TTL to the time left after the response", () =>
    Effect.gen(function*() {
      const { client, id } = yield* activeFor45Minutes
      yield* TestClock.adjust("5 minutes")
      yield* client.request("/read")
      const ttl = yield* ttlOf(id)
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
    {
      brought: "a genuine cookie for a session Redis does not have",
      cookie: signer.sign("missing"),
      refused: "NotInBackend"
    }
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

describe("secret rotation", () => {
  const previous = secret
  const current = Redacted.make("current-secret-0123456789abcdef-0123456789")
  const rotated = layerWith(RedisClient.layerMemory, { secret: undefined, secrets: [current, previous] })

  it.effect("a session whose cookie an older secret signed is re-sent signed with the current one, with no extra command", () =>
    Effect.gen(function*() {
      const { client: store, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = Option.getOrThrow(CookieSigner.make(current).verify(client.cookie ?? ""))
        // the same session, presented with a cookie the previous secret signed
        log.length = 0
        const reply = yield* client.request("/read", { cookie: signer.sign(id) })
        expect(reply.body).toEqual({ n: 1 })
        expect(log).toEqual(["getex"])
        expect(client.cookie).toBe(CookieSigner.make(current).sign(id))
        // a cookie the current secret signed is not re-sent
        const again = yield* client.request("/read")
        expect(again.setCookies).toEqual([])
      }).pipe(Effect.provide(layerWithStore(store, { secret: undefined, secrets: [current, previous] })))
    }))

  it.effect("a request that never uses its session does not re-sign its cookie", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      const reply = yield* client.request("/noop", { cookie: signer.sign("some-id") })
      expect(reply.setCookies).toEqual([])
    }).pipe(Effect.provide(rotated)))
})

describe("maxPayloadBytes", () => {
  const small = layerWith(RedisClient.layerMemory, { maxPayloadBytes: 200 })

  it.effect("a payload of exactly maxPayloadBytes is written; one byte more is not", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/set?key=big&value=x")
      const id = idOf(client.cookie)
      // Each more character of an ASCII value is one more byte of the stored payload.
      const fits = 200 - Buffer.byteLength((yield* stored(id)) ?? "") + 1
      expect((yield* client.request(`/set?key=big&value=${"x".repeat(fits)}`)).status).toBe(200)
      expect(Buffer.byteLength((yield* stored(id)) ?? "")).toBe(200)
      expect((yield* client.request(`/set?key=big&value=${"x".repeat(fits + 1)}`)).status).toBe(413)
    }).pipe(Effect.provide(small)))

  it.effect("SessionTooLarge, returned from a handler, is a plain-text 413 that names no size", () =>
    Effect.gen(function*() {
      const response = yield* HttpServerRespondable.toResponse(new Session.SessionTooLarge({ bytes: 300, limit: 200 }))
      expect(response.status).toBe(413)
      expect(response.body).toMatchObject({ _tag: "Uint8Array", contentType: "text/plain" })
      expect(new TextDecoder().decode((response.body as { readonly body: Uint8Array }).body)).toBe("Session too large")
    }))

  it.effect("a session over the limit is not written: the response is 413 and the stored session is unchanged", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      const before = yield* stored(id)
      const reply = yield* client.request(`/set?key=big&value=${"x".repeat(300)}`)
      expect(reply.status).toBe(413)
      expect(reply.setCookies).toEqual([])
      expect(yield* stored(id)).toBe(before)
    }).pipe(Effect.provide(small)))

  it.effect("a new session over the limit creates no key", () =>
    Effect.gen(function*() {
      const { client: store, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        expect((yield* client.request(`/set?key=big&value=${"x".repeat(300)}`)).status).toBe(413)
        expect(log).toEqual([])
      }).pipe(Effect.provide(layerWithStore(store, { maxPayloadBytes: 200 })))
    }))

  it.effect("persistNow fails with SessionTooLarge, which the handler can handle", () =>
    Effect.gen(function*() {
      const error = yield* inOneRequest(Effect.gen(function*() {
        const session = yield* Session.Session
        yield* session.set("big", "x".repeat(300))
        return yield* Effect.flip(session.persistNow)
      }))
      expect(error).toMatchObject({ _tag: "SessionTooLarge", limit: 200 })
      assert.isTrue(error._tag === "SessionTooLarge" && error.bytes > 200)
    }).pipe(Effect.provide(small)))

  it.effect("the size of every payload written is recorded", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(Session.payloadBytes)).count
      const client = yield* makeClient
      yield* client.request("/incr")
      yield* client.request("/incr")
      expect((yield* Metric.value(Session.payloadBytes)).count).toBe(before + 2)
    }).pipe(Effect.provide(small)))

  it.effect("each refusal is counted", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(Session.tooLarge)).count
      const client = yield* makeClient
      yield* client.request(`/set?key=big&value=${"x".repeat(300)}`)
      expect((yield* Metric.value(Session.tooLarge)).count).toBe(before + 1)
    }).pipe(Effect.provide(small)))
})

describe("maxTimeout", () => {
  it.effect.each(
    [
      { policy: {}, asked: "3650 days", got: 30 * 86_400 },
      { policy: { maxTimeout: "2 hours" }, asked: "1 day", got: 7200 },
      { policy: { maxTimeout: "2 hours" }, asked: "1 hour", got: 3600 }
    ] as const
  )(
    "adjustTimeout($asked) with maxTimeout $policy.maxTimeout gives $got seconds",
    ({ asked, got, policy }) =>
      Effect.gen(function*() {
        const timeout = yield* inOneRequest(Effect.gen(function*() {
          const session = yield* Session.Session
          yield* session.adjustTimeout(asked)
          return yield* session.timeout
        }))
        expect(timeout).toEqual(Option.some(got))
      }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, policy)))
  )
})

describe("hashIds", () => {
  const sha256 = (id: string) => createHash("sha256").update(id, "utf8").digest("base64url")

  layer(layerRedisServer, { timeout: 30_000 })("redis-server", (it) => {
    it.effect("Redis holds the hash of each id, never the id, and sessions work as before", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* Effect.promise(() => server.flushall())
        yield* Effect.gen(function*() {
          const client = yield* makeClient
          yield* client.request("/incr")
          const id = idOf(client.cookie)
          const keys = yield* Effect.promise(() => server.keys())
          expect(keys).toEqual([sha256(id)])
          expect((yield* client.request("/incr")).body).toEqual({ n: 2 })
          yield* client.request("/regenerate")
          const moved = idOf(client.cookie)
          expect(yield* Effect.promise(() => server.keys())).toEqual([sha256(moved)])
          expect((yield* client.request("/read")).body).toEqual({ n: 2 })
          yield* client.request("/invalidate")
          expect(yield* Effect.promise(() => server.keys())).toEqual([])
        }).pipe(Effect.provide(layerWith(Layer.orDie(RedisClient.layer({ url: server.url })), { hashIds: true })))
      }))
  })

  it.effect("an id prefix stays visible in the key, as a namespace", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      expect(id.startsWith("app:")).toBe(true)
      expect(yield* stored(id)).toBeNull()
      expect(yield* stored(`app:${sha256(id)}`)).not.toBeNull()
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, { hashIds: true, idPrefix: "app:" }))))
})

describe("maxTimeout and stored sessions", () => {
  it.effect("a stored per-session timeout over the cap (written elsewhere) is capped when loaded", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      yield* redis.set("planted", JSON.stringify({ m: { n: 1 }, c: 0, v: 1, t: 315_360_000 }))
      const client = yield* makeClient
      const who = (yield* client.request("/whoami", { cookie: signer.sign("planted") })).body
      expect(who).toMatchObject({ timeout: 30 * 86_400 })
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {}))))
})

describe("regenerate, size limit and persistNow together", () => {
  it.effect("a stored session already over the limit can still be read, and its expiry rewritten", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      yield* redis.set("big", JSON.stringify({ m: { blob: "x".repeat(400) }, c: 0, v: 1, t: 1200, x: 100 }))
      const client = yield* makeClient
      const reply = yield* client.request("/read", { cookie: signer.sign("big") })
      expect(reply.status).toBe(200)
      expect(JSON.parse((yield* stored("big")) ?? "null").x).toBe(1200)
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, { maxPayloadBytes: 200, payloadExpiry: true }))))

  it.effect("persistNow, then values over the limit: the response is 413 and the early key is deleted again", () =>
    Effect.gen(function*() {
      const memory = yield* RedisClient.makeMemory
      const written: Array<string> = []
      const store: RedisClient.RedisClientShape = {
        ...memory,
        set: (key, value, options) => Effect.tap(memory.set(key, value, options), () => written.push(key))
      }
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/persist-then-grow?size=300")
        expect(reply.status).toBe(413)
        expect(reply.setCookies).toEqual([])
      }).pipe(Effect.provide(layerWithStore(store, { maxPayloadBytes: 200 })))
      expect(written).toHaveLength(1)
      expect(yield* memory.get(written[0] ?? "")).toEqual(Option.none())
    }))

  it.effect("regenerate, persistNow, then a refused cookie: the session stays under its old id", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/incr")
      const id = idOf(client.cookie)
      const reply = yield* client.request("/regenerate-persist?refuse=1")
      expect(reply.setCookies).toEqual([])
      expect(JSON.parse((yield* stored(id)) ?? "null").m).toEqual({ n: 1 })
      expect((yield* client.request("/read")).body).toEqual({ n: 1 })
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {
      responseAllowsCookie: (request) => !request.url.includes("refuse=1")
    }))))
})
