/**
 * The `layer…Config` constructors of `RedisClient`: each reads its addresses
 * and passwords from `Config` (environment variables unless the caller passes
 * its own `Config`s), then the time bounds and replica acknowledgements every
 * topology shares, read one way for all three.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as RedisClient from "../RedisClient.js"
import * as Topology from "./ioredisTopology.js"
import * as ReplicaAcks from "./replicaAcks.js"

type Made = Effect.Effect<
  RedisClient.RedisClientShape,
  RedisClient.SessionStoreError | ConfigError.ConfigError,
  Scope.Scope
>

/** The bounds read from the given `Config`s (unset: the defaults), and `replicaAcks`, checked against them. */
const connection = (
  options: RedisClient.ConnectionConfig
): Effect.Effect<RedisClient.ConnectionOptions, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const connectTimeout = options.connectTimeout === undefined ? undefined : yield* options.connectTimeout
    const commandTimeout = options.commandTimeout === undefined ? undefined : yield* options.commandTimeout
    const replicaAcks = yield* ReplicaAcks.fromConfig(
      options.replicaAcks ?? RedisClient.replicaAcksConfig,
      commandTimeout ?? Topology.defaultCommandTimeout
    )
    return { connectTimeout, commandTimeout, replicaAcks }
  })

/** `REDIS_PASSWORD`, or the caller's `Config`; unset: none. */
const password = (
  config: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined,
  name: string
): Effect.Effect<Redacted.Redacted<string> | undefined, ConfigError.ConfigError> =>
  Effect.map(config ?? Config.option(Config.redacted(name)), Option.getOrUndefined)

/** @internal */
export const standalone = (options: RedisClient.StandaloneConfig): Made =>
  Effect.gen(function*() {
    const url = yield* (options.url ?? Config.redacted("REDIS_URL"))
    return yield* RedisClient.make({ url, redis: options.redis, ...yield* connection(options) })
  })

/** @internal */
export const sentinel = (options: RedisClient.SentinelConfig): Made =>
  Effect.gen(function*() {
    const sentinels = yield* (options.sentinels ?? hostPorts("REDIS_SENTINELS"))
    const masterName = yield* (options.masterName ?? Config.nonEmptyString("REDIS_SENTINEL_MASTER"))
    return yield* RedisClient.makeSentinel({
      sentinels,
      masterName,
      password: yield* password(options.password, "REDIS_PASSWORD"),
      sentinelPassword: yield* password(options.sentinelPassword, "REDIS_SENTINEL_PASSWORD"),
      ...yield* connection(options)
    })
  })

/** @internal */
export const cluster = (options: RedisClient.ClusterConfig): Made =>
  Effect.gen(function*() {
    const nodes = yield* (options.nodes ?? hostPorts("REDIS_CLUSTER_NODES"))
    return yield* RedisClient.makeCluster({
      nodes,
      password: yield* password(options.password, "REDIS_PASSWORD"),
      ...yield* connection(options)
    })
  })

// -----------------------------------------------------------------------------
// host:port lists
// -----------------------------------------------------------------------------

const hostPort = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/

/**
 * `host:port,host:port` (IPv6 as `[::1]:port`); whitespace around entries and
 * empty entries (a trailing comma) are ignored; at least one entry, every port
 * in 1–65535.
 */
/** @internal */
export const parseHostPorts = (text: string): Either.Either<ReadonlyArray<RedisClient.HostPort>, string> => {
  const entries = text.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  if (entries.length === 0) {
    return Either.left("expected a comma-separated list of host:port, got an empty value")
  }
  const parsed: Array<RedisClient.HostPort> = []
  for (const entry of entries) {
    const match = hostPort.exec(entry)
    const host = match?.[1] ?? match?.[2]
    // A match has a host and a port of 1 to 5 digits.
    const port = Number(match?.[3])
    if (host === undefined || port < 1 || port > 65535) {
      return Either.left(`expected a comma-separated list of host:port, got ${JSON.stringify(entry)}`)
    }
    parsed.push({ host, port })
  }
  return Either.right(parsed)
}

/** A `host:port` list read from one variable; bad input is a `ConfigError` naming it. */
/** @internal */
export const hostPorts = (name: string): Config.Config<ReadonlyArray<RedisClient.HostPort>> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => Either.mapLeft(parseHostPorts(text), (message) => ConfigError.InvalidData([], message)))
  )
