/**
 * The demo application of effect-session-redis: an `HttpRouter` app whose
 * handlers use `Session`, plus the Layers that configure it from the
 * environment. `server.ts` serves it; `test/demo.test.ts` and
 * `bench/http.ts` build it on their own sockets.
 *
 * In an application of your own, import from `"effect-session-redis"`
 * instead of `"../../src/index.js"`.
 *
 * Routes (JSON unless said):
 *
 * | route                               | does                                                        |
 * |-------------------------------------|-------------------------------------------------------------|
 * | `GET /`                             | HTML page: log in/out, a counter, flash messages (CSRF forms) |
 * | `POST /login`, `/logout`, `/incr`   | the page's forms; CSRF checked (403), then `303 /`           |
 * | `GET /api/noop`                     | `ok` (text); never touches the session                       |
 * | `GET /api/read`                     | `{"n": number \| null}`                                      |
 * | `GET /api/incr`                     | `{"n": n + 1}` (the first one gives 1)                       |
 * | `GET /api/set?key=K&value=V`        | `{"key": K, "value": V}`                                     |
 * | `GET /api/login?user=U`             | a new session id (`regenerate`), user=U, n=0 and a welcome flash: `{"user": U}` |
 * | `GET /api/logout`                   | invalidates: `{"ok": true}`                                  |
 * | `GET /api/sessions`                  | the logged-in user's sessions: `{"sessions": [{handle, created, lastWrite, label, current}]}` (401 if not logged in) |
 * | `GET /api/sessions/revoke-others`   | signs out the user's other sessions: `{"revoked": n}` (401 if not logged in) |
 * | `GET /api/whoami`                   | `{"user", "isNew", "created", "timeout", "expires", "deadline"}` |
 * | `GET /api/flash?msg=M`              | `{"ok": true}`                                               |
 * | `GET /api/flashes`                  | pops the flash queue: `{"messages": [...]}`                  |
 * | `GET /api/csrf`                     | `{"token": ...}`                                             |
 * | `GET /api/boom`                     | writes n, then dies: 500                                     |
 * | `GET /api/cacheable`                | writes n, answers with `Cache-Control: public, max-age=60` (so no cookie) |
 * | `GET /api/nostore`                  | writes n, answers with `Cache-Control: no-store` (so the cookie is set) |
 * | `GET /api/adjust-timeout?seconds=S` | this session's idle timeout: `{"timeout": S}`                |
 * | `GET /api/cookie-max-age?seconds=S` | this response's cookie Max-Age: `{"maxAge": S}`              |
 *
 * Bad query input answers 400 with `{"error": ...}`; an unreachable store
 * answers 503 (`SessionStoreError` renders itself).
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { randomBytes, timingSafeEqual } from "node:crypto"
import type { RedisClient, SessionDuration } from "../../src/index.js"
import { Session, SessionMiddleware, SessionPolicy, UserSessions } from "../../src/index.js"
import { StoreLive } from "./store.js"

// -----------------------------------------------------------------------------
// session keys
// -----------------------------------------------------------------------------

/** The counter. */
export const N = Session.key("n", Schema.Number)
/** The logged-in user. */
export const User = Session.key("user", Schema.String)

/** Keys `/api/set` may not write: the typed keys above and the library's own (`_f_…`, `_csrft_`). */
const isReservedKey = (key: string) => key === N.name || key === User.name || key.startsWith("_")

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** Bad client input: renders as `400 {"error": ...}`. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.unsafeJson({ error: this.message }, { status: 400 }))
  }
}

/** A form without the session's CSRF token: renders as `403`. */
export class CsrfMismatch extends Schema.TaggedError<CsrfMismatch>()("CsrfMismatch", {}) {
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.unsafeJson({ error: "CSRF token missing or wrong" }, { status: 403 }))
  }
}

// -----------------------------------------------------------------------------
// input
// -----------------------------------------------------------------------------

/** `seconds: Unable to decode "abc" into a number`, one line per issue. */
const badRequest = (error: ParseResult.ParseError) =>
  new BadRequest({
    message: ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((issue) => issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`)
      .join("; ")
  })

/** Decodes the query string; any problem is a 400. */
const query = <A, I extends Readonly<Record<string, string | ReadonlyArray<string> | undefined>>>(
  schema: Schema.Schema<A, I>
) => Effect.mapError(HttpServerRequest.schemaSearchParams(schema), badRequest)

const Seconds = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "seconds must be a whole number" }),
  Schema.between(0, 10 * 365 * 24 * 3600, { message: () => "seconds must be between 0 and 315360000" })
)

const NonEmpty = (name: string, max: number) =>
  Schema.String.pipe(
    Schema.minLength(1, { message: () => `${name} must not be empty` }),
    Schema.maxLength(max, { message: () => `${name} must be at most ${max} characters` })
  )

const UserName = NonEmpty("user", 64)

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

const json = (body: unknown) => HttpServerResponse.unsafeJson(body)

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c] ?? c)

const page = (view: {
  readonly user: string | undefined
  readonly n: number | undefined
  readonly flashes: ReadonlyArray<unknown>
  readonly csrf: string
  readonly sessions: ReadonlyArray<{ readonly label: string; readonly created: number; readonly current: boolean }>
}) => {
  const csrf = `<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrf)}">`
  const flashes = view.flashes.length === 0
    ? ""
    : `<ul class="flash">${view.flashes.map((m) => `<li>${escapeHtml(String(m))}</li>`).join("")}</ul>`
  const who = view.user === undefined
    ? `<p>You are not logged in.</p>
<form method="post" action="/login">${csrf}
  <label>User name <input name="user" required maxlength="64" autofocus></label>
  <button>Log in</button>
</form>`
    : `<p>Logged in as <strong>${escapeHtml(view.user)}</strong>.</p>
<form method="post" action="/logout">${csrf}<button>Log out</button></form>
<h2>Your sessions</h2>
<ul class="sessions">${
      view.sessions.map((s) =>
        `<li>${escapeHtml(s.label)}, since ${new Date(s.created * 1000).toISOString()}${
          s.current ? " <strong>(this one)</strong>" : ""
        }</li>`
      ).join("")
    }</ul>
<p><a href="/api/sessions/revoke-others">Sign out the others</a> (<a href="/api/sessions">as JSON</a>)</p>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>effect-session-redis demo</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  .flash { background: #eef8ee; border: 1px solid #9c9; padding: .5rem 2rem; }
  form { display: inline-block; margin: .25rem 0; }
  code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
<h1>effect-session-redis demo</h1>
${flashes}
${who}
<p>Counter: <strong>${view.n ?? 0}</strong>
<form method="post" action="/incr">${csrf}<button>+1</button></form></p>
<p>JSON API: <code>/api/read</code>, <code>/api/incr</code>, <code>/api/whoami</code>,
<code>/api/login?user=U</code>, <code>/api/logout</code>, <code>/api/flash?msg=M</code>,
<code>/api/flashes</code>, <code>/api/csrf</code>, <code>/api/noop</code>.</p>
</body>
</html>
`
}

// -----------------------------------------------------------------------------
// handlers
// -----------------------------------------------------------------------------

const increment = Session.modify(N, (n) => Option.getOrElse(n, () => 0) + 1)

const login = (user: string) =>
  Effect.gen(function*() {
    // A new session id on login, against session fixation; the data moves with it.
    yield* Session.regenerate
    yield* Effect.flatMap(Session.Session, (session) => session.newCsrfToken)
    yield* Session.set(User, user)
    yield* Session.set(N, 0)
    yield* Session.flash(`Welcome, ${user}!`)
    // Listed under the user's sessions ("sign out the others"), labelled by the browser.
    const agent = (yield* HttpServerRequest.HttpServerRequest).headers["user-agent"] ?? "unknown browser"
    yield* Effect.flatMap(Session.Session, (session) => session.bindUser(user, { label: agent.slice(0, 120) }))
  })

/** The logged-in user's sessions; the service is there when `SessionsLive` provides it. */
const mySessions = Effect.gen(function*() {
  const user = yield* Session.get(User)
  const service = yield* Effect.serviceOption(UserSessions.UserSessions)
  if (Option.isNone(user) || Option.isNone(service)) return Option.none()
  const current = yield* Effect.flatMap(Session.Session, (session) => session.handle)
  const sessions = yield* service.value.list(user.value)
  return Option.some({ user: user.value, service: service.value, current, sessions })
})

/** Compares in constant time. */
const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The page's forms: a CSRF token, and the user name for /login. */
const Form = Schema.Struct({ csrf_token: Schema.String, user: Schema.optional(Schema.String) })

/** Reads the form body and checks its `csrf_token` against the session's: 403 when missing or wrong. */
const checkedForm = Effect.gen(function*() {
  const form = yield* HttpServerRequest.schemaBodyUrlParams(Form).pipe(Effect.mapError(() => new CsrfMismatch()))
  const session = yield* Session.Session
  // Look the token up without creating one: a session without a token never sent a form.
  const stored = yield* session.get("_csrft_")
  if (Option.isNone(stored) || typeof stored.value !== "string" || !sameToken(stored.value, form.csrf_token)) {
    return yield* new CsrfMismatch()
  }
  return form
})

const backHome = HttpServerResponse.redirect("/", { status: 303 })

/**
 * The page. Its forms carry a CSRF token, which lives in the session: so the
 * first visit creates a session (one SET) and sets the cookie. The page sets
 * no `Cache-Control` of its own; the middleware adds `Cache-Control: private`
 * and `Vary: Cookie` when it sets the cookie.
 */
const home = Effect.gen(function*() {
  const user = yield* Session.get(User)
  const n = yield* Session.get(N)
  const flashes = yield* Session.popFlash()
  const csrf = yield* Session.getCsrfToken
  const mine = yield* mySessions
  return HttpServerResponse.html(page({
    user: Option.getOrUndefined(user),
    n: Option.getOrUndefined(n),
    flashes,
    csrf,
    sessions: Option.match(mine, {
      onNone: () => [],
      onSome: ({ current, sessions }) =>
        sessions.map((s) => ({
          label: Option.getOrElse(s.label, () => "unknown browser"),
          created: s.created,
          current: Option.contains(current, s.handle)
        }))
    })
  }))
})

const whoami = Effect.gen(function*() {
  const session = yield* Session.Session
  const user = yield* Session.get(User)
  return json({
    user: Option.getOrNull(user),
    isNew: yield* session.isNew,
    created: yield* session.created,
    timeout: Option.getOrNull(yield* session.timeout),
    expires: Option.getOrNull(yield* session.expires),
    deadline: Option.getOrNull(yield* session.lifetimeEnds)
  })
})

/**
 * The router. Every handler needs `Session` (except `/api/noop`, which never
 * asks for it); `makeApp` decides who provides it.
 */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", home),
  HttpRouter.post(
    "/login",
    Effect.gen(function*() {
      const form = yield* checkedForm
      const user = (form.user ?? "").trim()
      if (user === "" || user.length > 64) {
        yield* Session.flash("Please enter a user name of 1 to 64 characters.")
        return backHome
      }
      yield* login(user)
      return backHome
    })
  ),
  HttpRouter.post(
    "/logout",
    Effect.gen(function*() {
      yield* checkedForm
      yield* Session.invalidate
      yield* Session.flash("You are logged out.")
      return backHome
    })
  ),
  HttpRouter.post(
    "/incr",
    Effect.gen(function*() {
      yield* checkedForm
      yield* increment
      return backHome
    })
  ),
  HttpRouter.get("/api/noop", Effect.succeed(HttpServerResponse.text("ok"))),
  HttpRouter.get("/api/read", Effect.map(Session.get(N), (n) => json({ n: Option.getOrNull(n) }))),
  HttpRouter.get("/api/incr", Effect.map(increment, (n) => json({ n }))),
  HttpRouter.get(
    "/api/set",
    Effect.gen(function*() {
      const { key, value } = yield* query(Schema.Struct({ key: NonEmpty("key", 64), value: Schema.String }))
      if (isReservedKey(key)) return yield* new BadRequest({ message: `key "${key}" is reserved` })
      if (value.length > 1024) return yield* new BadRequest({ message: "value must be at most 1024 characters" })
      yield* Session.set(key, value)
      return json({ key, value })
    })
  ),
  HttpRouter.get(
    "/api/login",
    Effect.gen(function*() {
      const { user } = yield* query(Schema.Struct({ user: UserName }))
      yield* login(user)
      return json({ user })
    })
  ),
  HttpRouter.get("/api/logout", Effect.as(Session.invalidate, json({ ok: true }))),
  HttpRouter.get("/api/whoami", whoami)
).pipe(
  HttpRouter.get(
    "/api/sessions",
    Effect.map(
      mySessions,
      Option.match({
        onNone: () => HttpServerResponse.unsafeJson({ error: "log in first" }, { status: 401 }),
        onSome: ({ current, sessions }) =>
          json({
            sessions: sessions.map((s) => ({
              handle: s.handle,
              created: s.created,
              lastWrite: Option.getOrNull(s.lastWrite),
              label: Option.getOrNull(s.label),
              current: Option.contains(current, s.handle)
            }))
          })
      })
    )
  ),
  HttpRouter.get(
    "/api/sessions/revoke-others",
    Effect.flatMap(
      mySessions,
      Option.match({
        onNone: () => Effect.succeed(HttpServerResponse.unsafeJson({ error: "log in first" }, { status: 401 })),
        onSome: ({ current, service, user }) =>
          Effect.map(
            service.revokeAll(user, { except: Option.getOrUndefined(current) }),
            (revoked) => json({ revoked })
          )
      })
    )
  ),
  HttpRouter.get(
    "/api/flash",
    Effect.gen(function*() {
      const { msg } = yield* query(Schema.Struct({ msg: NonEmpty("msg", 256) }))
      yield* Session.flash(msg)
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/api/flashes", Effect.map(Session.popFlash(), (messages) => json({ messages }))),
  HttpRouter.get("/api/csrf", Effect.map(Session.getCsrfToken, (token) => json({ token }))),
  HttpRouter.get(
    "/api/boom",
    Effect.gen(function*() {
      yield* increment
      return yield* Effect.dieMessage("boom (on purpose)")
    })
  ),
  HttpRouter.get(
    "/api/nostore",
    Effect.map(increment, (n) => HttpServerResponse.unsafeJson({ n }, { headers: { "cache-control": "no-store" } }))
  ),
  HttpRouter.get(
    "/api/cacheable",
    Effect.map(
      increment,
      (n) => HttpServerResponse.unsafeJson({ n }, { headers: { "cache-control": "public, max-age=60" } })
    )
  ),
  HttpRouter.get(
    "/api/adjust-timeout",
    Effect.gen(function*() {
      const { seconds } = yield* query(Schema.Struct({ seconds: Seconds }))
      const session = yield* Session.Session
      yield* session.adjustTimeout(Duration.seconds(seconds))
      return json({ timeout: seconds })
    })
  ),
  HttpRouter.get(
    "/api/cookie-max-age",
    Effect.gen(function*() {
      const { seconds } = yield* query(Schema.Struct({ seconds: Seconds }))
      const session = yield* Session.Session
      yield* session.adjustCookieMaxAge(Duration.seconds(seconds))
      return json({ maxAge: seconds })
    })
  )
)

// -----------------------------------------------------------------------------
// the baseline's stand-in session
// -----------------------------------------------------------------------------

/**
 * A `Session` without sessions, for the benchmark's baseline: ONE process-wide
 * `Map` shared by every client ("keyed by nothing"), no cookie, no store, no
 * middleware. Every route works; nothing is per client. `/api/read` is a Map
 * lookup and `/api/incr` a Map update, so the benchmark's ratio measures what
 * the session middleware plus a Redis round trip cost on top of the same
 * handler code.
 */
export const makeBaselineSession = (): Session.SessionShape => {
  const data = new Map<string, unknown>()
  const created = Math.floor(Date.now() / 1000)
  const popFlash = (queue = "") =>
    Effect.sync(() => {
      const messages = data.get(`_f_${queue}`)
      data.delete(`_f_${queue}`)
      return Array.isArray(messages) ? messages : []
    })
  const csrf = Effect.sync(() => {
    const token = randomBytes(32).toString("hex")
    data.set("_csrft_", token)
    return token
  })
  return Session.Session.of({
    get: (key) => Effect.sync(() => data.has(key) ? Option.some(data.get(key)) : Option.none()),
    set: (key, value) => Effect.sync(() => void data.set(key, value)),
    delete: (key) => Effect.sync(() => data.delete(key)),
    has: (key) => Effect.sync(() => data.has(key)),
    keys: Effect.sync(() => [...data.keys()]),
    entries: Effect.sync(() => [...data.entries()]),
    update: (values) => Effect.sync(() => Object.entries(values).forEach(([k, v]) => data.set(k, v))),
    clear: Effect.sync(() => data.clear()),
    pop: (key) =>
      Effect.sync(() => {
        const found = data.has(key) ? Option.some(data.get(key)) : Option.none()
        data.delete(key)
        return found
      }),
    changed: Effect.void,
    invalidate: Effect.sync(() => data.clear()),
    regenerate: Effect.void,
    require: Effect.void,
    lifetimeEnds: Effect.succeedNone,
    bindUser: () => Effect.void,
    unbindUser: Effect.void,
    boundUser: Effect.succeedNone,
    handle: Effect.succeedNone,
    ensureId: Effect.succeed("baseline"),
    idIfExists: Effect.sync(() => data.size === 0 ? Option.none() : Option.some("baseline")),
    flash: (message, options) =>
      Effect.sync(() => {
        const key = `_f_${options?.queue ?? ""}`
        const queue = data.get(key)
        const messages: Array<unknown> = Array.isArray(queue) ? queue : []
        if (options?.allowDuplicate === false && messages.includes(message)) return
        data.set(key, [...messages, message])
      }),
    peekFlash: (queue = "") =>
      Effect.sync(() => {
        const messages = data.get(`_f_${queue}`)
        return Array.isArray(messages) ? [...messages] : []
      }),
    popFlash,
    newCsrfToken: csrf,
    getCsrfToken: Effect.suspend(() => {
      const token = data.get("_csrft_")
      return typeof token === "string" ? Effect.succeed(token) : csrf
    }),
    adjustTimeout: () => Effect.void,
    adjustPayloadExpiry: () => Effect.void,
    adjustCookieMaxAge: () => Effect.void,
    adjustCookieExpires: () => Effect.void,
    recookie: Effect.void,
    persistNow: Effect.void,
    refreshNow: Effect.void,
    isNew: Effect.succeed(false),
    created: Effect.succeed(created),
    timeout: Effect.succeedNone,
    expires: Effect.succeedNone,
    storeAvailable: Effect.succeed(true)
  })
}

// -----------------------------------------------------------------------------
// the app
// -----------------------------------------------------------------------------

/** What the session app needs besides the request. */
export type SessionServices = SessionPolicy.SessionPolicy | RedisClient.RedisClient | Scope.Scope

/**
 * The demo app. `sessions: true` applies `SessionMiddleware.middleware`
 * (needs `SessionPolicy` and `RedisClient`); `sessions: false` provides the
 * baseline stand-in (`makeBaselineSession`) and needs nothing.
 */
export function makeApp(options: { readonly sessions: true }): HttpApp.Default<unknown, SessionServices>
export function makeApp(options: { readonly sessions: false }): HttpApp.Default<unknown, never>
export function makeApp(options: { readonly sessions: boolean }): HttpApp.Default<unknown, SessionServices>
export function makeApp(options: { readonly sessions: boolean }): HttpApp.Default<unknown, SessionServices> {
  const app = router.pipe(
    // Bad input is an answer, not a failure: it must not count as a failed request (`cookieOnException`).
    Effect.catchTags({
      BadRequest: HttpServerRespondable.toResponse,
      CsrfMismatch: HttpServerRespondable.toResponse,
      // A stored value that does not decode with its key's schema cannot happen in this app: a bug, so a 500.
      SessionValueError: (error) => Effect.die(error)
    })
  )
  return options.sessions
    ? SessionMiddleware.middleware(app)
    : Effect.provideService(app, Session.Session, makeBaselineSession())
}

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The policy: `SessionPolicy.layerConfig`, refusing cookies on cacheable
 * responses. Runs with no environment at all: without `SESSION_SECRET` it
 * generates a development secret, and unless `SESSION_COOKIE_SECURE` is set it
 * turns `Secure` off for plain-HTTP localhost. Any `SESSION_*` variable
 * overrides these code options.
 */
export const PolicyLive: Layer.Layer<
  SessionPolicy.SessionPolicy,
  SessionPolicy.InvalidPolicy | SessionDuration.InvalidDuration | ConfigError.ConfigError
> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const secret = yield* Config.option(Config.redacted("SESSION_SECRET"))
    const secure = yield* Config.option(Config.boolean("SESSION_COOKIE_SECURE"))
    const options: {
      -readonly [K in keyof SessionPolicy.Options]: SessionPolicy.Options[K]
    } = { responseAllowsCookie: SessionPolicy.refuseCacheableResponses }
    if (Option.isNone(secret)) {
      options.secret = Redacted.make(randomBytes(32).toString("base64url"))
      yield* Effect.logWarning(
        "SESSION_SECRET not set: using a random development secret (sessions will not survive a restart)"
      )
    }
    if (Option.isNone(secure)) {
      options.cookieSecure = false
      yield* Effect.logWarning(
        "SESSION_COOKIE_SECURE not set: session cookies without Secure (plain-HTTP development); set it to true behind HTTPS"
      )
    }
    return SessionPolicy.layerConfig(options)
  })
)

export { maskUrl, StoreInfo, StoreLive } from "./store.js"

/** Store, policy and the users' sessions service: everything the session app needs. */
export const SessionsLive = UserSessions.layer.pipe(Layer.provideMerge(Layer.mergeAll(StoreLive, PolicyLive)))
