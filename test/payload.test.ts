/**
 * The stored session value: UTF-8 JSON
 * `{"m": data, "c": created, "v": 1, "t"?: timeout, "x"?: expiry}`,
 * shared with pyramid_session_redis.
 */
import { describe, expect, it } from "@effect/vitest"
import { decode, encode, encodePatch, epochSeconds, type Payload, PAYLOAD_VERSION } from "../src/internal/payload.js"
import { applyPatch } from "../src/internal/payloadMerge.js"
import * as Serializer from "../src/Serializer.js"

const decodeJson = (text: string) => decode(Serializer.json, text)

/** Why a payload is refused: the reason its InvalidSession carries (an error's name, never its text). */
const undecodable = (reason: string) => ({ _tag: "Undecodable", reason })

const BOUND = { m: {}, c: 1700000000, v: 1 }

describe("payload", () => {
  describe("encode", () => {
    it("writes the keys in the order m, c, v, t, x", () => {
      const text = encode(Serializer.json, { m: { a: 1 }, c: 1700000000, v: 1, t: 1200, x: 1700001200 })
      expect(text).toBe(`{"m":{"a":1},"c":1700000000,"v":1,"t":1200,"x":1700001200}`)
    })

    it("omits t and x when they are absent", () => {
      const text = encode(Serializer.json, { m: {}, c: 1700000000, v: 1 })
      expect(text).toBe(`{"m":{},"c":1700000000,"v":1}`)
    })

    it("omits t and x when they are explicitly undefined", () => {
      const text = encode(Serializer.json, { m: {}, c: 1700000000, v: 1, t: undefined, x: undefined })
      expect(text).toBe(`{"m":{},"c":1700000000,"v":1}`)
    })

    it("hands the serializer only the keys that are present, so no serializer sees an undefined field", () => {
      const keys = { serialize: (value: unknown) => Object.keys(value as object).join(","), deserialize: JSON.parse }
      expect(encode(keys, { ...BOUND, t: undefined, x: undefined, u: undefined, w: undefined })).toBe("m,c,v")
      expect(encode(keys, { ...BOUND, t: 1, x: 2, u: { id: "u1" }, w: 3 })).toBe("m,c,v,t,x,u,w")
    })

    it("writes t without x (timeout tracked only in the Redis TTL)", () => {
      const text = encode(Serializer.json, { m: {}, c: 1700000000, v: 1, t: 1200 })
      expect(text).toBe(`{"m":{},"c":1700000000,"v":1,"t":1200}`)
    })

    it("writes the bound user u and the last write w after x", () => {
      const text = encode(Serializer.json, { ...BOUND, t: 1200, u: { id: "u1", label: "Ann" }, w: 1700000100 })
      expect(text).toBe(`{"m":{},"c":1700000000,"v":1,"t":1200,"u":{"id":"u1","label":"Ann"},"w":1700000100}`)
    })

    it("omits u and w when they are undefined", () => {
      expect(encode(Serializer.json, { ...BOUND, u: undefined, w: undefined })).toBe(`{"m":{},"c":1700000000,"v":1}`)
    })

    it("the current payload version is 1", () => {
      expect(PAYLOAD_VERSION).toBe(1)
    })
  })

  describe("decode", () => {
    it("round-trips a payload with t and x", () => {
      const payload: Payload = {
        m: { user: "ann", cart: [1, 2, { sku: "x" }], _f_: ["hello"], nested: { deep: { n: null } } },
        c: 1700000000,
        v: 1,
        t: 1200,
        x: 1700001200
      }
      expect(decodeJson(encode(Serializer.json, payload))).toStrictEqual({ _tag: "Valid", payload })
    })

    it("round-trips a payload without t and x, leaving them undefined", () => {
      const decoded = decodeJson(encode(Serializer.json, { m: { a: "b" }, c: 1700000000, v: 1 }))
      expect(decoded).toStrictEqual({
        _tag: "Valid",
        payload: { m: { a: "b" }, c: 1700000000, v: 1, t: undefined, x: undefined }
      })
    })

    it("accepts the seed's JSON, with spaces and another key order", () => {
      expect(decodeJson(`{"c": 1700000000, "m": {"a": 1}, "v": 1, "t": 1200}`)).toStrictEqual({
        _tag: "Valid",
        payload: { m: { a: 1 }, c: 1700000000, v: 1, t: 1200, x: undefined }
      })
    })

    it("accepts JSON with newlines and indentation", () => {
      expect(decodeJson(`{\n  "x": 1700001200,\n  "v": 1,\n  "m": {},\n  "c": 1700000000\n}\n`)).toStrictEqual({
        _tag: "Valid",
        payload: { m: {}, c: 1700000000, v: 1, t: undefined, x: 1700001200 }
      })
    })

    it("treats null t and x as absent", () => {
      expect(decodeJson(`{"m": {}, "c": 1700000000, "v": 1, "t": null, "x": null}`)).toStrictEqual({
        _tag: "Valid",
        payload: { m: {}, c: 1700000000, v: 1, t: undefined, x: undefined }
      })
    })

    it("accepts a newer version", () => {
      const decoded = decodeJson(`{"m": {}, "c": 1700000000, "v": 2}`)
      expect(decoded._tag).toBe("Valid")
    })

    describe("u and w, this library's own fields: kept when well-formed, dropped otherwise", () => {
      const decoded = (fields: string) => decodeJson(`{"m": {}, "c": 1700000000, "v": 1${fields}}`)

      it.each([
        {
          case: "u with an id and a label",
          fields: `, "u": {"id": "u1", "label": "Ann"}`,
          kept: { u: { id: "u1", label: "Ann" } }
        },
        { case: "u with an id only", fields: `, "u": {"id": "u1"}`, kept: { u: { id: "u1" } } },
        {
          case: "u whose label is not a string keeps the id",
          fields: `, "u": {"id": "u1", "label": 7}`,
          kept: { u: { id: "u1" } }
        },
        { case: "u whose id is not a string", fields: `, "u": {"id": 7, "label": "Ann"}`, kept: {} },
        { case: "u that is not an object", fields: `, "u": "u1"`, kept: {} },
        { case: "u that is null", fields: `, "u": null`, kept: {} },
        { case: "an integer w", fields: `, "w": 1700000100`, kept: { w: 1700000100 } },
        { case: "a w of 0", fields: `, "w": 0`, kept: { w: 0 } },
        { case: "a w that is not an integer", fields: `, "w": "later"`, kept: {} },
        { case: "a null w", fields: `, "w": null`, kept: {} },
        {
          case: "u and w together",
          fields: `, "u": {"id": "u1"}, "w": 1700000100`,
          kept: { u: { id: "u1" }, w: 1700000100 }
        }
      ])("$case", ({ fields, kept }) => {
        expect(decoded(fields)).toStrictEqual({
          _tag: "Valid",
          payload: { m: {}, c: 1700000000, v: 1, t: undefined, x: undefined, ...kept }
        })
      })
    })

    it("a payload without v is Legacy", () => {
      expect(decodeJson(`{"m": {"a": 1}, "c": 1700000000}`)).toStrictEqual({ _tag: "Legacy", version: undefined })
    })

    it("a payload with v 0 is Legacy", () => {
      expect(decodeJson(`{"m": {"a": 1}, "c": 1700000000, "v": 0}`)).toStrictEqual({ _tag: "Legacy", version: 0 })
    })

    it("text that is not JSON is Undecodable", () => {
      expect(decodeJson(`{"m": {`)).toStrictEqual(undecodable("SyntaxError"))
      expect(decodeJson(`\x80\x03}q\x00.`)).toStrictEqual(undecodable("SyntaxError")) // a pickle
    })

    it("a JSON array is Undecodable", () => {
      expect(decodeJson(`[{"a": 1}, 1700000000, 1]`)).toStrictEqual(undecodable("payload is not an object"))
    })

    it("a JSON scalar is Undecodable", () => {
      expect(decodeJson(`"m"`)).toStrictEqual(undecodable("payload is not an object"))
      expect(decodeJson(`null`)).toStrictEqual(undecodable("payload is not an object"))
      expect(decodeJson(`42`)).toStrictEqual(undecodable("payload is not an object"))
    })

    it("m that is not an object is Undecodable", () => {
      expect(decodeJson(`{"m": "data", "c": 1700000000, "v": 1}`)).toStrictEqual(undecodable("m is not an object"))
      expect(decodeJson(`{"m": null, "c": 1700000000, "v": 1}`)).toStrictEqual(undecodable("m is not an object"))
    })

    it("m that is a JSON array is Undecodable", () => {
      expect(decodeJson(`{"m": [1, 2], "c": 1700000000, "v": 1}`)).toStrictEqual(undecodable("m is not an object"))
    })

    it("a missing m is Undecodable", () => {
      expect(decodeJson(`{"c": 1700000000, "v": 1}`)).toStrictEqual(undecodable("m is not an object"))
    })

    it("a missing c is Undecodable", () => {
      expect(decodeJson(`{"m": {}, "v": 1}`)).toStrictEqual(undecodable("c is not an integer"))
    })

    it("a float c is Undecodable", () => {
      expect(decodeJson(`{"m": {}, "c": 1700000000.5, "v": 1}`)).toStrictEqual(undecodable("c is not an integer"))
    })

    it("a string c is Undecodable", () => {
      expect(decodeJson(`{"m": {}, "c": "1700000000", "v": 1}`)).toStrictEqual(undecodable("c is not an integer"))
    })

    it("a non-integer v is Undecodable", () => {
      expect(decodeJson(`{"m": {}, "c": 1700000000, "v": "1"}`)).toStrictEqual(undecodable("v is not an integer"))
      expect(decodeJson(`{"m": {}, "c": 1700000000, "v": 1.5}`)).toStrictEqual(undecodable("v is not an integer"))
    })

    it("a non-integer t or x is Undecodable", () => {
      expect(decodeJson(`{"m": {}, "c": 1700000000, "v": 1, "t": 1200.5}`)).toStrictEqual(
        undecodable("t or x is not an integer")
      )
      expect(decodeJson(`{"m": {}, "c": 1700000000, "v": 1, "x": "soon"}`)).toStrictEqual(
        undecodable("t or x is not an integer")
      )
    })

    it("a serializer that throws a non-Error is Undecodable, not a crash", () => {
      const throwing = {
        serialize: (value: unknown) => JSON.stringify(value),
        deserialize: (): unknown => {
          throw "nope"
        }
      }
      expect(decode(throwing, "{}")).toStrictEqual(undecodable("deserialize failed"))
    })
  })

  describe("epochSeconds", () => {
    it("rounds a fraction of a second up (1000.001 s → 1001)", () => {
      expect(epochSeconds(1_000_001)).toBe(1001)
    })

    it("keeps an exact second (1000 s → 1000)", () => {
      expect(epochSeconds(1_000_000)).toBe(1000)
    })

    it("rounds up a present-day time", () => {
      expect(epochSeconds(1_700_000_000_123)).toBe(1_700_000_001)
    })
  })

  describe("encodePatch", () => {
    const payload: Payload = { m: { a: 1, b: [2], gone: undefined, f: () => 1 }, c: 10, v: 1, t: 60, x: 70 }

    it("carries the set keys with their JSON, the removed keys, and the top-level fields after m", () => {
      expect(encodePatch(Serializer.json, payload, ["b"], ["z"])).toStrictEqual({
        set: [["\"b\"", "[2]"]],
        remove: ["\"z\""],
        rest: ",\"c\":10,\"v\":1,\"t\":60,\"x\":70}"
      })
    })

    it("a value JSON cannot hold is removed, as a whole payload leaves it out", () => {
      expect(encodePatch(Serializer.json, payload, ["gone", "f"], [])?.remove).toStrictEqual(["\"gone\"", "\"f\""])
    })

    it("applied to the stored payload, it gives what a whole write of the same values would", () => {
      const stored = encode(Serializer.json, { m: { a: 1, b: 2, c: 3 }, c: 10, v: 1 })
      const next: Payload = { m: { a: 1, b: "two", d: [] }, c: 10, v: 1, t: 60 }
      const patch = encodePatch(Serializer.json, next, ["b", "d"], ["c"])
      expect(patch && applyPatch(stored, patch)).toBe(encode(Serializer.json, next))
    })

    it("is undefined for a serializer that does not write m first as JSON", () => {
      const indented = { serialize: (v: unknown) => JSON.stringify(v, null, 2), deserialize: JSON.parse }
      expect(encodePatch(indented, payload, ["a"], [])).toBeUndefined()
    })
  })
})
