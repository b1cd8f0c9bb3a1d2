/**
 * The ioredis backend over a scripted client: the replies a live server
 * rarely gives (an aborted or short pipeline, an error inside one, a reply
 * of the wrong type, a script the server forgot, a command that never
 * answers) and how each becomes the command's outcome.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { fromIoredis } from "../src/internal/ioredisClient.js"
import { fromIoredisCluster } from "../src/internal/ioredisCluster.js"
import type { IoredisClient } from "../src/RedisClient.js"

const driverError = (message: string, name = "Error"): Error => Object.assign(new Error(message), { name })
const replyError = (message: string) => driverError(message, "ReplyError")

type Answer = (...args: Array<unknown>) => Promise<unknown>

/** A client whose commands answer as `answers` says (any other command fails the test); the calls, by name. */
const scripted = (answers: Partial<Record<string, Answer>>) => {
  const calls: Array<string> = []
  const command = (name: string) => (...args: Array<unknown>) => {
    calls.push(name)
    const answer = answers[name]
    return answer === undefined ? Promise.reject(new Error(`unexpected ${name}`)) : answer(...args)
  }
  const pipeline = () => {
    const p = { get: () => p, expire: () => p, exec: command("exec") }
    return p
  }
  const names = ["get", "getex", "set", "expire", "del", "ttl", "eval", "evalsha", "mget", "zrange", "zrem"]
  const client = Object.fromEntries([...names.map((name) => [name, command(name)]), ["pipeline", pipeline]])
  return { client: client as unknown as IoredisClient, calls }
}

const failure = <A, E extends { readonly command: string; readonly reason: string; readonly detail: string }>(
  self: Effect.Effect<A, E>
) => Effect.map(Effect.flip(self), (error) => ({ command: error.command, reason: error.reason, detail: error.detail }))

const unknownGetEx = { getex: () => Promise.reject(replyError("ERR unknown command 'getex'")) }

describe("getEx on a server without GETEX (GET + EXPIRE in one pipeline)", () => {
  it.effect("the first unknown-command reply switches the client to the pipeline for good", () =>
    Effect.gen(function*() {
      const { calls, client } = scripted({ ...unknownGetEx, exec: () => Promise.resolve([[null, "v"], [null, 1]]) })
      const redis = fromIoredis(client, "1 second")
      expect(yield* redis.getEx("k", 10)).toStrictEqual(Option.some("v"))
      expect(yield* redis.getEx("k", 10)).toStrictEqual(Option.some("v"))
      expect(calls).toStrictEqual(["getex", "exec", "exec"])
    }))

  it.effect("an unknown-command message that is no reply error is a failure, not a reason to fall back", () =>
    Effect.gen(function*() {
      const { calls, client } = scripted({ getex: () => Promise.reject(driverError("unknown command")) })
      expect(yield* failure(fromIoredis(client, "1 second").getEx("k", 10))).toStrictEqual({
        command: "GETEX",
        reason: "Connection",
        detail: "unknown command"
      })
      expect(calls).toStrictEqual(["getex"])
    }))

  it.effect.each(
    [
      ["an aborted pipeline", null, "Connection", "Pipeline aborted"],
      ["no reply for GET", [], "Connection", "GET: no reply in pipeline"],
      ["no reply for EXPIRE", [[null, "v"]], "Connection", "EXPIRE: no reply in pipeline"],
      ["EXPIRE refused", [[null, "v"], [replyError("ERR expire refused"), null]], "Reply", "ERR expire refused"]
    ] as const
  )("%s fails the read as GET+EXPIRE", ([, results, reason, detail]) =>
    Effect.gen(function*() {
      const { client } = scripted({ ...unknownGetEx, exec: () => Promise.resolve(results) })
      expect(yield* failure(fromIoredis(client, "1 second").getEx("k", 10))).toStrictEqual({
        command: "GET+EXPIRE",
        reason,
        detail
      })
    }))

  it.effect("a GET reply that is no string reads as none", () =>
    Effect.gen(function*() {
      const { client } = scripted({ ...unknownGetEx, exec: () => Promise.resolve([[null, 42], [null, 1]]) })
      expect(yield* fromIoredis(client, "1 second").getEx("k", 10)).toStrictEqual(Option.none())
    }))
})

describe("mergePayload's script", () => {
  const patch = { set: [], remove: [], rest: "}" }

  it.effect("a server that forgot it (NOSCRIPT) gets it once by EVAL", () =>
    Effect.gen(function*() {
      const { calls, client } = scripted({
        evalsha: () => Promise.reject(replyError("NOSCRIPT No matching script. Please use EVAL.")),
        eval: () => Promise.resolve(1)
      })
      expect(yield* fromIoredis(client, "1 second").mergePayload("k", patch)).toBe("Merged")
      expect(calls).toStrictEqual(["evalsha", "eval"])
    }))

  it.effect.each(
    [
      ["another reply error", replyError("ERR Error running script"), "Reply"],
      ["a NOSCRIPT message that is no reply error", driverError("NOSCRIPT"), "Connection"]
    ] as const
  )("%s fails as EVALSHA, without EVAL", ([, error, reason]) =>
    Effect.gen(function*() {
      const { calls, client } = scripted({ evalsha: () => Promise.reject(error), eval: () => Promise.resolve(1) })
      expect(yield* failure(fromIoredis(client, "1 second").mergePayload("k", patch))).toStrictEqual({
        command: "EVALSHA",
        reason,
        detail: error.message
      })
      expect(calls).toStrictEqual(["evalsha"])
    }))
})

describe("a Cluster's indexAdd prunes the index after its script, best effort", () => {
  const live = "sess:live"
  const dead = "sess:dead"
  const added = "sess:new"

  /** Runs `indexAdd` on a scripted Cluster whose script answers every member; its calls, ZREM arguments and Debug logs. */
  const bind = (answers: Partial<Record<string, Answer>>) =>
    Effect.gen(function*() {
      const removed: Array<ReadonlyArray<unknown>> = []
      const { calls, client } = scripted({
        eval: () => Promise.resolve([live, added, dead]),
        zrem: (...args) => {
          removed.push(args)
          return Promise.resolve(1)
        },
        ...answers
      })
      const logs: Array<unknown> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel === LogLevel.Debug) logs.push(message)
      })
      yield* fromIoredisCluster(client, "1 second").indexAdd("user:1", added, 1, undefined).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      return { calls, removed, logs }
    })

  it.effect("asks the TTL of every other member and removes only those whose key is gone", () =>
    Effect.gen(function*() {
      const { calls, logs, removed } = yield* bind({
        ttl: (key) => Promise.resolve(key === dead ? -2 : 100)
      })
      expect(calls).toStrictEqual(["eval", "ttl", "ttl", "zrem"])
      expect(removed).toStrictEqual([["user:1", dead]])
      expect(logs).toStrictEqual([])
    }))

  it.effect("a failed TTL leaves the index as it is and the bind succeeds, logged at Debug", () =>
    Effect.gen(function*() {
      const { calls, logs } = yield* bind({
        ttl: (key) => key === dead ? Promise.reject(driverError("Connection is closed.")) : Promise.resolve(100)
      })
      expect(calls).not.toContain("zrem")
      expect(logs).toStrictEqual([[
        "user index not pruned",
        "Session store TTL failed (Connection): Connection is closed."
      ]])
    }))

  it.effect("a failed ZREM: the bind succeeds, logged at Debug", () =>
    Effect.gen(function*() {
      const { logs } = yield* bind({
        ttl: () => Promise.resolve(-2),
        zrem: () => Promise.reject(replyError("READONLY You can't write against a read only replica."))
      })
      expect(logs).toStrictEqual([[
        "user index not pruned",
        "Session store ZREM failed (Reply): READONLY You can't write against a read only replica."
      ]])
    }))
})

describe("a command that throws", () => {
  it.effect("before returning its promise fails like one that rejects", () =>
    Effect.gen(function*() {
      const client = {
        get: () => {
          throw driverError("Connection is closed.")
        }
      } as unknown as IoredisClient
      expect(yield* failure(fromIoredis(client, "1 second").get("k"))).toStrictEqual({
        command: "GET",
        reason: "Connection",
        detail: "Connection is closed."
      })
    }))
})

describe("the command timeout", () => {
  it.effect("a command without a reply fails as Timeout once it has passed, naming the bound", () =>
    Effect.gen(function*() {
      const { client } = scripted({ get: () => new Promise(() => {}) })
      expect(yield* failure(fromIoredis(client, "30 millis").get("k"))).toStrictEqual({
        command: "GET",
        reason: "Timeout",
        detail: "no reply within 30ms"
      })
    }))

  it.effect("a bound longer than a timer can hold (about 24.8 days) waits for the reply", () =>
    Effect.gen(function*() {
      const { client } = scripted({
        get: () => new Promise((resolve) => setTimeout(() => resolve("v"), 20))
      })
      expect(yield* fromIoredis(client, "30 days").get("k")).toStrictEqual(Option.some("v"))
    }), { timeout: 5_000 })
})
