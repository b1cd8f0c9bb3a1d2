/**
 * `applyPatch` (the memory store's merge; the Lua script does the same steps,
 * held to it by `RedisClient.merge.contract.test.ts`) against JSON itself:
 * for any stored payload, however it is formatted, the merged text is JSON
 * whose `m` is the stored one with the patch applied. (That untouched values
 * keep their bytes is pinned by the contract's table.)
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { applyPatch, isWellFormed } from "../src/internal/payloadMerge.js"

const key = fc.string({ unit: "binary", maxLength: 6 }).filter(isWellFormed)
const data = fc.uniqueArray(fc.tuple(key, fc.jsonValue({ maxDepth: 3 })), { selector: ([k]) => k, maxLength: 6 })
/** Indentation for `JSON.stringify`: none, spaces or tabs (JSON's whitespace inside the text). */
const indent = fc.constantFrom(0, 1, 2, "\t", "\r\n")

/** What JSON says the merge gives: `m` with `remove` deleted and `set` applied, new keys appended in order. */
const expected = (
  stored: ReadonlyArray<readonly [string, unknown]>,
  set: ReadonlyArray<readonly [string, unknown]>,
  remove: ReadonlyArray<string>
) => {
  const m = new Map<string, unknown>(stored)
  for (const k of remove) m.delete(k)
  for (const [k, v] of set) m.set(k, v)
  return [...m]
}

/** The members of the merged `m`, in the order of the text (JSON.parse would reorder integer-like keys). */
const membersOf = (text: string): ReadonlyArray<readonly [string, unknown]> => {
  const parsed: unknown = JSON.parse(text)
  expect(parsed).toBeTypeOf("object")
  const m = (parsed as { m: Record<string, unknown> }).m
  return Object.keys(m).map((k) => [k, m[k]] as const)
}

describe("applyPatch against JSON", () => {
  it("gives the JSON merge for any stored payload, in any formatting", () => {
    fc.assert(
      fc.property(data, data, fc.array(key, { maxLength: 3 }), indent, (stored, set, remove, space) => {
        const removed = remove.filter((k) => !set.some(([s]) => s === k))
        const text = JSON.stringify({ c: 1, m: Object.fromEntries(stored), v: 1 }, null, space)
        const merged = applyPatch(text, {
          set: set.map(([k, v]) => [JSON.stringify(k), JSON.stringify(v)] as const),
          remove: removed.map((k) => JSON.stringify(k)),
          rest: ",\"c\":1}"
        })
        expect(merged).toBeDefined()
        const want = new Map(expected(stored, set, removed).map(([k, v]) => [k, JSON.parse(JSON.stringify(v))]))
        const got = new Map(membersOf(merged ?? ""))
        expect(got).toEqual(want)
      }),
      { numRuns: 300 }
    )
  })
})
