/**
 * What the connection tests (passwords, TLS) check of a `RedisClient` layer:
 * that it round-trips a value, or how it fails to build, with every log line
 * captured at Debug so a test can prove no secret reached them.
 */
import { expect } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import * as RedisClient from "../../src/RedisClient.js"

/** The environment of a `layer*Config`, and nothing else. */
export const withEnv = (env: Record<string, string>): Layer.Layer<never> =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/**
 * Builds `layer`, writes a fresh key through it and reads it back; succeeds
 * with the key and what was read (`Some("value")` when all went well).
 */
export const roundTrip = <E>(layer: Layer.Layer<RedisClient.RedisClient, E>) =>
  Effect.gen(function*() {
    const redis = yield* RedisClient.RedisClient
    const key = `connect:${randomUUID()}`
    yield* redis.set(key, "value", { ttlSeconds: 60 })
    return { key, read: yield* redis.get(key) }
  }).pipe(Effect.provide(layer))

/** Expects `roundTrip` to have read back what it wrote. */
export const expectRoundTrip = (result: { readonly read: Option.Option<string> }): void => {
  expect(result.read).toStrictEqual(Option.some("value"))
}

/**
 * Builds `layer` with every log line (Debug and up) captured as logfmt text;
 * succeeds with the error it failed with and the lines. Dies if it builds.
 */
export const buildFailure = <E>(layer: Layer.Layer<RedisClient.RedisClient, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.map(Logger.logfmtLogger, (line) => {
      lines.push(line)
    })
    const error = yield* Effect.scoped(Layer.build(layer)).pipe(
      Effect.zipRight(Effect.dieMessage("expected the layer to fail to build, it built")),
      Effect.flip,
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
    return { error, lines }
  })

/** Expects a `SessionStoreError` of the first connection: command `CONNECT`, reason `Connection`. */
export const expectConnectFailure = (error: unknown): RedisClient.SessionStoreError => {
  expect(error).toBeInstanceOf(RedisClient.SessionStoreError)
  const storeError = error as RedisClient.SessionStoreError
  expect({ command: storeError.command, reason: storeError.reason }).toStrictEqual({
    command: "CONNECT",
    reason: "Connection"
  })
  return storeError
}

/** Expects none of `secrets` in the error (message, detail, JSON, string form) nor in the log lines. */
export const expectNoSecrets = (
  failure: { readonly error: unknown; readonly lines: ReadonlyArray<string> },
  secrets: ReadonlyArray<string>
): void => {
  const error = failure.error as RedisClient.SessionStoreError
  const shown = {
    message: error.message,
    detail: error.detail,
    json: JSON.stringify(error),
    string: String(error),
    logs: failure.lines.join("\n")
  }
  for (const secret of secrets) {
    for (const [where, text] of Object.entries(shown)) {
      expect(text, `the secret in the ${where}`).not.toContain(secret)
    }
  }
}
