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
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import type { RedisOptions } from "ioredis"
import * as Tracing from "./internal/tracing.js"

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
}

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
 * @since 0.1.0
 * @category models
 */
export interface IoredisClient extends Pick<Redis, "get" | "getex" | "set" | "expire" | "del" | "ttl"> {
  readonly pipeline: () => IoredisPipeline
}

/**
 * @since 0.1.0
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
}

const defaultConnectTimeout = Duration.seconds(2)
const defaultCommandTimeout = Duration.seconds(1)
const quitTimeout = Duration.seconds(1)

/** Reconnect after 100 ms, 200 ms, … up to 1 s between attempts, forever. */
const retryStrategy = (times: number): number => Math.min(times * 100, 1000)

/** Drops the arguments Redis echoes back in some errors (they may contain a key). */
const sanitizeMessage = (message: string): string => {
  const withoutArgs = message.replace(/,?\s*with args beginning with:.*$/s, "")
  return withoutArgs.length > 200 ? `${withoutArgs.slice(0, 200)}…` : withoutArgs
}

const errorName = (cause: unknown): string =>
  cause instanceof Error ? cause.name : ""

const errorMessage = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

const errorCode = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null && "code" in cause) {
    const code: unknown = cause.code
    return typeof code === "string" ? code : ""
  }
  return ""
}

const classify = (cause: unknown): SessionStoreError["reason"] => {
  const message = errorMessage(cause)
  if (/command timed out/i.test(message)) return "Timeout"
  if (errorName(cause) === "ReplyError") return "Reply"
  // "Connection is closed.", "Stream isn't writeable…", MaxRetriesPerRequestError,
  // ECONNREFUSED / ECONNRESET / EPIPE / ETIMEDOUT (connect) and anything else the
  // client itself raises: the server could not be reached.
  return "Connection"
}

const toStoreError = (command: string, cause: unknown): SessionStoreError => {
  const code = errorCode(cause)
  const message = sanitizeMessage(errorMessage(cause))
  return new SessionStoreError({
    command,
    reason: classify(cause),
    detail: code !== "" && !message.includes(code) ? `${code}: ${message}` : message
  })
}

const isUnknownCommand = (cause: unknown): boolean =>
  errorName(cause) === "ReplyError" && /unknown command/i.test(errorMessage(cause))

/** A command's name for errors, and its span (built once per command, not per call). */
interface CommandSpan {
  readonly command: string
  readonly traced: <A, E>(self: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

const commandSpan = (span: string, command: string): CommandSpan => ({
  command,
  traced: Tracing.withSpan(`RedisClient.${span}`, { "db.system": "redis", "db.operation": command })
})

const spans = {
  get: commandSpan("get", "GET"),
  getEx: commandSpan("getEx", "GETEX"),
  getExFallback: commandSpan("getEx", "GET+EXPIRE"),
  set: commandSpan("set", "SET"),
  expire: commandSpan("expire", "EXPIRE"),
  del: commandSpan("del", "DEL"),
  ttl: commandSpan("ttl", "TTL")
}

/** Another command tried after a failure (its errors are reported under its own name). */
interface Retry<A> {
  readonly command: string
  readonly attempt: Promise<A>
}

/**
 * Builds the service from an ioredis client. Every command fails with a
 * `SessionStoreError` (never a defect), and with reason `Timeout` once
 * `commandTimeout` has passed since it was issued: the bound is enforced here,
 * not by the driver, because a driver's timer starts only when the command is
 * written, and with auto-pipelining a command can wait behind a stalled batch
 * for a whole timeout before that.
 */
const fromIoredis = (client: IoredisClient, commandTimeout: Duration.DurationInput): RedisClientShape => {
  const timeout = Duration.decode(commandTimeout)
  // setTimeout takes 1 ms to 2^31 - 1 ms (it treats anything longer as 1 ms)
  const timeoutMillis = Math.min(Math.max(1, Math.round(Duration.toMillis(timeout))), 2 ** 31 - 1)
  const timeoutDetail = `no reply within ${Duration.format(timeout)}`

  /**
   * One command. ioredis's own promise settles the effect (no extra promise
   * per command), and so does a plain timer: `Effect.timeoutFail` forks two
   * fibers per command, which costs more than the round trip it bounds. The
   * first of reply and timer wins and clears the other. No canceler: an
   * interrupted fiber ignores a late resume, and the reply or the timer still
   * ends the other. `recover` may answer a failure with another attempt
   * (another command) within the same bound.
   */
  const run = <A, B>(
    { command, traced }: CommandSpan,
    evaluate: () => Promise<A>,
    map: (a: A) => B,
    recover?: (cause: unknown) => Retry<A> | undefined
  ): Effect.Effect<B, SessionStoreError> =>
    traced(Effect.async<B, SessionStoreError>((resume) => {
      let settled = false
      const settle = (result: Effect.Effect<B, SessionStoreError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(result)
      }
      const timer = setTimeout(
        () => settle(Effect.fail(new SessionStoreError({ command, reason: "Timeout", detail: timeoutDetail }))),
        timeoutMillis
      )
      const succeeded = (value: A) => settle(Effect.succeed(map(value)))
      const failed = (cause: unknown) => settle(Effect.fail(toStoreError(command, cause)))
      const rejected = recover === undefined ? failed : (cause: unknown) => {
        const retry = settled ? undefined : recover(cause)
        if (retry === undefined) return failed(cause)
        retry.attempt.then(succeeded, (retryCause: unknown) => settle(Effect.fail(toStoreError(retry.command, retryCause))))
      }
      try {
        evaluate().then(succeeded, rejected)
      } catch (cause) {
        rejected(cause)
      }
    }))

  const reply = (command: string, result: [error: Error | null, value: unknown] | undefined): unknown => {
    if (result === undefined) {
      throw new Error(`${command}: no reply in pipeline`)
    }
    if (result[0] !== null) throw result[0]
    return result[1]
  }

  // `GETEX` exists since Redis 6.2; older servers get a pipelined GET + EXPIRE.
  let getExSupported = true

  const getExFallback = async (key: string, ttlSeconds: number): Promise<string | null> => {
    const results = await client.pipeline().get(key).expire(key, ttlSeconds).exec()
    if (results === null) throw new Error("Pipeline aborted")
    const value = reply("GET", results[0])
    reply("EXPIRE", results[1])
    return typeof value === "string" ? value : null
  }

  /** The first "unknown command" reply switches this client to the fallback for good. */
  const getExRecovery = (key: string, ttlSeconds: number) => (cause: unknown): Retry<string | null> | undefined => {
    if (!isUnknownCommand(cause)) return undefined
    getExSupported = false
    return { command: "GET+EXPIRE", attempt: getExFallback(key, ttlSeconds) }
  }

  const set = (key: string, value: string, options?: SetOptions): Promise<"OK" | null> => {
    const ttl = options?.ttlSeconds
    switch (options?.condition) {
      case "NX":
        return ttl === undefined ? client.set(key, value, "NX") : client.set(key, value, "EX", ttl, "NX")
      case "XX":
        return ttl === undefined ? client.set(key, value, "XX") : client.set(key, value, "EX", ttl, "XX")
      case undefined:
        return ttl === undefined ? client.set(key, value) : client.set(key, value, "EX", ttl)
    }
  }

  const isOk = (reply: "OK" | null) => reply === "OK"
  const isOne = (reply: number) => reply === 1
  const same = (reply: number) => reply

  return {
    get: (key) => run(spans.get, () => client.get(key), Option.fromNullable),
    getEx: (key, ttlSeconds) =>
      getExSupported
        ? run(spans.getEx, () => client.getex(key, "EX", ttlSeconds), Option.fromNullable, getExRecovery(key, ttlSeconds))
        : run(spans.getExFallback, () => getExFallback(key, ttlSeconds), Option.fromNullable),
    set: (key, value, options) => run(spans.set, () => set(key, value, options), isOk),
    expire: (key, ttlSeconds) => run(spans.expire, () => client.expire(key, ttlSeconds), isOne),
    del: (key) => run(spans.del, () => client.del(key), isOne),
    ttl: (key) => run(spans.ttl, () => client.ttl(key), same)
  }
}

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
            Effect.logDebug("Redis connection error", sanitizeMessage(errorMessage(error)))
          )
        })
        return Effect.tryPromise({
          try: () => client.connect(),
          catch: (cause) =>
            new SessionStoreError({ command: "CONNECT", reason: "Connection", detail: toStoreError("CONNECT", cause).detail })
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
    return fromIoredis(client, options.commandTimeout ?? defaultCommandTimeout)
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
} = {}): Layer.Layer<RedisClient, SessionStoreError | ConfigError.ConfigError> =>
  Layer.scoped(
    RedisClient,
    Effect.gen(function*() {
      const url = yield* (options.url ?? Config.redacted("REDIS_URL"))
      const connectTimeout = options.connectTimeout === undefined ? undefined : yield* options.connectTimeout
      const commandTimeout = options.commandTimeout === undefined ? undefined : yield* options.commandTimeout
      return yield* make({ url, connectTimeout, commandTimeout })
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
  options: { readonly commandTimeout?: Duration.DurationInput | undefined } = {}
): Layer.Layer<RedisClient> =>
  Layer.succeed(RedisClient, fromIoredis(client, options.commandTimeout ?? defaultCommandTimeout))

// -----------------------------------------------------------------------------
// memory
// -----------------------------------------------------------------------------

interface MemoryEntry {
  readonly value: string
  readonly expiresAtMillis: number | undefined
}

/** Sweep expired entries after this many writes (at least; see `makeMemory`). */
const sweepEvery = 1000

const replyError = (command: string, detail: string) =>
  Effect.fail(new SessionStoreError({ command, reason: "Reply", detail }))

const checkTtl = (command: string, ttlSeconds: number, positive: boolean): Effect.Effect<void, SessionStoreError> =>
  !Number.isSafeInteger(ttlSeconds)
    ? replyError(command, "ERR value is not an integer or out of range")
    : positive && ttlSeconds <= 0
    ? replyError(command, `ERR invalid expire time in '${command.toLowerCase()}' command`)
    : Effect.void

/**
 * An in-memory store with Redis semantics. TTLs are measured on the Effect
 * `Clock`, so `TestClock.adjust` expires keys. Expired keys are dropped when
 * touched, and swept every so many writes so memory stays bounded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<RedisClientShape> = Effect.sync(() => {
  const entries = new Map<string, MemoryEntry>()
  let writesSinceSweep = 0

  const isExpired = (entry: MemoryEntry, now: number): boolean =>
    entry.expiresAtMillis !== undefined && entry.expiresAtMillis <= now

  const lookup = (key: string, now: number): MemoryEntry | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (isExpired(entry, now)) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  const write = (key: string, entry: MemoryEntry, now: number): void => {
    entries.set(key, entry)
    // amortised O(1): a sweep costs O(size) and runs at most every `size` writes
    writesSinceSweep++
    if (writesSinceSweep >= Math.max(sweepEvery, entries.size)) {
      writesSinceSweep = 0
      for (const [k, e] of entries) {
        if (isExpired(e, now)) entries.delete(k)
      }
    }
  }

  const now = <A>(f: (now: number) => A): Effect.Effect<A> =>
    Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))

  const expiresAt = (now: number, ttlSeconds: number) => now + ttlSeconds * 1000

  return {
    get: (key) => now((t) => Option.fromNullable(lookup(key, t)?.value)),
    getEx: (key, ttlSeconds) =>
      Effect.zipRight(
        checkTtl("GETEX", ttlSeconds, true),
        now((t) => {
          const entry = lookup(key, t)
          if (entry === undefined) return Option.none()
          write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
          return Option.some(entry.value)
        })
      ),
    set: (key, value, options) =>
      Effect.zipRight(
        options?.ttlSeconds === undefined ? Effect.void : checkTtl("SET", options.ttlSeconds, true),
        now((t) => {
          const exists = lookup(key, t) !== undefined
          if (options?.condition === "NX" && exists) return false
          if (options?.condition === "XX" && !exists) return false
          const ttl = options?.ttlSeconds
          write(key, { value, expiresAtMillis: ttl === undefined ? undefined : expiresAt(t, ttl) }, t)
          return true
        })
      ),
    expire: (key, ttlSeconds) =>
      Effect.zipRight(
        checkTtl("EXPIRE", ttlSeconds, false),
        now((t) => {
          const entry = lookup(key, t)
          if (entry === undefined) return false
          if (ttlSeconds <= 0) {
            entries.delete(key)
          } else {
            write(key, { value: entry.value, expiresAtMillis: expiresAt(t, ttlSeconds) }, t)
          }
          return true
        })
      ),
    del: (key) => now((t) => lookup(key, t) !== undefined && entries.delete(key)),
    ttl: (key) =>
      now((t) => {
        const entry = lookup(key, t)
        if (entry === undefined) return -2
        if (entry.expiresAtMillis === undefined) return -1
        // like Redis: milliseconds left, rounded to the nearest second
        return Math.floor((entry.expiresAtMillis - t + 500) / 1000)
      })
  }
})

/**
 * An in-memory `RedisClient` for tests and single-process development.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RedisClient> = Layer.effect(RedisClient, makeMemory)
