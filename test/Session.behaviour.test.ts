/**
 * What a session does, request by request, on the in-memory store with time
 * on the TestClock.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as CookieSigner from "../src/CookieSigner.js"
import { privateCacheControl } from "../src/internal/responseHeaders.js"
import * as InvalidSession from "../src/InvalidSession.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { inOneRequest } from "./support/oneRequest.js"
import {
  late,
  layerWith,
  layerWithStore,
  makeClient,
  recording,
  recordingTracer,
  secret,
  slowSets
} from "./support/sessionApp.js"

const memory = (options: Partial<SessionPolicy.Options> = {}) => layerWith(RedisClient.layerMemory, options)

const withMemory = <A, E, R>(options: Partial<SessionPolicy.Options>, body: Effect.Effect<A, E, R>) =>
  Effect.provide(body, memory(options))

const storeValue = (id: string) =>
  Effect.flatMap(RedisClient.RedisClient, (redis) => Effect.map(redis.get(id), Option.getOrNull))

const idOf = (client: Effect.Effect.Success<typeof makeClient>) =>
  Effect.map(client.request("/ensure-id"), (reply) => (reply.body as { id: string }).id)

const signer = CookieSigner.make(secret)

describe("cookies", () => {
  it.effect("a new session's cookie is HttpOnly, Secure, SameSite=Lax, Path=/, with Vary: Cookie and Cache-Control: private", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/incr")
        expect(reply.setCookies).toHaveLength(1)
        const line = reply.setCookies[0] ?? ""
        expect(line).toMatch(/^session=[A-Za-z0-9_-]+;/)
        expect(line).toContain("HttpOnly")
        expect(line).toContain("Secure")
        expect(line).toContain("SameSite=Lax")
        expect(line).toContain("Path=/")
        expect(line).not.toContain("Max-Age")
        expect(reply.headers.get("vary")).toBe("Cookie")
        expect(reply.headers.get("cache-control")).toBe("private")
      })
    ))

  it.effect("the cookie is the signed session id, readable by pyramid_session_redis's signer", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = yield* idOf(client)
        expect(signer.verify(client.cookie ?? "")).toEqual(Option.some(id))
        expect(id).toMatch(/^[A-Za-z0-9_-]{64}$/)
      })
    ))

  it.effect("reading an existing session sets no cookie but still varies on Cookie", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const reply = yield* client.request("/read")
        expect(reply.body).toEqual({ n: 1 })
        expect(reply.setCookies).toEqual([])
        expect(reply.headers.get("vary")).toBe("Cookie")
        expect(reply.headers.get("cache-control")).toBeNull()
      })
    ))

  it.effect("an untouched session adds no header at all", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const reply = yield* client.request("/noop")
        expect(reply.setCookies).toEqual([])
        expect(reply.headers.get("vary")).toBeNull()
      })
    ))

  it.effect("invalidating sends a deleting cookie: empty value, Max-Age=0, an expired date, same Path and Domain", () =>
    withMemory(
      { cookieDomain: "example.com", cookiePath: "/" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const reply = yield* client.request("/invalidate")
        const line = reply.setCookies[0] ?? ""
        expect(line).toMatch(/^session=;/)
        expect(line).toContain("Max-Age=0")
        expect(line).toContain("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        expect(line).toContain("Domain=example.com")
        expect(line).toContain("Path=/")
        expect((yield* client.request("/read")).body).toEqual({ n: null })
      })
    ))

  it.effect("cookie attributes follow the policy", () =>
    withMemory(
      { cookieName: "__Host-sid", cookieSameSite: "strict", cookieMaxAge: "3600 seconds", cookieHttpOnly: false },
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/incr")
        const line = reply.setCookies[0] ?? ""
        expect(line).toMatch(/^__Host-sid=/)
        expect(line).toContain("SameSite=Strict")
        expect(line).toContain("Max-Age=3600")
        expect(line).not.toContain("HttpOnly")
      })
    ))

  it.effect("adjusting the cookie's max-age re-sends the cookie of an existing session", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const before = client.cookie
        const reply = yield* client.request("/cookie-max-age?seconds=600")
        expect(reply.setCookies[0]).toContain("Max-Age=600")
        expect(client.cookie).toBe(before)
      })
    ))

  it.effect("recookie re-sends the existing session's cookie without reading Redis", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const before = client.cookie
        log.length = 0
        const reply = yield* client.request("/recookie")
        expect(reply.setCookies[0]).toBe(`session=${before}; Path=/; HttpOnly; Secure; SameSite=Lax`)
        expect(log).toEqual([])
      }).pipe(Effect.provide(layerWithStore(redis)))
    }))

  it.effect("adjusting the cookie's expiry re-sends the cookie with an Expires that far from now", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* TestClock.adjust("1000 seconds")
        const reply = yield* client.request("/cookie-expires?seconds=600")
        expect(reply.setCookies[0]).toContain(`Expires=${new Date(1600 * 1000).toUTCString()}`)
      })
    ))

  it.effect("a failed request still gets its new session's cookie when cookieOnException is on", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/fail-after-write")
        expect(reply.status).toBe(500)
        expect(reply.setCookies).toHaveLength(1)
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
      })
    ))

  it.effect("without a response check, a cacheable response that sets the cookie is made private", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/cacheable")
        expect(reply.setCookies).toHaveLength(1)
        expect(reply.headers.get("cache-control")).toBe("private, max-age=60")
      })
    ))

  it.effect("the response check can refuse the cookie (a cacheable response)", () =>
    withMemory(
      { responseAllowsCookie: (_req, res) => res.headers["cache-control"] === undefined },
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/cacheable")
        expect(reply.setCookies).toEqual([])
        expect(reply.headers.get("cache-control")).toBe("public, max-age=60")
      })
    ))
})

describe("Cache-Control on a response that sets or expires the cookie", () => {
  it.each([
    [undefined, "private"],
    ["", "private"],
    ["no-cache", "private, no-cache"],
    ["max-age=60", "private, max-age=60"],
    ["public, max-age=60", "private, max-age=60"],
    ["Public, s-maxage=600, max-age=60", "private, max-age=60"],
    ["private, max-age=60", "private, max-age=60"],
    ["no-store", "no-store"],
    ["public, no-store", "no-store"],
    ["private=\"set-cookie\"", "private"],
    ["public, private=\"a, b\", max-age=5", "private, max-age=5"],
    ["no-cache=\"set-cookie, x\"", "private, no-cache=\"set-cookie, x\""]
  ])("%j becomes %j", (given, expected) => {
    expect(privateCacheControl(given)).toBe(expected)
  })
})

describe("lazy sessions", () => {
  it.effect("a session is created only when it first holds data", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/read")
        yield* client.request("/noop")
        expect(log).toEqual([])
        expect(client.cookie).toBeUndefined()
        yield* client.request("/incr")
        expect(log).toEqual(["set"])
      }).pipe(Effect.provide(layerWithStore(redis)))
    }))

  it.effect("ensureId creates an empty session with its cookie", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const id = yield* idOf(client)
        expect(signer.verify(client.cookie ?? "")).toEqual(Option.some(id))
        expect(yield* storeValue(id)).not.toBeNull()
        expect(yield* idOf(client)).toBe(id)
      })
    ))

  it.effect("idIfExists is none for a session without data and the id for one with data", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        expect((yield* client.request("/id-if-exists")).body).toEqual({ id: null })
        expect(client.cookie).toBeUndefined()
        yield* client.request("/incr")
        const id = (yield* client.request("/id-if-exists")).body
        expect(id).toEqual({ id: Option.getOrNull(signer.verify(client.cookie ?? "")) })
      })
    ))

  it.effect("idIfExists fixes the id but does not force the write: a session emptied afterwards is not created", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.provide(
        Effect.gen(function*() {
          const client = yield* makeClient
          const reply = yield* client.request("/id-if-exists-then-clear")
          expect((reply.body as { id: string | null }).id).toMatch(/^[A-Za-z0-9_-]{64}$/)
          expect(reply.setCookies).toEqual([])
          expect(log.filter((command) => command === "set")).toEqual([])
        }),
        layerWithStore(redis)
      )
    }))
})

describe("persistence", () => {
  it.effect("the stored payload follows the wire format", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        yield* TestClock.adjust("1000500 millis")
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = yield* idOf(client)
        expect(yield* storeValue(id)).toBe(`{"m":{"n":1},"c":1001,"v":1,"t":1200}`)
      })
    ))

  it.effect("payload expiry stores x = now + timeout", () =>
    withMemory(
      { payloadExpiry: true, timeout: "60 seconds" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = yield* idOf(client)
        expect(JSON.parse((yield* storeValue(id)) ?? "{}")).toEqual({ m: { n: 1 }, c: 0, v: 1, t: 60, x: 60 })
      })
    ))

  it.effect("a nested mutation is detected and persisted", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/nested-push")
        yield* client.request("/nested-push")
        yield* client.request("/nested-push")
        expect((yield* client.request("/list")).body).toEqual({ list: [0, 1, 2] })
      })
    ))

  it.effect("two persistNow calls at once create one key, the one the cookie names", () =>
    Effect.gen(function*() {
      // A store that answers a little later, so that unserialised writes would overlap.
      const { client: slow, sets: writes } = slowSets(yield* RedisClient.makeMemory)
      yield* Effect.provide(
        Effect.gen(function*() {
          const client = yield* makeClient
          yield* client.request("/persist-now-twice-at-once")
          const id = Option.getOrThrow(signer.verify(client.cookie ?? ""))
          // one key created, then the second persistNow rewrites that same key
          expect(writes).toEqual([`NX ${id}`, `XX ${id}`])
          expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        }),
        layerWithStore(slow)
      )
    }))

  it.live("two persistNow calls at once before anything loaded the session both finish", () =>
    Effect.gen(function*() {
      const memory = yield* RedisClient.makeMemory
      // A read that answers a little later, so that the second call waits for the first one's load.
      const slow: RedisClient.RedisClientShape = {
        ...memory,
        getEx: (key, ttl) => late(memory.getEx(key, ttl))
      }
      yield* Effect.provide(
        Effect.gen(function*() {
          const client = yield* makeClient
          yield* client.request("/incr")
          const reply = yield* client.request("/persist-now-twice-unloaded").pipe(Effect.timeout("2 seconds"))
          expect(reply.status).toBe(200)
          expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        }),
        layerWithStore(slow)
      )
    }))

  it.effect("a persistNow still writing when the commit starts does not make a second key", () =>
    Effect.gen(function*() {
      // long enough for the handler to return and the commit to start meanwhile
      const { client: slow, sets } = slowSets(yield* RedisClient.makeMemory, 21)
      yield* Effect.provide(
        Effect.gen(function*() {
          const client = yield* makeClient
          yield* client.request("/persist-now-forked")
          const creates = sets.filter((set) => set.startsWith("NX ")).map((set) => set.slice("NX ".length))
          expect(creates).toEqual([Option.getOrThrow(signer.verify(client.cookie ?? ""))])
          expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        }),
        layerWithStore(slow)
      )
    }))

  it.effect("a streaming body that reads the session after the commit still finds it", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        expect((yield* client.request("/stream-read")).body).toEqual({ n: 1 })
      })
    ))

  it.effect("persistNow from a streaming body cannot create a new session: its cookie is already gone", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.provide(
        Effect.gen(function*() {
          const client = yield* makeClient
          const reply = yield* client.request("/stream-persist-now")
          expect(reply.setCookies).toEqual([])
          expect(log.filter((command) => command === "set")).toEqual([])
        }),
        layerWithStore(redis)
      )
    }))

  it.effect("a nested mutation made after persistNow is persisted too", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/nested-push")
        yield* client.request("/persist-then-mutate")
        expect((yield* client.request("/list")).body).toEqual({ list: [0, "after-persist"] })
      })
    ))

  it.effect("with detectChanges off a nested mutation is not persisted", () =>
    withMemory(
      { detectChanges: false },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/nested-push")
        yield* client.request("/nested-push")
        expect((yield* client.request("/list")).body).toEqual({ list: [0] })
      })
    ))

  it.effect("reading a value without changing it writes nothing", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/nested-push")
        log.length = 0
        yield* client.request("/list")
        expect(log).toEqual(["getex"])
      }).pipe(Effect.provide(layerWithStore(redis)))
    }))

  it.effect("a session expires after the idle timeout", () =>
    withMemory(
      { timeout: "60 seconds" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* TestClock.adjust("59 seconds")
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        yield* TestClock.adjust("59 seconds")
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        yield* TestClock.adjust("61 seconds")
        expect((yield* client.request("/read")).body).toEqual({ n: null })
      })
    ))

  it.effect("logging in after invalidating starts a session with a new id and deletes the old one", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const oldId = yield* idOf(client)
        yield* client.request("/login?user=ann")
        const newId = yield* idOf(client)
        expect(newId).not.toBe(oldId)
        expect(yield* storeValue(oldId)).toBeNull()
        expect(JSON.parse((yield* storeValue(newId)) ?? "{}").m).toEqual({ user: "ann" })
      })
    ))

  it.effect("invalidateEmptySession deletes a session emptied by the request, and its cookie", () =>
    withMemory(
      { invalidateEmptySession: true },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const cookie = client.cookie
        const id = Option.getOrThrow(signer.verify(cookie ?? ""))
        const reply = yield* client.request("/clear")
        expect(reply.setCookies[0]).toContain("Max-Age=0")
        expect(yield* storeValue(id)).toBeNull()
      })
    ))

  it.effect("refreshNow slides the Redis TTL at once", () =>
    withMemory(
      { timeout: "60 seconds", timeoutTrigger: "30 seconds" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = yield* idOf(client)
        yield* TestClock.adjust("20 seconds")
        const ttlBefore = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(id))
        yield* client.request("/refresh-now")
        const ttlAfter = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.ttl(id))
        expect(ttlBefore).toBe(40)
        expect(ttlAfter).toBe(60)
      })
    ))

  it.effect("adjustPayloadExpiry sets the session's x, which ends it if no request extends it", () =>
    withMemory(
      { payloadExpiry: true, timeout: "600 seconds" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const id = yield* idOf(client)
        yield* client.request("/adjust-expiry?at=100")
        expect(JSON.parse((yield* storeValue(id)) ?? "{}").x).toBe(100)
        yield* TestClock.adjust("101 seconds")
        expect((yield* client.request("/read")).body).toEqual({ n: null })
      })
    ))

  it.effect("adjustTimeout keeps the session's own timeout in the payload", () =>
    withMemory(
      { timeout: "60 seconds" },
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* client.request("/adjust-timeout?seconds=600")
        yield* TestClock.adjust("300 seconds")
        const who = (yield* client.request("/whoami")).body as { timeout: number; isNew: boolean }
        expect(who).toMatchObject({ timeout: 600, isNew: false })
      })
    ))
})

describe("session data", () => {
  it.effect("a stored value that does not decode with its key's schema is a SessionValueError naming the key", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/set?key=n&value=abc")
        expect((yield* client.request("/read-typed")).body).toEqual({ error: "SessionValueError", key: "n" })
      })
    ))

  it.effect("pop removes a key and returns its value, decoded when a SessionKey names it", () =>
    withMemory(
      {},
      inOneRequest(Effect.gen(function*() {
        const Count = Session.key("count", Schema.NumberFromString)
        yield* Session.set("plain", { a: 1 })
        yield* Session.set("count", "7")
        expect(yield* Session.pop("plain")).toStrictEqual(Option.some({ a: 1 }))
        expect(yield* Session.pop("plain")).toStrictEqual(Option.none())
        expect(yield* Session.pop(Count)).toStrictEqual(Option.some(7))
        expect(yield* Session.get("count")).toStrictEqual(Option.none())
        yield* Session.set("count", "seven")
        expect(yield* Effect.flip(Session.pop(Count))).toMatchObject({ _tag: "SessionValueError", key: "count" })
      }))
    ))

  it.effect("remove deletes a key named by a string or a SessionKey, and says whether it was there", () =>
    withMemory(
      {},
      inOneRequest(Effect.gen(function*() {
        const Count = Session.key("count", Schema.Number)
        yield* Session.set("plain", 1)
        yield* Session.set("count", 2)
        expect(yield* Session.remove("plain")).toBe(true)
        expect(yield* Session.remove("plain")).toBe(false)
        expect(yield* Session.remove(Count)).toBe(true)
        expect([yield* Session.get("plain"), yield* Session.get("count")]).toStrictEqual([Option.none(), Option.none()])
      }))
    ))

  it.effect("a value that does not match its key's schema says what was expected, never the value", () =>
    withMemory(
      {},
      inOneRequest(Effect.gen(function*() {
        yield* Session.set("p", "secret-token")
        const error = yield* Effect.flip(Session.get(Session.key("p", Schema.Number)))
        expect(error).toMatchObject({ _tag: "SessionValueError", key: "p", reason: "does not match number" })
      }))
    ))

  it.effect("keys whose schemas decode asynchronously, at the top or nested, read and reject values", () =>
    withMemory(
      {},
      inOneRequest(Effect.gen(function*() {
        const positive = Schema.Number.pipe(Schema.filterEffect((n) => Effect.promise(() => Promise.resolve(n > 0))))
        const Top = Session.key("p", positive)
        const Nested = Session.key("s", Schema.Struct({ p: positive }))
        yield* Session.set("p", 5)
        yield* Session.set("s", { p: 5 })
        expect(yield* Session.get(Top)).toEqual(Option.some(5))
        expect(yield* Session.get(Nested)).toEqual(Option.some({ p: 5 }))
        yield* Session.set("p", -1)
        yield* Session.set("s", { p: -1 })
        expect(yield* Effect.flip(Session.get(Top))).toMatchObject({ _tag: "SessionValueError", key: "p" })
        expect(yield* Effect.flip(Session.get(Nested))).toMatchObject({ _tag: "SessionValueError", key: "s" })
      }))
    ))

  it.effect("a value its own key's schema cannot encode is a defect, not a typed failure of set", () =>
    withMemory(
      {},
      inOneRequest(Effect.gen(function*() {
        const Positive = Session.key("p", Schema.Number.pipe(Schema.positive()))
        const exit = yield* Effect.exit(Session.set(Positive, -1))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({ _tag: "SessionValueError", key: "p" })
        expect(yield* Session.has("p")).toBe(false)
      }))
    ))

  it.effect("operations racing in one request load the session once", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        log.length = 0
        expect((yield* client.request("/read-concurrently")).body).toEqual({ n: 1 })
        expect(log).toEqual(["getex"])
      }).pipe(Effect.provide(layerWithStore(redis)))
    }))

  it.effect("flash messages queue in order and popping empties the queue", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/flash?msg=one")
        yield* client.request("/flash?msg=two")
        yield* client.request("/flash?msg=one")
        expect((yield* client.request("/peek-flash")).body).toEqual({ messages: ["one", "two", "one"] })
        expect((yield* client.request("/pop-flash")).body).toEqual({ messages: ["one", "two", "one"] })
        expect((yield* client.request("/pop-flash")).body).toEqual({ messages: [] })
      })
    ))

  it.effect("flash queues are separate and stored under _f_ + queue", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/flash?msg=a&queue=errors")
        yield* client.request("/flash?msg=b")
        const id = yield* idOf(client)
        expect(JSON.parse((yield* storeValue(id)) ?? "{}").m).toEqual({ _f_errors: ["a"], _f_: ["b"] })
        expect((yield* client.request("/pop-flash?queue=errors")).body).toEqual({ messages: ["a"] })
      })
    ))

  it.effect("a flash without duplicates skips a message already queued", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/flash?msg=hi&unique=1")
        yield* client.request("/flash?msg=hi&unique=1")
        expect((yield* client.request("/peek-flash")).body).toEqual({ messages: ["hi"] })
      })
    ))

  it.effect("the CSRF token is 64 hex characters, stored under _csrft_, stable until renewed", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const first = ((yield* client.request("/csrf")).body as { token: string }).token
        expect(first).toMatch(/^[0-9a-f]{64}$/)
        expect(((yield* client.request("/csrf")).body as { token: string }).token).toBe(first)
        const id = yield* idOf(client)
        expect(JSON.parse((yield* storeValue(id)) ?? "{}").m).toEqual({ _csrft_: first })
        const renewed = ((yield* client.request("/new-csrf")).body as { token: string }).token
        expect(renewed).not.toBe(first)
        expect(((yield* client.request("/csrf")).body as { token: string }).token).toBe(renewed)
      })
    ))
})

describe("invalid sessions", () => {
  const causesSeen = (
    options: Partial<SessionPolicy.Options>,
    body: (
      seen: Array<string>
    ) => Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient | SessionPolicy.SessionPolicy>
  ) => {
    const seen: Array<string> = []
    return withMemory(
      { ...options, onInvalid: (_request, cause) => Effect.sync(() => seen.push(cause._tag)) },
      body(seen)
    )
  }

  /** Like `causesSeen`, with the causes themselves. */
  const causesOf = (
    options: Partial<SessionPolicy.Options>,
    body: (
      causes: Array<InvalidSession.InvalidSession>
    ) => Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient | SessionPolicy.SessionPolicy>
  ) => {
    const causes: Array<InvalidSession.InvalidSession> = []
    return withMemory(
      { ...options, onInvalid: (_request, cause) => Effect.sync(() => causes.push(cause)) },
      body(causes)
    )
  }

  const plant = (id: string, value: string) => Effect.flatMap(RedisClient.RedisClient, (redis) => redis.set(id, value))

  it.effect("no cookie is reported as NoSessionCookie", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/read")
        expect(seen).toEqual(["NoSessionCookie"])
      })))

  it.effect("a tampered, truncated, garbage or oversized cookie is InvalidCookie and a new session, never an error", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const good = client.cookie ?? ""
        const flipped = good[10] === "A" ? "B" : "A"
        const hostile = [
          good.slice(0, 10) + flipped + good.slice(11),
          good.slice(0, 40),
          "garbage!!",
          "%ZZ",
          "x".repeat(5000),
          CookieSigner.make(Redacted.make("another-secret-another-secret-0123")).sign("abc")
        ]
        for (const cookie of hostile) {
          const reply = yield* client.request("/read", { cookie })
          expect(reply.status).toBe(200)
          expect(reply.body).toEqual({ n: null })
        }
        expect(seen.filter((tag) => tag === "InvalidCookie").length).toBeGreaterThanOrEqual(5)
      })))

  it.effect("a genuine cookie for a missing session is NotInBackend", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/read", { cookie: signer.sign("no-such-session") })
        expect(seen).toEqual(["NotInBackend"])
      })))

  it.effect("a legacy payload (no v) is PayloadLegacy and a new session", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        yield* plant("legacy", `{"m":{"n":5},"c":1}`)
        const client = yield* makeClient
        expect((yield* client.request("/read", { cookie: signer.sign("legacy") })).body).toEqual({ n: null })
        expect(seen).toEqual(["PayloadLegacy"])
      })))

  it.effect("a payload of an older version is PayloadLegacy naming that version", () =>
    causesOf({}, (causes) =>
      Effect.gen(function*() {
        yield* plant("legacy", `{"m":{"n":5},"c":1,"v":0}`)
        const client = yield* makeClient
        yield* client.request("/read", { cookie: signer.sign("legacy") })
        expect(causes).toStrictEqual([new InvalidSession.PayloadLegacy({ version: 0 })])
      })))

  it.effect("a payload without a version is PayloadLegacy naming none", () =>
    causesOf({}, (causes) =>
      Effect.gen(function*() {
        yield* plant("legacy", `{"m":{"n":5},"c":1}`)
        const client = yield* makeClient
        yield* client.request("/read", { cookie: signer.sign("legacy") })
        expect(causes.map((cause) => Object.hasOwn(cause, "version"))).toStrictEqual([false])
      })))

  it.effect("PayloadTimeout says when the payload expired", () =>
    causesOf({}, (causes) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("100 seconds")
        yield* plant("old", `{"m":{"n":5},"c":1,"v":1,"x":50}`)
        const client = yield* makeClient
        yield* client.request("/read", { cookie: signer.sign("old") })
        expect(causes).toStrictEqual([new InvalidSession.PayloadTimeout({ expiredAt: 50 })])
      })))

  it.effect("a session past its absolute lifetime is LifetimeExceeded, saying when it ended", () =>
    causesOf({ maxLifetime: "60 seconds" }, (causes) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("100 seconds")
        yield* plant("old", `{"m":{"n":5},"c":40,"v":1}`)
        yield* plant("young", `{"m":{"n":6},"c":41,"v":1}`)
        const client = yield* makeClient
        expect((yield* client.request("/read", { cookie: signer.sign("old") })).body).toEqual({ n: null })
        expect((yield* client.request("/read", { cookie: signer.sign("young") })).body).toEqual({ n: 6 })
        expect(causes).toStrictEqual([new InvalidSession.LifetimeExceeded({ endedAt: 100 })])
      })))

  it.effect("a payload past its x is PayloadTimeout", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("100 seconds")
        yield* plant("old", `{"m":{"n":5},"c":1,"v":1,"x":50}`)
        const client = yield* makeClient
        expect((yield* client.request("/read", { cookie: signer.sign("old") })).body).toEqual({ n: null })
        expect(seen).toEqual(["PayloadTimeout"])
      })))

  it.effect("a payload past its x is deleted and its cookie expired, so reading it cannot keep it alive", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        yield* TestClock.adjust("100 seconds")
        yield* plant("old", `{"m":{"n":5},"c":1,"v":1,"x":50}`)
        const client = yield* makeClient
        const reply = yield* client.request("/read", { cookie: signer.sign("old") })
        expect(reply.setCookies).toHaveLength(1)
        expect(reply.setCookies[0]).toMatch(/^session=; Max-Age=0;/)
        expect(yield* storeValue("old")).toBeNull()
      })
    ))

  it.effect("an undecodable payload is PayloadUndecodable and a new session when deserializationFailsNew is on", () =>
    causesSeen({ deserializationFailsNew: true }, (seen) =>
      Effect.gen(function*() {
        yield* plant("corrupt", "\x80\x04pickle")
        const client = yield* makeClient
        const reply = yield* client.request("/read", { cookie: signer.sign("corrupt") })
        expect(reply.status).toBe(200)
        expect(seen).toEqual(["PayloadUndecodable"])
      })))

  it.effect("an undecodable payload fails the request when deserializationFailsNew is off", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        yield* plant("corrupt", "{not json")
        const client = yield* makeClient
        const reply = yield* client.request("/read", { cookie: signer.sign("corrupt") })
        expect(reply.status).toBe(500)
        expect(seen).toEqual([])
      })))

  it.effect("a session written by pyramid_session_redis with a JSON serializer is read as is", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        yield* plant("session:seed", `{"c": 1, "m": {"n": 41, "_f_": ["hi"]}, "t": 1200, "v": 1}`)
        const client = yield* makeClient
        client.setCookie(signer.sign("session:seed"))
        expect((yield* client.request("/incr")).body).toEqual({ n: 42 })
        expect(JSON.parse((yield* storeValue("session:seed")) ?? "{}")).toEqual({
          m: { n: 42, _f_: ["hi"] },
          c: 1,
          v: 1,
          t: 1200
        })
        expect(seen).toEqual([])
      })))

  it.effect("an expiry x left by a payload-expiry policy is dropped once, so an active session does not end at it", () =>
    causesSeen({}, (seen) =>
      Effect.gen(function*() {
        yield* plant("seeded", `{"m":{"n":1},"c":0,"v":1,"t":1200,"x":100}`)
        const client = yield* makeClient
        client.setCookie(signer.sign("seeded"))
        yield* client.request("/read")
        expect(JSON.parse((yield* storeValue("seeded")) ?? "{}")).toEqual({ m: { n: 1 }, c: 0, v: 1, t: 1200 })
        yield* TestClock.adjust("200 seconds")
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
        expect(seen).toEqual([])
      })))

  it.effect("invalid sessions are counted by cause", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const counter = Metric.tagged(InvalidSession.invalidSessions, "cause", "InvalidCookie")
        const before = (yield* Metric.value(counter)).count
        const client = yield* makeClient
        yield* client.request("/read", { cookie: "nope" })
        const after: MetricState.MetricState.Counter<number> = yield* Metric.value(counter)
        expect(after.count - before).toBe(1)
      })
    ))
})

describe("robustness", () => {
  it.effect("a read without a cookie still varies on Cookie (the answer depends on it)", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/read")
        expect(reply.headers.get("vary")).toBe("Cookie")
        expect(reply.setCookies).toEqual([])
      })
    ))

  it.effect("keys such as __proto__ and constructor are plain data, never the object's prototype", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        expect((yield* client.request("/get?key=constructor")).body).toEqual({ value: null, has: false })
        yield* client.request("/set?key=__proto__&value=x")
        expect((yield* client.request("/get?key=__proto__")).body).toEqual({ value: "x", has: true })
        expect((yield* client.request("/get?key=toString")).body).toEqual({ value: null, has: false })
      })
    ))

  it.effect("a cookie named like an Object.prototype member is just a cookie name", () =>
    withMemory(
      { cookieName: "constructor" },
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/read")
        expect(reply.status).toBe(200)
      })
    ))

  it.effect("the Session's operations can be destructured", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        expect((yield* client.request("/destructured")).status).toBe(200)
      })
    ))

  it.live("an operation interrupted while loading does not leave the next one waiting forever", () =>
    Effect.gen(function*() {
      const inner = yield* RedisClient.makeMemory
      let calls = 0
      // The first read never answers; later ones do.
      const slowFirst: RedisClient.RedisClientShape = {
        ...inner,
        getEx: (key, ttl) => ++calls === 1 ? Effect.never : inner.getEx(key, ttl)
      }
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const reply = yield* client.request("/timeout-then-read").pipe(Effect.timeout("2 seconds"))
        expect(reply.body).toEqual({ n: 1 })
      }).pipe(Effect.provide(layerWithStore(slowFirst)))
    }))

  it.effect("persistNow after another request deleted the session does not re-create it", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const reply = yield* client.request("/racing-logout-persist-now")
        const id = (reply.body as { id: string }).id
        expect(yield* storeValue(id)).toBeNull()
        // no cookie action: the id is dead in Redis, and the logout's own response expired it
        expect(reply.setCookies).toEqual([])
      })
    ))
})

describe("client gone, later failures", () => {
  it.effect("a request whose client went away (499) creates no session", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/write-then-499")
        expect(reply.setCookies).toEqual([])
        expect(log).toEqual([])
      }).pipe(Effect.provide(layerWithStore(redis)))
    }))

  it.effect("when a later pre-response handler fails, the error response still carries the written session's cookie", () =>
    withMemory(
      {},
      Effect.gen(function*() {
        const client = yield* makeClient
        const reply = yield* client.request("/write-then-failing-pre-response")
        expect(reply.status).toBe(500)
        expect(reply.setCookies).toHaveLength(1)
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
      })
    ))

  it.effect("a per-session timeout shorter than the trigger does not make every read a write", () =>
    Effect.gen(function*() {
      const { client: redis, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* client.request("/adjust-timeout?seconds=60")
        log.length = 0
        yield* TestClock.adjust("1 second")
        yield* client.request("/read")
        yield* TestClock.adjust("1 second")
        yield* client.request("/read")
        expect(log).toEqual(["get", "get"])
      }).pipe(
        Effect.provide(layerWithStore(redis, { timeoutTrigger: "600 seconds" }))
      )
    }))
})

describe("tracing", () => {
  it.effect("with a tracer installed, loading and committing get spans", () =>
    Effect.gen(function*() {
      const { tracer, names } = recordingTracer()
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        names.length = 0
        yield* client.request("/incr")
      }).pipe(Effect.withTracer(tracer), Effect.provide(memory()))
      expect(names).toEqual(expect.arrayContaining(["Session.load", "Session.commit"]))
    }))
})

describe("store failures", () => {
  const down: RedisClient.RedisClientShape = {
    get: () => Effect.fail(new RedisClient.SessionStoreError({ command: "GET", reason: "Connection", detail: "down" })),
    getEx: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "GETEX", reason: "Connection", detail: "down" })),
    set: () => Effect.fail(new RedisClient.SessionStoreError({ command: "SET", reason: "Connection", detail: "down" })),
    expire: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "EXPIRE", reason: "Connection", detail: "down" })),
    del: () => Effect.fail(new RedisClient.SessionStoreError({ command: "DEL", reason: "Connection", detail: "down" })),
    ttl: () => Effect.fail(new RedisClient.SessionStoreError({ command: "TTL", reason: "Connection", detail: "down" })),
    move: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "EVAL", reason: "Connection", detail: "down" })),
    getMany: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "MGET", reason: "Connection", detail: "down" })),
    indexAdd: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "EVAL", reason: "Connection", detail: "down" })),
    indexMembers: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "ZRANGE", reason: "Connection", detail: "down" })),
    indexRemove: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "ZREM", reason: "Connection", detail: "down" })),
    mergePayload: () =>
      Effect.fail(new RedisClient.SessionStoreError({ command: "EVALSHA", reason: "Connection", detail: "down" }))
  }
  const layerDown = layerWithStore(down)

  it.effect("a read that needs Redis answers 503", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      const reply = yield* client.request("/read", { cookie: signer.sign("some-id") })
      expect(reply.status).toBe(503)
    }).pipe(Effect.provide(layerDown)))

  it.effect("a failed load is logged as a warning naming the command, never the session id", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const logger = Logger.make(({ cause, message }) => {
        logged.push(`${String(message)} ${Cause.pretty(cause)}`)
      })
      const client = yield* Effect.provide(makeClient, Logger.replace(Logger.defaultLogger, logger))
      yield* client.request("/read", { cookie: signer.sign("some-id") })
      const line = logged.find((entry) => entry.includes("session load failed"))
      expect(line).toContain("GETEX")
      expect(line).not.toContain("some-id")
    }).pipe(Effect.provide(layerDown)))

  it.effect("a write that cannot be committed answers 503 and sets no cookie", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      const reply = yield* client.request("/incr")
      expect(reply.status).toBe(503)
      expect(reply.setCookies).toEqual([])
    }).pipe(Effect.provide(layerDown)))

  it.effect("a request that does not touch the session is unaffected", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      expect((yield* client.request("/noop", { cookie: signer.sign("x") })).status).toBe(200)
    }).pipe(Effect.provide(layerDown)))
})
