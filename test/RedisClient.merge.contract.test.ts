/**
 * The contract of `mergePayload` for every `RedisClient`: the memory store
 * and the Lua script behind the ioredis client (5 and 6) apply a patch to
 * the same stored text and leave exactly the same bytes. Untouched values
 * must survive byte for byte: Redis's cjson would re-encode them lossily.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Redis as Redis5 } from "ioredis"
import { Redis as Redis6 } from "ioredis6"
import { randomUUID } from "node:crypto"
import * as RedisClient from "../src/RedisClient.js"
import { type IoredisClass, layerRedisServer, RedisServer } from "./support/redisServer.js"

type Test = (
  name: string,
  self: () => Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient>
) => void

const suiteId = randomUUID()
let counter = 0
const freshKey = (name: string) => `merge:${suiteId}:${counter++}:${name}`

const rest = ",\"c\":1700000000,\"v\":1,\"t\":1200}"
const lit = (key: string) => JSON.stringify(key)
const setOf = (entries: Record<string, unknown>) =>
  Object.entries(entries).map(([key, value]) => [lit(key), JSON.stringify(value)] as const)

/** Writes `stored`, merges `patch` into it, and answers what the merge did and the text left. */
const mergeInto = (stored: string, patch: RedisClient.PayloadPatch, ttlSeconds?: number) =>
  Effect.gen(function*() {
    const redis = yield* RedisClient.RedisClient
    const key = freshKey("merge")
    yield* redis.set(key, stored)
    const result = yield* redis.mergePayload(key, patch, { ttlSeconds })
    const text = Option.getOrThrow(yield* redis.get(key))
    return { result, text, ttl: yield* redis.ttl(key) }
  })

/**
 * Raw JSON texts that a lossy re-encoding would change. Each is stored as
 * the value of an untouched member and must come back as the same bytes.
 */
const untouched: ReadonlyArray<readonly [string, string]> = [
  ["empty array", "[]"],
  ["empty object", "{}"],
  ["nested", "{\"a\":[[],{},[{\"b\":[]}]],\"c\":{\"d\":null}}"],
  ["0.1 + 0.2", JSON.stringify(0.1 + 0.2)],
  ["2 ** 53 - 1", JSON.stringify(2 ** 53 - 1)],
  ["1e21", JSON.stringify(1e21)],
  ["-0", "-0"],
  ["exponent and fraction as written", "1.50E+2"],
  ["unicode, astral and escaped", JSON.stringify("é 日本 😀 \u0000 \t \"q\"") + ""],
  ["astral as a surrogate-pair escape", "\"\\ud83d\\ude00\""],
  ["slash, backslash and U+2028", JSON.stringify("a/b \\ c \u2028 d \u2029")],
  ["escaped slash as written", "\"a\\/b\""],
  ["a string of brackets and quotes", JSON.stringify("}{][\",:\\\"")],
  ["a very long string", JSON.stringify("x".repeat(200_000) + "\\\"")],
  ["true, false, null", "[true,false,null]"],
  ["whitespace inside, as another writer left it", "[1, 2, {\"a\": [ ]}]"],
  ["a backslash right before the closing quote", JSON.stringify("x\\")],
  ["a string of a quote and brackets in an array", JSON.stringify(["\"]}", "\\"])]
]

const contract = (test: Test) => {
  test("a missing key is Gone and nothing is written: a deleted session is never brought back", () =>
    Effect.gen(function*() {
      const redis = yield* RedisClient.RedisClient
      const key = freshKey("gone")
      const result = yield* redis.mergePayload(key, { set: setOf({ a: 1 }), remove: [], rest }, { ttlSeconds: 100 })
      expect(result).toBe("Gone")
      expect(yield* redis.get(key)).toStrictEqual(Option.none())
      expect(yield* redis.ttl(key)).toBe(-2)
    }))

  test("sets replace members in place, new keys are appended, removed keys go, the rest is replaced", () =>
    Effect.gen(function*() {
      const stored = "{\"m\":{\"a\":1,\"b\":2,\"c\":3},\"c\":1,\"v\":1,\"t\":60,\"x\":5}"
      const { result, text } = yield* mergeInto(stored, { set: setOf({ b: "two", d: [4] }), remove: [lit("c")], rest })
      expect(result).toBe("Merged")
      expect(text).toBe("{\"m\":{\"a\":1,\"b\":\"two\",\"d\":[4]}" + rest)
    }))

  test("the TTL is set when given, and cleared when not (like SET)", () =>
    Effect.gen(function*() {
      const stored = "{\"m\":{},\"c\":1,\"v\":1}"
      const withTtl = yield* mergeInto(stored, { set: [], remove: [], rest }, 100)
      expect(withTtl.ttl).toBeGreaterThanOrEqual(99)
      expect(withTtl.ttl).toBeLessThanOrEqual(100)
      expect((yield* mergeInto(stored, { set: [], remove: [], rest })).ttl).toBe(-1)
    }))

  describe("untouched values keep their exact bytes", () => {
    for (const [name, raw] of untouched) {
      test(name, () =>
        Effect.gen(function*() {
          const stored = "{\"m\":{\"keep\":" + raw + ",\"m\":" + raw + ",\"n\":0},\"c\":1,\"v\":1}"
          const { result, text } = yield* mergeInto(stored, { set: setOf({ n: 1 }), remove: [], rest })
          expect(result).toBe("Merged")
          expect(text).toBe("{\"m\":{\"keep\":" + raw + ",\"m\":" + raw + ",\"n\":1}" + rest)
        }))
    }
  })

  test("new values are written as given, byte for byte", () =>
    Effect.gen(function*() {
      const values = untouched.map(([, raw], i) => [lit(`k${i}`), raw] as const)
      const { text } = yield* mergeInto("{\"m\":{},\"c\":1,\"v\":1}", { set: values, remove: [], rest })
      expect(text).toBe("{\"m\":{" + values.map(([k, v]) => `${k}:${v}`).join(",") + "}" + rest)
    }))

  const escapedKeys: ReadonlyArray<readonly [string, string, string]> = [
    ["\\u00e9 escaped by another writer", "\"\\u00e9\"", "é"],
    ["an astral key as a surrogate-pair escape", "\"\\ud83d\\ude00\"", "😀"],
    ["an escaped quote", "\"a\\\"b\"", "a\"b"],
    ["the key \"m\" written as \\u006d", "\"\\u006d\"", "m"]
  ]
  for (const [_name, storedKey, key] of escapedKeys) {
    test(`keys match by their decoded value: ${_name}`, () =>
      Effect.gen(function*() {
        const stored = "{\"m\":{" + storedKey + ":1,\"z\":2},\"c\":1,\"v\":1}"
        const replaced = yield* mergeInto(stored, { set: [[lit(key), "3"]], remove: [], rest })
        expect(replaced.text).toBe("{\"m\":{" + lit(key) + ":3,\"z\":2}" + rest)
        const removed = yield* mergeInto(stored, { set: [], remove: [lit(key)], rest })
        expect(removed.text).toBe("{\"m\":{\"z\":2}" + rest)
      }))
  }

  test("a payload another writer formatted (spaces, other field order) is read", () =>
    Effect.gen(function*() {
      const stored = "{\"c\": 1, \"m\": {\"a\": [1, 2], \"b\": {\"c\": 3}}, \"v\": 1, \"t\": 1200}"
      const { result, text } = yield* mergeInto(stored, { set: setOf({ b: 4 }), remove: [], rest })
      expect(result).toBe("Merged")
      expect(text).toBe("{\"m\":{\"a\":[1, 2],\"b\":4}" + rest)
    }))

  test("a payload with every kind of JSON whitespace (space, tab, CR, LF) between its tokens is read", () =>
    Effect.gen(function*() {
      const stored = " \t\r\n{\t\"m\"\r:\n{ \"a\" :\t1\r,\n\"b\":2 }\r\n, \"c\":1 }\n"
      const { result, text } = yield* mergeInto(stored, { set: setOf({ b: 3 }), remove: [], rest })
      expect(result).toBe("Merged")
      expect(text).toBe("{\"m\":{\"a\":1,\"b\":3}" + rest)
    }))

  test("a key with a raw control character (another writer's lax JSON) matches the same key escaped", () =>
    Effect.gen(function*() {
      const stored = "{\"m\":{\"a\tb\":1,\"z\":2},\"c\":1}"
      const { text } = yield* mergeInto(stored, { set: setOf({ "a\tb": 3 }), remove: [], rest })
      expect(text).toBe("{\"m\":{\"a\\tb\":3,\"z\":2}" + rest)
    }))

  test("a key with a lone surrogate is never matched: stored, it stays; in the patch, it is dropped", () =>
    Effect.gen(function*() {
      const lone = "\"\\ud800\""
      const stored = "{\"m\":{" + lone + ":1,\"z\":2},\"c\":1}"
      const { result, text } = yield* mergeInto(stored, { set: [[lone, "3"]], remove: [lone], rest })
      expect(result).toBe("Merged")
      expect(text).toBe("{\"m\":{" + lone + ":1,\"z\":2}" + rest)
      const added = yield* mergeInto("{\"m\":{},\"c\":1}", { set: [[lone, "3"], [lit("a"), "1"]], remove: [], rest })
      expect(added.text).toBe("{\"m\":{\"a\":1}" + rest)
    }))

  test("a key stored twice is replaced at its first place and written once", () =>
    Effect.gen(function*() {
      const { text } = yield* mergeInto("{\"m\":{\"a\":1,\"b\":2,\"a\":3},\"v\":1}", {
        set: setOf({ a: 9 }),
        remove: [],
        rest
      })
      expect(text).toBe("{\"m\":{\"a\":9,\"b\":2}" + rest)
    }))

  const unreadable: ReadonlyArray<readonly [string, string]> = [
    ["not JSON", "pickled bytes"],
    ["an array", "[1,2]"],
    ["no m", "{\"c\":1,\"v\":1}"],
    ["an m that is no object", "{\"m\":[1],\"c\":1}"],
    ["a truncated object", "{\"m\":{\"a\":[1,2}"],
    ["an unterminated string", "{\"m\":{\"a\":\"abc}}"],
    ["empty", ""],
    ["only whitespace", " \t\r\n"],
    ["an opening brace alone", "{"],
    ["an object whose key is no string", "{1:2}"],
    ["an unterminated key", "{\"m"],
    ["a key at the end", "{\"m\""],
    ["a key without a colon", "{\"m\" {}}"],
    ["a colon at the end", "{\"m\":"],
    ["a value that is no JSON", "{\"m\":{\"a\":@}}"],
    ["a number at the end", "{\"c\":1"],
    ["an object that never closes", "{\"m\":{}"],
    ["members without a comma", "{\"m\":{} \"c\":1}"],
    ["a comma at the end", "{\"m\":{},"],
    ["an m whose member has no value", "{\"m\":{\"a\"},\"v\":1}"],
    ["an unterminated string inside a nested value", "{\"m\":{\"a\":{\"b\":\"x}}"],
    ["an array that never closes", "{\"m\":{\"a\":[1,2"],
    ["a string whose last quote is escaped", "{\"m\":{\"a\":\"x\\\"}}"],
    ["a key without its opening quote", "{a\":1,\"m\":{}}"],
    ["a key followed by another character than a colon", "{\"m\";{}}"],
    ["members separated by another character than a comma", "{\"m\":{};\"c\":1}"],
    ["text that opens with a bracket", "[\"m\":{}}"],
    ["an m that is an array holding a member", "{\"m\":[\"a\":1},\"c\":1}"],
    // a broken last member after a first key "}": the scan must not resume inside that key
    ...["[", "\"abc", "{\"a", "@", "1"].map((value) =>
      [`a broken last member (${value})`, "{\"}\":1,\"m\":{},\"x\":" + value] as const
    )
  ]
  for (const [what, stored] of unreadable) {
    test(`a stored value that is ${what} is Unreadable and stays as it was`, () =>
      Effect.gen(function*() {
        const { result, text } = yield* mergeInto(stored, { set: setOf({ a: 1 }), remove: [], rest })
        expect(result).toBe("Unreadable")
        expect(text).toBe(stored)
      }))
  }
}

describe("RedisClient mergePayload contract", () => {
  it.layer(RedisClient.layerMemory)("layerMemory", (it) => {
    contract((name, self) => it.effect(name, self))
  })

  const layerFromOwnClient = (RedisClass: IoredisClass) => (url: string) =>
    Layer.unwrapScoped(
      Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new RedisClass(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
          await client.connect()
          return client
        }),
        (client) => Effect.promise(() => client.quit())
      ).pipe(Effect.map((client) => RedisClient.layerFromClient(client)))
    )

  describe.each([
    { name: "layer (its own ioredis 5 client)", layer: (url: string) => RedisClient.layer({ url }) },
    { name: "layerFromClient (ioredis 5)", layer: layerFromOwnClient(Redis5) },
    { name: "layerFromClient (ioredis 6)", layer: layerFromOwnClient(Redis6) }
  ])("$name against redis-server", ({ layer: makeLayer }) => {
    const layerRedis = Layer.unwrapEffect(Effect.map(RedisServer, (server) => makeLayer(server.url))).pipe(
      Layer.provideMerge(layerRedisServer)
    )
    layer(layerRedis, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
      contract((name, self) => it.effect(name, self))

      it.effect("one EVALSHA (GET and SET inside); after SCRIPT FLUSH, one NOSCRIPT answered by one EVAL", () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          const redis = yield* RedisClient.RedisClient
          const key = freshKey("noscript")
          yield* redis.set(key, "{\"m\":{},\"c\":1,\"v\":1}")
          const admin = new Redis5(server.url)
          yield* Effect.promise(() => admin.script("FLUSH"))
          yield* Effect.promise(() => admin.quit())
          yield* Effect.promise(() => server.resetStats())
          expect(yield* redis.mergePayload(key, { set: setOf({ a: 1 }), remove: [], rest })).toBe("Merged")
          expect(yield* Effect.promise(() => server.commandstats())).toStrictEqual({
            evalsha: 1,
            eval: 1,
            get: 1, // inside the script
            set: 1
          })
          yield* Effect.promise(() => server.resetStats())
          expect(yield* redis.mergePayload(key, { set: setOf({ b: 2 }), remove: [], rest })).toBe("Merged")
          expect(yield* Effect.promise(() => server.commandstats())).toStrictEqual({ evalsha: 1, get: 1, set: 1 })
          expect(yield* redis.get(key)).toStrictEqual(Option.some("{\"m\":{\"a\":1,\"b\":2}" + rest))
        }))
    })
  })
})
