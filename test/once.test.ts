/**
 * `Once`, how a request loads its session: at most one run at a time, until
 * one succeeds; callers arriving during a run share its outcome; a failure or
 * an interruption lets the next caller try again.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { Once } from "../src/internal/once.js"

/** An effect that counts its runs and finishes when `gate` is opened (or at once, without one). */
const counted = <E>(outcome: Effect.Effect<void, E>, gate?: Deferred.Deferred<void>) => {
  const runs = { count: 0 }
  const effect = () =>
    Effect.suspend(() => {
      runs.count++
      return gate === undefined ? outcome : Effect.zipRight(Deferred.await(gate), outcome)
    })
  return { runs, effect }
}

describe("Once", () => {
  it.effect("a success is final: later runs run nothing", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const { effect, runs } = counted(Effect.void)
      expect(once.done).toBe(false)
      yield* once.run(effect)
      yield* once.run(effect)
      expect(runs.count).toBe(1)
      expect(once.done).toBe(true)
      expect(once.failure).toBeUndefined()
    }))

  it.effect("a failure lets the next caller try again, and is kept with its cause", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const { effect, runs } = counted(Effect.fail("down"))
      expect(yield* Effect.flip(once.run(effect))).toBe("down")
      expect(once.done).toBe(false)
      expect(once.failure).toStrictEqual(Cause.fail("down"))
      expect(yield* Effect.flip(once.run(effect))).toBe("down")
      expect(runs.count).toBe(2)
    }))

  it.effect("onFailure sees a failed run's cause; a success doesn't call it", () =>
    Effect.gen(function*() {
      const seen: Array<Cause.Cause<string>> = []
      const once = new Once<string>((cause) => Effect.sync(() => void seen.push(cause)))
      yield* Effect.exit(once.run(() => Effect.fail("down")))
      yield* once.run(() => Effect.void)
      expect(seen).toStrictEqual([Cause.fail("down")])
    }))

  it.effect("a caller arriving during a run waits for it and shares its success", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const gate = yield* Deferred.make<void>()
      const { effect, runs } = counted(Effect.void, gate)
      const first = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      expect(second.unsafePoll()).toBeNull()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(runs.count).toBe(1)
      expect(once.done).toBe(true)
    }))

  it.effect("a caller arriving during a failing run gets its failure, after onFailure ran", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      const once = new Once<string>(() => Effect.sync(() => void order.push("onFailure")))
      const gate = yield* Deferred.make<void>()
      const { effect, runs } = counted(Effect.fail("down"), gate)
      const first = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(
        Effect.tapError(once.run(effect), () => Effect.sync(() => order.push("waiter")))
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.await(first)).toStrictEqual(Exit.fail("down"))
      expect(yield* Fiber.await(second)).toStrictEqual(Exit.fail("down"))
      expect(runs.count).toBe(1)
      expect(order).toStrictEqual(["onFailure", "waiter"])
    }))

  it.effect("an interrupted run lets the next caller run again", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const gate = yield* Deferred.make<void>()
      const { effect, runs } = counted(Effect.void, gate)
      const first = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      expect(once.done).toBe(false)
      yield* Deferred.succeed(gate, undefined)
      yield* once.run(effect)
      expect(runs.count).toBe(2)
      expect(once.done).toBe(true)
    }))

  it.effect("settled returns at once when nothing runs", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      yield* once.settled()
      expect(once.done).toBe(false)
    }))

  it.effect("settled waits for the run in progress, and ignores its failure", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const gate = yield* Deferred.make<void>()
      const { effect } = counted(Effect.fail("down"), gate)
      const run = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      const settled = yield* Effect.fork(once.settled())
      yield* Effect.yieldNow()
      expect(settled.unsafePoll()).toBeNull()
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.await(settled)).toStrictEqual(Exit.void)
      yield* Fiber.await(run)
    }))

  it.effect("complete makes it done without running", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const { effect, runs } = counted(Effect.void)
      once.complete()
      expect(once.done).toBe(true)
      yield* once.run(effect)
      expect(runs.count).toBe(0)
    }))

  it.effect("a run built before another finished runs nothing when it starts: it is decided when run", () =>
    Effect.gen(function*() {
      const once = new Once<string>()
      const gate = yield* Deferred.make<void>()
      const { effect, runs } = counted(Effect.void, gate)
      const first = yield* Effect.fork(once.run(effect))
      yield* Effect.yieldNow()
      const late = once.run(effect)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* late
      expect(runs.count).toBe(1)
    }))
})
