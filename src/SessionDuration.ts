/**
 * The one rule for every duration this library takes, in options and at run
 * time (`timeout`, `cookieMaxAge`, the `Session` service's `adjustTimeout`,
 * `adjustCookieMaxAge`, …): an Effect duration of whole seconds, zero or
 * more, and finite.
 *
 * A bare number is refused: Effect reads `1200` as milliseconds,
 * pyramid_session_redis as seconds, and either reading would be a silent
 * surprise for someone. Zero is zero either way and is accepted.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A duration as this library accepts it: `"20 minutes"`, `Duration.seconds(1200)`,
 * `[1200, 0]`: anything Effect reads as a duration except a bare number.
 *
 * @since 0.2.0
 * @category models
 */
export type SessionDuration = Exclude<Duration.DurationInput, number | bigint> | 0

/**
 * A duration that breaks the rule. `name` is the option or operation that
 * was given it.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidDuration extends Schema.TaggedError<InvalidDuration>()("InvalidDuration", {
  name: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid duration for ${this.name}: ${this.reason}`
  }
}

// Effect clamps a negative text or `[seconds, nanos]` duration to zero, which would silently mean
// "none": refuse them before decoding. A Duration value is never negative.
const isNegative = (input: unknown): boolean =>
  (typeof input === "string" && /^\s*-/.test(input)) ||
  (Array.isArray(input) && input.some((part) => typeof part === "number" && part < 0))

const fail = (name: string, reason: string) => Either.left(new InvalidDuration({ name, reason }))

/**
 * Whole seconds, or why not.
 *
 * @since 0.2.0
 * @category conversions
 */
export const toSeconds = (name: string, input: unknown): Either.Either<number, InvalidDuration> => {
  if ((typeof input === "number" || typeof input === "bigint") && input !== 0 && input !== 0n) {
    return fail(name, "write a unit (\"20 minutes\") or a Duration: a bare number is ambiguous")
  }
  if (isNegative(input)) return fail(name, "must not be negative")
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) return fail(name, "must be a finite duration")
  const millis = Duration.toMillis(decoded.value)
  if (millis % 1000 !== 0) return fail(name, "must be a whole number of seconds, zero or more")
  return Either.right(millis / 1000)
}
