/**
 * The request engine's rules at the edges (`internal/requestSession.ts`): one
 * request, its handler written in the test, on the memory store behind a
 * recording or failing `RedisClient`. What it sends to the store, which
 * cookie and headers the response gets, and what it logs.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as CookieSigner from "../src/CookieSigner.js"
import * as Session from "../src/Session.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { cookieOf, lineWith, ok, readN, refused, send, unreachable, withSessions } from "./support/oneRequest.js"
import { secret } from "./support/sessionApp.js"

describe("cookieOnException: false", () => {
  it.effect("a request that succeeds still gets its cookie", () =>
    withSessions({ cookieOnException: false }, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* send(Effect.as(Session.set("n", 1), ok))
        expect(sent.status).toBe(200)
        expect(sent.setCookie).toBeDefined()
      })))

  it.effect("a handler that fails, even with a response below 500, gets no cookie and creates no session", () =>
    withSessions({ cookieOnException: false }, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const sent = yield* send(
          Effect.zipRight(Session.set("n", 1), Effect.fail(HttpServerResponse.text("conflict", { status: 409 })))
        )
        expect(sent.status).toBe(409)
        expect(sent.setCookie).toBeUndefined()
        expect(log).toEqual([])
      })))
})

describe("loading", () => {
  it.effect("a cookie whose session is not stored costs its one read: nothing is deleted and the cookie is left alone", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const sent = yield* send(readN, cookieOf("missing"))
        expect(sent.setCookie).toBeUndefined()
        expect(log).toHaveLength(1)
        expect(log).not.toContain("del")
      })))

  it.effect("a cookie signed with a previous secret is sent again, signed with the current one", () => {
    const previous = Redacted.make("previous-secret-previous-secret-0123")
    return withSessions({ secret: undefined, secrets: [secret, previous] }, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* send(readN, CookieSigner.make(previous).sign("s1"))
        expect(sent.setCookie?.split(";")[0]).toBe(`session=${cookieOf("s1")}`)
        expect((yield* send(readN, cookieOf("s1"))).setCookie).toBeUndefined()
      }))
  })

  it.effect("a session first read after the response (a streamed body) calls no onInvalid hook: the request is gone", () => {
    let calls = 0
    const onInvalid = () => Effect.sync(() => void calls++)
    return withSessions({ onInvalid }, () => ({}), () =>
      Effect.gen(function*() {
        const streamed = Effect.map(
          Session.Session,
          (session) =>
            HttpServerResponse.stream(Stream.encodeText(Stream.fromEffect(Effect.as(session.get("n"), "ok"))))
        )
        const sent = yield* send(streamed, cookieOf("missing"))
        expect(sent.body).toBe("ok")
        expect(calls).toBe(0)
        yield* send(readN, cookieOf("missing"))
        expect(calls).toBe(1)
      }))
  })
})

describe("Retry-After on a 503 the handler answers itself", () => {
  const answer503 = <A, E>(self: Effect.Effect<A, E, Session.Session>) =>
    Effect.as(Effect.ignore(self), HttpServerResponse.text("later", { status: 503 }))

  it.effect("after the load failed", () =>
    withSessions(
      {},
      () => ({ getEx: () => unreachable("GETEX"), get: () => unreachable("GET") }),
      () =>
        Effect.gen(function*() {
          const sent = yield* send(answer503(Session.get("n")), cookieOf("s1"))
          expect(sent.headers.get("retry-after")).toBe("1")
        })
    ))

  it.effect("when an anonymous session stands in for one the store could not deliver", () =>
    withSessions(
      { onStoreUnavailable: "anonymous" },
      () => ({ getEx: () => unreachable("GETEX"), get: () => unreachable("GET") }),
      () =>
        Effect.gen(function*() {
          const sent = yield* send(answer503(Session.get("n")), cookieOf("s1"))
          expect(sent.headers.get("retry-after")).toBe("1")
        })
    ))

  it.effect("after a write of persistNow failed", () => {
    let failures = 1
    return withSessions(
      {},
      (memory) => ({
        set: (key, value, options) => failures-- > 0 ? unreachable("SET") : memory.set(key, value, options)
      }),
      () =>
        Effect.gen(function*() {
          const write = Effect.zipRight(Session.set("n", 1), Effect.flatMap(Session.Session, (s) => s.persistNow))
          const sent = yield* send(answer503(write))
          expect(sent.headers.get("retry-after")).toBe("1")
        })
    )
  })

  it.effect("after a write of persistNow failed, though a later one was over maxPayloadBytes", () => {
    let failures = 1
    return withSessions(
      { maxPayloadBytes: 200 },
      (memory) => ({
        set: (key, value, options) => failures-- > 0 ? unreachable("SET") : memory.set(key, value, options)
      }),
      () =>
        Effect.gen(function*() {
          const persistNow = Effect.flatMap(Session.Session, (s) => s.persistNow)
          const handler = Effect.gen(function*() {
            yield* Session.set("n", 1)
            yield* Effect.ignore(persistNow)
            yield* Session.set("big", "x".repeat(300))
            yield* Effect.ignore(persistNow)
            yield* Session.remove("big")
          })
          const sent = yield* send(answer503(handler))
          expect(sent.headers.get("retry-after")).toBe("1")
        })
    )
  })

  it.effect("but not when nothing failed in the store", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* send(answer503(Session.get("n")), cookieOf("s1"))
        expect(sent.headers.get("retry-after")).toBeNull()
      })))
})

describe("invalidate", () => {
  it.effect("after a read found no stored session for the cookie: nothing to delete, the cookie is expired", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const sent = yield* send(
          Effect.zipRight(Session.get("n"), Effect.as(Session.invalidate, ok)),
          cookieOf("missing")
        )
        expect(log).toHaveLength(1)
        expect(log).not.toContain("del")
        expect(sent.setCookie).toMatch(/Max-Age=0/)
      })))

  it.effect("without a cookie: no command and no cookie", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const sent = yield* send(Effect.as(Session.invalidate, ok))
        expect(log).toEqual([])
        expect(sent.setCookie).toBeUndefined()
      })))

  it.effect("without a cookie, the response still varies on it: with one, it would have expired it", () =>
    withSessions({}, () => ({}), () =>
      Effect.gen(function*() {
        const sent = yield* send(Effect.as(Session.invalidate, ok))
        expect(sent.headers.get("vary")).toBe("Cookie")
      })))

  it.effect("of a session an unreachable store stood in for fails with the store's error: the real one lives on", () =>
    withSessions(
      { onStoreUnavailable: "anonymous" },
      () => ({ getEx: () => unreachable("GETEX"), get: () => unreachable("GET") }),
      ({ log }) =>
        Effect.gen(function*() {
          const handler = Effect.zipRight(
            Session.get("n"),
            Effect.match(Session.invalidate, {
              onFailure: (error) => HttpServerResponse.text(error._tag, { status: 503 }),
              onSuccess: () => ok
            })
          )
          const sent = yield* send(handler, cookieOf("s1"))
          expect(sent.body).toBe("SessionStoreError")
          expect(sent.setCookie).toBeUndefined()
          expect(log).toEqual(["getex"])
        })
    ))

  it.effect("on a route that tolerates outages, a logout whose DEL finds the store unreachable fails with 503", () =>
    withSessions(
      { onStoreUnavailable: "anonymous" },
      () => ({ del: () => unreachable("DEL") }),
      ({ memory }) =>
        Effect.gen(function*() {
          const sent = yield* send(Effect.as(Session.invalidate, ok), cookieOf("s1"))
          expect(sent.status).toBe(503)
          expect(Option.isSome(yield* memory.get("s1"))).toBe(true)
        })
    ))

  it.effect("so does emptying a session under invalidateEmptySession, which deletes it", () =>
    withSessions(
      { onStoreUnavailable: "anonymous", invalidateEmptySession: true },
      () => ({ del: () => unreachable("DEL") }),
      () =>
        Effect.gen(function*() {
          const sent = yield* send(Effect.as(Effect.flatMap(Session.Session, (s) => s.clear), ok), cookieOf("s1"))
          expect(sent.status).toBe(503)
        })
    ))

  it.effect("a logout whose response a later pre-response handler fails deletes the session once", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        let failed = false
        const handler = Effect.gen(function*() {
          yield* Session.invalidate
          // Fails once: the platform then renders a 500 and runs the pre-response handlers again.
          yield* HttpApp.appendPreResponseHandler((_request, response) => {
            if (failed) return Effect.succeed(response)
            failed = true
            return Effect.dieMessage("a later pre-response handler failed")
          })
          return ok
        })
        const sent = yield* send(handler, cookieOf("s1"))
        expect(sent.status).toBe(500)
        expect(log.filter((command) => command === "del")).toHaveLength(1)
        expect(sent.setCookie).toMatch(/Max-Age=0/)
      })))
})

describe("persistNow", () => {
  const persistNow = Effect.flatMap(Session.Session, (s) => s.persistNow)

  it.effect("on a new, empty session writes nothing and sets no cookie", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const sent = yield* send(Effect.as(persistNow, ok))
        expect(log).toEqual([])
        expect(sent.setCookie).toBeUndefined()
      })))

  it.effect("on a session found gone by an earlier write writes nothing more", () =>
    withSessions({}, () => ({}), ({ log, memory }) =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          yield* Session.get("n")
          yield* memory.del("s1")
          yield* Session.set("n", 2)
          yield* persistNow
          yield* persistNow
          return ok
        })
        const sent = yield* send(handler, cookieOf("s1"))
        expect(sent.status).toBe(200)
        expect(log.filter((command) => command === "set")).toHaveLength(1)
        expect(sent.setCookie).toBeUndefined()
      })))

  it.effect("after regenerate writes the changes under the old id; the move waits for the commit", () =>
    withSessions({}, () => ({}), ({ memory }) =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          yield* Session.regenerate
          yield* Session.set("n", 2)
          yield* persistNow
          const stored = Option.getOrThrow(yield* memory.get("s1"))
          return HttpServerResponse.text(stored)
        })
        const sent = yield* send(handler, cookieOf("s1"))
        expect(sent.status).toBe(200)
        expect(JSON.parse(sent.body)).toMatchObject({ m: { n: 2 } })
        expect(Option.isNone(yield* memory.get("s1"))).toBe(true)
        expect(sent.setCookie).toBeDefined()
      })))

  it.effect("after the response (a streamed body) cannot create a session any more, and says so", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const streamed = Effect.map(Session.Session, (session) =>
          HttpServerResponse.stream(
            Stream.encodeText(
              Stream.fromEffect(Effect.as(Effect.zipRight(session.set("n", 1), session.persistNow), "ok"))
            )
          ))
        const sent = yield* send(streamed)
        expect(sent.body).toBe("ok")
        expect(log).toEqual([])
        lineWith(sent, "persistNow after the response: a new session cannot be created any more")
      })))
})

describe("TTL refresh", () => {
  const refreshNow = Effect.flatMap(Session.Session, (s) => s.refreshNow)
  /** The lifetime ends sooner than the timeout: a read slides the TTL, an EXPIRE after the response sets it back. */
  const shortLifetime = { maxLifetime: "600 seconds" } as const

  it.effect("refreshNow on a session not yet stored sends nothing", () =>
    withSessions({}, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        yield* send(Effect.as(refreshNow, ok))
        expect(log).toEqual([])
      })))

  it.effect("refreshNow without a timeout sends nothing but the read", () =>
    withSessions({ timeout: null }, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        yield* send(Effect.as(refreshNow, ok), cookieOf("s1"))
        expect(log).toEqual(["get"])
      })))

  it.effect("a read whose TTL must be set back sends one EXPIRE after the response", () =>
    withSessions(shortLifetime, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        yield* send(readN, cookieOf("s1"))
        expect(log).toEqual(["getex", "expire"])
      })))

  it.effect("refreshNow takes the place of the refresh after the response: one EXPIRE", () =>
    withSessions(shortLifetime, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        yield* send(Effect.zipRight(Session.get("n"), Effect.as(refreshNow, ok)), cookieOf("s1"))
        expect(log).toEqual(["getex", "expire"])
      })))

  it.effect("a session first read from a streamed body gets its refresh right away", () =>
    withSessions(shortLifetime, () => ({}), ({ log }) =>
      Effect.gen(function*() {
        const streamed = Effect.map(
          Session.Session,
          (session) =>
            HttpServerResponse.stream(Stream.encodeText(Stream.fromEffect(Effect.as(session.get("n"), "ok"))))
        )
        const sent = yield* send(streamed, cookieOf("s1"))
        expect(sent.body).toBe("ok")
        expect(log).toEqual(["getex", "expire"])
      })))

  it.effect("a session another request deleted meanwhile gets no refresh", () =>
    withSessions(shortLifetime, () => ({}), ({ log, memory }) =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          yield* Session.get("n")
          yield* memory.del("s1")
          yield* Session.set("n", 2)
          return ok
        })
        yield* send(handler, cookieOf("s1"))
        expect(log).toEqual(["getex", "set"])
      })))

  it.effect("a refresh that fails is logged, and the response is not affected", () =>
    withSessions(shortLifetime, () => ({ expire: () => unreachable("EXPIRE") }), () =>
      Effect.gen(function*() {
        const sent = yield* send(readN, cookieOf("s1"))
        expect(sent.status).toBe(200)
        expect(lineWith(sent, "session TTL refresh failed")).toContain("level=WARN")
      })))
})

describe("writes", () => {
  it.effect("under writeMode merge, a change no merge can express (clear) writes the whole payload", () =>
    withSessions({ writeMode: "merge" }, () => ({}), ({ log, memory }) =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const session = yield* Session.Session
          yield* session.clear
          yield* session.set("m", 1)
          return ok
        })
        yield* send(handler, cookieOf("s1"))
        expect(log).toEqual(["getex", "set"])
        expect(JSON.parse(Option.getOrThrow(yield* memory.get("s1")))).toMatchObject({ m: { m: 1 } })
        expect(JSON.parse(Option.getOrThrow(yield* memory.get("s1"))).m).not.toHaveProperty("n")
      })))

  it.effect("a session bound to a user whose cookie the response refuses joins no index", () =>
    withSessions(
      { responseAllowsCookie: SessionPolicy.refuseCacheableResponses },
      () => ({}),
      ({ log }) =>
        Effect.gen(function*() {
          const handler = Effect.gen(function*() {
            const session = yield* Session.Session
            yield* session.set("user", "u1")
            yield* session.bindUser("u1")
            return ok.pipe(HttpServerResponse.setHeader("cache-control", "public, max-age=60"))
          })
          const sent = yield* send(handler)
          expect(sent.setCookie).toBeUndefined()
          expect(log).toEqual([])
        })
    ))

  it.effect("a login whose old session another request deleted meanwhile creates nothing and joins no index", () =>
    withSessions({}, () => ({}), ({ log, memory }) =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const session = yield* Session.Session
          yield* session.get("n")
          yield* memory.del("s1")
          yield* session.regenerate
          yield* session.bindUser("u1")
          return ok
        })
        const sent = yield* send(handler, cookieOf("s1"))
        expect(sent.status).toBe(200)
        expect(sent.setCookie).toBeUndefined()
        expect(log).toEqual(["getex", "move"])
      })))
})

describe("logs", () => {
  it.effect("an anonymous stand-in for an unreachable store at the load says so, with the stage", () =>
    withSessions(
      { onStoreUnavailable: "anonymous" },
      () => ({ getEx: () => unreachable("GETEX"), get: () => unreachable("GET") }),
      () =>
        Effect.gen(function*() {
          const sent = yield* send(readN, cookieOf("s1"))
          expect(lineWith(sent, "session store unavailable")).toMatch(/stage.*load/)
        })
    ))

  it.effect("a write dropped at the commit because the store is unreachable says so, with the stage", () =>
    withSessions(
      { onStoreUnavailable: "anonymous" },
      () => ({ set: () => unreachable("SET") }),
      () =>
        Effect.gen(function*() {
          const sent = yield* send(Effect.as(Session.set("n", 1), ok))
          expect(sent.status).toBe(200)
          expect(lineWith(sent, "session store unavailable")).toMatch(/stage.*commit/)
        })
    ))

  it.effect("a commit the store refused is an error, and the response a 503", () =>
    withSessions({}, () => ({ set: () => refused("SET") }), () =>
      Effect.gen(function*() {
        const sent = yield* send(Effect.as(Session.set("n", 1), ok))
        expect(sent.status).toBe(503)
        expect(lineWith(sent, "session commit failed")).toContain("level=ERROR")
        expect(sent.lines.join("\n")).not.toContain("maxPayloadBytes")
      })))
})
