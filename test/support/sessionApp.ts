/**
 * A small app that exercises the Session through the real middleware, and a
 * client that drives it in-process (`HttpApp.toWebHandlerRuntime`) with the
 * test's own runtime — so `TestClock` drives session time.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { RedisClientShape, SetOptions } from "../../src/RedisClient.js"
import { RedisClient } from "../../src/RedisClient.js"
import * as Session from "../../src/Session.js"
import type * as SessionDuration from "../../src/SessionDuration.js"
import * as SessionMiddleware from "../../src/SessionMiddleware.js"
import * as SessionPolicy from "../../src/SessionPolicy.js"

export const secret = Redacted.make("test-secret-test-secret-test-secret-0123")

const N = Session.key("n", Schema.Number)

const query = (name: string) =>
  Effect.map(HttpServerRequest.ParsedSearchParams, (params) => {
    const value = params[name]
    return typeof value === "string" ? value : ""
  })

const json = (body: unknown) => HttpServerResponse.unsafeJson(body)

/** A route that applies `?seconds=S` to the session. */
const withSeconds = <E>(
  apply: (session: Session.SessionShape, duration: SessionDuration.SessionDuration) => Effect.Effect<void, E>
) =>
  Effect.gen(function*() {
    const session = yield* Session.Session
    yield* apply(session, `${Number(yield* query("seconds"))} seconds` as const)
    return json({ ok: true })
  })

/** Increments n while another request deletes the session between the read and the write; succeeds with the id. */
const incrementRacingLogout = Effect.gen(function*() {
  const session = yield* Session.Session
  const n = yield* Session.get(N)
  const id = yield* session.ensureId
  yield* Effect.flatMap(RedisClient, (redis) => redis.del(id))
  yield* Session.set(N, Option.getOrElse(n, () => 0) + 1)
  return id
})

/**
 * Increments n while another request regenerates the session between the
 * read and the write (its key moves to `moved-away`); succeeds with the id.
 */
const incrementRacingRegenerate = Effect.gen(function*() {
  const session = yield* Session.Session
  const n = yield* Session.get(N)
  const id = yield* session.ensureId
  yield* Effect.flatMap(
    RedisClient,
    (redis) => Effect.flatMap(redis.get(id), (value) => redis.move(id, "moved-away", Option.getOrElse(value, () => "")))
  )
  yield* Session.set(N, Option.getOrElse(n, () => 0) + 1)
  return id
})

/** Two `persistNow` at once. */
const persistNowTwice = Effect.flatMap(
  Session.Session,
  (session) => Effect.all([session.persistNow, session.persistNow], { concurrency: "unbounded", discard: true })
)

export const routes = HttpRouter.empty.pipe(
  HttpRouter.get("/noop", Effect.succeed(HttpServerResponse.text("ok"))),
  HttpRouter.get("/read", Effect.map(Session.get(N), (n) => json({ n: Option.getOrNull(n) }))),
  HttpRouter.get(
    "/incr",
    Effect.map(Session.modify(N, (n) => Option.getOrElse(n, () => 0) + 1), (n) => json({ n }))
  ),
  HttpRouter.get(
    "/set",
    Effect.gen(function*() {
      yield* Session.set(yield* query("key"), yield* query("value"))
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/invalidate", Effect.as(Session.invalidate, json({ ok: true }))),
  HttpRouter.get(
    "/read-invalidate",
    Effect.gen(function*() {
      yield* Session.get(N)
      yield* Session.invalidate
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/login",
    Effect.gen(function*() {
      yield* Session.invalidate
      yield* Session.set("user", yield* query("user"))
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/regenerate", Effect.as(Session.regenerate, json({ ok: true }))),
  HttpRouter.get("/incr-racing-regenerate", Effect.map(incrementRacingRegenerate, (id) => json({ id }))),
  HttpRouter.get(
    "/login-regenerate",
    Effect.gen(function*() {
      yield* Session.regenerate
      yield* Session.set("user", yield* query("user"))
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/require",
    Session.require.pipe(
      Effect.as(json({ ok: true })),
      Effect.catchTags({
        NoSessionCookie: (e) => Effect.succeed(json({ refused: e._tag })),
        InvalidCookie: (e) => Effect.succeed(json({ refused: e._tag })),
        NotInBackend: (e) => Effect.succeed(json({ refused: e._tag })),
        LifetimeExceeded: (e) => Effect.succeed(json({ refused: e._tag })),
        PayloadTimeout: (e) => Effect.succeed(json({ refused: e._tag }))
      })
    )
  ),
  HttpRouter.get(
    "/lifetime",
    Effect.map(Effect.flatMap(Session.Session, (s) => s.lifetimeEnds), (ends) => json({ ends: Option.getOrNull(ends) }))
  ),
  HttpRouter.get("/clear", Effect.as(Effect.flatMap(Session.Session, (s) => s.clear), json({ ok: true }))),
  HttpRouter.get("/ensure-id", Effect.map(Effect.flatMap(Session.Session, (s) => s.ensureId), (id) => json({ id }))),
  HttpRouter.get(
    "/id-if-exists",
    Effect.map(Effect.flatMap(Session.Session, (s) => s.idIfExists), (id) => json({ id: Option.getOrNull(id) }))
  ),
  HttpRouter.get(
    "/nested-push",
    Effect.gen(function*() {
      const session = yield* Session.Session
      const list = yield* session.get("list")
      if (Option.isSome(list) && Array.isArray(list.value)) list.value.push(list.value.length)
      else yield* session.set("list", [0])
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/list", Effect.map(Session.get("list"), (list) => json({ list: Option.getOrNull(list) }))),
  HttpRouter.get(
    "/fail-after-write",
    Effect.flatMap(Session.set(N, 1), () => Effect.dieMessage("handler failed"))
  ),
  HttpRouter.get(
    "/cacheable",
    Effect.as(
      Session.set(N, 1),
      json({ n: 1 }).pipe(HttpServerResponse.setHeader("cache-control", "public, max-age=60"))
    )
  ),
  HttpRouter.get(
    "/whoami",
    Effect.gen(function*() {
      const s = yield* Session.Session
      return json({
        isNew: yield* s.isNew,
        created: yield* s.created,
        timeout: Option.getOrNull(yield* s.timeout),
        expires: Option.getOrNull(yield* s.expires)
      })
    })
  )
).pipe(
  HttpRouter.get(
    "/login-bind",
    Effect.gen(function*() {
      const session = yield* Session.Session
      const user = yield* query("user")
      yield* session.regenerate
      yield* session.set("user", user)
      yield* session.bindUser(user, { label: yield* query("label") })
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/handle",
    Effect.map(Effect.flatMap(Session.Session, (s) => s.handle), (handle) => json({ handle: Option.getOrNull(handle) }))
  ),
  HttpRouter.get("/unbind", Effect.as(Effect.flatMap(Session.Session, (s) => s.unbindUser), json({ ok: true }))),
  HttpRouter.get("/adjust-timeout", withSeconds((s, duration) => s.adjustTimeout(duration))),
  HttpRouter.get(
    "/regenerate-persist",
    Effect.gen(function*() {
      yield* Session.regenerate
      yield* Effect.flatMap(Session.Session, (s) => s.persistNow)
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/persist-then-grow",
    Effect.gen(function*() {
      const session = yield* Session.Session
      yield* session.set("n", 1)
      yield* session.persistNow
      const id = yield* session.ensureId
      yield* session.set("blob", "x".repeat(Number(yield* query("size"))))
      return json({ id })
    })
  ),
  HttpRouter.get("/cookie-max-age", withSeconds((s, duration) => s.adjustCookieMaxAge(duration))),
  HttpRouter.get("/cookie-expires", withSeconds((s, duration) => s.adjustCookieExpires(duration))),
  HttpRouter.get("/recookie", Effect.as(Effect.flatMap(Session.Session, (s) => s.recookie), json({ ok: true }))),
  HttpRouter.get("/refresh-now", Effect.as(Effect.flatMap(Session.Session, (s) => s.refreshNow), json({ ok: true }))),
  HttpRouter.get(
    "/adjust-expiry",
    Effect.gen(function*() {
      const session = yield* Session.Session
      yield* session.adjustPayloadExpiry(Number(yield* query("at")))
      return json({ ok: true })
    })
  )
).pipe(
  HttpRouter.get("/incr-racing-logout", Effect.map(incrementRacingLogout, (id) => json({ id }))),
  HttpRouter.get(
    "/read-typed",
    Session.get(N).pipe(
      Effect.map((n) => json({ n: Option.getOrNull(n) })),
      Effect.catchTag("SessionValueError", (error) => Effect.succeed(json({ error: error._tag, key: error.key })))
    )
  ),
  HttpRouter.get(
    "/read-concurrently",
    Effect.map(
      Effect.all([Session.get(N), Session.get("user"), Session.has("n")], { concurrency: "unbounded" }),
      ([n]) => json({ n: Option.getOrNull(n) })
    )
  ),
  HttpRouter.get(
    "/flash",
    Effect.gen(function*() {
      const queue = yield* query("queue")
      const unique = (yield* query("unique")) === "1"
      yield* Session.flash(yield* query("msg"), { queue, allowDuplicate: !unique })
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/peek-flash",
    Effect.map(
      Effect.flatMap(Session.Session, (s) => Effect.flatMap(query("queue"), (queue) => s.peekFlash(queue))),
      (messages) => json({ messages })
    )
  ),
  HttpRouter.get(
    "/pop-flash",
    Effect.map(Effect.flatMap(query("queue"), (queue) => Session.popFlash(queue)), (messages) => json({ messages }))
  ),
  HttpRouter.get("/csrf", Effect.map(Session.getCsrfToken, (token) => json({ token }))),
  HttpRouter.get(
    "/new-csrf",
    Effect.map(Effect.flatMap(Session.Session, (s) => s.newCsrfToken), (token) => json({ token }))
  ),
  HttpRouter.get(
    "/get",
    Effect.flatMap(query("key"), (key) =>
      Effect.map(
        Effect.all([Session.get(key), Session.has(key)]),
        ([value, has]) => json({ value: Option.getOrNull(value), has })
      ))
  ),
  HttpRouter.get(
    "/destructured",
    Effect.gen(function*() {
      const { get, set } = yield* Session.Session
      const n = yield* get("n")
      yield* set("n", Option.getOrElse(n, () => 0))
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/timeout-then-read",
    Effect.gen(function*() {
      yield* Effect.ignore(Effect.timeout(Session.get(N), "20 millis"))
      return json({ n: Option.getOrNull(yield* Session.get(N)) })
    })
  ),
  HttpRouter.get(
    "/racing-logout-persist-now",
    Effect.gen(function*() {
      const id = yield* incrementRacingLogout
      yield* Effect.flatMap(Session.Session, (session) => session.persistNow)
      return json({ id })
    })
  ),
  HttpRouter.get(
    "/write-then-499",
    Effect.as(Session.set(N, 1), HttpServerResponse.empty({ status: 499 }))
  ),
  HttpRouter.get(
    "/write-then-failing-pre-response",
    Effect.gen(function*() {
      yield* Session.set(N, 1)
      // Fails once: the platform then renders a 500 and runs the pre-response handlers again.
      let failed = false
      yield* HttpApp.appendPreResponseHandler((_request, response) => {
        if (failed) return Effect.succeed(response)
        failed = true
        return Effect.dieMessage("a later pre-response handler failed")
      })
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/persist-now",
    Effect.gen(function*() {
      yield* Session.set(N, 7)
      yield* Effect.flatMap(Session.Session, (s) => s.persistNow)
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/persist-then-mutate",
    Effect.gen(function*() {
      const session = yield* Session.Session
      const list = yield* session.get("list")
      yield* session.persistNow
      if (Option.isSome(list) && Array.isArray(list.value)) list.value.push("after-persist")
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/id-if-exists-then-clear",
    Effect.gen(function*() {
      const session = yield* Session.Session
      yield* Session.set(N, 1)
      const id = yield* session.idIfExists
      yield* session.clear
      return json({ id: Option.getOrNull(id) })
    })
  ),
  HttpRouter.get(
    "/persist-now-twice-at-once",
    Effect.as(Effect.zipRight(Session.set(N, 1), persistNowTwice), json({ ok: true }))
  )
).pipe(
  HttpRouter.get("/persist-now-twice-unloaded", Effect.as(persistNowTwice, json({ ok: true }))),
  HttpRouter.get(
    "/persist-now-forked",
    Effect.gen(function*() {
      const session = yield* Session.Session
      yield* Session.set(N, 1)
      // still writing when the handler returns and the commit starts
      yield* Effect.fork(session.persistNow)
      yield* Effect.yieldNow()
      return json({ ok: true })
    })
  ),
  HttpRouter.get(
    "/stream-persist-now",
    Effect.gen(function*() {
      const session = yield* Session.Session
      // A new session first written from the body, after the commit: its cookie can no longer be sent.
      const body = Stream.fromEffect(
        Effect.zipRight(Effect.zipRight(session.set("n", 1), session.persistNow), Effect.succeed("ok"))
      )
      return HttpServerResponse.stream(Stream.encodeText(body), { contentType: "text/plain" })
    })
  ),
  HttpRouter.get(
    "/stream-read",
    Effect.gen(function*() {
      const session = yield* Session.Session
      // The body is produced after the commit, when the middleware has let go of the request.
      const body = Stream.fromEffect(session.get("n")).pipe(
        Stream.map((n) => JSON.stringify({ n: Option.getOrNull(n) })),
        Stream.encodeText
      )
      return HttpServerResponse.stream(body, { contentType: "application/json" })
    })
  ),
  HttpRouter.get(
    "/persist-now-cacheable",
    Effect.gen(function*() {
      yield* Session.set(N, 7)
      yield* Effect.flatMap(Session.Session, (s) => s.persistNow)
      return json({ ok: true }).pipe(HttpServerResponse.setHeader("cache-control", "public"))
    })
  )
)

export const app = SessionMiddleware.middleware(HttpRouter.toHttpApp(routes).pipe(Effect.flatten))

export interface Reply {
  readonly status: number
  readonly body: unknown
  readonly headers: Headers
  /** All Set-Cookie header lines. */
  readonly setCookies: ReadonlyArray<string>
}

/** A client with a one-cookie jar, like a browser talking to one site. */
export const makeClient = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<SessionPolicy.SessionPolicy | RedisClient>()
  const handler = HttpApp.toWebHandlerRuntime(runtime)(app)
  let cookie: string | undefined

  const request = (path: string, options?: { readonly cookie?: string | undefined }) =>
    Effect.promise(async (): Promise<Reply> => {
      const sent = options !== undefined && "cookie" in options ? options.cookie : cookie
      const response = await handler(
        new Request(`http://localhost${path}`, { headers: sent === undefined ? {} : { cookie: `session=${sent}` } })
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
    },
    setCookie: (value: string | undefined) => {
      cookie = value
    }
  }
})

/** Records every command the engine sends (memory store). */
export const recording = (inner: RedisClientShape) => {
  const log: Array<string> = []
  const tap = <A, E>(name: string, effect: Effect.Effect<A, E>) =>
    Effect.zipRight(Effect.sync(() => log.push(name)), effect)
  const client: RedisClientShape = {
    get: (key) => tap("get", inner.get(key)),
    getEx: (key, ttl) => tap("getex", inner.getEx(key, ttl)),
    set: (key, value, options?: SetOptions) => tap("set", inner.set(key, value, options)),
    expire: (key, ttl) => tap("expire", inner.expire(key, ttl)),
    del: (key) => tap("del", inner.del(key)),
    ttl: (key) => inner.ttl(key),
    move: (from, to, value, options) => tap("move", inner.move(from, to, value, options)),
    getMany: (keys) => tap("mget", inner.getMany(keys)),
    indexAdd: (index, member, score, ttl) => tap("indexadd", inner.indexAdd(index, member, score, ttl)),
    indexMembers: (index) => tap("zrange", inner.indexMembers(index)),
    indexRemove: (index, members) => tap("zrem", inner.indexRemove(index, members)),
    mergePayload: (key, patch, options) => tap("merge", inner.mergePayload(key, patch, options))
  }
  return { client, log }
}

export const policyLayer = (options: Partial<SessionPolicy.Options> = {}) =>
  SessionPolicy.layer({ secret, cookieSecure: true, ...options })

export const layerWith = (redis: Layer.Layer<RedisClient>, options: Partial<SessionPolicy.Options> = {}) =>
  Layer.mergeAll(redis, Layer.orDie(policyLayer(options)))

/** `layerWith` over a store the test built itself (a recording or slowed-down one). */
export const layerWithStore = (store: RedisClientShape, options: Partial<SessionPolicy.Options> = {}) =>
  layerWith(Layer.succeed(RedisClient, store), options)

/** Runs `effect` a few scheduler turns late, so that operations of one request overlap. */
export const late = <A, E>(effect: Effect.Effect<A, E>, turns = 1): Effect.Effect<A, E> =>
  Effect.zipRight(Effect.repeatN(Effect.yieldNow(), turns - 1), effect)

/**
 * A store whose `SET`s answer `turns` scheduler turns late, so that writes
 * of one request can overlap; `sets` records each as `"NX <key>"`,
 * `"XX <key>"` or `"undefined <key>"`, in the order they were sent.
 */
export const slowSets = (store: RedisClientShape, turns = 1) => {
  const sets: Array<string> = []
  const client: RedisClientShape = {
    ...store,
    set: (key, value, options) =>
      Effect.zipRight(
        Effect.sync(() => sets.push(`${options?.condition} ${key}`)),
        late(store.set(key, value, options), turns)
      ),
    mergePayload: (key, patch, options) =>
      Effect.zipRight(
        Effect.sync(() => sets.push(`MERGE ${key}`)),
        late(store.mergePayload(key, patch, options), turns)
      )
  }
  return { client, sets }
}

/** A tracer that records the names of the spans it is asked to open. */
export const recordingTracer = () => {
  const names: Array<string> = []
  const builtin = Effect.runSync(Effect.tracer)
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      names.push(name)
      return builtin.span(name, parent, context, links, startTime, kind, options)
    },
    context: (f) => f()
  })
  return { tracer, names }
}

/**
 * A tracer of the application's own (the library opens spans only then) that
 * records each span once it has ended.
 */
export const endingTracer = Effect.map(Effect.tracer, (builtin) => {
  const ended: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = builtin.span(...args)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        ended.push(span)
      }
      return span
    },
    context: builtin.context
  })
  return { tracer, ended }
})
