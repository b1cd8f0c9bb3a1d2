/**
 * The writes of a session's payload, each moving `SessionState` on once the
 * store has answered: create (`SET NX`), update (a merge, or `SET XX`) and move
 * (`regenerate`). A payload whose changed values put it over
 * `maxPayloadBytes` is refused before any command, and nothing changes.
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
