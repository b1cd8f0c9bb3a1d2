/**
 * The commit's writes (`internal/persist.ts`) on the memory store: what each
 * answers, where it leaves the session's state, and what `dropCreated`
 * deletes after a failed commit. The same writes under HTTP are in
 * Session.behaviour.test.ts and Session.commands.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Persist from "../src/internal/persist.js"
import { SessionState } from "../src/internal/sessionState.js"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { secret } from "./support/sessionApp.js"

const NOW = 1_000_000
const stored = `{"m":{"a":1},"c":${NOW - 100},"v":1}`

/** A policy whose generated ids are `gen1`, `gen2`, … */
const policy = Effect.suspend(() => {
  let next = 0
  return SessionPolicy.make({ secret, generateId: () => `gen${++next}` })
})

/** A request's state after loading the stored session `s1`. */
const loaded = (rules: SessionPolicy.SessionPolicyShape): SessionState => {
  const state = new SessionState(rules)
  state.startFresh(NOW)
  state.adopt("s1", { m: { a: 1 }, c: NOW - 100, v: 1 }, NOW)
  return state
}

/** A request's state after it created the session `c1` itself (`persistNow`). */
const createdHere = (rules: SessionPolicy.SessionPolicyShape): SessionState => {
  const state = new SessionState(rules)
  state.startFresh(NOW)
  state.data.set("a", 1)
  state.created("c1", state.payloadAt(NOW))
  return state
}

const withStore = <A, E>(
  self: (
    rules: SessionPolicy.SessionPolicyShape,
    redis: RedisClient.RedisClientShape
  ) => Effect.Effect<A, E>
) => Effect.flatMap(Effect.zip(policy, RedisClient.makeMemory), ([rules, redis]) => self(rules, redis))

describe("write", () => {
  it.effect("an update of a stored session answers Updated, and nothing is left to write", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        yield* redis.set("s1", stored)
        const state = loaded(rules)
        state.data.set("a", 2)
        const outcome = yield* Persist.write(rules, redis, state, { _tag: "Update", id: "s1", merge: false }, NOW)
        expect(outcome).toStrictEqual({ _tag: "Updated" })
        expect(state.changed).toBe(false)
        expect(state.backing).toStrictEqual({ _tag: "Stored", id: "s1", createdHere: false })
      })
    ))

  it.effect("an update of a session another request deleted answers Gone, and the session is gone here too", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        const state = loaded(rules)
        state.data.set("a", 2)
        const outcome = yield* Persist.write(rules, redis, state, { _tag: "Update", id: "s1", merge: false }, NOW)
        expect(outcome).toStrictEqual({ _tag: "Gone" })
        expect(state.backing).toStrictEqual({ _tag: "Gone" })
        expect(yield* redis.get("s1")).toStrictEqual(Option.none())
      })
    ))

  it.effect("a move answers Moved with the new id, which the state now holds as created here", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        yield* redis.set("s1", stored)
        const state = loaded(rules)
        state.regenerate()
        const outcome = yield* Persist.write(rules, redis, state, { _tag: "Move", from: "s1", id: undefined }, NOW)
        expect(outcome).toStrictEqual({ _tag: "Moved", id: "gen1" })
        expect(state.backing).toStrictEqual({ _tag: "Stored", id: "gen1", createdHere: true })
        expect(yield* redis.get("s1")).toStrictEqual(Option.none())
      })
    ))

  it.effect("a move of a session another request deleted answers Gone, creates nothing, and the session is gone", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        const state = loaded(rules)
        state.regenerate()
        const outcome = yield* Persist.write(rules, redis, state, { _tag: "Move", from: "s1", id: undefined }, NOW)
        expect(outcome).toStrictEqual({ _tag: "Gone" })
        expect(state.backing).toStrictEqual({ _tag: "Gone" })
        expect(yield* redis.get("gen1")).toStrictEqual(Option.none())
      })
    ))
})

describe("dropCreated, after a failed commit", () => {
  it.effect("deletes the session this request created", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        yield* redis.set("c1", stored)
        yield* Persist.dropCreated(rules, redis, createdHere(rules))
        expect(yield* redis.get("c1")).toStrictEqual(Option.none())
      })
    ))

  it.effect("deletes the session this request created and then regenerated, under the id it still has", () =>
    withStore((rules, redis) =>
      Effect.gen(function*() {
        yield* redis.set("c1", stored)
        const state = createdHere(rules)
        state.regenerate()
        yield* Persist.dropCreated(rules, redis, state)
        expect(yield* redis.get("c1")).toStrictEqual(Option.none())
      })
    ))

  it.effect.each(
    [
      ["loaded", (rules: SessionPolicy.SessionPolicyShape) => loaded(rules)],
      ["loaded, then regenerated", (rules: SessionPolicy.SessionPolicyShape) => {
        const state = loaded(rules)
        state.regenerate()
        return state
      }]
    ] as const
  )(
    "leaves a session the request %s alone: its client holds a cookie for it",
    ([, make]) =>
      withStore((rules, redis) =>
        Effect.gen(function*() {
          yield* redis.set("s1", stored)
          yield* Persist.dropCreated(rules, redis, make(rules))
          expect(yield* redis.get("s1")).toStrictEqual(Option.some(stored))
        })
      )
  )
})
