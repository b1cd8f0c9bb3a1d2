/**
 * The stored session value, shared with pyramid_session_redis: `{"m": data,
 * "c": created, "v": version, "t"?: timeout, "x"?: expiry}`, times in whole
 * epoch seconds. Imports nothing from Effect.
 */
import type { PayloadPatch } from "../RedisClient.js"
import type { Serializer } from "../Serializer.js"

/** @internal */
export const PAYLOAD_VERSION = 1

/** @internal */
export type Data = Record<string, unknown>

/** @internal */
export interface Payload {
  readonly m: Data
  readonly c: number
  readonly v: number
  readonly t?: number | undefined
  readonly x?: number | undefined
  /** The user the session is bound to (this library's own field; pyramid_session_redis ignores it). */
  readonly u?: Binding | undefined
  /** Last write, epoch seconds; written for bound sessions, for listing them. */
  readonly w?: number | undefined
}

/** @internal */
export interface Binding {
  readonly id: string
  readonly label?: string | undefined
}

const binding = (u: unknown): Binding | undefined => {
  if (!isRecord(u) || typeof u["id"] !== "string") return undefined
  const label = u["label"]
  return typeof label === "string" ? { id: u["id"], label } : { id: u["id"] }
}

/** @internal */
export type Decoded =
  | { readonly _tag: "Valid"; readonly payload: Payload }
  | { readonly _tag: "Undecodable"; readonly reason: string }
  | { readonly _tag: "Legacy"; readonly version: number | undefined }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isSafeInteger = (u: unknown): u is number => Number.isSafeInteger(u)

const optionalInt = (u: unknown): number | undefined | false =>
  u === undefined || u === null ? undefined : isSafeInteger(u) ? u : false

/** Parses and checks the shape; expiry (`x`) is judged by the caller, which owns the clock. */
export const decode = (serializer: Serializer, text: string): Decoded => {
  let raw: unknown
  try {
    raw = serializer.deserialize(text)
  } catch (error) {
    return { _tag: "Undecodable", reason: error instanceof Error ? error.name : "deserialize failed" }
  }
  if (!isRecord(raw)) return { _tag: "Undecodable", reason: "payload is not an object" }
  const v = optionalInt(raw["v"])
  if (v === false) return { _tag: "Undecodable", reason: "v is not an integer" }
  if (v === undefined || v < PAYLOAD_VERSION) return { _tag: "Legacy", version: v }
  const m = raw["m"]
  const c = optionalInt(raw["c"])
  const t = optionalInt(raw["t"])
  const x = optionalInt(raw["x"])
  if (!isRecord(m)) return { _tag: "Undecodable", reason: "m is not an object" }
  if (c === false || c === undefined) return { _tag: "Undecodable", reason: "c is not an integer" }
  if (t === false || x === false) return { _tag: "Undecodable", reason: "t or x is not an integer" }
  // `u` and `w` are ours: a malformed one is dropped, never a reason to refuse the session.
  const u = binding(raw["u"])
  const w = optionalInt(raw["w"])
  return {
    _tag: "Valid",
    payload: { m, c, v, t, x, ...(u === undefined ? {} : { u }), ...(w === undefined || w === false ? {} : { w }) }
  }
}

/** Key order `m c v t x u w`, absent optional keys omitted. */
export const encode = (serializer: Serializer, payload: Payload): string => {
  const out: Record<string, unknown> = { m: payload.m, c: payload.c, v: payload.v }
  if (payload.t !== undefined) out["t"] = payload.t
  if (payload.x !== undefined) out["x"] = payload.x
  if (payload.u !== undefined) out["u"] = payload.u
  if (payload.w !== undefined) out["w"] = payload.w
  return serializer.serialize(out)
}

/** How every payload `encode` writes with an empty `m` begins: `m` comes first. */
const EMPTY_M = "{\"m\":{}"

/**
 * The merge write of `payload`: the members of `m` named in `set` (with
 * their values as the serializer writes them) and `removed`, and the
 * top-level fields as a whole. Undefined when the serializer does not write
 * `m` first as plain JSON: then only a whole write is safe.
 */
export const encodePatch = (
  serializer: Serializer,
  payload: Payload,
  set: ReadonlyArray<string>,
  removed: ReadonlyArray<string>
): PayloadPatch | undefined => {
  const skeleton = encode(serializer, { ...payload, m: {} })
  if (!skeleton.startsWith(EMPTY_M)) return undefined
  const entries: Array<readonly [string, string]> = []
  const remove = removed.map((key) => JSON.stringify(key))
  for (const key of set) {
    const value: unknown = serializer.serialize(payload.m[key])
    // A value JSON cannot hold (undefined, a function) is left out of a whole payload too.
    if (typeof value === "string") entries.push([JSON.stringify(key), value])
    else remove.push(JSON.stringify(key))
  }
  return { set: entries, remove, rest: skeleton.slice(EMPTY_M.length) }
}

/** Integer seconds, rounded up like pyramid_session_redis (`ceil(time.time())`). */
export const epochSeconds = (millis: number): number => Math.ceil(millis / 1000)
