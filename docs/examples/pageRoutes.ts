/**
 * The demo's HTML page and its forms: what the page shows about the
 * session, the forms' CSRF check (`csrf.ts`), and `withPageFacts`, which
 * counts the store commands of each page request (`commandCount.ts`).
 * Pages answer `Cache-Control: no-store`, so Back after logout refetches
 * rather than showing what the session held.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Session, SessionPolicy, UserSessions } from "../../src/index.js"
import * as CommandCount from "./commandCount.js"
import * as Csrf from "./csrf.js"
import * as Page from "./page.js"
import { ERRORS, increment, login, mySessions, N, User } from "./sessionKeys.js"
import { StoreInfo } from "./store.js"

/** A form without a valid CSRF token: renders as a `403` HTML page with a link back. */
export class CsrfMismatch extends Schema.TaggedError<CsrfMismatch>()("CsrfMismatch", {}) {
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(htmlPage(Page.forbidden(), 403))
  }
}

/** An HTML page that shows session data: never stored by any cache, so Back after logout refetches it. */
export const htmlPage = (html: string, status = 200) =>
  HttpServerResponse.text(html, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: { "cache-control": "no-store" }
  })

/** The session cookie as the policy writes it, its value elided. */
const describeCookie = (cookie: SessionPolicy.CookiePolicy) =>
  [
    `${cookie.name}=<signed id>`,
    `Path=${cookie.path}`,
    ...(cookie.domain === undefined ? [] : [`Domain=${cookie.domain}`]),
    ...(cookie.maxAge === undefined ? [] : [`Max-Age=${cookie.maxAge}`]),
    ...(cookie.expires === undefined ? [] : ["Expires=…"]),
    ...(cookie.httpOnly ? ["HttpOnly"] : []),
    ...(cookie.secure ? ["Secure"] : []),
    `SameSite=${cookie.sameSite[0]?.toUpperCase()}${cookie.sameSite.slice(1)}`,
    ...(cookie.partitioned ? ["Partitioned"] : [])
  ].join("; ")

/** A `Set-Cookie` header with its value replaced by its length: the page shows attributes, never tokens. */
const elideValue = (header: string) =>
  header.replace(
    /^([^=]*)=([^;]*)/,
    (_all, name: string, value: string) => value === "" ? `${name}=` : `${name}=<${value.length} characters>`
  )

/**
 * Counts the store commands of the page's routes (not of `/api/*`, which
 * pays one URL check) and writes them, with the cookies the response sets,
 * where the page left `Page.responseFactsMarker`. The filling is a
 * pre-response handler registered after the session middleware's, so it
 * runs after the commit: its writes and its `Set-Cookie` are in the facts.
 */
export const withPageFacts = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) =>
      request.url.startsWith("/api/") ? app : Effect.gen(function*() {
        const tally = yield* CommandCount.start
        const response = yield* app
        yield* HttpApp.appendPreResponseHandler((_request, final) =>
          Effect.map(tally, (commands) => fillFacts(final, commands))
        )
        return response
      })
  )

const fillFacts = (response: HttpServerResponse.HttpServerResponse, commands: CommandCount.Tally) => {
  const body = response.body
  if (body._tag !== "Uint8Array") return response
  const text = new TextDecoder().decode(body.body)
  if (!text.includes(Page.responseFactsMarker)) return response
  const facts = Page.responseFacts([...commands], Cookies.toSetCookieHeaders(response.cookies).map(elideValue))
  return HttpServerResponse.setBody(
    response,
    HttpBody.text(text.replace(Page.responseFactsMarker, facts), body.contentType)
  )
}

/** The page's forms: a CSRF token, and the user name for /login. */
const Form = Schema.Struct({ csrf_token: Schema.optional(Schema.String), user: Schema.optional(Schema.String) })

/** Reads the form body and checks its `csrf_token` against the CSRF cookie: 403 when missing or wrong. */
const checkedForm = Effect.gen(function*() {
  const form = yield* HttpServerRequest.schemaBodyUrlParams(Form).pipe(Effect.mapError(() => new CsrfMismatch()))
  if (!(yield* Csrf.verify(form.csrf_token))) return yield* new CsrfMismatch()
  return form
})

const backHome = HttpServerResponse.redirect("/", { status: 303 })

/** Back to the page with a new CSRF token: at login and logout, when the session changes hands. */
const backHomeWithNewToken = Effect.flatMap(Csrf.fresh, (token) => Csrf.setCookie(backHome, token))

/** What the page shows about the session, read without creating or writing anything. */
const sessionFacts = Effect.gen(function*() {
  const session = yield* Session.Session
  return {
    isNew: yield* session.isNew,
    handle: Option.getOrUndefined(yield* session.handle),
    created: yield* session.created,
    timeout: Option.getOrUndefined(yield* session.timeout),
    idleDeadline: Option.getOrUndefined(yield* session.expires),
    absoluteDeadline: Option.getOrUndefined(yield* session.lifetimeEnds)
  }
})

/**
 * The page. A visitor who only looks creates no session: the forms' CSRF
 * token lives in a cookie of its own (`csrf.ts`), and reading a session that
 * does not exist costs nothing.
 */
const home = Effect.gen(function*() {
  const policy = yield* Effect.serviceOption(SessionPolicy.SessionPolicy)
  const store = yield* Effect.serviceOption(StoreInfo)
  const user = yield* Session.get(User)
  const n = yield* Session.get(N)
  const errors = yield* Session.popFlash(ERRORS)
  const infos = yield* Session.popFlash()
  const csrf = yield* Csrf.current
  const mine = yield* mySessions
  const userIndex = Option.isSome(yield* Effect.serviceOption(UserSessions.UserSessions))
  const response = htmlPage(Page.home({
    now: Math.floor((yield* Clock.currentTimeMillis) / 1000),
    store: Option.getOrElse(store, () => ({ kind: "unknown", description: "not reported (no StoreInfo)" })),
    user: Option.getOrUndefined(user),
    n: Option.getOrElse(n, () => 0),
    flashes: [
      ...errors.map((m) => ({ kind: "error" as const, text: String(m) })),
      ...infos.map((m) => ({ kind: "info" as const, text: String(m) }))
    ],
    csrf: csrf.token,
    session: yield* sessionFacts,
    cookiePolicy: Option.match(policy, {
      onNone: () => "none (no SessionPolicy)",
      onSome: (p) => describeCookie(p.cookie)
    }),
    userIndex,
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
  return csrf.isNew ? yield* Csrf.setCookie(response, csrf.token) : response
})

/** The page's forms. */
export const formRoutes = HttpRouter.empty.pipe(
  HttpRouter.get("/", home),
  HttpRouter.post(
    "/login",
    Effect.gen(function*() {
      const form = yield* checkedForm
      const user = (form.user ?? "").trim()
      if (user === "" || user.length > 64) {
        yield* Session.flash("Please enter a user name of 1 to 64 characters.", { queue: ERRORS })
        return backHome
      }
      yield* login(user, { resetCounter: false })
      return yield* backHomeWithNewToken
    })
  ),
  HttpRouter.post(
    "/logout",
    Effect.gen(function*() {
      yield* checkedForm
      yield* Session.invalidate
      yield* Session.flash("You are logged out.")
      return yield* backHomeWithNewToken
    })
  ),
  HttpRouter.post("/incr", Effect.as(Effect.zipRight(checkedForm, increment), backHome)),
  HttpRouter.post(
    "/sessions/revoke-others",
    Effect.gen(function*() {
      yield* checkedForm
      const mine = yield* mySessions
      if (Option.isNone(mine)) {
        yield* Session.flash("Log in first.", { queue: ERRORS })
        return backHome
      }
      const { current, service, user } = mine.value
      const revoked = yield* service.revokeAll(user, { except: Option.getOrUndefined(current) })
      yield* Session.flash(`Signed out ${revoked} other session${revoked === 1 ? "" : "s"}.`)
      return backHome
    })
  )
)
