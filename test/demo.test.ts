/**
 * The demo app (docs/examples/app.ts) over real HTTP: every route, against
 * the in-memory store and against a private redis-server whose commands are
 * counted with INFO commandstats. Real time throughout (no TestClock): the
 * server, the Redis client's timeouts and the memory store's TTLs all run on
 * the wall clock.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it, layer, type Vitest } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { Redis } from "ioredis"
import { makeApp, maskUrl, SessionsLive } from "../docs/examples/app.js"
import { CookieSigner } from "../src/index.js"
import { problems } from "./support/htmlCheck.js"
import { layerRedisServer, RedisServer, type RedisServerHarness } from "./support/redisServer.js"

// -----------------------------------------------------------------------------
// the server under test
// -----------------------------------------------------------------------------

/** The demo app on a real socket, configured only by `env` (never by the process environment). */
const demoServer = (env: ReadonlyArray<readonly [string, string]>) =>
  HttpServer.serve(makeApp({ sessions: true })).pipe(
    Layer.provide(SessionsLive),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(env))))
  )

/** A fixed secret for the Redis suite, so the test can read session ids out of cookies. */
const secret = "demo-test-secret-0123456789abcdef0123456789"
const signer = CookieSigner.make(Redacted.make(secret))

const MemoryLive = demoServer([])

const RedisLive = Layer.unwrapEffect(
  Effect.map(RedisServer, (server) =>
    demoServer([
      ["REDIS_URL", server.url],
      ["SESSION_SECRET", secret]
    ]))
).pipe(Layer.provideMerge(layerRedisServer))

// -----------------------------------------------------------------------------
// a small client
// -----------------------------------------------------------------------------

interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The raw `Set-Cookie` header, if any. */
  readonly setCookie: string | undefined
  /** `session=<value>` from Set-Cookie, ready to send back. */
  readonly cookie: string | undefined
  /** `csrf=<value>` from Set-Cookie: the page's CSRF cookie. */
  readonly csrf: string | undefined
  readonly text: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test reads the fields of its route
  readonly json: any
  readonly millis: number
}

interface RequestOptions {
  readonly cookie?: string | undefined
  readonly headers?: Readonly<Record<string, string>>
  readonly method?: "GET" | "POST"
  readonly form?: Readonly<Record<string, string>>
}

const request = (path: string, options: RequestOptions = {}) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    let req = options.method === "POST" ? HttpClientRequest.post(path) : HttpClientRequest.get(path)
    if (options.headers !== undefined) req = HttpClientRequest.setHeaders(req, options.headers)
    if (options.cookie !== undefined) req = HttpClientRequest.setHeader(req, "cookie", options.cookie)
    if (options.form !== undefined) req = HttpClientRequest.bodyUrlParams(req, options.form)
    const started = Date.now()
    const response = yield* client.execute(req)
    const text = yield* response.text
    const millis = Date.now() - started
    const headers = Cookies.toSetCookieHeaders(response.cookies)
    const setCookie = headers.length === 0 ? undefined : headers.join("\n")
    const value = /(?:^|\n)session=([^;]*)/.exec(setCookie ?? "")?.[1]
    const csrf = /(?:^|\n)csrf=([^;]*)/.exec(setCookie ?? "")?.[1]
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON
    }
    const reply: Reply = {
      status: response.status,
      headers: response.headers,
      setCookie,
      cookie: value === undefined ? undefined : `session=${value}`,
      csrf: csrf === undefined ? undefined : `csrf=${csrf}`,
      text,
      json,
      millis
    }
    return reply
  })

/** A session cookie to start from: the first /api/incr of a new session. */
const newSession = Effect.gen(function*() {
  const reply = yield* request("/api/incr")
  expect(reply.json).toEqual({ n: 1 })
  if (reply.cookie === undefined) throw new Error("no session cookie")
  return reply.cookie
})

// -----------------------------------------------------------------------------
// command counting (Redis suite only)
// -----------------------------------------------------------------------------

interface Ctx {
  /** The private redis-server, in the Redis suite. */
  readonly redis: RedisServerHarness | undefined
}

/** Runs `self` and succeeds with its value and the Redis commands it caused (undefined without Redis). */
const counting = <A, E, R>(ctx: Ctx, self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const redis = ctx.redis
    if (redis === undefined) return [yield* self, undefined] as const
    yield* Effect.promise(() => redis.resetStats())
    const value = yield* self
    const stats = yield* Effect.promise(() => redis.commandstats())
    return [value, stats] as const
  })

/** Asserts the commands, when they were counted. */
const expectCommands = (stats: Record<string, number> | undefined, expected: Record<string, number>) => {
  if (stats !== undefined) expect(stats).toEqual(expected)
}

const sessionIdOf = (cookie: string) => Option.getOrThrow(signer.verify(cookie.slice("session=".length)))

const expectNewSessionCookie = (reply: Reply) => {
  expect(reply.setCookie).toBeDefined()
  const attributes = (reply.setCookie ?? "").split(/;\s*/).map((a) => a.toLowerCase())
  expect(attributes).toContain("httponly")
  expect(attributes).toContain("samesite=lax")
  expect(attributes).toContain("path=/")
  expect(attributes.some((a) => a.startsWith("max-age"))).toBe(false)
  expect(reply.headers["vary"]).toMatch(/\bCookie\b/)
  expect(reply.headers["cache-control"]).toBe("private")
}

const expectDeletingCookie = (reply: Reply) => {
  expect(reply.setCookie).toMatch(/^session=;/)
  expect(reply.setCookie).toMatch(/Max-Age=0/)
  expect(reply.setCookie).toMatch(/Path=\//)
}

// -----------------------------------------------------------------------------
// the routes, for both stores
// -----------------------------------------------------------------------------

/**
 * The route tests, registered in each suite below: once on the in-memory store
 * and once on Redis, where `context` also gives the server whose commands are
 * counted. Each is a named `it.effect`, so `.only` and editors reach it.
 */
const routeTests = <R>(
  it: { readonly effect: Vitest.Tester<HttpClient.HttpClient | R> },
  context: Effect.Effect<Ctx, never, R>
) => {
  it.effect("/api/noop: ok, no session, no command, no cookie", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [fresh, stats] = yield* counting(ctx, request("/api/noop"))
      expect(fresh.status).toBe(200)
      expect(fresh.text).toBe("ok")
      expect(fresh.setCookie).toBeUndefined()
      expect(fresh.headers["vary"]).toBeUndefined()
      expectCommands(stats, {})
      const cookie = yield* newSession
      const [withCookie, stats2] = yield* counting(ctx, request("/api/noop", { cookie }))
      expect(withCookie.text).toBe("ok")
      expect(withCookie.setCookie).toBeUndefined()
      expectCommands(stats2, {})
    }))

  it.effect("/api/read without a cookie: null, no command, no cookie", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/read"))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ n: null })
      expect(reply.setCookie).toBeUndefined()
      expectCommands(stats, {})
    }))

  it.effect("first /api/incr: one SET, and a cookie with HttpOnly, SameSite=Lax, Path=/, Vary and Cache-Control", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/incr"))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ n: 1 })
      expectNewSessionCookie(reply)
      // no SESSION_COOKIE_SECURE: the demo turns Secure off for plain-HTTP development
      expect(reply.setCookie).not.toMatch(/Secure/i)
      expectCommands(stats, { set: 1 })
    }))

  it.effect("/api/read with a cookie: one GETEX, the value, Vary: Cookie, no Set-Cookie", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const cookie = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/read", { cookie }))
      expect(reply.json).toEqual({ n: 1 })
      expect(reply.setCookie).toBeUndefined()
      expect(reply.headers["vary"]).toMatch(/\bCookie\b/)
      expectCommands(stats, { getex: 1 })
    }))

  it.effect("/api/incr with a cookie: GETEX + SET, no Set-Cookie", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const cookie = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/incr", { cookie }))
      expect(reply.json).toEqual({ n: 2 })
      expect(reply.setCookie).toBeUndefined()
      expectCommands(stats, { getex: 1, set: 1 })
      expect((yield* request("/api/incr", { cookie })).json).toEqual({ n: 3 })
      expect((yield* request("/api/read", { cookie })).json).toEqual({ n: 3 })
    }))

  it.effect("/api/logout: GETEX + DEL and a deleting cookie; the old cookie then reads null", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const cookie = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/logout", { cookie }))
      expect(reply.json).toEqual({ ok: true })
      expectDeletingCookie(reply)
      // the demo reads the user first, so a bound session leaves its user's index too
      expectCommands(stats, { getex: 1, del: 1 })
      const [after, stats2] = yield* counting(ctx, request("/api/read", { cookie }))
      expect(after.json).toEqual({ n: null })
      expect(after.setCookie).toBeUndefined()
      expectCommands(stats2, { getex: 1 })
      // a read, then a logout that reads the session again (each request loads it once)
      const other = yield* newSession
      const [, stats3] = yield* counting(
        ctx,
        Effect.zipRight(request("/api/read", { cookie: other }), request("/api/logout", { cookie: other }))
      )
      expectCommands(stats3, { getex: 2, del: 1 })
      // logging out without a session: nothing to delete, no cookie
      const [anonymous, stats4] = yield* counting(ctx, request("/api/logout"))
      expect(anonymous.json).toEqual({ ok: true })
      expect(anonymous.setCookie).toBeUndefined()
      expectCommands(stats4, {})
    }))

  it.effect("/api/cacheable: no cookie on a cacheable response, and no key for a new session", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/cacheable"))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ n: 1 })
      expect(reply.headers["cache-control"]).toBe("public, max-age=60")
      expect(reply.setCookie).toBeUndefined()
      expectCommands(stats, {})
      // an existing session is still updated, but gets no Set-Cookie
      const cookie = yield* newSession
      const [existing, stats2] = yield* counting(ctx, request("/api/cacheable", { cookie }))
      expect(existing.json).toEqual({ n: 2 })
      expect(existing.setCookie).toBeUndefined()
      expect(existing.headers["cache-control"]).toBe("public, max-age=60")
      expectCommands(stats2, { getex: 1, set: 1 })
    }))

  it.effect("/api/nostore: a no-store response keeps its Cache-Control and still sets the cookie", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/nostore"))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ n: 1 })
      expect(reply.setCookie).toMatch(/^session=[^;]+;/)
      // no-store already keeps every cache away: nothing to add
      expect(reply.headers["cache-control"]).toBe("no-store")
      expect(reply.headers["vary"]).toMatch(/\bCookie\b/)
      expectCommands(stats, { set: 1 })
      expect((yield* request("/api/read", { cookie: reply.cookie })).json).toEqual({ n: 1 })
    }))

  it.effect("/api/boom: 500, and (cookieOnException) the new session's cookie and data", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/boom"))
      expect(reply.status).toBe(500)
      expectNewSessionCookie(reply)
      expectCommands(stats, { set: 1 })
      const cookie = reply.cookie
      expect((yield* request("/api/read", { cookie })).json).toEqual({ n: 1 })
    }))

  /** Cookies that are not a value the app signed, each made from a genuine session's value. */
  const badCookies: ReadonlyArray<readonly [string, (genuine: string) => string]> = [
    ["one flipped character", (v) => `session=${v.slice(0, 10) + (v[10] === "A" ? "B" : "A") + v.slice(11)}`],
    ["truncated", (v) => `session=${v.slice(0, -5)}`],
    ["garbage", () => "session=garbage"],
    ["empty", () => "session="],
    ["a broken percent-escape", () => "session=%E0%A4%A"],
    ["quoted", () => "session=\"quoted\""],
    ["5000 characters", () => `session=${"x".repeat(5000)}`],
    ["genuine plus 3000 characters", (v) => `session=${v}${"A".repeat(3000)}`],
    [
      "a JSON payload with a hex signature",
      () => `session=${Buffer.from("{\"id\":1}").toString("base64url")}.${"0".repeat(128)}`
    ]
  ]

  it.effect.each(badCookies)(
    "a bad cookie (%s) is a new session: 200, never 500; the genuine session is untouched",
    ([, make]) =>
      Effect.gen(function*() {
        const ctx = yield* context
        const cookie = yield* newSession
        const badCookie = make(cookie.slice("session=".length))
        const [read, stats] = yield* counting(ctx, request("/api/read", { cookie: badCookie }))
        expect(read.status).toBe(200)
        expect(read.json).toEqual({ n: null })
        expect(read.setCookie).toBeUndefined()
        // a cookie that fails verification never reaches the store
        expectCommands(stats, {})
        const incr = yield* request("/api/incr", { cookie: badCookie })
        expect(incr.status).toBe(200)
        expect(incr.json).toEqual({ n: 1 })
        expectNewSessionCookie(incr)
        expect(incr.cookie).not.toBe(badCookie)
        expect((yield* request("/api/read", { cookie })).json).toEqual({ n: 1 })
      })
  )

  it.effect("/api/set stores a value; bad input is a 400", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/set?key=color&value=blue%20green"))
      expect(reply.json).toEqual({ key: "color", value: "blue green" })
      expectNewSessionCookie(reply)
      expectCommands(stats, { set: 1 })
      for (
        const path of [
          "/api/set?value=x",
          "/api/set?key=&value=x",
          "/api/set?key=a",
          "/api/set?key=n&value=1",
          "/api/set?key=_csrft_&value=1",
          "/api/set?key=a&key=b&value=1"
        ]
      ) {
        const [bad, badStats] = yield* counting(ctx, request(path, { cookie: reply.cookie }))
        expect(bad.status, path).toBe(400)
        expect(bad.json).toEqual({ error: expect.any(String) })
        expect(bad.setCookie).toBeUndefined()
        expectCommands(badStats, {})
      }
    }))

  it.effect("/api/login: a new session with the user, n = 0 and a welcome flash; /api/whoami tells", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const old = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/login?user=alice", { cookie: old }))
      expect(reply.json).toEqual({ user: "alice" })
      expectNewSessionCookie(reply)
      expect(reply.cookie).not.toBe(old)
      // the old session is read, then moved to a new id in one atomic EVAL (EXISTS, SET NX and DEL inside it),
      // then bound to the user: one more EVAL (ZRANGE, ZADD, PERSIST inside it: the index of a user with no other session)
      expectCommands(stats, { getex: 1, eval: 2, exists: 1, set: 1, del: 1, zrange: 1, zadd: 1, persist: 1 })
      const cookie = reply.cookie
      expect((yield* request("/api/read", { cookie })).json).toEqual({ n: 0 })
      const now = Math.floor(Date.now() / 1000)
      const who = (yield* request("/api/whoami", { cookie })).json
      expect(who).toMatchObject({ user: "alice", isNew: false, timeout: 1200, deadline: null })
      expect(Math.abs(who.created - now)).toBeLessThanOrEqual(2)
      expect(Math.abs(who.expires - (now + 1200))).toBeLessThanOrEqual(2)
      expect((yield* request("/api/flashes", { cookie })).json).toEqual({ messages: ["Welcome, alice!"] })
      expect((yield* request("/api/flashes", { cookie })).json).toEqual({ messages: [] })
      // the old session is gone
      expect((yield* request("/api/whoami", { cookie: old })).json).toMatchObject({ user: null, isNew: true })
      // bad input
      for (const path of ["/api/login", "/api/login?user=", `/api/login?user=${"u".repeat(65)}`]) {
        const bad = yield* request(path, { cookie })
        expect(bad.status, path).toBe(400)
        expect(bad.setCookie).toBeUndefined()
      }
      expect((yield* request("/api/whoami", { cookie })).json).toMatchObject({ user: "alice" })
    }))

  it.effect("/api/sessions lists the user's sessions; /api/sessions/revoke-others signs out the others", () =>
    Effect.gen(function*() {
      const laptop = (yield* request("/api/login?user=zoe", { headers: { "user-agent": "laptop browser" } })).cookie
      const phone = (yield* request("/api/login?user=zoe", { headers: { "user-agent": "phone browser" } })).cookie
      const listed = (yield* request("/api/sessions", { cookie: laptop })).json as {
        sessions: Array<{ label: string; current: boolean; handle: string }>
      }
      expect(laptop).toBeDefined()
      expect(listed.sessions.map((s) => [s.label, s.current]).sort()).toEqual([["laptop browser", true], [
        "phone browser",
        false
      ]])
      expect(JSON.stringify(listed)).not.toContain(laptop)
      expect((yield* request("/api/sessions/revoke-others", { cookie: laptop })).json).toEqual({ revoked: 1 })
      expect((yield* request("/api/whoami", { cookie: phone })).json).toMatchObject({ user: null, isNew: true })
      expect((yield* request("/api/whoami", { cookie: laptop })).json).toMatchObject({ user: "zoe" })
      expect((yield* request("/api/sessions")).status).toBe(401)
    }))

  it.effect("/api/whoami of a new session: isNew, no cookie, no command", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [reply, stats] = yield* counting(ctx, request("/api/whoami"))
      const now = Math.floor(Date.now() / 1000)
      expect(reply.json).toMatchObject({ user: null, isNew: true, timeout: 1200 })
      expect(Math.abs(reply.json.created - now)).toBeLessThanOrEqual(2)
      expect(Math.abs(reply.json.expires - (now + 1200))).toBeLessThanOrEqual(2)
      expect(reply.setCookie).toBeUndefined()
      expectCommands(stats, {})
    }))

  it.effect("/api/flash and /api/flashes: queued in order, popped once", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [first, stats] = yield* counting(ctx, request("/api/flash?msg=hello"))
      expect(first.json).toEqual({ ok: true })
      expectNewSessionCookie(first)
      expectCommands(stats, { set: 1 })
      const cookie = first.cookie
      expect((yield* request("/api/flash?msg=world%20%3C3", { cookie })).json).toEqual({ ok: true })
      const [popped, stats2] = yield* counting(ctx, request("/api/flashes", { cookie }))
      expect(popped.json).toEqual({ messages: ["hello", "world <3"] })
      expectCommands(stats2, { getex: 1, set: 1 })
      const [empty, stats3] = yield* counting(ctx, request("/api/flashes", { cookie }))
      expect(empty.json).toEqual({ messages: [] })
      // nothing changed: no write
      expectCommands(stats3, { getex: 1 })
      expect((yield* request("/api/flash")).status).toBe(400)
      expect((yield* request("/api/flash?msg=")).status).toBe(400)
      // flashes of a new session: empty, nothing written, no cookie
      const fresh = yield* request("/api/flashes")
      expect(fresh.json).toEqual({ messages: [] })
      expect(fresh.setCookie).toBeUndefined()
    }))

  it.effect("/api/csrf: the forms' token, in an HttpOnly SameSite=Strict cookie too; no session, no command", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const [first, stats] = yield* counting(ctx, request("/api/csrf"))
      expect(first.json.token).toMatch(/^[A-Za-z0-9_-]{100,}$/)
      expect(first.csrf).toBe(`csrf=${first.json.token}`)
      expect(first.setCookie).toMatch(/^csrf=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/)
      expect(first.cookie).toBeUndefined()
      expectCommands(stats, {})
      const [again, stats2] = yield* counting(ctx, request("/api/csrf", { cookie: first.csrf }))
      expect(again.json).toEqual(first.json)
      expect(again.setCookie).toBeUndefined()
      expectCommands(stats2, {})
      const other = yield* request("/api/csrf")
      expect(other.json.token).not.toBe(first.json.token)
      // a cookie the server did not sign is replaced
      const forged = yield* request("/api/csrf", { cookie: "csrf=forged" })
      expect(forged.json.token).not.toBe("forged")
      expect(forged.csrf).toBe(`csrf=${forged.json.token}`)
    }))

  it.effect("/api/adjust-timeout: this session's timeout; bad input is a 400", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const cookie = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/adjust-timeout?seconds=60", { cookie }))
      expect(reply.json).toEqual({ timeout: 60 })
      expect(reply.setCookie).toBeUndefined()
      expectCommands(stats, { getex: 1, set: 1 })
      const now = Math.floor(Date.now() / 1000)
      const who = (yield* request("/api/whoami", { cookie })).json
      expect(who.timeout).toBe(60)
      expect(Math.abs(who.expires - (now + 60))).toBeLessThanOrEqual(2)
      if (ctx.redis !== undefined) {
        // GETEX slides to the policy's timeout; the session's own one is restored after the response
        const redis = ctx.redis
        const ttl = yield* Effect.promise(async () => {
          const client = new Redis(redis.url, { lazyConnect: true })
          try {
            await client.connect()
            for (let i = 0; i < 20; i++) {
              const t = await client.ttl(sessionIdOf(cookie))
              if (t <= 60) return t
              await new Promise((resolve) => setTimeout(resolve, 50))
            }
            return await client.ttl(sessionIdOf(cookie))
          } finally {
            client.disconnect()
          }
        })
        expect(ttl).toBeGreaterThan(55)
        expect(ttl).toBeLessThanOrEqual(60)
      }
      for (
        const path of [
          "/api/adjust-timeout",
          "/api/adjust-timeout?seconds=",
          "/api/adjust-timeout?seconds=abc",
          "/api/adjust-timeout?seconds=-1",
          "/api/adjust-timeout?seconds=1.5",
          "/api/adjust-timeout?seconds=1e99"
        ]
      ) {
        const bad = yield* request(path, { cookie })
        expect(bad.status, path).toBe(400)
        expect(bad.json).toEqual({ error: expect.any(String) })
      }
    }))

  it.effect("/api/cookie-max-age: re-sends the cookie with Max-Age; bad input is a 400", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const cookie = yield* newSession
      const [reply, stats] = yield* counting(ctx, request("/api/cookie-max-age?seconds=3600", { cookie }))
      expect(reply.json).toEqual({ maxAge: 3600 })
      expect(reply.setCookie).toMatch(/Max-Age=3600/)
      expect(reply.cookie).toBe(cookie)
      // re-sending the cookie needs no store access
      expectCommands(stats, {})
      // without a session there is nothing to re-send
      const fresh = yield* request("/api/cookie-max-age?seconds=60")
      expect(fresh.json).toEqual({ maxAge: 60 })
      expect(fresh.setCookie).toBeUndefined()
      for (const path of ["/api/cookie-max-age", "/api/cookie-max-age?seconds=x", "/api/cookie-max-age?seconds=-5"]) {
        const bad = yield* request(path, { cookie })
        expect(bad.status, path).toBe(400)
        expect(bad.setCookie).toBeUndefined()
      }
    }))

  /** Sends several cookies at once, like a browser's jar. */
  const jar = (...cookies: ReadonlyArray<string | undefined>) =>
    cookies.filter((c) => c !== undefined).join("; ") || undefined
  const tokenOf = (html: string) => /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] ?? ""

  it.effect("GET / for a visitor who only looks: a CSRF cookie, no session, no store command, no key", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const keysBefore = ctx.redis === undefined ? [] : yield* Effect.promise(() => ctx.redis!.keys())
      const [first, stats] = yield* counting(ctx, request("/"))
      expect(first.status).toBe(200)
      expect(first.headers["content-type"]).toMatch(/^text\/html/)
      expect(first.headers["cache-control"]).toBe("no-store")
      expect(first.text).toContain("You are not logged in.")
      expect(first.cookie).toBeUndefined()
      expect(first.csrf).toBe(`csrf=${tokenOf(first.text)}`)
      expectCommands(stats, {})
      const [, looking] = yield* counting(
        ctx,
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) =>
            Effect.tap(request("/", { cookie: i % 2 === 0 ? first.csrf : undefined }), (reply) => {
              expect(reply.status).toBe(200)
              expect(reply.cookie).toBeUndefined()
              if (i % 2 === 0) expect(reply.setCookie).toBeUndefined()
            })
        )
      )
      expectCommands(looking, {})
      if (ctx.redis !== undefined) expect(yield* Effect.promise(() => ctx.redis!.keys())).toEqual(keysBefore)
    }))

  it.effect("a form without a valid CSRF token gets the 403 page, with a link back and no cookie", () =>
    Effect.gen(function*() {
      const first = yield* request("/")
      const token = tokenOf(first.text)
      const cases: ReadonlyArray<readonly [string, string | undefined, Record<string, string>]> = [
        ["a wrong token", first.csrf, { user: "alice", csrf_token: `${token.slice(0, -2)}xx` }],
        ["no token", first.csrf, { user: "alice" }],
        ["no cookie", undefined, { user: "alice", csrf_token: token }],
        ["an unsigned cookie and the same token", "csrf=forged", { user: "alice", csrf_token: "forged" }],
        ["another browser's token", (yield* request("/api/csrf")).csrf, { user: "alice", csrf_token: token }]
      ]
      for (const [what, cookie, form] of cases) {
        for (const path of ["/login", "/incr", "/logout", "/sessions/revoke-others"]) {
          const denied = yield* request(path, { method: "POST", cookie, form })
          expect(denied.status, `${what} ${path}`).toBe(403)
          expect(denied.headers["content-type"]).toMatch(/^text\/html/)
          expect(denied.headers["cache-control"]).toBe("no-store")
          expect(denied.text).toContain("<a href=\"/\">Back to the demo page</a>")
          expect(denied.setCookie).toBeUndefined()
        }
      }
    }))

  it.effect("GET / and its forms: counter kept across login, flash shown once, logout, errors in red", () =>
    Effect.gen(function*() {
      const first = yield* request("/")
      const token = tokenOf(first.text)
      const counted = yield* request("/incr", { method: "POST", cookie: first.csrf, form: { csrf_token: token } })
      expect(counted.status).toBe(303)
      expect(counted.headers["location"]).toBe("/")
      expectNewSessionCookie(counted)
      const anonymous = counted.cookie

      const login = yield* request("/login", {
        method: "POST",
        cookie: jar(anonymous, first.csrf),
        form: { user: "<alice>", csrf_token: token }
      })
      expect(login.status).toBe(303)
      expectNewSessionCookie(login)
      expect(login.cookie).not.toBe(anonymous)
      // a new CSRF token when the session changes hands
      expect(login.csrf).toBeDefined()
      expect(login.csrf).not.toBe(first.csrf)
      // the pre-login session id is gone; its data moved
      expect((yield* request("/api/read", { cookie: anonymous })).json).toEqual({ n: null })
      const cookies = jar(login.cookie, login.csrf)

      const home = yield* request("/", { cookie: cookies })
      expect(home.text).toContain("Logged in as <strong>&lt;alice&gt;</strong>")
      expect(home.text).toContain("<ul class=\"box info\" role=\"status\"><li>Welcome, &lt;alice&gt;!</li></ul>")
      expect(home.text).toContain("Counter: <strong>1</strong>")
      expect(home.text).not.toContain("<alice>")
      const newToken = tokenOf(home.text)
      expect(`csrf=${newToken}`).toBe(login.csrf)
      expect((yield* request("/", { cookie: cookies })).text).not.toContain("Welcome")

      yield* request("/incr", { method: "POST", cookie: cookies, form: { csrf_token: newToken } })
      expect((yield* request("/", { cookie: cookies })).text).toContain("Counter: <strong>2</strong>")

      // the token from before login does not work any more
      const stale = yield* request("/logout", { method: "POST", cookie: cookies, form: { csrf_token: token } })
      expect(stale.status).toBe(403)
      const logout = yield* request("/logout", { method: "POST", cookie: cookies, form: { csrf_token: newToken } })
      expect(logout.status).toBe(303)
      // a fresh session carries the "logged out" flash, with a fresh token
      expectNewSessionCookie(logout)
      expect(logout.csrf).not.toBe(login.csrf)
      const afterCookies = jar(logout.cookie, logout.csrf)
      const after = yield* request("/", { cookie: afterCookies })
      expect(after.text).toContain("You are logged out.")
      expect(after.text).toContain("You are not logged in.")
      expect(after.text).toContain("Counter: <strong>0</strong>")
      expect((yield* request("/", { cookie: afterCookies })).text).not.toContain("You are logged out.")
      expect((yield* request("/api/whoami", { cookie: login.cookie })).json).toMatchObject({ user: null })

      // an empty user name is refused with an error flash (the red box), not an error page
      const empty = yield* request("/login", {
        method: "POST",
        cookie: afterCookies,
        form: { user: "  ", csrf_token: tokenOf(after.text) }
      })
      expect(empty.status).toBe(303)
      expect((yield* request("/", { cookie: afterCookies })).text).toContain(
        "<ul class=\"box error\" role=\"alert\"><li>Please enter a user name of 1 to 64 characters.</li></ul>"
      )
    }))

  it.effect("the page shows the store, the session's facts, its cookie's attributes and this request's commands", () =>
    Effect.gen(function*() {
      const ctx = yield* context
      const fresh = (yield* request("/")).text
      expect(fresh).toContain(
        ctx.redis === undefined
          ? "in-memory (none of REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_URL set)"
          : `Redis at ${ctx.redis.url}`
      )
      expect(fresh).toContain("new: this request brought no valid session cookie")
      expect(fresh).toContain("<dt>Handle</dt><dd>none yet (not stored)</dd>")
      expect(fresh).toContain("<dt>Store commands</dt><dd>none<br>")
      expect(fresh).toMatch(
        /<dt>Cookies set<\/dt><dd><ul><li><code>csrf=&lt;\d+ characters&gt;; Path=\/; HttpOnly; SameSite=Strict<\/code>/
      )
      expect(fresh).toContain("<code>session=&lt;signed id&gt;; Path=/; HttpOnly; SameSite=Lax</code>")
      expect(fresh).toContain("1200 s after the last activity")
      expect(fresh).toContain("<dt>Absolute deadline</dt><dd>none (no maximum lifetime)</dd>")

      const cookie = yield* newSession
      const [existing, stats] = yield* counting(ctx, request("/", { cookie }))
      expect(existing.text).toContain("existing: loaded from the store")
      expect(existing.text).toContain("Counter: <strong>1</strong>")
      const handle = /<dt>Handle<\/dt><dd><code>([A-Za-z0-9_-]+)<\/code>/.exec(existing.text)?.[1]
      expect(handle).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(existing.text).not.toContain(cookie.slice("session=".length))
      if (ctx.redis !== undefined) expect(existing.text).not.toContain(sessionIdOf(cookie))
      // the page's count is what the store saw
      expect(existing.text).toContain("<dt>Store commands</dt><dd><code>GETEX</code> ×1<br>")
      expectCommands(stats, { getex: 1 })
      // the flash popped on this page is written after rendering, and counted
      yield* request("/api/flash?msg=hi", { cookie })
      const [flashed, stats2] = yield* counting(ctx, request("/", { cookie }))
      expect(flashed.text).toContain("<dt>Store commands</dt><dd><code>GETEX</code> ×1, <code>SET</code> ×1<br>")
      expectCommands(stats2, { getex: 1, set: 1 })
    }))

  it.effect("sign out the others: a POST form with the CSRF token; a GET changes nothing", () =>
    Effect.gen(function*() {
      const laptop = (yield* request("/api/login?user=yan", { headers: { "user-agent": "laptop browser" } })).cookie
      const phone = (yield* request("/api/login?user=yan", { headers: { "user-agent": "phone browser" } })).cookie
      const page = yield* request("/", { cookie: laptop })
      expect(page.text).toContain("laptop browser, since")
      expect(page.text).toContain("phone browser, since")
      expect(page.text).toContain("<form class=\"inline\" method=\"post\" action=\"/sessions/revoke-others\">")
      const cookies = jar(laptop, page.csrf)
      const revoked = yield* request("/sessions/revoke-others", {
        method: "POST",
        cookie: cookies,
        form: { csrf_token: tokenOf(page.text) }
      })
      expect(revoked.status).toBe(303)
      const after = yield* request("/", { cookie: cookies })
      expect(after.text).toContain("Signed out 1 other session.")
      expect(after.text).not.toContain("phone browser")
      expect((yield* request("/api/whoami", { cookie: phone })).json).toMatchObject({ user: null })
      expect((yield* request("/sessions/revoke-others", { cookie: cookies })).status).toBe(404)
    }))

  it.effect("the served pages pass the structural HTML check", () =>
    Effect.gen(function*() {
      const anonymous = yield* request("/")
      const user = (yield* request("/api/login?user=%3Cb%3Eval%22id%22", { headers: { "user-agent": "a<b>\"c\"" } }))
        .cookie
      yield* request("/api/flash?msg=%3Cscript%3E", { cookie: user })
      const loggedIn = yield* request("/", { cookie: user })
      expect(loggedIn.text).toContain("Logged in as")
      const forbidden = yield* request("/incr", { method: "POST", form: {} })
      for (const [name, reply] of [["anonymous", anonymous], ["logged in", loggedIn], ["403", forbidden]] as const) {
        expect(problems(reply.text), name).toEqual([])
      }
    }))

  it.effect("unknown routes are 404", () =>
    Effect.gen(function*() {
      const reply = yield* request("/api/nope")
      expect(reply.status).toBe(404)
      expect(reply.setCookie).toBeUndefined()
    }))
}

// -----------------------------------------------------------------------------
// suites
// -----------------------------------------------------------------------------

describe("maskUrl", () => {
  it("hides the password", () => {
    expect(maskUrl("redis://user:hunter2@example.com:6380/1")).toBe("redis://user:***@example.com:6380/1")
    expect(maskUrl("rediss://:hunter2@example.com")).toBe("rediss://:***@example.com")
    expect(maskUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379")
    expect(maskUrl("not a url :hunter2@")).toBe("<unparseable URL>")
  })
})

describe("the structural HTML check", () => {
  const page = (body: string) =>
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>t</title>\n</head>\n<body>\n<h1>t</h1>\n${body}\n</body>\n</html>\n`
  it("passes a well-formed page", () => {
    expect(problems(page("<p>a <a href=\"/\">b</a></p>\n<label for=\"u\">U</label><input id=\"u\" name=\"u\">")))
      .toEqual([])
  })
  it.each([
    ["a form inside a p", "<p><form method=\"post\" action=\"/\"></form></p>", "<form> inside <p>"],
    ["an unlabelled input", "<input id=\"u\" name=\"u\">", "<input name=\"u\"> without a label"],
    ["a repeated id", "<i id=\"x\"></i><i id=\"x\"></i>", "id \"x\" repeated"],
    ["an unclosed element", "<div>", "</body> closes <div>"],
    ["a second h1", "<h1>again</h1>", "2 <h1> elements"],
    ["crossed elements", "<b><i></b></i>", "</b> closes <i>"]
  ])("finds %s", (_name, body, problem) => {
    expect(problems(page(body))).toContain(problem)
  })
})

layer(MemoryLive, { excludeTestServices: true })("demo over HTTP, in-memory store", (it) => {
  routeTests(it, Effect.succeed<Ctx>({ redis: undefined }))
})

layer(RedisLive, { excludeTestServices: true })("demo over HTTP, Redis (commands counted)", (it) => {
  routeTests(it, Effect.map(RedisServer, (redis): Ctx => ({ redis })))

  /** Retries until `check` holds, every 100 ms, for up to `seconds`. */
  const eventually = <A, E, R>(self: Effect.Effect<A, E, R>, seconds: number) =>
    self.pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: seconds * 10 }))

  const restartWhenDone = (redis: RedisServerHarness) =>
    Effect.addFinalizer(() => Effect.promise(() => redis.running ? Promise.resolve() : redis.restart()))

  it.scoped("Redis hung (SIGSTOP): a request that needs the store gets 503 within 2 s; others go on", () =>
    Effect.gen(function*() {
      const redis = yield* RedisServer
      const cookie = yield* newSession
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.resume()))
      redis.pause()
      const read = yield* request("/api/read", { cookie })
      expect(read.status).toBe(503)
      expect(read.millis).toBeLessThan(2000)
      expect(read.headers["retry-after"]).toBe("1")
      expect((yield* request("/api/noop", { cookie })).status).toBe(200)
      expect((yield* request("/api/read")).json).toEqual({ n: null })
      redis.resume()
      const back = yield* eventually(
        Effect.filterOrFail(request("/api/read", { cookie }), (r) => r.status === 200, () => new Error("not yet")),
        5
      )
      expect(back.json).toEqual({ n: 1 })
    }))

  it.scoped(
    "Redis killed: 503 within 2 s for the store, 200 for the rest; restarted: works again",
    () =>
      Effect.gen(function*() {
        const redis = yield* RedisServer
        yield* restartWhenDone(redis)
        const cookie = yield* newSession
        yield* Effect.promise(() => redis.kill())

        const read = yield* request("/api/read", { cookie })
        expect(read.status).toBe(503)
        expect(read.millis).toBeLessThan(2000)
        expect(read.text).toBe("Session store unavailable")
        expect(read.setCookie).toBeUndefined()

        const incr = yield* request("/api/incr", { cookie })
        expect(incr.status).toBe(503)
        expect(incr.millis).toBeLessThan(2000)

        // a new session's write fails in the commit: 503, and no cookie for a session that was never stored
        const fresh = yield* request("/api/incr")
        expect(fresh.status).toBe(503)
        expect(fresh.millis).toBeLessThan(2000)
        expect(fresh.setCookie).toBeUndefined()

        const logout = yield* request("/api/logout", { cookie })
        expect(logout.status).toBe(503)
        expect(logout.millis).toBeLessThan(2000)

        const noop = yield* request("/api/noop", { cookie })
        expect(noop.status).toBe(200)
        expect(noop.text).toBe("ok")
        expect((yield* request("/api/read")).json).toEqual({ n: null })
        expect((yield* request("/api/whoami")).status).toBe(200)

        yield* Effect.promise(() => redis.restart())
        // the private server keeps no data across restarts: the old session is gone, the app works again
        const back = yield* eventually(
          Effect.filterOrFail(request("/api/read", { cookie }), (r) => r.status === 200, () => new Error("not yet")),
          5
        )
        expect(back.json).toEqual({ n: null })
        const again = yield* newSession
        expect((yield* request("/api/incr", { cookie: again })).json).toEqual({ n: 2 })
      }),
    30_000
  )
})

const SmallPayloadsLive = demoServer([["SESSION_MAX_PAYLOAD_BYTES", "1500"]])

layer(SmallPayloadsLive, { excludeTestServices: true })("demo over HTTP, SESSION_MAX_PAYLOAD_BYTES=1500", (it) => {
  it.effect("a session that would grow past the limit answers 413 and keeps what it had", () =>
    Effect.gen(function*() {
      const first = yield* request(`/api/set?key=a&value=${"x".repeat(1000)}`)
      expect(first.status).toBe(200)
      const cookie = first.cookie
      const second = yield* request(`/api/set?key=b&value=${"y".repeat(1000)}`, { cookie })
      expect(second.status).toBe(413)
      expect(second.setCookie).toBeUndefined()
      expect((yield* request("/api/whoami", { cookie })).json).toMatchObject({ isNew: false })
    }))
})
