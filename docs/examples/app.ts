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
 * | `GET /`                             | HTML page: log in/out, a counter, flash messages, and what this request did with the session |
 * | `POST /login`, `/logout`, `/incr`, `/sessions/revoke-others` | the page's forms; CSRF checked (403 page), then `303 /` |
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
 * | `GET /api/csrf`                     | `{"token": ...}`: the forms' token, set in the `csrf` cookie too (no session) |
 * | `GET /api/boom`                     | writes n, then dies: 500                                     |
 * | `GET /api/cacheable`                | writes n, answers with `Cache-Control: public, max-age=60` (so no cookie) |
 * | `GET /api/nostore`                  | writes n, answers with `Cache-Control: no-store` (so the cookie is set) |
 * | `GET /api/adjust-timeout?seconds=S` | this session's idle timeout: `{"timeout": S}`                |
 * | `GET /api/cookie-max-age?seconds=S` | this response's cookie Max-Age: `{"maxAge": S}`              |
 *
 * The page's routes answer `Cache-Control: no-store` (Back after logout
 * shows no stale page) and run inside `withPageFacts`, which counts their
 * store commands (`commandCount.ts`). Their CSRF tokens need no session
 * (`csrf.ts`): a visitor who only looks stores nothing.
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
import { randomBytes } from "node:crypto"
import type { RedisClient, SessionDuration } from "../../src/index.js"
import { Session, SessionMiddleware, SessionPolicy, UserSessions } from "../../src/index.js"
import { makeBaselineSession } from "./baseline.js"
import * as CommandCount from "./commandCount.js"
import * as Csrf from "./csrf.js"
import { formRoutes, withPageFacts } from "./pageRoutes.js"
import { increment, login, mySessions, N, User } from "./sessionKeys.js"
import { StoreLive } from "./store.js"

export { CsrfMismatch } from "./pageRoutes.js"
export { N, User } from "./sessionKeys.js"

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

// -----------------------------------------------------------------------------
// handlers
// -----------------------------------------------------------------------------

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

const loggedOut = HttpServerResponse.unsafeJson({ error: "log in first" }, { status: 401 })

/**
 * The router. Every handler needs `Session` (except `/api/noop`, which never
 * asks for it); `makeApp` decides who provides it.
 */
export const router = formRoutes.pipe(
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
      yield* login(user, { resetCounter: true })
      return json({ user })
    })
  ),
  // Reading first lets the library take the session out of its user's index as it ends it.
  HttpRouter.get("/api/logout", Effect.as(Effect.zipRight(Session.get(User), Session.invalidate), json({ ok: true }))),
  HttpRouter.get("/api/whoami", whoami),
  HttpRouter.get(
    "/api/sessions",
    Effect.map(
      mySessions,
      Option.match({
        onNone: () => loggedOut,
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
        onNone: () => Effect.succeed(loggedOut),
        onSome: ({ current, service, user }) =>
          Effect.map(
            service.revokeAll(user, { except: Option.getOrUndefined(current) }),
            (revoked) => json({ revoked })
          )
      })
    )
  )
).pipe(
  HttpRouter.get(
    "/api/flash",
    Effect.gen(function*() {
      const { msg } = yield* query(Schema.Struct({ msg: NonEmpty("msg", 256) }))
      yield* Session.flash(msg)
      return json({ ok: true })
    })
  ),
  HttpRouter.get("/api/flashes", Effect.map(Session.popFlash(), (messages) => json({ messages }))),
  // The forms' token, for API clients that post the forms: keep the cookie it sets and send it back.
  HttpRouter.get(
    "/api/csrf",
    Effect.flatMap(
      Csrf.current,
      ({ isNew, token }) => isNew ? Csrf.setCookie(json({ token }), token) : Effect.succeed(json({ token }))
    )
  ),
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
// the app
// -----------------------------------------------------------------------------

export { makeBaselineSession } from "./baseline.js"

/** What the session app needs besides the request. */
export type SessionServices = SessionPolicy.SessionPolicy | RedisClient.RedisClient | Scope.Scope

/**
 * The demo app. `sessions: true` applies `SessionMiddleware.middleware`
 * (needs `SessionPolicy` and `RedisClient`) inside `withPageFacts`;
 * `sessions: false` provides the baseline stand-in (`makeBaselineSession`)
 * and needs nothing but a `SessionPolicy` for the page's CSRF cookie.
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
  if (options.sessions) return withPageFacts(SessionMiddleware.middleware(app))
  // The baseline has no sessions, but the page's CSRF cookie is signed with a policy's signer.
  const policy = Effect.runSync(
    SessionPolicy.make({ secret: Redacted.make(randomBytes(32).toString("base64url")), cookieSecure: false })
  )
  return app.pipe(
    Effect.provideService(Session.Session, makeBaselineSession()),
    Effect.provideService(SessionPolicy.SessionPolicy, policy)
  )
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

/** The store with its commands counted for the page (`commandCount.ts`); the counting client wins the merge. */
const CountedStoreLive = Layer.merge(StoreLive, Layer.provide(CommandCount.layer, StoreLive))

/** Store, policy and the users' sessions service: everything the session app needs. */
export const SessionsLive = UserSessions.layer.pipe(Layer.provideMerge(Layer.mergeAll(CountedStoreLive, PolicyLive)))

/**
 * The same services without the page's command counting: the library as an
 * application deploys it, for the benchmarks.
 */
export const SessionsUncountedLive = UserSessions.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(StoreLive, PolicyLive))
)
