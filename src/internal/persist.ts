/**
 * The writes of a session's payload, each moving `SessionState` on once the
 * store has answered: create (`SET NX`), update (a merge, or `SET XX`) and move
 * (`regenerate`), and the commit's plan around them: deleting ended sessions
 * and keeping users' indexes in step, and the TTL refresh deferred past the
 * response. A payload whose changed values put it over `maxPayloadBytes` is
 * refused before any command, and nothing changes.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { RedisClientShape, SessionStoreError } from "../RedisClient.js"
import { payloadBytes, SessionTooLarge, tooLarge } from "../Session.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import type * as Commit from "./commit.js"
import * as Payload from "./payload.js"
import type { SessionState } from "./sessionState.js"
import * as Store from "./store.js"
import * as Tracing from "./tracing.js"
import * as UserIndex from "./userIndex.js"

/**
 * The payload to write at `now`, and its text. The size limit applies to
 * values this request changed: a stored session that is already over it
 * (written elsewhere, or before the limit was lowered) still gets its expiry
 * rewritten, or it could never be read again.
 */
const encode = (
  policy: SessionPolicyShape,
  state: SessionState,
  now: number
): Effect.Effect<{ readonly payload: Payload.Payload; readonly text: string }, SessionTooLarge> => {
  const payload = state.payloadAt(now)
  const text = Payload.encode(policy.serializer, payload)
  const bytes = Buffer.byteLength(text)
  const limit = policy.maxPayloadBytes
  return bytes > limit && state.data.changed
    ? Effect.zipRight(Metric.increment(tooLarge), Effect.fail(new SessionTooLarge({ bytes, limit })))
    : Effect.as(Metric.update(payloadBytes, bytes), { payload, text })
}

/** Creates the session (with the reserved id, or a new one); succeeds with its id. */
export const create = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  id: string | undefined,
  now: number
): Effect.Effect<string, SessionStoreError | SessionTooLarge> =>
  Effect.flatMap(encode(policy, state, now), ({ payload, text }) =>
    Effect.tap(
      Store.create(policy, redis, id, text, state.ttlSeconds(now)),
      (written) => state.created(written, payload)
    ))

/**
 * Updates the stored session: with `merge`, only the keys this request
 * changed, applied to the payload stored now; else the whole payload. False
 * when another request deleted it meanwhile (it is over here too).
 */
export const update = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  id: string,
  merge: boolean,
  now: number
): Effect.Effect<boolean, SessionStoreError | SessionTooLarge> =>
  Effect.flatMap(encode(policy, state, now), ({ payload, text }) => {
    const ttl = state.ttlSeconds(now)
    const changes = merge ? state.data.changes() : undefined
    const patch = changes && Payload.encodePatch(policy.serializer, payload, changes.set, changes.removed)
    const written = patch === undefined
      ? Store.update(policy, redis, id, text, ttl)
      : Store.merge(policy, redis, id, patch, text, ttl)
    return Effect.tap(written, (ok) => ok ? state.saved(payload) : state.gone())
  })

/** Moves the session to a new id (`regenerate`); undefined when it was deleted meanwhile. */
export const move = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  from: string,
  id: string | undefined,
  now: number
): Effect.Effect<string | undefined, SessionStoreError | SessionTooLarge> =>
  Effect.flatMap(encode(policy, state, now), ({ payload, text }) =>
    Effect.tap(
      Store.moveSession(policy, redis, from, id, text, state.ttlSeconds(now)),
      (moved) => moved === undefined ? state.gone() : state.created(moved, payload)
    ))

const unchanged: Commit.Outcome = { _tag: "Unchanged" }
const updated: Commit.Outcome = { _tag: "Updated" }
const gone: Commit.Outcome = { _tag: "Gone" }
const deleted: Commit.Outcome = { _tag: "Deleted" }

/** Applies the commit's write; succeeds with what it did. */
export const write = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  planned: Commit.Write,
  now: number
): Effect.Effect<Commit.Outcome, SessionStoreError | SessionTooLarge> => {
  switch (planned._tag) {
    case "None":
      return Effect.succeed(unchanged)
    case "Create":
      return Effect.map(
        create(policy, redis, state, planned.id, now),
        (id): Commit.Outcome => ({ _tag: "Created", id })
      )
    case "Update":
      return Effect.map(update(policy, redis, state, planned.id, planned.merge, now), (ok) => ok ? updated : gone)
    case "Move":
      return Effect.map(
        move(policy, redis, state, planned.from, planned.id, now),
        (id): Commit.Outcome => id === undefined ? gone : { _tag: "Moved", id }
      )
    case "Delete":
      return Effect.suspend(() => {
        state.deleted()
        return Effect.as(redis.del(policy.storageKey(planned.id)), deleted)
      })
  }
}

/**
 * Applies the commit's plan: the write, then the deletes of ended sessions
 * and their leaving their users' indexes, then the index change the write
 * owes. Succeeds with what the write did.
 */
export const apply = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  plan: Commit.WritePlan,
  now: number
): Effect.Effect<Commit.Outcome, SessionStoreError | SessionTooLarge> => {
  const indexed = Effect.flatMap(
    write(policy, redis, state, plan.write, now),
    (outcome) => Effect.as(syncIndex(policy, redis, state, now), outcome)
  )
  // Stryker disable next-line ConditionalExpression: equivalent, ended bindings come with deleted ids; this skips two empty steps
  if (plan.deletes.length === 0) return indexed
  const deletes = Effect.forEach(
    plan.deletes,
    (id) => redis.del(policy.storageKey(id)),
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the results are dropped either way
    { discard: true }
  )
  return Effect.zipRight(Effect.zipRight(deletes, leaveIndexes(policy, redis, state, now)), indexed)
}

/** The ended bound sessions leave their users' indexes (after their keys are gone): one `ZREM` each. */
const leaveIndexes = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  now: number
): Effect.Effect<void, SessionStoreError> => {
  const ended = state.endedBindings
  if (ended === undefined) return Effect.void
  state.endedBindings = undefined
  return Effect.forEach(
    ended,
    // Stryker disable next-line StringLiteral: equivalent, any change but "Add" removes
    ({ id, userId }) => UserIndex.apply(policy, redis, { _tag: "Remove", userId }, id, now),
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the results are dropped either way
    { discard: true }
  )
}

/**
 * The user's index learns what the write did: one more round trip, only when a binding changed,
 * and only for a session the write left stored (not one found gone, deleted or never created).
 */
const syncIndex = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState,
  now: number
): Effect.Effect<void, SessionStoreError> => {
  const change = state.indexChange
  const backing = state.backing
  if (change === undefined || backing._tag !== "Stored") return Effect.void
  state.indexChange = undefined
  return UserIndex.apply(policy, redis, change, backing.id, now)
}

/** The TTL refresh a read deferred until after the response is sent. Never fails. */
export const refreshTtl = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const { backing, ttlRefresh } = state
    if (ttlRefresh === undefined || backing._tag !== "Stored") return Effect.void
    return redis.expire(policy.storageKey(backing.id), ttlRefresh).pipe(
      Effect.asVoid,
      Effect.catchAll((error) => Effect.logWarning("session TTL refresh failed", error)),
      Tracing.withSpan("Session.refreshTtl")
    )
  })

/**
 * After a failed commit, deletes the key `persistNow` created in this
 * request: no client will hold its cookie. Best effort; its TTL ends it
 * otherwise.
 */
export const dropCreated = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  state: SessionState
): Effect.Effect<void> => {
  const created = createdHere(state.backing)
  return created === undefined ? Effect.void : Effect.ignore(redis.del(policy.storageKey(created)))
}

/** The id of the key this request created, if it did: a session moving still has it as `from`. */
const createdHere = (backing: Commit.Backing): string | undefined => {
  switch (backing._tag) {
    case "Stored":
      return backing.createdHere ? backing.id : undefined
    case "Moving":
      return backing.createdHere ? backing.from : undefined
  }
  return undefined
}
