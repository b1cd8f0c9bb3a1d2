/**
 * Applies a `PayloadPatch` to a stored JSON payload without re-encoding the
 * values it leaves alone: the text is scanned (strings, escapes, nesting),
 * and the untouched members of `m` are copied byte for byte. The Lua script
 * of the ioredis client (`mergeScript`) does the same on the server, step for
 * step; the memory store runs this one. Imports nothing from Effect.
 */
import type { PayloadPatch } from "../RedisClient.js"

const QUOTE = 34
const BACKSLASH = 92
const OPEN_OBJECT = 123
const CLOSE_OBJECT = 125
const OPEN_ARRAY = 91
const COLON = 58
const COMMA = 44

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13

/** The index of the next non-space character at or after `i`, or -1. */
const skipSpace = (s: string, i: number): number => {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++
  return i < s.length ? i : -1
}

/** `s[i]` is a quote: the index of the closing quote, or -1. */
const stringEnd = (s: string, i: number): number => {
  let j = i + 1
  for (;;) {
    const q = s.indexOf("\"", j)
    if (q === -1) return -1
    // count the backslashes right before it: an odd number escapes it
    let b = q - 1
    while (b > i && s.charCodeAt(b) === BACKSLASH) b--
    if ((q - 1 - b) % 2 === 0) return q
    j = q + 1
  }
}

const STRUCTURE = /[[\]{}"]/g
const SCALAR_END = /[\s,\]}]/g

/** `s[i]` starts a value: the index of its last character, or -1. */
const valueEnd = (s: string, i: number): number => {
  const c = s.charCodeAt(i)
  if (c === QUOTE) return stringEnd(s, i)
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0
    let j = i
    for (;;) {
      STRUCTURE.lastIndex = j
      const m = STRUCTURE.exec(s)
      if (m === null) return -1
      const k = m.index
      const b = s.charCodeAt(k)
      if (b === QUOTE) {
        const e = stringEnd(s, k)
        if (e === -1) return -1
        j = e + 1
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        depth++
        j = k + 1
      } else {
        depth--
        if (depth === 0) return k
        j = k + 1
      }
    }
  }
  if (!/[-0-9tfn]/.test(s[i] ?? "")) return -1
  SCALAR_END.lastIndex = i
  const m = SCALAR_END.exec(s)
  return m === null ? -1 : m.index - 1
}

/** A member of an object: where its key literal and its value start and end (inclusive). */
interface Member {
  readonly keyStart: number
  readonly keyEnd: number
  readonly valueStart: number
  readonly valueEnd: number
}

/** `s[i]` is `{`: its members, or undefined when the text is no object. */
const members = (s: string, i: number): ReadonlyArray<Member> | undefined => {
  const out: Array<Member> = []
  let j = skipSpace(s, i + 1)
  if (j === -1) return undefined
  if (s.charCodeAt(j) === CLOSE_OBJECT) return out
  for (;;) {
    if (s.charCodeAt(j) !== QUOTE) return undefined
    const keyEnd = stringEnd(s, j)
    if (keyEnd === -1) return undefined
    const colon = skipSpace(s, keyEnd + 1)
    if (colon === -1 || s.charCodeAt(colon) !== COLON) return undefined
    const valueStart = skipSpace(s, colon + 1)
    if (valueStart === -1) return undefined
    const end = valueEnd(s, valueStart)
    if (end === -1) return undefined
    out.push({ keyStart: j, keyEnd, valueStart, valueEnd: end })
    const next = skipSpace(s, end + 1)
    if (next === -1) return undefined
    const c = s.charCodeAt(next)
    if (c === CLOSE_OBJECT) return out
    if (c !== COMMA) return undefined
    j = skipSpace(s, next + 1)
    if (j === -1) return undefined
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** No lone surrogate: the string has a UTF-8 form (what Redis receives) and cjson can decode its literal. */
export const isWellFormed = (text: string): boolean => !LONE_SURROGATE.test(text)

/** A key literal's value; undefined when it cannot be decoded (Lua's cjson refuses lone surrogates too). */
const decodeKey = (literal: string): string | undefined => {
  if (!literal.includes("\\")) return literal.slice(1, -1)
  try {
    const key: unknown = JSON.parse(literal)
    return typeof key === "string" && isWellFormed(key) ? key : undefined
  } catch {
    return undefined
  }
}

/**
 * The stored payload with `patch` applied, or undefined when `stored` is no
 * JSON object with an object `m`. Members of `m` keep their order; a set
 * key takes the place of its first occurrence (later duplicates go), new
 * keys follow in the patch's order.
 */
export const applyPatch = (stored: string, patch: PayloadPatch): string | undefined => {
  const start = skipSpace(stored, 0)
  if (start === -1 || stored.charCodeAt(start) !== OPEN_OBJECT) return undefined
  const top = members(stored, start)
  const m = top?.find((member) => decodeKey(stored.slice(member.keyStart, member.keyEnd + 1)) === "m")
  if (m === undefined || stored.charCodeAt(m.valueStart) !== OPEN_OBJECT) return undefined
  const data = members(stored, m.valueStart)
  if (data === undefined) return undefined

  const changes = new Map<string, { readonly literal: string; readonly value: string | undefined }>()
  for (const literal of patch.remove) {
    const key = decodeKey(literal)
    if (key !== undefined) changes.set(key, { literal, value: undefined })
  }
  for (const [literal, value] of patch.set) {
    const key = decodeKey(literal)
    if (key !== undefined) changes.set(key, { literal, value })
  }
  const out: Array<string> = []
  const written = new Set<string>()
  for (const member of data) {
    const key = decodeKey(stored.slice(member.keyStart, member.keyEnd + 1))
    const change = key === undefined ? undefined : changes.get(key)
    if (change === undefined || key === undefined) {
      out.push(
        stored.slice(member.keyStart, member.keyEnd + 1) + ":" + stored.slice(member.valueStart, member.valueEnd + 1)
      )
    } else if (change.value !== undefined && !written.has(key)) {
      written.add(key)
      out.push(change.literal + ":" + change.value)
    }
  }
  for (const [key, change] of changes) {
    if (change.value !== undefined && !written.has(key)) out.push(change.literal + ":" + change.value)
  }
  return "{\"m\":{" + out.join(",") + "}" + patch.rest
}
