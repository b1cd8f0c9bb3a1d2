/**
 * The demo's store, chosen from the environment: Redis at `REDIS_URL`, or
 * the in-memory store when it is not set. `StoreInfo` says which, for the
 * start-up log and the page.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { RedisClient } from "../../src/index.js"

/** Which store the demo runs on; `description` never shows a password. */
export class StoreInfo extends Context.Tag("demo/StoreInfo")<StoreInfo, {
  readonly kind: "memory" | "redis"
  readonly description: string
}>() {}

/** `redis://user:secret@host` → `redis://user:***@host`; an unparseable URL is hidden entirely. */
export const maskUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparseable URL>"
  }
}

const memory = Layer.merge(
  RedisClient.layerMemory,
  Layer.succeed(StoreInfo, { kind: "memory", description: "in-memory (REDIS_URL not set)" })
)

/**
 * The store: `RedisClient.layerConfig()` when `REDIS_URL` is set, else the
 * in-memory store. Says which on start-up.
 */
export const StoreLive: Layer.Layer<
  RedisClient.RedisClient | StoreInfo,
  RedisClient.SessionStoreError | ConfigError.ConfigError
> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* Config.option(Config.redacted("REDIS_URL"))
    const layer = Option.isNone(url) ? memory : Layer.merge(
      RedisClient.layerConfig(),
      Layer.succeed(StoreInfo, { kind: "redis", description: `Redis at ${maskUrl(Redacted.value(url.value))}` })
    )
    return Layer.tap(layer, (context) => Effect.logInfo(`store: ${Context.get(context, StoreInfo).description}`))
  })
)
