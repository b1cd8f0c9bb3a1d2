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
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import type { RedisOptions } from "ioredis"
import * as Ioredis from "./internal/ioredisClient.js"
import * as MemoryStore from "./internal/memoryStore.js"
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
 * @since 0.3.0
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
   * nothing. Both keys must be in one hash slot under Redis Cluster.
   */
  readonly move: (
    from: string,
    to: string,
    value: string,
    options?: { readonly ttlSeconds?: number | undefined }
  ) => Effect.Effect<MoveResult, SessionStoreError>
  /** `MGET keys`: each value, in order. */
  readonly getMany: (
    keys: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<Option.Option<string>>, SessionStoreError>
  /**
   * Adds `member` to the sorted set `index` with `score`, in one atomic step
   * (a Lua script) that first drops the members whose key no longer exists.
   * With `ttlSeconds` the index expires no earlier than that; without, it
   * has no TTL. A user's sessions index is the one use.
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
}

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
export interface IoredisClient
  extends Pick<Redis, "get" | "getex" | "set" | "expire" | "del" | "ttl" | "eval" | "mget" | "zrange" | "zrem">
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
export interface Options {
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
  /** How long to wait for the first connection. Default: 2 seconds. */
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
 * @since 0.3.0
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
 * @since 0.3.0
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

const defaultConnectTimeout = Duration.seconds(2)
const defaultCommandTimeout = Duration.seconds(1)
const quitTimeout = Duration.seconds(1)

/** Reconnect after 100 ms, 200 ms, … up to 1 s between attempts, forever. */
const retryStrategy = (times: number): number => Math.min(times * 100, 1000)

/** `quit()`, or `disconnect()` if the server does not acknowledge within 1 s. */
const close = (client: Redis): Effect.Effect<void> =>
  Effect.tryPromise(() => client.quit()).pipe(
    Effect.timeout(quitTimeout),
    Effect.catchAll(() => Effect.sync(() => client.disconnect())),
    Effect.asVoid
  )

/**
 * Creates an ioredis client, connects it, and quits it when the scope closes.
 * Fails with `SessionStoreError` (command `CONNECT`, reason `Connection`) when
 * Redis cannot be reached within `connectTimeout`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RedisClientShape, SessionStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.replicaAcks !== undefined) {
      const invalid = ReplicaAcks.invalid(options.replicaAcks, options.commandTimeout ?? defaultCommandTimeout)
      if (invalid !== undefined) return yield* Effect.dieMessage(invalid)
    }
    const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
    const runtime = yield* Effect.runtime<never>()
    const redisOptions: RedisOptions = {
      retryStrategy,
      // Commands issued in the same tick (many concurrent requests) share one write.
      enableAutoPipelining: true,
      ...options.redis,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: Math.max(1, Math.round(Duration.toMillis(connectTimeout))),
      // `fromIoredis` bounds every command; a second timer per command would only cost
      commandTimeout: undefined
    }

    const client = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const url = options.url === undefined
          ? undefined
          : Redacted.isRedacted(options.url)
          ? Redacted.value(options.url)
          : options.url
        const client = url === undefined ? new Redis(redisOptions) : new Redis(url, redisOptions)
        // Without a listener ioredis prints every connection error to the console.
        client.on("error", (error: unknown) => {
          Runtime.runFork(runtime)(
            Effect.logDebug("Redis connection error", Ioredis.sanitizeMessage(Ioredis.errorMessage(error)))
          )
        })
        return Effect.tryPromise({
          try: () => client.connect(),
          catch: (cause) =>
            new SessionStoreError({
              command: "CONNECT",
              reason: "Connection",
              detail: Ioredis.toStoreError("CONNECT", cause).detail
            })
        }).pipe(
          Effect.timeoutFail({
            duration: connectTimeout,
            onTimeout: () =>
              new SessionStoreError({
                command: "CONNECT",
                reason: "Connection",
                detail: `not connected within ${Duration.format(connectTimeout)}`
              })
          }),
          Effect.interruptible,
          // stop the background reconnect attempts of a client we give up on
          Effect.onError(() => Effect.sync(() => client.disconnect())),
          Effect.as(client)
        )
      }),
      close
    )
    const commandTimeout = options.commandTimeout ?? defaultCommandTimeout
    const acks = options.replicaAcks
    return Ioredis.fromIoredis(acks === undefined ? client : ReplicaAcks.decorate(client, acks), commandTimeout)
  })

/**
 * A `RedisClient` that owns its ioredis client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisClient, SessionStoreError> =>
  Layer.scoped(RedisClient, make(options))

/**
 * Like `layer`, reading the URL from `REDIS_URL` unless told otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: {
  readonly url?: Config.Config<Redacted.Redacted<string>> | undefined
  readonly connectTimeout?: Config.Config<Duration.Duration> | undefined
  readonly commandTimeout?: Config.Config<Duration.Duration> | undefined
  /** Default: `replicaAcksConfig` (`REDIS_REPLICA_ACKS`, `REDIS_REPLICA_ACKS_TIMEOUT`). */
  readonly replicaAcks?: Config.Config<Option.Option<ReplicaAcksOptions>> | undefined
} = {}): Layer.Layer<RedisClient, SessionStoreError | ConfigError.ConfigError> =>
  Layer.scoped(
    RedisClient,
    Effect.gen(function*() {
      const url = yield* (options.url ?? Config.redacted("REDIS_URL"))
      const connectTimeout = options.connectTimeout === undefined ? undefined : yield* options.connectTimeout
      const commandTimeout = options.commandTimeout === undefined ? undefined : yield* options.commandTimeout
      const replicaAcks = Option.getOrUndefined(yield* (options.replicaAcks ?? replicaAcksConfig))
      if (replicaAcks !== undefined) {
        const invalid = ReplicaAcks.invalid(replicaAcks, commandTimeout ?? defaultCommandTimeout)
        if (invalid !== undefined) {
          return yield* Effect.fail(ConfigError.InvalidData(["REDIS_REPLICA_ACKS_TIMEOUT"], invalid))
        }
      }
      return yield* make({ url, connectTimeout, commandTimeout, replicaAcks })
    })
  )

/**
 * A `RedisClient` over an ioredis client (5 or 6) the application owns: it is
 * neither connected nor quit by this layer. Every command is bounded by
 * `commandTimeout` (default 1 second) whatever the client's own settings. For
 * fast failures while disconnected, configure it like `make` does
 * (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`).
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
): Layer.Layer<RedisClient> => {
  const commandTimeout = options.commandTimeout ?? defaultCommandTimeout
  const acks = options.replicaAcks
  if (acks === undefined) return Layer.succeed(RedisClient, Ioredis.fromIoredis(client, commandTimeout))
  const invalid = ReplicaAcks.invalid(acks, commandTimeout)
  return invalid !== undefined
    ? Layer.die(new Error(invalid))
    : Layer.succeed(RedisClient, Ioredis.fromIoredis(ReplicaAcks.decorate(client, acks), commandTimeout))
}

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
