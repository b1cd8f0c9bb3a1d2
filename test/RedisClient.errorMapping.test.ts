/**
 * How a driver's failure becomes a `SessionStoreError` (its reason, its
 * detail, never the command's arguments), how the error reads, and the
 * messages of a refused `host:port` list: tables over the pure functions
 * behind the ioredis backends.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { errorDetail, sanitizeMessage, toStoreError } from "../src/internal/ioredisClient.js"
import { redactSecrets } from "../src/internal/ioredisTopology.js"
import { hostPorts, parseHostPorts } from "../src/internal/redisConfig.js"
import { SessionStoreError } from "../src/RedisClient.js"

/** An error as ioredis raises it: a name (`ReplyError` for Redis's refusals) and maybe a `code`. */
const driverError = (message: string, name = "Error", code?: unknown): Error =>
  Object.assign(new Error(message), { name }, code === undefined ? {} : { code })

describe("sanitizeMessage", () => {
  const long = "x".repeat(200)
  it.each([
    ["drops the arguments Redis echoes", "ERR syntax error, with args beginning with: secret-key ", "ERR syntax error"],
    ["drops them across lines", "ERR wrong\nwith args beginning with: a\nb", "ERR wrong"],
    ["drops them after a bare comma", "ERR wrong,with args beginning with: a", "ERR wrong"],
    ["keeps a message without them", "ERR unknown command 'GETEX'", "ERR unknown command 'GETEX'"],
    ["keeps 200 characters", long, long],
    ["cuts at 200 characters, marked", long + "yz", long + "…"]
  ])("%s", (_, message, expected) => {
    expect(sanitizeMessage(message)).toBe(expected)
  })
})

describe("toStoreError", () => {
  it.each([
    [
      "a reply error is Reply",
      driverError("ERR invalid expire time", "ReplyError"),
      "Reply",
      "ERR invalid expire time"
    ],
    ["a timed-out command is Timeout", driverError("Command timed out"), "Timeout", "Command timed out"],
    ["anything else is Connection", driverError("Connection is closed."), "Connection", "Connection is closed."],
    [
      "a code the message lacks is put before it",
      driverError("connect failed", "Error", "ETIMEDOUT"),
      "Connection",
      "ETIMEDOUT: connect failed"
    ],
    [
      "a code the message has is not repeated",
      driverError("connect ECONNREFUSED 127.0.0.1:1", "Error", "ECONNREFUSED"),
      "Connection",
      "connect ECONNREFUSED 127.0.0.1:1"
    ],
    ["a code that is no string is ignored", driverError("boom", "Error", 42), "Connection", "boom"],
    ["a thrown string is its own message", "socket hang up", "Connection", "socket hang up"],
    ["a thrown null is Connection", null, "Connection", "null"]
  ])("%s", (_, cause, reason, detail) => {
    const error = toStoreError("GET", cause)
    expect({ command: error.command, reason: error.reason, detail: error.detail }).toStrictEqual({
      command: "GET",
      reason,
      detail
    })
  })

  it("errorDetail redacts the whole message before it is cut short", () => {
    const detail = errorDetail(
      driverError("x".repeat(190) + "hunter2-long-secret"),
      (message) => message.replace("hunter2-long-secret", "<redacted>")
    )
    expect(detail).toBe("x".repeat(190) + "<redacted>")
  })

  it.each([
    [
      "every occurrence of each secret",
      ["hunter2", "s3"],
      "hunter2, s3, hunter2",
      "<redacted>, <redacted>, <redacted>"
    ],
    ["nothing for no secret or an empty one", [undefined, ""], "a hunter2 b", "a hunter2 b"]
  ])("redactSecrets replaces %s", (_, secrets, text, expected) => {
    expect(redactSecrets(text, secrets)).toBe(expected)
  })
})

describe("SessionStoreError's message", () => {
  it.each([
    [{ command: "GET", detail: "ERR x" }, "Session store GET failed (Reply): ERR x"],
    [{ command: "GET", detail: "" }, "Session store GET failed (Reply)"],
    [{ command: "", detail: "ERR x" }, "Session store failed (Reply): ERR x"],
    [{ command: "", detail: "" }, "Session store failed (Reply)"]
  ])("%o reads %j", (fields, message) => {
    expect(new SessionStoreError({ ...fields, reason: "Reply" }).message).toBe(message)
  })
})

describe("host:port lists", () => {
  it.each([
    ["", "expected a comma-separated list of host:port, got an empty value"],
    ["a:1,host:0", "expected a comma-separated list of host:port, got \"host:0\""],
    ["host:65536", "expected a comma-separated list of host:port, got \"host:65536\""]
  ])("%j is refused: %s", (text, message) => {
    expect(parseHostPorts(text)).toStrictEqual(Either.left(message))
  })

  it("the lowest and highest ports are taken", () => {
    expect(parseHostPorts("a:1,b:65535")).toStrictEqual(
      Either.right([{ host: "a", port: 1 }, { host: "b", port: 65535 }])
    )
  })

  it.effect("a refused list is a ConfigError at the variable's name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(hostPorts("REDIS_CLUSTER_NODES")).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_CLUSTER_NODES", "host:0"]])))
      )
      expect(error._op).toBe("InvalidData")
      expect(error._op === "InvalidData" && error.path).toStrictEqual(["REDIS_CLUSTER_NODES"])
    }))
})
