/**
 * The `Session` a handler sees (`internal/sessionService.ts`): the operations
 * the behaviour specs leave aside, one request each on the memory store.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Session from "../src/Session.js"
import { cookieOf, send, withSessions } from "./support/oneRequest.js"

describe("Session operations", () => {
  /** Runs `body` in one request with the stored session `s1`, and answers with what it returns, as JSON. */
  const inSession = <A>(body: (session: Session.SessionShape) => Effect.Effect<A, unknown>) =>
    send(
      Effect.map(Effect.flatMap(Session.Session, body), (value) => HttpServerResponse.unsafeJson(value)),
      cookieOf("s1")
    )

  it.effect("keys and entries list the session's values; update sets several at once", () =>
    withSessions({}, () => ({}), ({ memory }) =>
      Effect.gen(function*() {
        const sent = yield* inSession((session) =>
          Effect.gen(function*() {
            yield* session.update({ a: "x", b: [1] })
            return { keys: yield* session.keys, entries: yield* session.entries }
          })
        )
        expect(JSON.parse(sent.body)).toEqual({ keys: ["n", "a", "b"], entries: [["n", 1], ["a", "x"], ["b", [1]]] })
        expect(JSON.parse(Option.getOrThrow(yield* memory.get("s1"))).m).toEqual({ n: 1, a: "x", b: [1] })
      })))

  it.effect("changed writes the session when change detection is off", () =>
    withSessions({ detectChanges: false }, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        yield* inSession((session) => Effect.zipRight(session.get("n"), session.changed))
        expect(log).toEqual(["getex", "set"])
      })))

  it.effect("boundUser is the user the session is bound to, if any", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* inSession((session) =>
          Effect.gen(function*() {
            const before = Option.getOrNull(yield* session.boundUser)
            yield* session.bindUser("u1")
            return { before, after: Option.getOrNull(yield* session.boundUser) }
          })
        )
        expect(JSON.parse(sent.body)).toEqual({ before: null, after: "u1" })
      })))

  it.effect("a session not yet stored has no handle", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const handle = Effect.flatMap(
          Session.Session,
          (session) => Effect.zipRight(session.set("a", 1), session.handle)
        )
        const sent = yield* send(Effect.map(handle, (value) => HttpServerResponse.unsafeJson(Option.getOrNull(value))))
        expect(JSON.parse(sent.body)).toBeNull()
      })))

  it.effect("flash without options queues every message, duplicates too, in the default queue", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* inSession((session) =>
          Effect.gen(function*() {
            yield* session.flash("saved")
            yield* session.flash("saved")
            return yield* session.peekFlash()
          })
        )
        expect(JSON.parse(sent.body)).toEqual(["saved", "saved"])
      })))

  it.effect.each(
    [
      ["adjustTimeout", (session: Session.SessionShape) => session.adjustTimeout("soon" as never)],
      ["adjustCookieMaxAge", (session: Session.SessionShape) => session.adjustCookieMaxAge("soon" as never)],
      ["adjustCookieExpires", (session: Session.SessionShape) => session.adjustCookieExpires("soon" as never)]
    ] as const
  )(
    "%s with a duration that breaks the rule is a defect naming the operation",
    ([name, adjust]) =>
      withSessions({}, () => ({}), () =>
        Effect.gen(function*() {
          const sent = yield* inSession((session) =>
            Effect.catchAllDefect(Effect.as(adjust(session), "no defect"), (defect) => Effect.succeed(String(defect)))
          )
          expect(JSON.parse(sent.body)).toContain(`Invalid duration for ${name}`)
        }))
  )

  it.effect("adjustCookieMaxAge(undefined) makes the cookie a browser-session cookie", () =>
    withSessions({ cookieMaxAge: "1 hour" }, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* inSession((session) => session.adjustCookieMaxAge(undefined))
        expect(sent.setCookie).toBeDefined()
        expect(sent.setCookie).not.toMatch(/Max-Age/)
      })))

  it.effect("adjustCookieExpires with a Date sends that date", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const at = new Date("2030-01-02T03:04:05Z")
        const sent = yield* inSession((session) => session.adjustCookieExpires(at))
        expect(sent.setCookie).toContain(`Expires=${at.toUTCString()}`)
      })))
})
