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

/**
 * Redis's refusal of a TTL, or undefined when Redis takes it: `command` is the
 * one reported, `refusing` the one Redis names (a script's inner `SET`).
 */
const ttlRefusal = (
  command: string,
  ttlSeconds: number | undefined,
  positive: boolean,
  refusing = command
): SessionStoreError | undefined =>
  ttlSeconds === undefined
    ? undefined
    : !Number.isSafeInteger(ttlSeconds)
    ? new SessionStoreError({ command, reason: "Reply", detail: "ERR value is not an integer or out of range" })
    : positive && ttlSeconds <= 0
    ? new SessionStoreError({
      command,
      reason: "Reply",
      detail: `ERR invalid expire time in '${refusing.toLowerCase()}' command`
    })
    : undefined

/** Whether an expiry time (undefined: none) has come. */
const isPast = (expiresAtMillis: number | undefined, now: number): boolean => (expiresAtMillis ?? Infinity) <= now

/** @internal */
export const make: Effect.Effect<RedisClientShape> = Effect.sync(() => {
  const entries = new Map<string, MemoryEntry>()
  /** Sorted sets (`indexAdd`), by key: member → score. */
  const indexes = new Map<string, { readonly members: Map<string, number>; expiresAtMillis: number | undefined }>()
  let writesSinceSweep = 0

  const indexAt = (key: string, now: number) => {
    const index = indexes.get(key)
    if (index === undefined) return undefined
    if (isPast(index.expiresAtMillis, now)) {
      indexes.delete(key)
      return undefined
    }
    return index
  }

  const isExpired = (entry: MemoryEntry, now: number): boolean => isPast(entry.expiresAtMillis, now)

  const lookup = (key: string, now: number): MemoryEntry | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (isExpired(entry, now)) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  // Stryker disable all: the sweep only frees memory; every lookup already treats an expired entry as gone
  /** Drops expired entries, amortised O(1): a sweep costs O(size) and runs at most every `size` writes. */
  const sweepAfterWrite = (now: number): void => {
    writesSinceSweep++
    if (writesSinceSweep >= Math.max(sweepEvery, entries.size)) {
      writesSinceSweep = 0
      for (const [k, e] of entries) {
        if (isExpired(e, now)) entries.delete(k)
      }
    }
  }
  // Stryker restore all

  const write = (key: string, entry: MemoryEntry, now: number): void => {
    entries.set(key, entry)
    sweepAfterWrite(now)
  }

  const now = <A>(f: (now: number) => A): Effect.Effect<A> =>
    Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))

  /** Like `now`, failing with the error `f` returns (checked where Redis checks it: a script's `SET` comes last). */
  const attempt = <A>(f: (now: number) => A | SessionStoreError): Effect.Effect<A, SessionStoreError> =>
    Effect.flatMap(now(f), (a) => a instanceof SessionStoreError ? Effect.fail(a) : Effect.succeed(a))

  const expiresAt = (now: number, ttlSeconds: number) => now + ttlSeconds * 1000

  return {
    get: (key) => now((t) => Option.fromNullable(lookup(key, t)?.value)),
    getEx: (key, ttlSeconds) =>
      attempt((t) => {
        const refused = ttlRefusal("GETEX", ttlSeconds, true)
        if (refused !== undefined) return refused
        const entry = lookup(key, t)
        if (entry === undefined) return Option.none()
        write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
        return Option.some(entry.value)
      }),
    set: (key, value, options) =>
      attempt((t) => {
        const ttl = options?.ttlSeconds
        const refused = ttlRefusal("SET", ttl, true)
        if (refused !== undefined) return refused
        const exists = lookup(key, t) !== undefined
        if (options?.condition === "NX" && exists) return false
        if (options?.condition === "XX" && !exists) return false
        write(key, { value, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
        return true
      }),
    expire: (key, ttlSeconds) =>
      attempt((t) => {
        const refused = ttlRefusal("EXPIRE", ttlSeconds, false)
        if (refused !== undefined) return refused
        const entry = lookup(key, t)
        if (entry === undefined) return false
        // a TTL of 0 or less expires the key at once (Redis deletes it)
        write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
        return true
      }),
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
      attempt((t): MoveResult | SessionStoreError => {
        if (lookup(from, t) === undefined) return "Gone"
        const ttl = options?.ttlSeconds
        const refused = ttlRefusal("EVAL", ttl, true, "SET")
        if (refused !== undefined) return refused
        if (lookup(to, t) !== undefined) return "Taken"
        write(to, { value, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
        entries.delete(from)
        return "Moved"
      }),
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
      attempt((t): MergeResult | SessionStoreError => {
        const entry = lookup(key, t)
        if (entry === undefined) return "Gone"
        const merged = applyPatch(entry.value, patch)
        if (merged === undefined) return "Unreadable"
        const ttl = options?.ttlSeconds
        const refused = ttlRefusal("EVALSHA", ttl, true, "SET")
        if (refused !== undefined) return refused
        write(key, { value: merged, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
        return "Merged"
      })
  }
})
