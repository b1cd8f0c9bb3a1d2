/**
 * `move` on Redis Cluster is two commands (`SET to NX`, then `DEL from`):
 * what it does when something happens between them. The contract suite runs
 * the ordinary cases on a real cluster; these interleavings need a client
 * that misbehaves on cue.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fromIoredisCluster } from "../src/internal/ioredisCluster.js"
import type { IoredisClient } from "../src/RedisClient.js"

/** A key-value map behind the two commands `move` sends; `beforeDel` runs before each `DEL`. */
const fakeCluster = (
  data: Map<string, string>,
  beforeDel: (key: string) => void = () => {}
) =>
  ({
    set: (key: string, value: string, ...args: ReadonlyArray<unknown>) => {
      if (args.includes("NX") && data.has(key)) return Promise.resolve(null)
      data.set(key, value)
      return Promise.resolve("OK")
    },
    del: (key: string) => {
      try {
        beforeDel(key)
      } catch (error) {
        return Promise.reject(error)
      }
      return Promise.resolve(data.delete(key) ? 1 : 0)
    }
  }) as unknown as IoredisClient

describe("move on Redis Cluster", () => {
  it.effect("a logout between the SET and the DEL: Gone, and the new key is deleted again", () =>
    Effect.gen(function*() {
      const data = new Map([["old", "session"]])
      const redis = fromIoredisCluster(
        fakeCluster(data, (key) => {
          if (key === "old") data.delete("old") // the logout got there first
        }),
        "1 second"
      )
      expect(yield* redis.move("old", "new", "moved", { ttlSeconds: 60 })).toBe("Gone")
      expect([...data.keys()]).toEqual([])
    }))

  it.effect("a failed DEL of the old key fails the move and deletes the new key", () =>
    Effect.gen(function*() {
      const data = new Map([["old", "session"]])
      const redis = fromIoredisCluster(
        fakeCluster(data, (key) => {
          if (key === "old") throw new Error("Connection is closed.")
        }),
        "1 second"
      )
      const error = yield* Effect.flip(redis.move("old", "new", "moved"))
      expect(error.command).toBe("DEL")
      expect(error.reason).toBe("Connection")
      expect(data.has("new")).toBe(false)
    }))

  it.effect("a taken new key: Taken, and nothing is deleted", () =>
    Effect.gen(function*() {
      const data = new Map([["old", "session"], ["new", "someone else's"]])
      const redis = fromIoredisCluster(fakeCluster(data), "1 second")
      expect(yield* redis.move("old", "new", "moved")).toBe("Taken")
      expect(Object.fromEntries(data)).toEqual({ old: "session", new: "someone else's" })
    }))
})
