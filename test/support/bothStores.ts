/**
 * A behaviour spec run twice: on the memory Layer and on a private
 * redis-server, with the same policy options.
 */
import { describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RedisClient from "../../src/RedisClient.js"
import type * as SessionPolicy from "../../src/SessionPolicy.js"
import { layerRedisServer, RedisServer } from "./redisServer.js"
import { layerWith } from "./sessionApp.js"

/** One behaviour of a spec: its name and its test, needing a store and a policy. */
export type SpecTest = (
  name: string,
  self: () => Effect.Effect<void, RedisClient.SessionStoreError, RedisClient.RedisClient | SessionPolicy.SessionPolicy>
) => void

export const onBothStores = (spec: (test: SpecTest) => void, options: Partial<SessionPolicy.Options> = {}): void => {
  describe("memory store", () => {
    spec((name, self) => it.effect(name, () => Effect.provide(self(), layerWith(RedisClient.layerMemory, options))))
  })

  layer(layerRedisServer, { timeout: 30_000 })("redis-server", (it) => {
    spec((name, self) =>
      it.effect(name, () =>
        Effect.gen(function*() {
          const server = yield* RedisServer
          yield* self().pipe(Effect.provide(layerWith(Layer.orDie(RedisClient.layer({ url: server.url })), options)))
        }))
    )
  })
}
