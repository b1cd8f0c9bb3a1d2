/**
 * Loading and persisting one session through `RedisClient` (`internal/store.ts`):
 * which command, what its reply means, and what it logs, on the memory store.
 * The same paths under HTTP, on both stores, are in Session.logs.test.ts and
 * Session.behaviour.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Store from "../src/internal/store.js"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { secret } from "./support/sessionApp.js"

const payload = `{"m":{"a":1},"c":1,"v":1}`

/** A policy whose id generator hands out `ids` in order, then "fresh". */
const policyWith = (ids: ReadonlyArray<string>) => {
  const queue = [...ids]
  return SessionPolicy.make({ secret, generateId: () => queue.shift() ?? "fresh" })
}

/** Runs `self` on a new memory store, with its log lines. */
const withStore = <A, E>(
  self: (redis: RedisClient.RedisClientShape) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.map(Logger.logfmtLogger, (line) => void lines.push(line))
    const redis = yield* RedisClient.RedisClient
    const exit = yield* Effect.exit(self(redis).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
    return { exit, lines, redis }
  }).pipe(Effect.provide(RedisClient.layerMemory))

const dieMessage = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? Option.getOrUndefined(Option.map(Cause.dieOption(exit.cause), (defect) => (defect as Error).message))
    : undefined

describe("redactId", () => {
  it("is 12 hex characters, the same for the same id, and never the id", () => {
    const tag = Store.redactId("session-id")
    expect(tag).toMatch(/^[0-9a-f]{12}$/)
    expect(Store.redactId("session-id")).toBe(tag)
    expect(Store.redactId("other-id")).not.toBe(tag)
  })
})

describe("load", () => {
  it.effect("an undecodable payload fails with the decoder's reason, unless it counts as a new session", () =>
    Effect.gen(function*() {
      const strict = yield* SessionPolicy.make({ secret, deserializationFailsNew: false })
      const lenient = yield* SessionPolicy.make({ secret, deserializationFailsNew: true })
      const { exit } = yield* withStore((redis) =>
        Effect.zipRight(redis.set(strict.storageKey("s"), "not json"), Store.load(strict, redis, "s", 0))
      )
      expect(exit).toMatchObject({ _tag: "Failure" })
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error).toMatchObject({ _tag: "SessionPayloadError" })
      expect((error as { readonly reason: string }).reason.length).toBeGreaterThan(0)
      const { exit: newSession } = yield* withStore((redis) =>
        Effect.zipRight(redis.set(lenient.storageKey("s"), "not json"), Store.load(lenient, redis, "s", 0))
      )
      expect(newSession).toMatchObject({ _tag: "Success", value: { _tag: "Invalid", stale: false } })
    }))

  it.effect("a missing key is NotInBackend, not stale: nothing to delete", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit } = yield* withStore((redis) => Store.load(policy, redis, "s", 0))
      expect(exit).toMatchObject({ _tag: "Success", value: { _tag: "Invalid", stale: false } })
    }))
})

describe("create", () => {
  it.effect("writes under a fresh id after a collision, logging the taken one by its tag", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith(["second"])
      const { exit, lines, redis } = yield* withStore((redis) =>
        Effect.zipRight(redis.set(policy.storageKey("first"), "{}"), Store.create(policy, redis, "first", payload, 60))
      )
      expect(exit).toStrictEqual(Exit.succeed("second"))
      expect(yield* redis.get(policy.storageKey("second"))).toStrictEqual(Option.some(payload))
      expect(lines.filter((line) => line.includes(`session id collision; generating another`))).toHaveLength(1)
      expect(lines.join("\n")).toContain(Store.redactId("first"))
    }))

  it.effect("three taken ids in a row are a defect: the id generator is broken", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith(["b", "c", "d"])
      const { exit } = yield* withStore((redis) =>
        Effect.gen(function*() {
          for (const id of ["a", "b", "c"]) yield* redis.set(policy.storageKey(id), "{}")
          return yield* Store.create(policy, redis, "a", payload, 60)
        })
      )
      expect(dieMessage(exit)).toBe("the session id generator keeps producing ids that already exist")
    }))
})

describe("moveSession", () => {
  it.effect("a session that vanished is not moved, and is logged by its tag", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit, lines, redis } = yield* withStore((redis) =>
        Store.moveSession(policy, redis, "gone", "new", payload, 60)
      )
      expect(exit).toStrictEqual(Exit.succeed(undefined))
      expect(yield* redis.get(policy.storageKey("new"))).toStrictEqual(Option.none())
      const line = lines.find((entry) => entry.includes("session vanished before it could be regenerated"))
      expect(line).toContain(Store.redactId("gone"))
      expect(lines.join("\n")).not.toContain("gone\"")
    }))

  it.effect("three taken ids in a row are a defect: the id generator is broken", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith(["b", "c", "d"])
      const { exit } = yield* withStore((redis) =>
        Effect.gen(function*() {
          for (const id of ["from", "a", "b", "c"]) yield* redis.set(policy.storageKey(id), "{}")
          return yield* Store.moveSession(policy, redis, "from", "a", payload, 60)
        })
      )
      expect(dieMessage(exit)).toBe("the session id generator keeps producing ids that already exist")
    }))
})

describe("moveSession after a timeout", () => {
  it.effect("moves the session back with the same TTL: the client keeps the old cookie, and its session its expiry", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit, redis } = yield* withStore((memory) =>
        Effect.gen(function*() {
          yield* memory.set(policy.storageKey("from"), payload, { ttlSeconds: 60 })
          let first = true
          // The first move is applied but its answer never arrives; the undo is the store's own.
          const timingOut: RedisClient.RedisClientShape = {
            ...memory,
            move: (from, to, value, options) => {
              if (!first) return memory.move(from, to, value, options)
              first = false
              return Effect.zipRight(
                memory.move(from, to, value, options),
                Effect.fail(new RedisClient.SessionStoreError({ reason: "Timeout", command: "EVAL" }))
              )
            }
          }
          const result = yield* Effect.exit(Store.moveSession(policy, timingOut, "from", "new", payload, 300))
          // the undo runs in the background
          yield* Effect.yieldNow()
          yield* Effect.yieldNow()
          return result
        })
      )
      expect(exit).toMatchObject({ _tag: "Success", value: { _tag: "Failure" } })
      expect(yield* redis.get(policy.storageKey("new"))).toStrictEqual(Option.none())
      expect(yield* redis.get(policy.storageKey("from"))).toStrictEqual(Option.some(payload))
      expect(yield* redis.ttl(policy.storageKey("from"))).toBe(300)
    }))
})

describe("merge", () => {
  const patch: RedisClient.PayloadPatch = { set: [[`"b"`, "2"]], remove: [], rest: `,"c":1,"v":1}` }

  it.effect("a merged write succeeds", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit, redis } = yield* withStore((redis) =>
        Effect.zipRight(
          redis.set(policy.storageKey("s"), payload),
          Store.merge(policy, redis, "s", patch, payload, 60)
        )
      )
      expect(exit).toStrictEqual(Exit.succeed(true))
      expect(yield* redis.get(policy.storageKey("s"))).toStrictEqual(Option.some(`{"m":{"a":1,"b":2},"c":1,"v":1}`))
      expect(yield* redis.ttl(policy.storageKey("s"))).toBe(60)
    }))

  it.effect("a vanished session is not written, is false, and is logged by its tag", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit, lines, redis } = yield* withStore((redis) => Store.merge(policy, redis, "s", patch, payload, 60))
      expect(exit).toStrictEqual(Exit.succeed(false))
      expect(yield* redis.get(policy.storageKey("s"))).toStrictEqual(Option.none())
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("session vanished before it could be written")
      expect(lines[0]).toContain(Store.redactId("s"))
    }))

  it.effect("a stored value no merge can read is replaced whole, and logged by its tag", () =>
    Effect.gen(function*() {
      const policy = yield* policyWith([])
      const { exit, lines, redis } = yield* withStore((redis) =>
        Effect.zipRight(
          redis.set(policy.storageKey("s"), "pickled bytes"),
          Store.merge(policy, redis, "s", patch, payload, 60)
        )
      )
      expect(exit).toStrictEqual(Exit.succeed(true))
      expect(yield* redis.get(policy.storageKey("s"))).toStrictEqual(Option.some(payload))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("stored session payload could not be merged; writing it whole")
      expect(lines[0]).toContain(Store.redactId("s"))
    }))
})
