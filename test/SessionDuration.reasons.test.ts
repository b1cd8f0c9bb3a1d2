/**
 * Why a duration is refused: each refusal names its rule, and a bare number
 * is refused as ambiguous even when one reading of it would be whole seconds
 * (2000 milliseconds, 2,000,000,000 nanoseconds), never accepted as such.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as SessionDuration from "../src/SessionDuration.js"

const ambiguous = "write a unit (\"20 minutes\") or a Duration: a bare number is ambiguous"

describe("the reason a duration is refused", () => {
  it.each<{ readonly input: unknown; readonly why: string; readonly reason: string }>([
    { input: 1200, why: "a bare number", reason: ambiguous },
    { input: 2000, why: "a bare number that is whole seconds as milliseconds", reason: ambiguous },
    { input: 2_000_000_000n, why: "a bare bigint that is whole seconds as nanoseconds", reason: ambiguous },
    { input: "-5 seconds", why: "a negative duration", reason: "must not be negative" },
    { input: "  -5 seconds", why: "a negative duration after spaces", reason: "must not be negative" },
    { input: [-5, 0], why: "negative seconds in a [seconds, nanos] pair", reason: "must not be negative" },
    { input: [5, -1], why: "negative nanoseconds in a [seconds, nanos] pair", reason: "must not be negative" },
    { input: Duration.infinity, why: "an infinite duration", reason: "must be a finite duration" },
    { input: "soon", why: "text that is no duration", reason: "must be a finite duration" },
    { input: "ten-seconds", why: "text with a dash inside that is no duration", reason: "must be a finite duration" },
    {
      input: { toString: () => "-5 seconds" },
      why: "an object that reads as a negative duration is no duration",
      reason: "must be a finite duration"
    },
    { input: ["-5", 0], why: "a pair whose seconds are text", reason: "must be a finite duration" },
    {
      input: [1, 500_000_000],
      why: "a [seconds, nanos] pair that is not whole seconds",
      reason: "must be a whole number of seconds, zero or more"
    },
    { input: "1.5 seconds", why: "a fraction of a second", reason: "must be a whole number of seconds, zero or more" }
  ])("$why: $reason", ({ input, reason }) => {
    expect(SessionDuration.toSeconds("timeout", input)).toMatchObject(Either.left({ name: "timeout", reason }))
  })

  it("a bare zero, number or bigint, is zero either way: accepted", () => {
    expect(SessionDuration.toSeconds("timeout", 0)).toEqual(Either.right(0))
    expect(SessionDuration.toSeconds("timeout", 0n)).toEqual(Either.right(0))
  })

  it("the error's message names the option and the reason", () => {
    const error = new SessionDuration.InvalidDuration({ name: "timeout", reason: "must not be negative" })
    expect(error.message).toBe("Invalid duration for timeout: must not be negative")
  })
})
