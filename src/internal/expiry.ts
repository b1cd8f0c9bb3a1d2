/**
 * When a session expires and how that is stored: the idle timeout in the
 * Redis TTL, the payload's own expiry `x`, or both. Pure functions of the
 * policy, the session's times and the clock reading they are given; imports
 * nothing from Effect.
 */
import { type Data, type Payload, PAYLOAD_VERSION } from "./payload.js"

/** The policy's timing settings, in whole seconds. */
export interface ExpiryRules {
  /** Idle timeout; undefined: sessions never time out. */
  readonly timeout: number | undefined
  readonly timeoutTrigger: number | undefined
  /** The timeout lives in the Redis TTL. */
  readonly redisTtl: boolean
  /** The payload carries its expiry `x`. */
  readonly payloadExpiry: boolean
  /** Absolute lifetime from creation, whatever the activity; undefined: none. */
  readonly maxLifetime: number | undefined
  /** The cap on a per-session timeout. */
  readonly maxTimeout: number
}

/** A session's times, epoch seconds. */
export interface Times {
  readonly created: number
  /** This session's idle timeout (the policy's, or one adjusted for it). */
  readonly timeout: number | undefined
  /** The stored `x`, or one pinned by `adjustPayloadExpiry`. */
  readonly expiresAt: number | undefined
  /** `expiresAt` was set by the application and is written as is. */
  readonly pinned: boolean
}

/** A new session's times. */
export const fresh = (rules: ExpiryRules, now: number): Times => ({
  created: now,
  timeout: rules.timeout,
  expiresAt: undefined,
  pinned: false
})

/**
 * The TTL a read slides in the same command (`GETEX`), or undefined for a
 * plain `GET`: with a trigger, the TTL moves only when `x` is rewritten.
 */
export const slideOnRead = (rules: ExpiryRules): number | undefined =>
  rules.redisTtl && rules.timeoutTrigger === undefined ? rules.timeout : undefined

/** A loaded payload whose `x` has passed is over, whatever its TTL says. */
export const isExpired = (payload: Payload, now: number): boolean => now > (payload.x ?? Number.POSITIVE_INFINITY)

/** When a session created at `created` ends, whatever its activity. */
export const lifetimeEnds = (rules: ExpiryRules, times: { readonly created: number }): number | undefined =>
  rules.maxLifetime === undefined ? undefined : times.created + rules.maxLifetime

/** What loading a payload implies for its times. */
export interface Adopted {
  readonly times: Times
  /** The payload must be written again even if no value changes (its `x` moves or goes). */
  readonly rewrite: boolean
  /** Seconds to set the TTL to after the response: the read slid it to the policy's timeout instead. */
  readonly ttlRefresh: number | undefined
}

export const adopt = (rules: ExpiryRules, payload: Payload, now: number): Adopted => {
  // A stored timeout of 0 would be an invalid EX: treat it as absent; one over the cap is capped.
  const stored = payload.t ?? 0
  const timeout = stored > 0 ? Math.min(stored, rules.maxTimeout) : rules.timeout
  const times: Times = { created: payload.c, timeout, expiresAt: payload.x, pinned: false }
  let rewrite: boolean
  if (rules.payloadExpiry && timeout !== undefined) {
    // A per-session timeout shorter than the trigger would rewrite on every read: cap the trigger at half of it.
    rewrite = rules.timeoutTrigger !== undefined
      ? payload.x === undefined || now >= payload.x - Math.min(rules.timeoutTrigger, Math.floor(timeout / 2))
      : payload.x !== now + timeout
  } else {
    // An `x` written under another policy would end an active session: drop it once.
    rewrite = payload.x !== undefined
  }
  // The read slid the TTL to the policy's timeout; a per-session timeout or a nearer lifetime end sets it again.
  const slid = slideOnRead(rules)
  const ttl = ttlSeconds(rules, times, now)
  return { times, rewrite, ttlRefresh: slid !== undefined && ttl !== slid ? ttl : undefined }
}

/** The payload to write at `now`. */
export const payloadAt = (rules: ExpiryRules, times: Times, values: Data, now: number): Payload => ({
  m: values,
  c: times.created,
  v: PAYLOAD_VERSION,
  t: times.timeout,
  x: times.pinned
    ? times.expiresAt
    : rules.payloadExpiry && times.timeout !== undefined
    ? now + times.timeout
    : undefined
})

/** The `EX` of a write at `now`, if the timeout lives in the TTL: never past the lifetime's end. */
export const ttlSeconds = (rules: ExpiryRules, times: Times, now: number): number | undefined => {
  if (!rules.redisTtl) return undefined
  const ends = lifetimeEnds(rules, times)
  const left = ends === undefined ? undefined : Math.max(1, ends - now)
  if (times.timeout === undefined) return left
  return left === undefined ? times.timeout : Math.min(times.timeout, left)
}

/** When the session expires if left idle from now; `willWrite`: this request writes the payload. */
export const nextExpiry = (rules: ExpiryRules, times: Times, now: number, willWrite: boolean): number | undefined => {
  const idle = idleExpiry(rules, times, now, willWrite)
  const ends = lifetimeEnds(rules, times)
  return idle === undefined ? ends : ends === undefined ? idle : Math.min(idle, ends)
}

const idleExpiry = (rules: ExpiryRules, times: Times, now: number, willWrite: boolean): number | undefined => {
  if (times.pinned) return times.expiresAt
  if (times.timeout === undefined) return undefined
  if (rules.payloadExpiry && !willWrite && times.expiresAt !== undefined) return times.expiresAt
  return now + times.timeout
}
