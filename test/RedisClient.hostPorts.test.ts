/**
 * `REDIS_CLUSTER_NODES` and `REDIS_SENTINELS`: one parser for `host:port`
 * lists, and a `ConfigError` naming the variable for anything else.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { parseHostPorts } from "../src/internal/redisConfig.js"
import * as RedisClient from "../src/RedisClient.js"

describe("host:port lists", () => {
  it.each([
    ["127.0.0.1:7000", [{ host: "127.0.0.1", port: 7000 }]],
    [" a.example:7000 , b.example:7001 ", [{ host: "a.example", port: 7000 }, { host: "b.example", port: 7001 }]],
    ["redis-0:6379,,redis-1:6379", [{ host: "redis-0", port: 6379 }, { host: "redis-1", port: 6379 }]],
    ["[::1]:26379", [{ host: "::1", port: 26379 }]],
    ["localhost:65535", [{ host: "localhost", port: 65535 }]]
  ])("%j is read as %j", (text, expected) => {
    expect(parseHostPorts(text)).toStrictEqual(Either.right(expected))
  })

  it.each([
    "",
    " , ",
    "127.0.0.1",
    "127.0.0.1:",
    ":7000",
    "host:0",
    "host:65536",
    "host:7000x",
    "::1:7000",
    "a b:7000"
  ])(
    "%j is refused",
    (text) => {
      expect(Either.isLeft(parseHostPorts(text))).toBe(true)
    }
  )

  it.each([
    {
      layer: RedisClient.layerClusterConfig(),
      env: { REDIS_CLUSTER_NODES: "redis-0" },
      variable: "REDIS_CLUSTER_NODES"
    },
    { layer: RedisClient.layerClusterConfig(), env: {}, variable: "REDIS_CLUSTER_NODES" },
    {
      layer: RedisClient.layerSentinelConfig(),
      env: { REDIS_SENTINELS: "s:1:2", REDIS_SENTINEL_MASTER: "m" },
      variable: "REDIS_SENTINELS"
    },
    { layer: RedisClient.layerSentinelConfig(), env: { REDIS_SENTINELS: "s:26379" }, variable: "REDIS_SENTINEL_MASTER" }
  ])(
    "a bad or missing $variable fails the layer with a ConfigError naming it",
    ({ env, layer, variable }) =>
      Effect.runPromise(
        Effect.gen(function*() {
          const error = yield* Effect.flip(Layer.build(layer).pipe(Effect.scoped))
          expect(error._tag).toBe("ConfigError")
          expect(String(error)).toContain(variable)
        }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      )
  )
  it.effect("hostPortsConfig reads any variable the same way, and names it when refused", () =>
    Effect.gen(function*() {
      const nodes = yield* RedisClient.hostPortsConfig("MY_NODES")
      expect(nodes).toStrictEqual([{ host: "a", port: 1 }, { host: "::1", port: 2 }])
      const error = yield* Effect.flip(RedisClient.hostPortsConfig("MY_OTHER_NODES"))
      expect(String(error)).toContain("MY_OTHER_NODES")
    }).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["MY_NODES", "a:1, [::1]:2"], ["MY_OTHER_NODES", "a"]]))
      )
    ))
})
