/**
 * The demo's store, chosen from the environment, first match wins:
 *
 * - `REDIS_CLUSTER_NODES` (`host:port,host:port`): a Redis Cluster;
 * - `REDIS_SENTINELS` (`host:port,…`) with `REDIS_SENTINEL_MASTER`: the
 *   master that those sentinels watch;
 * - `REDIS_URL`: one Redis server;
 * - none of them: the in-memory store.
 *
 * `REDIS_PASSWORD` (and `REDIS_SENTINEL_PASSWORD`) authenticate with Cluster
 * and Sentinel. `StoreInfo` says which store runs, for the start-up log and
 * the page; it never shows a password.
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
  readonly kind: "memory" | "redis" | "cluster" | "sentinel"
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
  Layer.succeed(StoreInfo, {
    kind: "memory",
    description: "in-memory (none of REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_URL set)"
  })
)

const info = (kind: Context.Tag.Service<StoreInfo>["kind"], description: string) =>
  Layer.succeed(StoreInfo, { kind, description })

/** Which store the environment asks for, from the variables' presence only (the layers read and check them). */
const chosen = Effect.gen(function*() {
  const clusterNodes = yield* Config.option(Config.string("REDIS_CLUSTER_NODES"))
  if (Option.isSome(clusterNodes)) {
    return Layer.merge(
      RedisClient.layerClusterConfig(),
      info("cluster", `Redis Cluster, discovered from ${clusterNodes.value}`)
    )
  }
  const sentinels = yield* Config.option(Config.string("REDIS_SENTINELS"))
  if (Option.isSome(sentinels)) {
    const master = yield* Config.string("REDIS_SENTINEL_MASTER")
    return Layer.merge(
      RedisClient.layerSentinelConfig(),
      info("sentinel", `Redis master "${master}" through the sentinels at ${sentinels.value}`)
    )
  }
  const url = yield* Config.option(Config.redacted("REDIS_URL"))
  return Option.isNone(url) ? memory : Layer.merge(
    RedisClient.layerConfig(),
    info("redis", `Redis at ${maskUrl(Redacted.value(url.value))}`)
  )
})

/**
 * The store the environment names (see above), or the in-memory store. Says
 * which on start-up.
 */
export const StoreLive: Layer.Layer<
  RedisClient.RedisClient | StoreInfo,
  RedisClient.SessionStoreError | ConfigError.ConfigError
> = Layer.unwrapEffect(
  Effect.map(
    chosen,
    (layer) => Layer.tap(layer, (context) => Effect.logInfo(`store: ${Context.get(context, StoreInfo).description}`))
  )
)
