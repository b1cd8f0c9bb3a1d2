/**
 * The session middleware in each of the three ways an @effect/platform app is
 * built — `HttpRouter` (any `HttpApp`), `HttpApi` and `HttpLayerRouter` —
 * over real sockets (`NodeHttpServer.layerTest`), with a browser-like cookie
 * jar (`HttpClient.withCookiesRef`). Real time throughout (`it.live`).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as CookieSigner from "../src/CookieSigner.js"
import * as InvalidSession from "../src/InvalidSession.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { layerWith, secret } from "./support/sessionApp.js"

// -----------------------------------------------------------------------------
// harness
// -----------------------------------------------------------------------------

type Options = Partial<SessionPolicy.Options>

/** The per-session timeout the TTL tests set, and the policy timeout it overrides. */
const policyTimeout = { timeout: "100 seconds" } satisfies Options
const longTimeout = "5000 seconds"

/**
 * Serves `server` on a real socket with an in-memory store and the given
 * policy; the test sees the `HttpClient` (pointed at the server) and the
 * same `RedisClient` the server uses.
 */
const serving = <E>(
  server: Layer.Layer<
    never,
    E,
    | HttpServer.HttpServer
    | HttpRouter.HttpRouter.DefaultServices
    | SessionPolicy.SessionPolicy
    | RedisClient.RedisClient
  >,
  options: Options = {},
  redis: Layer.Layer<RedisClient.RedisClient> = RedisClient.layerMemory
) =>
  server.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(layerWith(redis, options))
  )

interface Reply {
  readonly status: number
  readonly body: string
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The raw `Set-Cookie` header, if any. */
  readonly setCookie: string | undefined
}

/** A browser: one cookie jar, kept across requests. */
const browser = Effect.gen(function*() {
  const jar = yield* Ref.make(Cookies.empty)
  const client = HttpClient.withCookiesRef(yield* HttpClient.HttpClient, jar)
  const get = (path: string, headers: Readonly<Record<string, string>> = {}) =>
    client.get(path, { headers }).pipe(
      Effect.flatMap((response) =>
        Effect.map(response.text, (body): Reply => ({
          status: response.status,
          body,
          headers: response.headers,
          setCookie: response.headers["set-cookie"]
        }))
      )
    )
  return { get }
})

/** The TTL Redis reports for `id`, polled (real time) until it exceeds `above` or `within` ms pass. */
const ttlEventuallyAbove = (id: string, above: number, within = 1000) =>
  Effect.gen(function*() {
    const redis = yield* RedisClient.RedisClient
    const deadline = Date.now() + within
    let ttl = yield* redis.ttl(id)
    while (ttl <= above && Date.now() < deadline) {
      yield* Effect.sleep("20 millis")
      ttl = yield* redis.ttl(id)
    }
    return ttl
  })

/**
 * Every app below exposes the same session routes:
 * `/write` stores colour=blue, `/read` answers the colour (or `none`),
 * `/id` answers `ensureId`, `/adjust-timeout` sets a 5000 s timeout on the
 * session, `/untouched` never uses the session.
 *
 * A per-session timeout outlives the policy's: the read slides the TTL back
 * to the policy's 100 s (GETEX), and only the after-response EXPIRE restores
 * 5000 s. Seeing > 4000 s while the server is still up proves that refresh
 * runs in the request's scope, not when the server shuts down.
 */
const ttlRefreshRunsPerRequest = (decode: (body: string) => string = (body) => body) =>
  Effect.gen(function*() {
    const b = yield* browser
    yield* b.get("/write")
    const id = decode((yield* b.get("/id")).body)
    yield* b.get("/adjust-timeout")
    const read = yield* b.get("/read")
    expect(decode(read.body)).toBe("blue")
    expect(yield* ttlEventuallyAbove(id, 4000)).toBeGreaterThan(4000)
  })

const COLOUR = Session.key("colour", Schema.String)

const readColour = Effect.map(Session.get(COLOUR), Option.getOrElse(() => "none"))
const writeColour = Session.set(COLOUR, "blue")
const ensureId = Effect.flatMap(Session.Session, (session) => session.ensureId)
const adjustTimeout = Effect.flatMap(Session.Session, (session) => session.adjustTimeout(longTimeout))

const cookieAttributes = (setCookie: string | undefined) =>
  (setCookie ?? "").split(";").map((part) => part.trim().toLowerCase())

// Specifications every integration must meet: one body each, run against every app style.

/** A write sets an HttpOnly, SameSite=Lax, Path=/ session cookie. */
const writeSetsSessionCookie = Effect.gen(function*() {
  const b = yield* browser
  const write = yield* b.get("/write")
  expect(write.status).toBe(200)
  expect(write.setCookie).toMatch(/^session=[^;]+;/)
  expect(cookieAttributes(write.setCookie)).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/"]))
  return b
})

/** ... and the next request with the cookie reads the value back, varying on Cookie. */
const writeThenReadBack = (decode: (body: string) => string = (body) => body) =>
  Effect.gen(function*() {
    const b = yield* writeSetsSessionCookie
    const read = yield* b.get("/read")
    expect(read.status).toBe(200)
    expect(decode(read.body)).toBe("blue")
    expect(read.headers["vary"]).toBe("Cookie")
    expect(read.setCookie).toBeUndefined()
  })

/** A handler failing after a write answers 500; the caller checks the cookie. */
const failAfterWrite = Effect.gen(function*() {
  const b = yield* browser
  const failed = yield* b.get("/fail-after-write")
  expect(failed.status).toBe(500)
  return { b, failed }
})

/** With cookieOnException: false, that failure sends no cookie. */
const failAfterWriteSendsNoCookie = Effect.map(failAfterWrite, ({ failed }) => {
  expect(failed.setCookie).toBeUndefined()
})

/** A request that doesn't use the session gets no Set-Cookie and no Vary, even from a client with a session. */
const untouchedGetsNoSessionHeaders = Effect.gen(function*() {
  const b = yield* browser
  yield* b.get("/write")
  const untouched = yield* b.get("/untouched")
  expect(untouched.status).toBe(200)
  expect(untouched.setCookie).toBeUndefined()
  expect(untouched.headers["vary"]).toBeUndefined()
})

/** Behind the platform's CORS middleware, both Vary: Origin and Vary: Cookie survive a write. */
const corsKeepsBothVary = (path: string) =>
  Effect.gen(function*() {
    const b = yield* browser
    const write = yield* b.get(path, { origin: allowedOrigin })
    expect(write.headers["access-control-allow-origin"]).toBe(allowedOrigin)
    expect(write.headers["vary"]).toBe("Origin, Cookie")
    expect(write.setCookie).toMatch(/^session=/)
    return b
  })

// -----------------------------------------------------------------------------
// 1. HttpRouter / any HttpApp
// -----------------------------------------------------------------------------

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/write", Effect.as(writeColour, HttpServerResponse.text("ok"))),
  HttpRouter.get(
    "/write-vary-origin",
    Effect.as(writeColour, HttpServerResponse.text("ok", { headers: { vary: "Origin" } }))
  ),
  HttpRouter.get("/read", Effect.map(readColour, (colour) => HttpServerResponse.text(colour))),
  HttpRouter.get(
    "/read-vary-origin",
    Effect.map(readColour, (colour) => HttpServerResponse.text(colour, { headers: { vary: "Origin" } }))
  ),
  HttpRouter.get("/fail-after-write", Effect.zipRight(writeColour, Effect.dieMessage("handler failed"))),
  HttpRouter.get("/id", Effect.map(ensureId, (id) => HttpServerResponse.text(id))),
  HttpRouter.get("/adjust-timeout", Effect.as(adjustTimeout, HttpServerResponse.text("ok"))),
  HttpRouter.get("/untouched", Effect.succeed(HttpServerResponse.text("ok")))
)

/** The middleware at serve level: `HttpServer.serve(app, SessionMiddleware.middleware)`. */
const routerServedWithMiddleware = HttpServer.serve(router, SessionMiddleware.middleware)

/** The middleware applied to the app: `HttpServer.serve(SessionMiddleware.middleware(app))`. */
const routerWithAppLevelMiddleware = HttpServer.serve(SessionMiddleware.middleware(router))

/** The middleware applied to the app, and the platform's CORS at serve level. */
const allowedOrigin = "https://app.example"
const routerWithServeLevelCors = HttpServer.serve(
  SessionMiddleware.middleware(router),
  HttpMiddleware.cors({ allowedOrigins: [allowedOrigin], credentials: true })
)

describe("HttpRouter app", () => {
  it.live("a write sets an HttpOnly, SameSite=Lax, Path=/ cookie; the next request reads the value back and varies on Cookie", () =>
    writeThenReadBack().pipe(Effect.provide(serving(routerServedWithMiddleware))))

  it.live("Vary: Cookie is merged with the handler's Vary: Origin", () =>
    Effect.gen(function*() {
      const b = yield* browser
      const write = yield* b.get("/write-vary-origin")
      expect(write.headers["vary"]).toBe("Origin, Cookie")
      const read = yield* b.get("/read-vary-origin")
      expect(read.body).toBe("blue")
      expect(read.headers["vary"]).toBe("Origin, Cookie")
    }).pipe(Effect.provide(serving(routerServedWithMiddleware))))

  it.live("with the platform's CORS at serve level, both Vary: Origin and Vary: Cookie survive", () =>
    Effect.gen(function*() {
      const b = yield* corsKeepsBothVary("/write-vary-origin")
      const read = yield* b.get("/read", { origin: allowedOrigin })
      expect(read.body).toBe("blue")
      expect(read.headers["vary"]).toBe("Origin, Cookie")
    }).pipe(Effect.provide(serving(routerWithServeLevelCors))))

  it.live("a handler failing after a write answers 500 and still sets the cookie (cookieOnException default)", () =>
    Effect.gen(function*() {
      const { b, failed } = yield* failAfterWrite
      expect(failed.setCookie).toMatch(/^session=[^;]+;/)
      expect((yield* b.get("/read")).body).toBe("blue")
    }).pipe(Effect.provide(serving(routerWithAppLevelMiddleware))))

  it.live("with cookieOnException: false, a handler failing after a write answers 500 without Set-Cookie", () =>
    Effect.gen(function*() {
      const { b, failed } = yield* failAfterWrite
      expect(failed.setCookie).toBeUndefined()
      expect((yield* b.get("/read")).body).toBe("none")
    }).pipe(Effect.provide(serving(routerWithAppLevelMiddleware, { cookieOnException: false }))))

  // At serve level the platform renders and commits the 500 before the failure reaches the middleware:
  // the 5xx status is what tells the commit that the request failed.
  it.live("with cookieOnException: false and the middleware at serve level, a failing handler gets no Set-Cookie", () =>
    failAfterWriteSendsNoCookie.pipe(Effect.provide(serving(routerServedWithMiddleware, { cookieOnException: false }))))

  it.live("a request that never touches the session gets no Set-Cookie and no Vary", () =>
    untouchedGetsNoSessionHeaders.pipe(Effect.provide(serving(routerServedWithMiddleware))))

  it.live("the TTL-only refresh runs after each response, not at server shutdown", () =>
    ttlRefreshRunsPerRequest().pipe(Effect.provide(serving(routerServedWithMiddleware, policyTimeout))))
})

// -----------------------------------------------------------------------------
// 2. HttpApi
// -----------------------------------------------------------------------------

/** A typed error that renders as 500. */
class Boom extends Schema.TaggedError<Boom>()("Boom", {}, HttpApiSchema.annotations({ status: 500 })) {}

class SessionGroup extends HttpApiGroup.make("session")
  .add(HttpApiEndpoint.get("write", "/write").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("read", "/read").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("failAfterWrite", "/fail-after-write").addSuccess(Schema.String).addError(Boom))
  .add(HttpApiEndpoint.get("id", "/id").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("adjustTimeout", "/adjust-timeout").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("untouched", "/untouched").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("required", "/required").addSuccess(Schema.String).addError(InvalidSession.InvalidSession))
  .middlewareEndpoints(SessionMiddleware.HttpApiSession)
{}

class Api extends HttpApi.make("api").add(SessionGroup) {}

const SessionGroupLive = HttpApiBuilder.group(Api, "session", (handlers) =>
  handlers
    .handle("write", () =>
      Effect.gen(function*() {
        const session = yield* Session.Session
        yield* Effect.orDie(session.set("colour", "blue"))
        return "ok"
      }))
    .handle("read", () =>
      Effect.gen(function*() {
        const session = yield* Session.Session
        const colour = yield* Effect.orDie(session.get("colour"))
        return Option.match(colour, { onNone: () => "none", onSome: String })
      }))
    .handle("failAfterWrite", () =>
      Effect.gen(function*() {
        const session = yield* Session.Session
        yield* Effect.orDie(session.set("colour", "blue"))
        return yield* new Boom()
      }))
    .handle("id", () => Effect.flatMap(Session.Session, (session) => Effect.orDie(session.ensureId)))
    .handle("adjustTimeout", () =>
      Effect.flatMap(Session.Session, (session) =>
        Effect.orDie(Effect.as(session.adjustTimeout(longTimeout), "ok"))))
    .handle("untouched", () =>
      Effect.succeed("ok"))
    .handle("required", () =>
      Session.require.pipe(
        Effect.as("welcome back"),
        Effect.catchTags({
          SessionStoreError: Effect.die,
          SessionPayloadError: Effect.die
        })
      )))

const apiServer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(SessionGroupLive),
  Layer.provide(SessionMiddleware.layerHttpApi)
)

/** The same API behind the platform's CORS middleware. */
const apiServerWithCors = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.middlewareCors({ allowedOrigins: [allowedOrigin], credentials: true })),
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(SessionGroupLive),
  Layer.provide(SessionMiddleware.layerHttpApi)
)

/** A store whose every command fails, as when Redis is down. */
const redisDown: Layer.Layer<RedisClient.RedisClient> = Layer.succeed(
  RedisClient.RedisClient,
  (() => {
    const down = Effect.fail(
      new RedisClient.SessionStoreError({ command: "GET", reason: "Connection", detail: "down" })
    )
    return {
      get: () => down,
      getEx: () => down,
      set: () => down,
      expire: () => down,
      del: () => down,
      ttl: () => down,
      move: () => down,
      getMany: () => down,
      indexAdd: () => down,
      indexMembers: () => down,
      indexRemove: () => down,
      mergePayload: () => down
    }
  })()
)

describe("HttpApi", () => {
  it.live("Session.require declared as an endpoint error: 401 naming the cause without a valid session, 200 with one", () =>
    Effect.gen(function*() {
      const b = yield* browser
      const refused = yield* b.get("/required")
      expect(refused.status).toBe(401)
      expect(JSON.parse(refused.body)).toEqual({ _tag: "NoSessionCookie" })
      const tampered = yield* b.get("/required", { cookie: "session=tampered" })
      expect(tampered.status).toBe(401)
      expect(JSON.parse(tampered.body)).toEqual({ _tag: "InvalidCookie" })
      yield* b.get("/write")
      expect((yield* b.get("/required")).body).toBe("\"welcome back\"")
    }).pipe(Effect.provide(serving(apiServer))))

  it.live("a handler writes through the typed Session, and the next request reads it back with the cookie", () =>
    // HttpApi answers JSON strings
    writeThenReadBack(JSON.parse).pipe(Effect.provide(serving(apiServer))))

  it.live("with the platform's CORS middleware, both Vary: Origin and Vary: Cookie survive", () =>
    corsKeepsBothVary("/write").pipe(Effect.provide(serving(apiServerWithCors))))

  it.live("a typed 500 error after a write still sets the cookie by default", () =>
    Effect.gen(function*() {
      const { failed } = yield* failAfterWrite
      expect(JSON.parse(failed.body)).toEqual({ _tag: "Boom" })
      expect(failed.setCookie).toMatch(/^session=[^;]+;/)
    }).pipe(Effect.provide(serving(apiServer))))

  it.live("with cookieOnException: false, a typed 500 error after a write sends no cookie", () =>
    Effect.gen(function*() {
      const { failed } = yield* failAfterWrite
      expect(JSON.parse(failed.body)).toEqual({ _tag: "Boom" })
      expect(failed.setCookie).toBeUndefined()
    }).pipe(Effect.provide(serving(apiServer, { cookieOnException: false }))))

  it.live("a request that doesn't touch the session gets no Set-Cookie and no Vary", () =>
    untouchedGetsNoSessionHeaders.pipe(Effect.provide(serving(apiServer))))

  it.live("a session store error surfaced with Effect.orDie renders 503", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const cookie = `session=${CookieSigner.make(secret).sign("some-session-id")}`
      const response = yield* client.get("/read", { headers: { cookie } })
      expect(response.status).toBe(503)
      expect(yield* response.text).toBe("Session store unavailable")
      expect(response.headers["retry-after"]).toBe("1")
      expect(response.headers["set-cookie"]).toBeUndefined()
    }).pipe(Effect.provide(serving(apiServer, {}, redisDown))))

  it.live("the TTL-only refresh runs after each response, not at server shutdown", () =>
    // HttpApi answers JSON strings
    ttlRefreshRunsPerRequest(JSON.parse).pipe(Effect.provide(serving(apiServer, policyTimeout))))
})

// -----------------------------------------------------------------------------
// 3. HttpLayerRouter
// -----------------------------------------------------------------------------

const text = (body: string) => HttpServerResponse.text(body)

/** The routes that use the session, given `SessionMiddleware.layerRouter`. */
const SessionRoutes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/write", Effect.as(writeColour, text("ok"))),
  HttpLayerRouter.route("GET", "/read", Effect.map(readColour, text)),
  HttpLayerRouter.route("GET", "/fail-after-write", Effect.zipRight(writeColour, Effect.dieMessage("handler failed"))),
  HttpLayerRouter.route("GET", "/id", Effect.map(ensureId, text)),
  HttpLayerRouter.route("GET", "/adjust-timeout", Effect.as(adjustTimeout, text("ok")))
]).pipe(Layer.provide(SessionMiddleware.layerRouter))

/** A route not given the middleware. */
const PlainRoutes = HttpLayerRouter.add("GET", "/untouched", text("ok"))

const layerRouterServer = HttpLayerRouter.serve(Layer.mergeAll(SessionRoutes, PlainRoutes), {
  disableLogger: true,
  disableListenLog: true
})

const layerRouterServerWithCors = HttpLayerRouter.serve(
  Layer.mergeAll(
    SessionRoutes,
    PlainRoutes,
    HttpLayerRouter.cors({ allowedOrigins: [allowedOrigin], credentials: true })
  ),
  { disableLogger: true, disableListenLog: true }
)

describe("HttpLayerRouter", () => {
  it.live("a write sets the session cookie, and the next request reads the value back with it", () =>
    writeThenReadBack().pipe(Effect.provide(serving(layerRouterServer))))

  it.live("with cookieOnException: false, a handler failing after a write answers 500 without Set-Cookie", () =>
    failAfterWriteSendsNoCookie.pipe(Effect.provide(serving(layerRouterServer, { cookieOnException: false }))))

  it.live("a route not given the middleware sends no Set-Cookie and no Vary, even to a client with a session", () =>
    untouchedGetsNoSessionHeaders.pipe(Effect.provide(serving(layerRouterServer))))

  it.live("with the platform's CORS middleware, both Vary: Origin and Vary: Cookie survive", () =>
    corsKeepsBothVary("/write").pipe(Effect.provide(serving(layerRouterServerWithCors))))

  it("a route not given the middleware cannot use Session: the served layer still requires it (type level)", () => {
    const _unguarded = HttpLayerRouter.serve(HttpLayerRouter.add("GET", "/read", Effect.map(readColour, text)))
    expectTypeOf<Extract<Layer.Layer.Context<typeof _unguarded>, Session.Session>>().toEqualTypeOf<Session.Session>()
    expectTypeOf<Extract<Layer.Layer.Context<typeof layerRouterServer>, Session.Session>>().toEqualTypeOf<never>()
  })

  it.live("the TTL-only refresh runs after each response, not at server shutdown", () =>
    ttlRefreshRunsPerRequest().pipe(Effect.provide(serving(layerRouterServer, policyTimeout))))
})

// -----------------------------------------------------------------------------
// 4. Where the middleware sits: mounted, nested, a web Request handled twice
// -----------------------------------------------------------------------------

describe("SessionMiddleware.middleware wherever it sits", () => {
  it.live("HttpRouter mounted under a prefix: the session still commits", () =>
    Effect.gen(function*() {
      const b = yield* browser
      const write = yield* b.get("/app/write")
      expect(write.setCookie).toMatch(/^session=/)
      const read = yield* b.get("/app/read")
      expect(read.body).toBe("blue")
      expect(read.headers["vary"]).toBe("Cookie")
    }).pipe(
      Effect.provide(
        serving(
          HttpServer.serve(HttpRouter.empty.pipe(HttpRouter.mountApp("/app", SessionMiddleware.middleware(router))))
        )
      )
    ))

  it.live("a second middleware inside the first: the handler's session still commits", () =>
    writeThenReadBack().pipe(
      Effect.provide(serving(HttpServer.serve(SessionMiddleware.middleware(SessionMiddleware.middleware(router)))))
    ))

  it("HttpApp.toWebHandler: a web Request handled twice gets the commit of its own handling only", async () => {
    let calls = 0
    // The first handling writes the session; the second never touches it.
    const app = SessionMiddleware.middleware(HttpRouter.empty.pipe(
      HttpRouter.get(
        "/once",
        Effect.as(Effect.suspend(() => calls++ === 0 ? writeColour : Effect.void), HttpServerResponse.text("ok"))
      )
    ))
    const { dispose, handler } = HttpApp.toWebHandlerLayer(app, layerWith(RedisClient.layerMemory, {}))
    const request = new Request("http://localhost/once")
    const first = await handler(request)
    const second = await handler(request)
    await dispose()
    expect(first.headers.get("set-cookie")).toMatch(/^session=/)
    expect(second.headers.get("set-cookie")).toBeNull()
    expect(second.headers.get("vary")).toBeNull()
  })
})
