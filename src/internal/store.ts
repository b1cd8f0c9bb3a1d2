/**
 * Loading and persisting one session through `RedisClient`: which command,
 * and what its reply means. Keys are session ids, so logs name a session
 * only by `redactId`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHmac, randomBytes } from "node:crypto"
import * as InvalidSession from "../InvalidSession.js"
import type { PayloadPatch, RedisClientShape, SessionStoreError } from "../RedisClient.js"
import type { SessionError } from "../Session.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import * as Expiry from "./expiry.js"
import * as Payload from "./payload.js"

/** `SET NX` attempts before the id generator is declared broken. */
const CREATE_ATTEMPTS = 3

const redactKey = randomBytes(32)

/** A short tag for logs, keyed per process so that even guessable custom ids can't be recovered. */
export const redactId = (id: string): string => createHmac("sha256", redactKey).update(id).digest("hex").slice(0, 12)

export type Loaded =
  | { readonly _tag: "Found"; readonly payload: Payload.Payload }
  /** `stale`: the key is over for good and must be deleted (reads would keep sliding its TTL). */
  | { readonly _tag: "Invalid"; readonly cause: InvalidSession.InvalidSession; readonly stale: boolean }

const invalid = (cause: InvalidSession.InvalidSession, stale = false): Loaded => ({ _tag: "Invalid", cause, stale })

/** Reads a session; the read also slides the TTL when that is where the timeout lives (`GETEX`). */
export const load = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  id: string,
  now: number
): Effect.Effect<Loaded, SessionError> => {
  const slide = Expiry.slideOnRead(policy)
  const key = policy.storageKey(id)
  const read = slide === undefined ? redis.get(key) : redis.getEx(key, slide)
  return Effect.flatMap(read, (raw): Effect.Effect<Loaded, SessionError> => {
    if (Option.isNone(raw)) return Effect.succeed(invalid(new InvalidSession.NotInBackend()))
    const decoded = Payload.decode(policy.serializer, raw.value)
    switch (decoded._tag) {
      case "Undecodable":
        return policy.deserializationFailsNew
          ? Effect.succeed(invalid(new InvalidSession.PayloadUndecodable({ reason: decoded.reason })))
          : Effect.fail(new InvalidSession.SessionPayloadError({ reason: decoded.reason }))
      case "Legacy":
        return Effect.succeed(
          invalid(new InvalidSession.PayloadLegacy(decoded.version === undefined ? {} : { version: decoded.version }))
        )
      case "Valid": {
        const payload = decoded.payload
        if (Expiry.isExpired(payload, now)) {
          return Effect.succeed(invalid(new InvalidSession.PayloadTimeout({ expiredAt: payload.x ?? now }), true))
        }
        const ends = Expiry.lifetimeEnds(policy, { created: payload.c }) ?? Number.POSITIVE_INFINITY
        if (now >= ends) {
          return Effect.succeed(invalid(new InvalidSession.LifetimeExceeded({ endedAt: ends }), true))
        }
        // Stryker disable next-line StringLiteral: equivalent, a load is read as Invalid or not
        return Effect.succeed({ _tag: "Found", payload })
      }
    }
  })
}

/**
 * A write that timed out may still be applied: Redis runs it when it gets to
 * it. Its undo is sent on the same connection after it, so Redis runs the
 * undo after the write, whichever way the write went, and no key is left
 * that no client holds a cookie for. Not awaited: the request has waited
 * long enough, and its answer (a 503) does not depend on it.
 */
const undoAfterTimeout = (
  error: SessionStoreError,
  undo: Effect.Effect<unknown, SessionStoreError>
): Effect.Effect<void> =>
  // Stryker disable next-line ConditionalExpression: equivalent in effect, a write that failed otherwise was not applied, so its undo finds nothing
  error.reason === "Timeout" ? Effect.asVoid(Effect.forkDaemon(Effect.ignore(undo))) : Effect.void

/**
 * `SET id payload NX [EX t]`, with a new id if the first one is taken;
 * succeeds with the id written.
 */
export const create = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  id: string | undefined,
  payload: string,
  ttlSeconds: number | undefined,
  attempt = 1
): Effect.Effect<string, SessionStoreError> => {
  const candidate = id ?? policy.generateId()
  const key = policy.storageKey(candidate)
  return Effect.flatMap(
    Effect.tapError(
      redis.set(key, payload, { condition: "NX", ttlSeconds }),
      (error) => undoAfterTimeout(error, redis.del(key))
    ),
    (written) => {
      if (written) return Effect.succeed(candidate)
      if (attempt >= CREATE_ATTEMPTS) {
        return Effect.dieMessage("the session id generator keeps producing ids that already exist")
      }
      return Effect.zipRight(
        Effect.logWarning("session id collision; generating another", { session: redactId(candidate) }),
        create(policy, redis, undefined, payload, ttlSeconds, attempt + 1)
      )
    }
  )
}

/**
 * Moves the session stored under `from` to a new id (the reserved one, or a
 * generated one if it is taken), atomically; `undefined` when `from` is gone.
 */
export const moveSession = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  from: string,
  id: string | undefined,
  payload: string,
  ttlSeconds: number | undefined,
  attempt = 1
): Effect.Effect<string | undefined, SessionStoreError> => {
  const candidate = id ?? policy.generateId()
  const [fromKey, toKey] = [policy.storageKey(from), policy.storageKey(candidate)]
  // The undo moves the session back, if it moved: the client keeps the old cookie after a failure.
  const move = Effect.tapError(
    redis.move(fromKey, toKey, payload, { ttlSeconds }),
    (error) => undoAfterTimeout(error, redis.move(toKey, fromKey, payload, { ttlSeconds }))
  )
  return Effect.flatMap(move, (result) => {
    switch (result) {
      case "Moved":
        return Effect.succeed(candidate)
      case "Gone":
        return Effect.zipRight(
          Effect.logInfo("session vanished before it could be regenerated", { session: redactId(from) }),
          Effect.succeed(undefined)
        )
      case "Taken":
        if (attempt >= CREATE_ATTEMPTS) {
          return Effect.dieMessage("the session id generator keeps producing ids that already exist")
        }
        return Effect.zipRight(
          Effect.logWarning("session id collision; generating another", { session: redactId(candidate) }),
          moveSession(policy, redis, from, undefined, payload, ttlSeconds, attempt + 1)
        )
    }
  })
}

/** `SET id payload XX [EX t]`: false when the key is gone (deleted by another request); never re-creates it. */
export const update = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  id: string,
  payload: string,
  ttlSeconds: number | undefined
): Effect.Effect<boolean, SessionStoreError> =>
  Effect.tap(redis.set(policy.storageKey(id), payload, { condition: "XX", ttlSeconds }), (written) =>
    written
      ? Effect.void
      : Effect.logInfo("session vanished before it could be written", { session: redactId(id) }))

/**
 * The changed keys applied to the payload stored now (`mergePayload`): false
 * when the key is gone, never re-creating it. A stored value the merge cannot
 * read (written by something else) is replaced whole with `SET XX`, as a
 * `replace` policy would.
 */
export const merge = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  id: string,
  patch: PayloadPatch,
  payload: string,
  ttlSeconds: number | undefined
): Effect.Effect<boolean, SessionStoreError> =>
  Effect.flatMap(redis.mergePayload(policy.storageKey(id), patch, { ttlSeconds }), (result) => {
    switch (result) {
      case "Merged":
        return Effect.succeed(true)
      case "Gone":
        return Effect.as(
          Effect.logInfo("session vanished before it could be written", { session: redactId(id) }),
          false
        )
      case "Unreadable":
        return Effect.zipRight(
          Effect.logWarning("stored session payload could not be merged; writing it whole", {
            session: redactId(id)
          }),
          update(policy, redis, id, payload, ttlSeconds)
        )
    }
  })
