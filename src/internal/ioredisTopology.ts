/**
 * Connecting ioredis to a Redis deployment: one server, a Sentinel-managed
 * master, or a Cluster. Every topology gets the same fast-failure settings
 * (no offline queue, one attempt per command, commands bounded by
 * `fromIoredis`, reconnection forever in the background), a bounded first
 * connection, and a clean `QUIT` when the scope closes.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Cluster, Redis } from "ioredis"
import type { ClusterOptions as IoredisClusterOptions, RedisOptions } from "ioredis"
import type * as RedisClient from "../RedisClient.js"
import { SessionStoreError } from "../RedisClient.js"
import * as Ioredis from "./ioredisClient.js"
import * as IoredisCluster from "./ioredisCluster.js"
import * as ReplicaAcks from "./replicaAcks.js"

const defaultConnectTimeout = Duration.seconds(2)
/** @internal */
export const defaultCommandTimeout = Duration.seconds(1)
const quitTimeout = Duration.seconds(1)

/** Reconnect after 100 ms, 200 ms, … up to 1 s between attempts, forever. */
const retryStrategy = (times: number): number => Math.min(times * 100, 1000)

/** What connecting and closing need of an ioredis `Redis` or `Cluster`. */
interface Connectable {
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  on(event: "error" | "node error", listener: (error: unknown) => void): unknown
}

/**
 * `quit()`, or `disconnect()` if the server does not acknowledge within 1 s.
 * It runs as a release, where nothing is interruptible: the wait for the
 * answer is made interruptible so the timeout can end it.
 */
const close = (client: Connectable): Effect.Effect<void> =>
  Effect.tryPromise(() => client.quit()).pipe(
    Effect.interruptible,
    Effect.timeout(quitTimeout),
    Effect.catchAll(() => Effect.sync(() => client.disconnect())),
    Effect.asVoid
  )

const connectMillis = (connectTimeout: Duration.Duration): number =>
  Math.max(1, Math.round(Duration.toMillis(connectTimeout)))

/**
 * `text` with every occurrence of the given secrets replaced by `<redacted>`.
 * Redis does not echo a password in its refusals, but a driver or a server
 * may put anything in a message: a password must never reach an error or a log.
 */
/** @internal */
export const redactSecrets = (text: string, secrets: ReadonlyArray<string | undefined>): string =>
  secrets.reduce<string>(
    // an absent or empty password names nothing to hide
    (redacted, secret) => secret ? redacted.replaceAll(secret, "<redacted>") : redacted,
    text
  )

/**
 * Builds a client, connects it within `connectTimeout`, and quits it when the
 * scope closes. A client that does not connect in time is disconnected, so it
 * stops reconnecting in the background. A failed connection names its first
 * error (`WRONGPASS …`, `NOAUTH …`, `connect ECONNREFUSED …`): what follows it
 * ("Connection is closed.", "None of startup nodes is available") hides the
 * cause. `secrets` are the passwords the client was given (its URL's
 * included), kept out of errors and logs.
 */
const connected = <C extends Connectable>(
  build: () => C,
  connectTimeout: Duration.Duration,
  secrets: (client: C) => ReadonlyArray<string | undefined>
): Effect.Effect<C, SessionStoreError, Scope.Scope> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        const failed = (detail: string) => new SessionStoreError({ command: "CONNECT", reason: "Connection", detail })
        let client: C
        try {
          client = build()
        } catch (cause) {
          // A malformed URL: Node's error carries the whole URL, password included (`input`), so
          // only its message goes on, and as a failure of the layer rather than a defect.
          return Effect.fail(failed(`invalid connection options: ${Ioredis.errorMessage(cause)}`))
        }
        const describe = (cause: unknown) =>
          Ioredis.errorDetail(cause, (message) => redactSecrets(message, secrets(client)))
        let firstError: string | undefined
        // Without a listener ioredis prints every connection error to the console.
        const log = (error: unknown) => {
          const detail = describe(error)
          firstError ??= detail
          Runtime.runFork(runtime)(Effect.logDebug("Redis connection error", detail))
        }
        client.on("error", log)
        client.on("node error", log)
        return Effect.tryPromise({
          try: () => client.connect(),
          catch: (cause) => failed(firstError ?? describe(cause))
        }).pipe(
          Effect.timeoutFail({
            duration: connectTimeout,
            onTimeout: () =>
              failed(
                `not connected within ${Duration.format(connectTimeout)}` +
                  (firstError === undefined ? "" : `: ${firstError}`)
              )
          }),
          Effect.interruptible,
          // stop the background reconnect attempts of a client we give up on
          Effect.onError(() => Effect.sync(() => client.disconnect())),
          Effect.as(client)
        )
      }),
      close
    ))

/** The settings every connection to a data node gets, over the caller's own. */
const nodeOptions = (redis: RedisOptions | undefined, connectTimeout: Duration.Duration): RedisOptions => ({
  retryStrategy,
  // Commands issued in the same tick (many concurrent requests) share one write.
  enableAutoPipelining: true,
  ...redis,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: connectMillis(connectTimeout),
  // `fromIoredis` bounds every command; a second timer per command would only cost
  commandTimeout: undefined
})

const reveal = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

/** @internal */
export const makeStandalone = (
  options: RedisClient.Options
): Effect.Effect<RedisClient.RedisClientShape, SessionStoreError, Scope.Scope> => {
  const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
  const redisOptions = nodeOptions(options.redis, connectTimeout)
  return standalone(
    () => options.url === undefined ? new Redis(redisOptions) : new Redis(reveal(options.url), redisOptions),
    connectTimeout,
    options
  )
}

/** A single-connection client's passwords: its own (from its URL or options), and its sentinels'. */
const redisSecrets = (client: Redis): ReadonlyArray<string | undefined> => [
  client.options.password,
  client.options.sentinelPassword
]

/** A single-connection client (one server, or a Sentinel-managed master), connected and bounded. */
const standalone = (
  create: () => Redis,
  connectTimeout: Duration.Duration,
  options: RedisClient.ConnectionOptions
): Effect.Effect<RedisClient.RedisClientShape, SessionStoreError, Scope.Scope> =>
  Effect.zipRight(
    ReplicaAcks.check(options.replicaAcks, options.commandTimeout ?? defaultCommandTimeout),
    Effect.map(
      connected(create, connectTimeout, redisSecrets),
      (client) =>
        Ioredis.fromIoredis(
          ReplicaAcks.apply(client, options.replicaAcks),
          options.commandTimeout ?? defaultCommandTimeout
        )
    )
  )

/** @internal */
export const makeSentinel = (
  options: RedisClient.SentinelOptions
): Effect.Effect<RedisClient.RedisClientShape, SessionStoreError, Scope.Scope> => {
  const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
  const password = options.password === undefined ? {} : { password: reveal(options.password) }
  const sentinelPassword = options.sentinelPassword === undefined
    ? {}
    : { sentinelPassword: reveal(options.sentinelPassword) }
  const redisOptions: RedisOptions = {
    ...nodeOptions({ ...options.redis, ...password, ...sentinelPassword }, connectTimeout),
    sentinels: options.sentinels.map(({ host, port }) => ({ host, port })),
    name: options.masterName,
    // Commands go to the master only: a replica lags behind it.
    role: "master"
  }
  return standalone(() => new Redis(redisOptions), connectTimeout, options)
}

/** @internal */
export const makeCluster = (
  options: RedisClient.ClusterOptions
): Effect.Effect<RedisClient.RedisClientShape, SessionStoreError, Scope.Scope> => {
  const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
  const password = options.password === undefined ? {} : { password: reveal(options.password) }
  // A node's connection is the cluster's to retry and queue on (ioredis overrides both)
  const { enableOfflineQueue: _queue, retryStrategy: _retry, ...perNode } = nodeOptions(
    { ...options.redis, ...password },
    connectTimeout
  )
  const clusterOptions: IoredisClusterOptions = {
    clusterRetryStrategy: retryStrategy,
    enableAutoPipelining: true,
    ...options.cluster,
    redisOptions: perNode,
    lazyConnect: true,
    enableOfflineQueue: false,
    // Reads and writes go to the master of the key's slot: a replica lags behind it.
    scaleReads: "master"
  }
  return Effect.zipRight(
    ReplicaAcks.check(options.replicaAcks, options.commandTimeout ?? defaultCommandTimeout),
    Effect.map(
      connected(
        () => new Cluster(options.nodes.map(({ host, port }) => ({ host, port })), clusterOptions),
        connectTimeout,
        () => [perNode.password]
      ),
      (client) =>
        IoredisCluster.fromIoredisCluster(
          ReplicaAcks.apply(client, options.replicaAcks),
          options.commandTimeout ?? defaultCommandTimeout
        )
    )
  )
}
