/**
 * The few Redis commands the session engine needs, as a service.
 *
 * `layer` / `layerConfig` own an ioredis client, `layerFromClient` wraps one
 * the application already has, and `layerMemory` is an in-memory store whose
 * TTLs run on the Effect `Clock` (so `TestClock` moves them).
 *
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ClusterOptions as IoredisClusterOptions, Redis, RedisOptions } from "ioredis"
import * as Ioredis from "./internal/ioredisClient.js"
import * as IoredisCluster from "./internal/ioredisCluster.js"
import * as Topology from "./internal/ioredisTopology.js"
import * as MemoryStore from "./internal/memoryStore.js"
import * as FromConfig from "./internal/redisConfig.js"
import * as ReplicaAcks from "./internal/replicaAcks.js"

const Reason = Schema.Literal("Timeout", "Connection", "Reply")

/**
 * A Redis command failed: the server is unreachable, too slow, or answered
 * with an error. Requests that need the store fail with it; it renders as
 * `503 Service Unavailable` with `Retry-After`.
 *
 * Only `_tag` and `reason` are schema fields, so only they reach a client
 * (HttpApi encodes an error by its schema). `command` and `detail` are plain
 * properties for logs and spans: they are in `message` and `toJSON`, never in
 * an encoded body. None of them carries a key (keys are session ids).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionStoreError extends Schema.TaggedError<SessionStoreError>()(
  "SessionStoreError",
  {
    /** `Timeout`: no answer in time; `Connection`: not connected; `Reply`: Redis answered with an error. */
    reason: Reason
  },
  HttpApiSchema.annotations({ status: 503 })
) {
  /** The command that failed, e.g. `GETEX` (empty when decoded from a response body). */
  readonly command: string
  /** What the driver or Redis said, without the command's arguments (empty when decoded). */
  readonly detail: string

  constructor(
    props: {
      readonly reason: typeof Reason.Type
      readonly command?: string | undefined
      readonly detail?: string | undefined
    },
    options?: Schema.MakeOptions
  ) {
    super({ reason: props.reason }, options)
    this.command = props.command ?? ""
    this.detail = props.detail ?? ""
  }

  /**
   * The `Retry-After` of every 503 that answers this error, in seconds. A
   * response built elsewhere (an HttpApi error body, a failed commit) sets the
   * header from it: `HttpServerResponse.setHeader(response, "retry-after", String(error.retryAfterSeconds))`.
   */
  get retryAfterSeconds(): number {
    return 1
  }

  override get message(): string {
    const what = this.command === "" ? "Session store" : `Session store ${this.command}`
    return this.detail === "" ? `${what} failed (${this.reason})` : `${what} failed (${this.reason}): ${this.detail}`
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(
      HttpServerResponse.text("Session store unavailable", {
        status: 503,
        headers: { "retry-after": String(this.retryAfterSeconds) }
      })
    )
  }
}

/**
 * Counts failed Redis commands, tagged with `command` and `reason`
 * (`Timeout`, `Connection`, `Reply`); never a key.
 *
 * @since 0.2.0
 * @category metrics
 */
export const storeErrors = Metric.counter("session_store_errors_total", {
  description: "Redis commands of the session store that failed, by command and reason",
  incremental: true
})

/**
 * Counts the writes that fewer replicas than `replicaAcks.replicas`
 * acknowledged within `replicaAcks.timeout` (or whose `WAIT` Redis refused),
 * tagged with `command`. The write itself succeeded on the master.
 *
 * @since 0.2.0
 * @category metrics
 */
export const replicaAckShortfalls = Metric.counter("session_replica_ack_shortfall_total", {
  description: "Session writes acknowledged by fewer replicas than replicaAcks.replicas within its timeout",
  incremental: true
})

/**
 * Options of `SET`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SetOptions {
  /** `NX`: write only if the key is absent; `XX`: only if it exists. */
  readonly condition?: "NX" | "XX" | undefined
  /** `EX`: expire the key after this many seconds (a positive integer). */
  readonly ttlSeconds?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RedisClientShape {
  /** `GET key` */
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, SessionStoreError>
  /**
   * `GETEX key EX seconds`: read and slide the TTL in one round trip (a
   * pipelined `GET` + `EXPIRE` on servers older than 6.2).
   */
  readonly getEx: (key: string, ttlSeconds: number) => Effect.Effect<Option.Option<string>, SessionStoreError>
  /** `SET key value [NX|XX] [EX seconds]`; succeeds with whether the value was written. */
  readonly set: (key: string, value: string, options?: SetOptions) => Effect.Effect<boolean, SessionStoreError>
  /** `EXPIRE key seconds`; succeeds with whether the key existed. */
  readonly expire: (key: string, ttlSeconds: number) => Effect.Effect<boolean, SessionStoreError>
  /** `DEL key`; succeeds with whether the key existed. */
  readonly del: (key: string) => Effect.Effect<boolean, SessionStoreError>
  /** `TTL key`: seconds left, `-1` for a key without TTL, `-2` for a missing key. */
  readonly ttl: (key: string) => Effect.Effect<number, SessionStoreError>
  /**
   * Moves a session to a new key atomically, in one round trip (a Lua
   * script): while `from` exists, `SET to value NX [EX seconds]`, then
   * `DEL from`. `Taken` (`to` exists) and `Gone` (`from` is missing) change
   * nothing. On Redis Cluster, where the two keys are in different slots, it
   * is `SET to NX`, then `DEL from` (and `DEL to` again, answering `Gone`,
   * when `from` was already deleted): two round trips, never reviving `from`.
   */
  readonly move: (
    from: string,
    to: string,
    value: string,
    options?: { readonly ttlSeconds?: number | undefined }
  ) => Effect.Effect<MoveResult, SessionStoreError>
  /** `MGET keys`: each value, in order (on Redis Cluster, one `GET` per key, concurrently). */
  readonly getMany: (
    keys: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<Option.Option<string>>, SessionStoreError>
  /**
   * Adds `member` to the sorted set `index` with `score`, in one atomic step
   * (a Lua script) that first drops the members whose key no longer exists.
   * With `ttlSeconds` the index expires no earlier than that; without, it
   * has no TTL. A user's sessions index is the one use. On Redis Cluster the
   * script touches the index alone, and the members whose key is gone are
   * dropped after it (one `TTL` per member, then `ZREM`), best effort.
   */
  readonly indexAdd: (
    index: string,
    member: string,
    score: number,
    ttlSeconds: number | undefined
  ) => Effect.Effect<void, SessionStoreError>
  /** `ZRANGE index 0 -1`: the members, lowest score first. */
  readonly indexMembers: (index: string) => Effect.Effect<ReadonlyArray<string>, SessionStoreError>
  /** `ZREM index ...members` */
  readonly indexRemove: (index: string, members: ReadonlyArray<string>) => Effect.Effect<void, SessionStoreError>
  /**
   * Applies one request's changes to the session payload stored at `key`,
   * in one atomic step (a single-key Lua script, `EVALSHA` with an `EVAL`
   * fallback): the members of its `m` object named in `patch.set` are
   * replaced or appended, those in `patch.remove` dropped, every other member
   * kept byte for byte, and the top-level fields replaced by `patch.rest`;
   * then `SET key merged [EX seconds]`. `Gone` (the key is missing) writes
   * nothing: a deleted session is never brought back. `Unreadable` (the
   * stored value is no JSON object with an object `m`) writes nothing either.
   */
  readonly mergePayload: (
    key: string,
    patch: PayloadPatch,
    options?: { readonly ttlSeconds?: number | undefined }
  ) => Effect.Effect<MergeResult, SessionStoreError>
}

/**
 * One request's changes to a stored JSON session payload, as JSON text.
 * Keys are JSON string literals (`JSON.stringify(key)`); they match stored
 * keys by their decoded value, whatever escapes either side used.
 *
 * @since 0.2.0
 * @category models
 */
export interface PayloadPatch {
  /** `[key literal, value JSON]`: members of `m` to replace, or to append in this order. */
  readonly set: ReadonlyArray<readonly [key: string, value: string]>
  /** Key literals of members of `m` to drop. */
  readonly remove: ReadonlyArray<string>
  /**
   * The payload's text after its `m` object: `,"c":...}` (the top-level
   * fields, which the writer owns as a whole).
   */
  readonly rest: string
}

/**
 * What `mergePayload` did.
 *
 * @since 0.2.0
 * @category models
 */
export type MergeResult = "Merged" | "Gone" | "Unreadable"

/**
 * What `move` did.
 *
 * @since 0.2.0
 * @category models
 */
export type MoveResult = "Moved" | "Taken" | "Gone"

/**
 * @since 0.1.0
 * @category tags
 */
export class RedisClient extends Context.Tag("effect-session-redis/RedisClient")<RedisClient, RedisClientShape>() {}

// -----------------------------------------------------------------------------
// ioredis
// -----------------------------------------------------------------------------

/**
 * The part of an ioredis client this module calls. Clients of ioredis 5 and 6
 * both satisfy it (6 speaks RESP3 by default; these commands answer the same
 * under both protocols).
 *
 * @since 0.2.0
 * @category models
 */
export interface IoredisClient extends
  Pick<
    Redis,
    "get" | "getex" | "set" | "expire" | "del" | "ttl" | "eval" | "evalsha" | "mget" | "zrange" | "zrem"
  >
{
  readonly pipeline: () => IoredisPipeline
}

/**
 * @since 0.2.0
 * @category models
 */
export interface IoredisPipeline {
  get(key: string): IoredisPipeline
  expire(key: string, seconds: number): IoredisPipeline
  exec(): Promise<Array<[error: Error | null, result: unknown]> | null>
}

/**
 * Options of `make` / `layer`.
 *
 * The client is built so that an unavailable Redis fails requests quickly
 * instead of making them wait: commands are not queued while disconnected,
 * every command has a timeout, and the client keeps reconnecting in the
 * background so the application recovers on its own when Redis comes back.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ConnectionOptions {
  /** A `redis://` or `rediss://` URL. */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /**
   * Passed to ioredis (host, port, db, username, password, tls, …). The
   * settings that make failures fast (`lazyConnect`, `enableOfflineQueue`,
   * `maxRetriesPerRequest`, `connectTimeout`) are set by this module and
   * override these, and ioredis's own `commandTimeout` is left unset (this
   * module bounds every command itself); a `retryStrategy` given here replaces
   * the default one (reconnect after `min(attempt * 100, 1000)` ms, forever).
   */
  readonly redis?: RedisOptions | undefined
}

/**
 * What every ioredis-backed layer shares: its time bounds and replica
 * acknowledgements.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionOptions {
  /** How long to wait for the first connection (a Cluster's slot map included). Default: 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * How long a command may take, from the moment it is issued, before it
   * fails with reason `Timeout`, however long the driver keeps it queued.
   * Default: 1 second.
   */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /**
   * Follow every write that changes a session (`SET`, `DEL`, the `move` and
   * user-index scripts, `ZREM`) with `WAIT replicas timeout` in the same
   * pipeline: no extra round trip, but each write answers only once
   * `replicas` replicas have it, or after `timeout`. A write that fewer
   * replicas acknowledged still succeeds (it stands on the master) and is
   * counted in `session_replica_ack_shortfall_total`. TTL slides (`GETEX`,
   * `EXPIRE`) don't wait. `timeout` must be shorter than `commandTimeout`.
   * See docs/failover.md for what this does and does not guarantee.
   * Unset: no `WAIT` (Redis replicates asynchronously).
   */
  readonly replicaAcks?: ReplicaAcksOptions | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ReplicaAcksOptions {
  /** How many replicas must acknowledge each write (a whole number ≥ 1). */
  readonly replicas: number
  /** How long each write may wait for them (≥ 1 ms, shorter than `commandTimeout`). */
  readonly timeout: Duration.DurationInput
}

/**
 * `replicaAcks` from `REDIS_REPLICA_ACKS` (a whole number ≥ 1; unset: no
 * `WAIT`) and `REDIS_REPLICA_ACKS_TIMEOUT` (a duration such as `100 millis`,
 * the default).
 *
 * @since 0.2.0
 * @category config
 */
export const replicaAcksConfig: Config.Config<Option.Option<ReplicaAcksOptions>> = Config.all({
  replicas: Config.option(
    Config.integer("REDIS_REPLICA_ACKS").pipe(
      Config.validate({ message: "REDIS_REPLICA_ACKS must be at least 1", validation: (n) => n >= 1 })
    )
  ),
  timeout: Config.duration("REDIS_REPLICA_ACKS_TIMEOUT").pipe(Config.withDefault(Duration.millis(100)))
}).pipe(Config.map(({ replicas, timeout }) => Option.map(replicas, (replicas) => ({ replicas, timeout }))))

/**
 * Creates an ioredis client, connects it, and quits it when the scope closes.
 * Fails with `SessionStoreError` (command `CONNECT`, reason `Connection`) when
 * Redis cannot be reached within `connectTimeout`, refuses the password (the
 * `detail` is its answer, `NOAUTH …` or `WRONGPASS …`; never the password), or
 * the URL is malformed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RedisClientShape, SessionStoreError, Scope.Scope> =>
  Topology.makeStandalone(options)

/**
 * A `RedisClient` that owns its ioredis client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisClient, SessionStoreError> =>
  Layer.scoped(RedisClient, make(options))

/**
 * The `Config`s every `layer…Config` reads besides its addresses. Each one
 * left out takes the default of `ConnectionOptions`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionConfig {
  /** As in `ConnectionOptions` (default 2 seconds), read from a `Config`, e.g. `Config.duration("REDIS_CONNECT_TIMEOUT")`. */
  readonly connectTimeout?: Config.Config<Duration.Duration> | undefined
  /** As in `ConnectionOptions` (default 1 second), read from a `Config`, e.g. `Config.duration("REDIS_COMMAND_TIMEOUT")`. */
  readonly commandTimeout?: Config.Config<Duration.Duration> | undefined
  /** Default: `replicaAcksConfig` (`REDIS_REPLICA_ACKS`, `REDIS_REPLICA_ACKS_TIMEOUT`). */
  readonly replicaAcks?: Config.Config<Option.Option<ReplicaAcksOptions>> | undefined
}

/**
 * Options of `layerConfig`.
 *
 * @since 0.2.0
 * @category models
 */
export interface StandaloneConfig extends ConnectionConfig {
  /** Default: `REDIS_URL`. */
  readonly url?: Config.Config<Redacted.Redacted<string>> | undefined
  /** ioredis options that are no configuration text, as in `Options`: e.g. `tls: { ca }` for a private CA. */
  readonly redis?: RedisOptions | undefined
}

/**
 * Like `layer`, reading the URL from `REDIS_URL` unless told otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: StandaloneConfig = {}
): Layer.Layer<RedisClient, SessionStoreError | ConfigError.ConfigError> =>
  Layer.scoped(RedisClient, FromConfig.standalone(options))

/**
 * A `RedisClient` over an ioredis client (5 or 6) the application owns: it is
 * neither connected nor quit by this layer. Every command is bounded by
 * `commandTimeout` (default 1 second) whatever the client's own settings. For
 * fast failures while disconnected, configure it like `make` does
 * (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`). An ioredis
 * `Cluster` is recognised and served as `layerFromCluster` does.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = (
  client: IoredisClient,
  options: {
    readonly commandTimeout?: Duration.DurationInput | undefined
    /** As in `Options`; the client's pipelines must support `WAIT` (every ioredis client's do). */
    readonly replicaAcks?: ReplicaAcksOptions | undefined
  } = {}
): Layer.Layer<RedisClient> =>
  "isCluster" in client && client.isCluster === true
    ? layerFromCluster(client, options)
    : ReplicaAcks.layer(client, options, Topology.defaultCommandTimeout, (client, commandTimeout) =>
      Layer.succeed(RedisClient, Ioredis.fromIoredis(client, commandTimeout)))

// -----------------------------------------------------------------------------
// Sentinel and Cluster
// -----------------------------------------------------------------------------

/**
 * One server's address.
 *
 * @since 0.2.0
 * @category models
 */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Options of `makeSentinel` / `layerSentinel`: a master that Redis Sentinel
 * watches and replaces on failure. The client asks the sentinels where the
 * master is, sends every command to it (never to a replica, which lags
 * behind), and asks again after a failover. Fast failures as in `Options`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SentinelOptions extends ConnectionOptions {
  /** Some or all of the sentinels; the client learns the others from them. */
  readonly sentinels: ReadonlyArray<HostPort>
  /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  readonly masterName: string
  /** The password of the master and replicas (`requirepass` / ACL). */
  readonly password?: string | Redacted.Redacted<string> | undefined
  /** The password of the sentinels themselves, when they have one. */
  readonly sentinelPassword?: string | Redacted.Redacted<string> | undefined
  /**
   * Passed to ioredis (username, db, tls, sentinelTLS, …); the fast-failure
   * settings, `sentinels`, `name` and `role` are set by this module.
   */
  readonly redis?: RedisOptions | undefined
}

/**
 * Options of `makeCluster` / `layerCluster`: a Redis Cluster. Every command
 * goes to the master of its key's slot (never a replica, which lags behind).
 * Fast failures as in `Options`; the client reconnects and refreshes the slot
 * map forever in the background.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterOptions extends ConnectionOptions {
  /** Nodes to discover the cluster from: one reachable node is enough, the client learns the rest. */
  readonly nodes: ReadonlyArray<HostPort>
  /** The password of every node (`requirepass` / ACL). */
  readonly password?: string | Redacted.Redacted<string> | undefined
  /** Passed to ioredis for each node's connection (username, tls, …); fast-failure settings are this module's. */
  readonly redis?: IoredisClusterOptions["redisOptions"] | undefined
  /**
   * Passed to ioredis's `Cluster` (natMap, dnsLookup, slotsRefreshInterval, …);
   * `lazyConnect`, `enableOfflineQueue` and `scaleReads` are set by this
   * module, and a `clusterRetryStrategy` given here replaces the default one.
   */
  readonly cluster?: Omit<IoredisClusterOptions, "redisOptions"> | undefined
}

/**
 * Connects to the master that the sentinels name, and quits when the scope
 * closes. Fails with `SessionStoreError` (command `CONNECT`) when no master
 * is reached within `connectTimeout`, its `detail` naming the first refusal
 * (a wrong `password` or `sentinelPassword`: `NOAUTH …`, `WRONGPASS …`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeSentinel = (
  options: SentinelOptions
): Effect.Effect<RedisClientShape, SessionStoreError, Scope.Scope> => Topology.makeSentinel(options)

/**
 * A `RedisClient` on a Sentinel-managed master, owning its ioredis client.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSentinel = (options: SentinelOptions): Layer.Layer<RedisClient, SessionStoreError> =>
  Layer.scoped(RedisClient, makeSentinel(options))

/**
 * A `host:port` list read from the variable `name` (comma-separated, IPv6 as
 * `[::1]:port`, at least one entry, every port in 1–65535), as the `…Config`
 * layers read `REDIS_SENTINELS` and `REDIS_CLUSTER_NODES`; anything else is a
 * `ConfigError` naming the variable. For `SentinelConfig.sentinels` and
 * `ClusterConfig.nodes` read from another variable.
 *
 * @since 0.2.0
 * @category config
 */
export const hostPortsConfig = (name: string): Config.Config<ReadonlyArray<HostPort>> => FromConfig.hostPorts(name)

/**
 * Options of `layerSentinelConfig`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SentinelConfig extends ConnectionConfig {
  /** Default: `REDIS_SENTINELS`, comma-separated `host:port` (IPv6 as `[::1]:port`); see `hostPortsConfig`. */
  readonly sentinels?: Config.Config<ReadonlyArray<HostPort>> | undefined
  /** Default: `REDIS_SENTINEL_MASTER`. */
  readonly masterName?: Config.Config<string> | undefined
  /** Default: `REDIS_PASSWORD`, optional. */
  readonly password?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
  /** Default: `REDIS_SENTINEL_PASSWORD`, optional. */
  readonly sentinelPassword?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
}

/**
 * Like `layerSentinel`, configured by `REDIS_SENTINELS` (comma-separated
 * `host:port`), `REDIS_SENTINEL_MASTER` (the master's name), and the optional
 * `REDIS_PASSWORD` and `REDIS_SENTINEL_PASSWORD`, unless told otherwise.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSentinelConfig = (
  options: SentinelConfig = {}
): Layer.Layer<RedisClient, SessionStoreError | ConfigError.ConfigError> =>
  Layer.scoped(RedisClient, FromConfig.sentinel(options))

/**
 * Connects to a Redis Cluster (the slot map included), and quits when the
 * scope closes. Fails with `SessionStoreError` (command `CONNECT`) when the
 * cluster is not reached within `connectTimeout` or refuses the password
 * (`NOAUTH …`, `WRONGPASS …` in its `detail`). Commands that would span
 * several slots run as single-key steps instead: see docs/scaling.md.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeCluster = (
  options: ClusterOptions
): Effect.Effect<RedisClientShape, SessionStoreError, Scope.Scope> => Topology.makeCluster(options)

/**
 * A `RedisClient` on a Redis Cluster, owning its ioredis `Cluster` client.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerCluster = (options: ClusterOptions): Layer.Layer<RedisClient, SessionStoreError> =>
  Layer.scoped(RedisClient, makeCluster(options))

/**
 * Options of `layerClusterConfig`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterConfig extends ConnectionConfig {
  /** Default: `REDIS_CLUSTER_NODES`, comma-separated `host:port` of some of the nodes; see `hostPortsConfig`. */
  readonly nodes?: Config.Config<ReadonlyArray<HostPort>> | undefined
  /** Default: `REDIS_PASSWORD`, optional. */
  readonly password?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
}

/**
 * Like `layerCluster`, configured by `REDIS_CLUSTER_NODES` (comma-separated
 * `host:port` of some of the nodes) and the optional `REDIS_PASSWORD`, unless
 * told otherwise.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClusterConfig = (
  options: ClusterConfig = {}
): Layer.Layer<RedisClient, SessionStoreError | ConfigError.ConfigError> =>
  Layer.scoped(RedisClient, FromConfig.cluster(options))

/**
 * A `RedisClient` over an ioredis `Cluster` (5 or 6) the application owns:
 * neither connected nor quit by this layer. Commands that would span several
 * slots run as single-key steps (see docs/scaling.md). For fast failures
 * while disconnected, create it with `enableOfflineQueue: false`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromCluster = (
  client: IoredisClient,
  options: {
    readonly commandTimeout?: Duration.DurationInput | undefined
    /** As in `Options`: `WAIT` for the replicas of each write's master. */
    readonly replicaAcks?: ReplicaAcksOptions | undefined
  } = {}
): Layer.Layer<RedisClient> =>
  ReplicaAcks.layer(
    client,
    options,
    Topology.defaultCommandTimeout,
    (client, commandTimeout) => Layer.succeed(RedisClient, IoredisCluster.fromIoredisCluster(client, commandTimeout))
  )

/**
 * An in-memory store with Redis semantics. TTLs are measured on the Effect
 * `Clock`, so `TestClock.adjust` expires keys. Expired keys are dropped when
 * touched, and swept every so many writes so memory stays bounded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<RedisClientShape> = MemoryStore.make

/**
 * An in-memory `RedisClient` for tests and single-process development.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RedisClient> = Layer.effect(RedisClient, makeMemory)
