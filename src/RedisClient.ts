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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A Redis command failed: the server is unreachable, too slow, or answered
 * with an error. Requests that need the store fail with it; it renders as
 * `503 Service Unavailable`. It never carries a key (keys are session ids).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionStoreError extends Schema.TaggedError<SessionStoreError>()(
  "SessionStoreError",
  {
    /** The command that failed, e.g. `GETEX`. */
    command: Schema.String,
    /** `Timeout`: no answer in time; `Connection`: not connected; `Reply`: Redis answered with an error. */
    reason: Schema.Literal("Timeout", "Connection", "Reply"),
    detail: Schema.String
  },
  HttpApiSchema.annotations({ status: 503 })
) {
  override get message(): string {
    return `Session store ${this.command} failed (${this.reason}): ${this.detail}`
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(
      HttpServerResponse.text("Session store unavailable", {
        status: 503,
        headers: { "retry-after": "1" }
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
