/**
 * One duration rule for options and for every runtime operation that takes
 * a duration: the same parser, the same error.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionDuration from "../src/SessionDuration.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { inOneRequest } from "./support/oneRequest.js"
import { layerWith } from "./support/sessionApp.js"

const secret = Redacted.make("duration-secret-0123456789abcdef-0123")

/** What untyped code (plain JavaScript, a cast) can pass where the types ask for a SessionDuration. */
const untyped = (input: unknown) => input as SessionDuration.SessionDuration

describe("SessionDuration.toSeconds", () => {
  it.each<{ readonly input: unknown; readonly seconds: number }>([
    { input: "20 minutes", seconds: 1200 },
    { input: Duration.seconds(90), seconds: 90 },
    { input: [30, 0], seconds: 30 },
    { input: 0, seconds: 0 },
    { input: "0 seconds", seconds: 0 }
  ])("accepts $input as $seconds seconds", ({ input, seconds }) => {
    expect(SessionDuration.toSeconds("timeout", input)).toEqual(Either.right(seconds))
  })

  it.each<{ readonly input: unknown; readonly why: string }>([
    { input: 1200, why: "a bare number" },
    { input: 1200n, why: "a bare bigint" },
    { input: "-5 seconds", why: "a negative duration" },
    { input: "1.5 seconds", why: "a fraction of a second" },
    { input: Duration.millis(2500), why: "milliseconds that are not whole seconds" },
    { input: Duration.infinity, why: "an infinite duration" },
    { input: "soon", why: "text that is no duration" },
    { input: { seconds: 5 }, why: "an object that is no duration" }
  ])("refuses $why", ({ input }) => {
    const result = SessionDuration.toSeconds("timeout", input)
    assert.isTrue(Either.isLeft(result))
    expect(result).toMatchObject({ left: { _tag: "InvalidDuration", name: "timeout" } })
  })
})

const refusedReason = (input: unknown) =>
  Either.getLeft(SessionDuration.toSeconds("x", input)).pipe(Option.getOrThrow).reason

const die = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit))
  return Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
}

describe("one rule in options and at run time", () => {
  it.effect("the policy refuses a bare number with InvalidDuration naming the option", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SessionPolicy.make({ secret, timeout: untyped(1200) }))
      assert.instanceOf(error, SessionDuration.InvalidDuration)
      expect(error).toMatchObject({ name: "timeout", reason: refusedReason(1200) })
    }))

  it.effect("adjustTimeout(1200) cannot end up as 2 seconds: it is a defect with the same InvalidDuration", () =>
    Effect.gen(function*() {
      const exit = yield* inOneRequest(Effect.gen(function*() {
        yield* Session.set("a", 1)
        const session = yield* Session.Session
        const adjusted = yield* Effect.exit(session.adjustTimeout(untyped(1200)))
        return { adjusted, timeout: yield* session.timeout }
      }))
      const defect = die(exit.adjusted)
      assert.instanceOf(defect, SessionDuration.InvalidDuration)
      expect(defect).toMatchObject({ name: "adjustTimeout", reason: refusedReason(1200) })
      expect(exit.timeout).toEqual(Option.some(1200))
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, { timeout: "20 minutes" }))))

  it.effect("adjustTimeout takes the same durations as the policy", () =>
    Effect.gen(function*() {
      const timeout = yield* inOneRequest(Effect.gen(function*() {
        const session = yield* Session.Session
        yield* session.adjustTimeout("2 minutes")
        return yield* session.timeout
      }))
      expect(timeout).toEqual(Option.some(120))
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {}))))

  it.effect.each([
    { operation: "adjustCookieMaxAge", run: (s: Session.SessionShape) => s.adjustCookieMaxAge(untyped(3600)) },
    { operation: "adjustCookieExpires", run: (s: Session.SessionShape) => s.adjustCookieExpires(untyped(3600)) },
    { operation: "adjustTimeout", run: (s: Session.SessionShape) => s.adjustTimeout(untyped("-1 seconds")) }
  ])("$operation refuses what the rule refuses", ({ operation, run }) =>
    Effect.gen(function*() {
      const exit = yield* inOneRequest(Effect.flatMap(Session.Session, (session) => Effect.exit(run(session))))
      expect(die(exit)).toMatchObject({ _tag: "InvalidDuration", name: operation })
    }).pipe(Effect.provide(layerWith(RedisClient.layerMemory, {}))))
})
