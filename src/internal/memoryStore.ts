/**
 * An in-memory store with Redis semantics, its TTLs on the Effect `Clock`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type MergeResult, type MoveResult, type RedisClientShape, SessionStoreError } from "../RedisClient.js"
import { applyPatch } from "./payloadMerge.js"

interface MemoryEntry {
  readonly value: string
  readonly expiresAtMillis: number | undefined
}

/** Sweep expired entries after this many writes (at least; see `makeMemory`). */
const sweepEvery = 1000

const replyError = (command: string, detail: string) =>
  Effect.fail(new SessionStoreError({ command, reason: "Reply", detail }))

const checkTtl = (command: string, ttlSeconds: number, positive: boolean): Effect.Effect<void, SessionStoreError> =>
  !Number.isSafeInteger(ttlSeconds)
    ? replyError(command, "ERR value is not an integer or out of range")
    : positive && ttlSeconds <= 0
    ? replyError(command, `ERR invalid expire time in '${command.toLowerCase()}' command`)
    : Effect.void

/** @internal */
export const make: Effect.Effect<RedisClientShape> = Effect.sync(() => {
  const entries = new Map<string, MemoryEntry>()
  /** Sorted sets (`indexAdd`), by key: member → score. */
  const indexes = new Map<string, { readonly members: Map<string, number>; expiresAtMillis: number | undefined }>()
  let writesSinceSweep = 0

  const indexAt = (key: string, now: number) => {
    const index = indexes.get(key)
    if (index === undefined) return undefined
    if (index.expiresAtMillis !== undefined && index.expiresAtMillis <= now) {
      indexes.delete(key)
      return undefined
    }
    return index
  }

  const isExpired = (entry: MemoryEntry, now: number): boolean =>
    entry.expiresAtMillis !== undefined && entry.expiresAtMillis <= now

  const lookup = (key: string, now: number): MemoryEntry | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (isExpired(entry, now)) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  const write = (key: string, entry: MemoryEntry, now: number): void => {
    entries.set(key, entry)
    // amortised O(1): a sweep costs O(size) and runs at most every `size` writes
    writesSinceSweep++
    if (writesSinceSweep >= Math.max(sweepEvery, entries.size)) {
      writesSinceSweep = 0
      for (const [k, e] of entries) {
        if (isExpired(e, now)) entries.delete(k)
      }
    }
  }

  const now = <A>(f: (now: number) => A): Effect.Effect<A> =>
    Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))

  const expiresAt = (now: number, ttlSeconds: number) => now + ttlSeconds * 1000

  return {
    get: (key) => now((t) => Option.fromNullable(lookup(key, t)?.value)),
    getEx: (key, ttlSeconds) =>
      Effect.zipRight(
        checkTtl("GETEX", ttlSeconds, true),
        now((t) => {
          const entry = lookup(key, t)
          if (entry === undefined) return Option.none()
          write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
          return Option.some(entry.value)
        })
      ),
    set: (key, value, options) =>
      Effect.zipRight(
        options?.ttlSeconds === undefined ? Effect.void : checkTtl("SET", options.ttlSeconds, true),
        now((t) => {
          const exists = lookup(key, t) !== undefined
          if (options?.condition === "NX" && exists) return false
          if (options?.condition === "XX" && !exists) return false
          const ttl = options?.ttlSeconds
          write(key, { value, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
          return true
        })
      ),
    expire: (key, ttlSeconds) =>
      Effect.zipRight(
        checkTtl("EXPIRE", ttlSeconds, false),
        now((t) => {
          const entry = lookup(key, t)
          if (entry === undefined) return false
          if (ttlSeconds <= 0) {
            entries.delete(key)
          } else {
            write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
          }
          return true
        })
      ),
    del: (key) => now((t) => lookup(key, t) !== undefined && entries.delete(key)),
    ttl: (key) =>
      now((t) => {
        const entry = lookup(key, t)
        if (entry === undefined) return -2
        if (entry.expiresAtMillis === undefined) return -1
        // like Redis: milliseconds left, rounded to the nearest second
        return Math.floor((entry.expiresAtMillis - t + 500) / 1000)
      }),
    move: (from, to, value, options) =>
      Effect.zipRight(
        options?.ttlSeconds === undefined ? Effect.void : checkTtl("EVAL", options.ttlSeconds, true),
        now((t): MoveResult => {
          if (lookup(from, t) === undefined) return "Gone"
          if (lookup(to, t) !== undefined) return "Taken"
          const ttl = options?.ttlSeconds
          write(to, { value, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
          entries.delete(from)
          return "Moved"
        })
      ),
    getMany: (keys) => now((t) => keys.map((key) => Option.fromNullable(lookup(key, t)?.value))),
    indexAdd: (key, member, score, ttlSeconds) =>
      now((t) => {
        const index = indexAt(key, t) ?? { members: new Map<string, number>(), expiresAtMillis: undefined }
        for (const m of [...index.members.keys()]) if (lookup(m, t) === undefined) index.members.delete(m)
        index.members.set(member, score)
        index.expiresAtMillis = ttlSeconds === undefined
          ? undefined
          : Math.max(index.expiresAtMillis ?? 0, expiresAt(t, ttlSeconds))
        indexes.set(key, index)
      }),
    indexMembers: (key) =>
      now((t) =>
        [...(indexAt(key, t)?.members ?? new Map<string, number>())].sort((a, b) => a[1] - b[1]).map(([m]) => m)
      ),
    indexRemove: (key, members) =>
      now((t) => {
        const index = indexAt(key, t)
        if (index === undefined) return
        for (const m of members) index.members.delete(m)
        if (index.members.size === 0) indexes.delete(key)
      }),
    mergePayload: (key, patch, options) =>
      Effect.zipRight(
        options?.ttlSeconds === undefined ? Effect.void : checkTtl("EVALSHA", options.ttlSeconds, true),
        now((t): MergeResult => {
          const entry = lookup(key, t)
          if (entry === undefined) return "Gone"
          const merged = applyPatch(entry.value, patch)
          if (merged === undefined) return "Unreadable"
          const ttl = options?.ttlSeconds
          write(key, { value: merged, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
          return "Merged"
        })
      )
  }
})
