/**
 * The outage policy: with Redis unreachable a request that needs its session
 * fails closed (503 with `Retry-After`) by default; with
 * `onStoreUnavailable: "anonymous"` or `SessionMiddleware.tolerateStoreOutage`
 * it goes on with an anonymous session that is never written, and the
 * client's cookie survives the outage. Memory store behind a switch, and a
 * real redis-server that is stopped and paused.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as CookieSigner from "../src/CookieSigner.js"
import * as StoreOutage from "../src/internal/storeOutage.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { layerRedisServer, RedisServer } from "./support/redisServer.js"
import { layerWith, recording, secret } from "./support/sessionApp.js"

const signer = CookieSigner.make(secret)
const json = (body: unknown) => HttpServerResponse.unsafeJson(body)

const read = Effect.map(Session.get("n"), (n) => json({ n: Option.getOrNull(n) }))
const incr = Effect.gen(function*() {
  const n = yield* Session.get("n")
  const next = Option.match(n, { onNone: () => 0, onSome: Number }) + 1
  yield* Session.set("n", next)
  return json({ n: next })
})
const available = Effect.map(
  Effect.flatMap(Session.Session, (session) => session.storeAvailable),
  (storeAvailable) => json({ storeAvailable })
)
const login = Effect.gen(function*() {
  const session = yield* Session.Session
  yield* session.regenerate
  yield* session.set("user", "ann")
  yield* session.bindUser("ann")
  yield* session.persistNow
  return json({ ok: true, storeAvailable: yield* session.storeAvailable })
})

/** What `/regenerate` runs between loading the session and regenerating it (a test pauses Redis there). */
let betweenLoadAndRegenerate: Effect.Effect<void> = Effect.void

const routes = HttpRouter.empty.pipe(
  HttpRouter.get("/read", read),
  HttpRouter.get("/incr", incr),
  HttpRouter.get("/available", available),
  HttpRouter.get("/login", login),
  HttpRouter.get(
    "/regenerate",
    Effect.gen(function*() {
      yield* Session.get("n")
      yield* Effect.suspend(() => betweenLoadAndRegenerate)
      yield* Session.regenerate
      yield* Session.set("user", "ann")
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/logout", Effect.as(Session.invalidate, json({ ok: true }))),
  HttpRouter.get("/require", Effect.as(Session.require, json({ ok: true }))),
  HttpRouter.get("/tolerant/read", SessionMiddleware.tolerateStoreOutage(read)),
  HttpRouter.get("/tolerant/incr", SessionMiddleware.tolerateStoreOutage(incr)),
  HttpRouter.get("/strict/read", SessionMiddleware.failOnStoreOutage(read))
)

const app = SessionMiddleware.middleware(HttpRouter.toHttpApp(routes).pipe(Effect.flatten))

interface Reply {
  readonly status: number
  readonly body: unknown
  readonly headers: Headers
  readonly setCookies: ReadonlyArray<string>
}

/** A client with a one-cookie jar. */
const makeClient = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>()
  const handler = HttpApp.toWebHandlerRuntime(runtime)(app)
  let cookie: string | undefined
  const request = (path: string) =>
    Effect.promise(async (): Promise<Reply> => {
      const response = await handler(
        new Request(`http://localhost${path}`, { headers: cookie === undefined ? {} : { cookie: `session=${cookie}` } })
      )
      const text = await response.text()
      const setCookies = response.headers.getSetCookie()
      for (const line of setCookies) {
        const match = /^session=([^;]*)/.exec(line)
        if (match !== null) cookie = match[1] === "" ? undefined : match[1]
      }
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: response.status, body, headers: response.headers, setCookies }
    })
  return {
    request,
    get cookie() {
      return cookie
    }
  }
})

/** The memory store behind a switch: `down(reason)` makes every command fail, `up()` restores it. */
const switchable = (inner: RedisClient.RedisClientShape) => {
  let reason: RedisClient.SessionStoreError["reason"] | undefined
  const guard = <A>(command: string, effect: Effect.Effect<A, RedisClient.SessionStoreError>) =>
    Effect.suspend(() =>
      reason === undefined ? effect : Effect.fail(
        new RedisClient.SessionStoreError({ command, reason, detail: "test outage" })
      )
    )
  const client: RedisClient.RedisClientShape = {
    get: (key) => guard("GET", inner.get(key)),
    getEx: (key, ttl) => guard("GETEX", inner.getEx(key, ttl)),
    set: (key, value, options) => guard("SET", inner.set(key, value, options)),
    expire: (key, ttl) => guard("EXPIRE", inner.expire(key, ttl)),
    del: (key) => guard("DEL", inner.del(key)),
    ttl: (key) => guard("TTL", inner.ttl(key)),
    move: (from, to, value, options) => guard("EVAL", inner.move(from, to, value, options)),
    getMany: (keys) => guard("MGET", inner.getMany(keys)),
    indexAdd: (index, member, score, ttl) => guard("EVAL", inner.indexAdd(index, member, score, ttl)),
    indexMembers: (index) => guard("ZRANGE", inner.indexMembers(index)),
    indexRemove: (index, members) => guard("ZREM", inner.indexRemove(index, members)),
    mergePayload: (key, patch, options) => guard("EVALSHA", inner.mergePayload(key, patch, options))
  }
  return {
    client,
    down: (why: RedisClient.SessionStoreError["reason"] = "Connection") =>
      Effect.sync(() => {
        reason = why
      }),
    up: Effect.sync(() => {
      reason = undefined
    })
  }
}

/** Runs `body` with a switchable, recording memory store under the given policy options. */
const withOutage = <A, E>(
  options: Partial<SessionPolicy.Options>,
  body: (
    store: ReturnType<typeof switchable> & { readonly log: Array<string> }
  ) => Effect.Effect<A, E, SessionPolicy.SessionPolicy | RedisClient.RedisClient>
) =>
  Effect.gen(function*() {
    const memory = yield* RedisClient.makeMemory
    const store = switchable(memory)
    const recorded = recording(store.client)
    return yield* Effect.provide(
      body({ ...store, log: recorded.log }),
      layerWith(Layer.succeed(RedisClient.RedisClient, recorded.client), options)
    )
  })

const unavailableCount = (reason: "Connection" | "Timeout") =>
  Effect.map(Metric.value(Metric.tagged(SessionMiddleware.storeUnavailable, "reason", reason)), (s) => s.count)

const anonymous = { onStoreUnavailable: "anonymous" } as const

describe("which store failures an anonymous session may stand in for", () => {
  it.each(
    [
      { mode: "fail", reason: "Connection", tolerated: false },
      { mode: "fail", reason: "Timeout", tolerated: false },
      { mode: "fail", reason: "Reply", tolerated: false },
      { mode: "anonymous", reason: "Connection", tolerated: true },
      { mode: "anonymous", reason: "Timeout", tolerated: true },
      { mode: "anonymous", reason: "Reply", tolerated: false }
    ] as const
  )("$mode, $reason: $tolerated", ({ mode, reason, tolerated }) => {
    expect(StoreOutage.tolerates(mode, reason)).toBe(tolerated)
  })
})

describe("by default, an unreachable store fails closed", () => {
  it.effect("a read with a cookie answers 503 with Retry-After", () =>
    withOutage({}, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down()
        const reply = yield* client.request("/read")
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
        expect(reply.setCookies).toEqual([])
      })))

  it.effect("a first write without a cookie answers 503 and sets no cookie", () =>
    withOutage({}, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* store.down()
        const reply = yield* client.request("/incr")
        expect(reply.status).toBe(503)
        expect(reply.setCookies).toEqual([])
      })))

  it.effect("failOnStoreOutage keeps a route fail-closed under an anonymous policy", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down()
        const reply = yield* client.request("/strict/read")
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
      })))
})

describe("onStoreUnavailable: anonymous", () => {
  it.effect("a read finds an empty session: 200, only the failed load sent, no Set-Cookie", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down()
        store.log.length = 0
        const reply = yield* client.request("/read")
        expect(reply.status).toBe(200)
        expect(reply.body).toEqual({ n: null })
        expect(reply.setCookies).toEqual([])
        expect(reply.headers.get("retry-after")).toBeNull()
        expect(store.log).toEqual(["getex"])
      })))

  it.effect("a write is accepted and never written; the cookie's session is intact once the store is back", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* client.request("/incr")
        const cookie = client.cookie
        yield* store.down()
        store.log.length = 0
        const during = yield* client.request("/incr")
        expect(during).toMatchObject({ status: 200, body: { n: 1 }, setCookies: [] })
        expect(store.log).toEqual(["getex"])
        yield* store.up
        expect(client.cookie).toBe(cookie)
        expect((yield* client.request("/read")).body).toEqual({ n: 2 })
      })))

  it.effect("each such request counts in session_store_unavailable_total, by reason", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const before = yield* unavailableCount("Timeout")
        yield* store.down("Timeout")
        yield* client.request("/read")
        yield* client.request("/incr")
        expect(yield* unavailableCount("Timeout")).toBe(before + 2)
      })))

  it.effect("the warning names the command and the reason, never the session id", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const logged: Array<string> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logged.push(`${logLevel.label} ${JSON.stringify(message)}`)
        })
        const client = yield* Effect.provide(makeClient, Logger.replace(Logger.defaultLogger, logger))
        yield* client.request("/incr")
        const id = signer.verify(client.cookie ?? "").pipe(Option.getOrThrow)
        yield* store.down()
        yield* client.request("/read")
        const line = logged.find((entry) => entry.includes("session store unavailable"))
        expect(line).toContain("WARN")
        expect(line).toContain("GETEX")
        expect(line).toContain("Connection")
        expect(logged.join("\n")).not.toContain(id)
      })))

  it.effect("a first write without a cookie: 200, no cookie, and it counts", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* store.down()
        const before = yield* unavailableCount("Connection")
        const reply = yield* client.request("/incr")
        expect(reply).toMatchObject({ status: 200, body: { n: 1 }, setCookies: [] })
        expect(yield* unavailableCount("Connection")).toBe(before + 1)
      })))

  it.effect("login (regenerate, bindUser, persistNow) writes nothing and leaves the cookie alone", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        const cookie = client.cookie
        yield* store.down()
        store.log.length = 0
        const reply = yield* client.request("/login")
        expect(reply).toMatchObject({ status: 200, body: { ok: true, storeAvailable: false }, setCookies: [] })
        expect(store.log).toEqual(["getex"])
        yield* store.up
        expect(client.cookie).toBe(cookie)
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
      })))

  it.effect("logout fails with 503 and Retry-After, and does not expire the cookie", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* client.request("/read")
        yield* store.down()
        const reply = yield* client.request("/logout")
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
        expect(reply.setCookies).toEqual([])
      })))

  it.effect("require fails with 503, not with a 401 that would tell the client its session is invalid", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down()
        const reply = yield* client.request("/require")
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
      })))

  it.effect("storeAvailable tells the handler", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        expect((yield* client.request("/available")).body).toEqual({ storeAvailable: true })
        yield* store.down()
        expect((yield* client.request("/available")).body).toEqual({ storeAvailable: false })
      })))

  it.effect("a Reply error still fails closed: Redis answered, the store is misconfigured, not unreachable", () =>
    withOutage(anonymous, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down("Reply")
        expect((yield* client.request("/read")).status).toBe(503)
        expect((yield* client.request("/incr")).status).toBe(503)
      })))
})

describe("tolerateStoreOutage: one route, under the default policy", () => {
  it.effect("the wrapped route goes on anonymously, the others fail closed", () =>
    withOutage({}, (store) =>
      Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        yield* store.down()
        expect((yield* client.request("/read")).status).toBe(503)
        const tolerant = yield* client.request("/tolerant/read")
        expect(tolerant).toMatchObject({ status: 200, body: { n: null }, setCookies: [] })
        expect((yield* client.request("/tolerant/incr")).status).toBe(200)
        yield* store.up
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
      })))
})

describe("the option", () => {
  const provider = (env: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries({ SESSION_SECRET: "s".repeat(40), ...env })), { pathDelim: "_" })

  it.effect("defaults to fail", () =>
    Effect.gen(function*() {
      const policy = yield* SessionPolicy.make({ secret })
      expect(policy.onStoreUnavailable).toBe("fail")
    }))

  it.effect.each(["fail", "anonymous", " Anonymous "])(
    "SESSION_ON_STORE_UNAVAILABLE=%s",
    (value) =>
      Effect.gen(function*() {
        const options = yield* Effect.withConfigProvider(
          SessionPolicy.config,
          provider({ SESSION_ON_STORE_UNAVAILABLE: value })
        )
        expect(options.onStoreUnavailable).toBe(value.trim().toLowerCase())
      })
  )

  it.effect("SESSION_ON_STORE_UNAVAILABLE with another value is a ConfigError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.withConfigProvider(SessionPolicy.config, provider({ SESSION_ON_STORE_UNAVAILABLE: "open" }))
      )
      expect(String(error)).toContain("SESSION_ON_STORE_UNAVAILABLE")
    }))

  it.effect("an untyped value other than fail or anonymous is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        SessionPolicy.make({ secret, onStoreUnavailable: "open" as unknown as "fail" })
      )
      expect(error).toMatchObject({ _tag: "InvalidPolicy", options: ["onStoreUnavailable"] })
    }))
})

describe("against redis-server", () => {
  const commandTimeout = Duration.millis(300)
  const services = (url: string, options: Partial<SessionPolicy.Options>) =>
    layerWith(Layer.orDie(RedisClient.layer({ url, commandTimeout, connectTimeout: "1 second" })), options)

  layer(layerRedisServer, { excludeTestServices: true, timeout: "30 seconds" })("real Redis", (it) => {
    it.scoped("stopped: default 503 with Retry-After; anonymous 200 without Set-Cookie; the server sees no write", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* Effect.addFinalizer(() => Effect.promise(() => server.running ? Promise.resolve() : server.restart()))
        const strict = yield* Effect.provide(makeClient, yield* Layer.build(services(server.url, {})))
        const lenient = yield* Effect.provide(makeClient, yield* Layer.build(services(server.url, anonymous)))
        yield* strict.request("/incr")
        yield* lenient.request("/incr")
        yield* Effect.promise(() => server.stop())

        const failed = yield* strict.request("/read")
        expect(failed.status).toBe(503)
        expect(failed.headers.get("retry-after")).toBe("1")
        const before = yield* unavailableCount("Connection")
        const served = yield* lenient.request("/incr")
        expect(served).toMatchObject({ status: 200, body: { n: 1 }, setCookies: [] })
        expect(yield* unavailableCount("Connection")).toBeGreaterThan(before)

        yield* Effect.promise(() => server.restart())
        yield* Effect.promise(() => server.resetStats())
        // the client reconnects on its own; nothing was queued to be written later
        yield* Effect.sleep("1500 millis")
        expect(yield* Effect.promise(() => server.commandstats())).toEqual({})
      }))

    it.scoped("paused: the anonymous answer comes within the command timeout; resumed, the cookie's session is intact", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const client = yield* Effect.provide(makeClient, yield* Layer.build(services(server.url, anonymous)))
        yield* client.request("/incr")
        yield* client.request("/incr")
        const cookie = client.cookie
        yield* Effect.acquireRelease(Effect.sync(() => server.pause()), () => Effect.sync(() => server.resume()))

        const [elapsed, reply] = yield* Effect.timed(client.request("/incr"))
        expect(reply).toMatchObject({ status: 200, body: { n: 1 }, setCookies: [] })
        expect(Duration.toMillis(elapsed)).toBeLessThan(Duration.toMillis(commandTimeout) + 400)

        server.resume()
        yield* Effect.sleep("200 millis")
        expect(client.cookie).toBe(cookie)
        const after = yield* client.request("/read")
        expect(after).toMatchObject({ status: 200, body: { n: 2 } })
      }))

    it.scoped("a new session's SET NX that timed out is undone once Redis answers: no key without a cookie", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* Effect.promise(() => server.flushall())
        const client = yield* Effect.provide(makeClient, yield* Layer.build(services(server.url, {})))
        yield* Effect.acquireRelease(Effect.sync(() => server.pause()), () => Effect.sync(() => server.resume()))
        const reply = yield* client.request("/incr")
        expect(reply).toMatchObject({ status: 503, setCookies: [] })
        server.resume()
        yield* Effect.sleep("300 millis")
        expect(yield* Effect.promise(() => server.keys())).toEqual([])
      }))

    it.scoped("a regenerate whose move timed out is moved back once Redis answers: the client's cookie still works", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        yield* Effect.promise(() => server.flushall())
        const client = yield* Effect.provide(makeClient, yield* Layer.build(services(server.url, {})))
        yield* client.request("/incr")
        const keys = yield* Effect.promise(() => server.keys())
        expect(keys).toHaveLength(1)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            betweenLoadAndRegenerate = Effect.void
            if (server.running) server.resume()
          })
        )
        betweenLoadAndRegenerate = Effect.sync(() => server.pause())
        const reply = yield* client.request("/regenerate")
        expect(reply.status).toBe(503)
        server.resume()
        yield* Effect.sleep("300 millis")
        expect(yield* Effect.promise(() => server.keys())).toEqual(keys)
        expect((yield* client.request("/read")).body).toEqual({ n: 1 })
      }))
  })
})
