/**
 * The demo's session keys and the session steps its page and its JSON API
 * share.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Session, UserSessions } from "../../src/index.js"

/** The counter. */
export const N = Session.key("n", Schema.Number)
/** The logged-in user. */
export const User = Session.key("user", Schema.String)

/** The flash queue of error messages; the default queue holds the rest. */
export const ERRORS = "error"

export const increment = Session.modify(N, (n) => Option.getOrElse(n, () => 0) + 1)

/** Logs in: the form keeps the anonymous counter; `/api/login` resets it (`resetCounter`), as it always has. */
export const login = (user: string, options: { readonly resetCounter: boolean }) =>
  Effect.gen(function*() {
    // A new session id on login, against session fixation; the data moves with it.
    yield* Session.regenerate
    yield* Session.set(User, user)
    if (options.resetCounter) yield* Session.set(N, 0)
    yield* Session.flash(`Welcome, ${user}!`)
    // Listed under the user's sessions ("sign out the others"), labelled by the browser.
    const agent = (yield* HttpServerRequest.HttpServerRequest).headers["user-agent"] ?? "unknown browser"
    yield* Effect.flatMap(Session.Session, (session) => session.bindUser(user, { label: agent.slice(0, 120) }))
  })

/** The logged-in user's sessions; the service is there when `SessionsLive` provides it. */
export const mySessions = Effect.gen(function*() {
  const user = yield* Session.get(User)
  const service = yield* Effect.serviceOption(UserSessions.UserSessions)
  if (Option.isNone(user) || Option.isNone(service)) return Option.none()
  const current = yield* Effect.flatMap(Session.Session, (session) => session.handle)
  const sessions = yield* service.value.list(user.value)
  return Option.some({ user: user.value, service: service.value, current, sessions })
})
