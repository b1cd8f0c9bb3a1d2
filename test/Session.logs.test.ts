/**
 * What the library logs about one session names it only by its redacted
 * tag (`redactId`), never by its id, which is the secret the cookie carries:
 * an id collision on create or on regenerate, and a session that vanished
 * before it could be written. Run on the memory Layer and on redis-server.
 * An id generator that keeps colliding is a defect: the request fails and
 * says so.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { redactId } from "../src/internal/store.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { onBothStores } from "./support/bothStores.js"

/** Ids the next sessions get, in order; random ones once it is empty. */
const nextIds: Array<string> = []
const generateId = () => nextIds.shift() ?? `random-${randomUUID()}`

/** An id no one could mistake for anything else in a log line. */
const uniqueId = (name: string) => `${name}-${randomUUID()}`

/**
 * `?op=write` sets a value, `?op=regenerate` moves the session to a new id, `?op=write-after-logout` writes after
 * another request deleted it, `?op=overwrite-then-write` after another writer replaced it with something no merge reads.
 */
const app = SessionMiddleware.middleware(
  Effect.gen(function*() {
    const op = new URL((yield* HttpServerRequest.HttpServerRequest).url, "http://localhost").searchParams.get("op")
    const session = yield* Session.Session
    if (op === "regenerate") yield* session.regenerate
    if (op === "overwrite-then-write") {
      const id = yield* session.ensureId
      const policy = yield* SessionPolicy.SessionPolicy
      yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.set(policy.storageKey(id), "pickled bytes", {}))
    }
    if (op === "write-after-logout") {
      yield* session.get("n")
      const id = yield* session.ensureId
      const policy = yield* SessionPolicy.SessionPolicy
      yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.del(policy.storageKey(id)))
    }
    yield* session.set("n", randomUUID())
    return HttpServerResponse.text("ok")
  })
)

/**
 * Sends one request with every log line captured as logfmt text; succeeds
 * with the lines and the `session=…` pair it set, if any.
 */
const send = (op: string, cookie?: string) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.map(Logger.logfmtLogger, (line) => {
      lines.push(line)
    })
    const runtime = yield* Effect.provide(
      Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>(),
      Logger.replace(Logger.defaultLogger, logger)
    )
    const response = yield* Effect.promise(() =>
      HttpApp.toWebHandlerRuntime(runtime)(app)(
        new Request(`http://localhost/?op=${op}`, { headers: cookie === undefined ? {} : { cookie } })
      )
    )
    const setCookie = Option.fromNullable(response.headers.getSetCookie()[0]?.split(";")[0])
    return { lines, setCookie, status: response.status }
  })

/** Stores a session under `id` (its storage key) so that generating `id` again collides. */
const occupy = (id: string) =>
  Effect.gen(function*() {
    const policy = yield* SessionPolicy.SessionPolicy
    const redis = yield* RedisClient.RedisClient
    yield* redis.set(policy.storageKey(id), "{}", { ttlSeconds: 60 })
  })

const lineAbout = (lines: ReadonlyArray<string>, text: string) => {
  const line = lines.find((entry) => entry.includes(text))
  expect(line, `a log line with "${text}" among:\n${lines.join("\n")}`).toBeDefined()
  return line ?? ""
}

onBothStores((it) => {
  it("an id collision on a new session is logged with the redacted id, never the id", () =>
    Effect.gen(function*() {
      const taken = uniqueId("taken")
      yield* occupy(taken)
      nextIds.push(taken, uniqueId("fresh"))
      const { lines } = yield* send("write")
      const line = lineAbout(lines, "session id collision")
      expect(line).toContain(redactId(taken))
      expect(lines.join("\n")).not.toContain(taken)
    }))

  it("an id collision on regenerate is logged with the redacted id, never the id", () =>
    Effect.gen(function*() {
      nextIds.push(uniqueId("first"))
      const cookie = Option.getOrThrow((yield* send("write")).setCookie)
      const taken = uniqueId("taken")
      yield* occupy(taken)
      nextIds.push(taken, uniqueId("fresh"))
      const { lines } = yield* send("regenerate", cookie)
      const line = lineAbout(lines, "session id collision")
      expect(line).toContain(redactId(taken))
      expect(lines.join("\n")).not.toContain(taken)
    }))

  it("a session deleted before its write is logged with the redacted id, never the id", () =>
    Effect.gen(function*() {
      const id = uniqueId("stored")
      nextIds.push(id)
      const cookie = Option.getOrThrow((yield* send("write")).setCookie)
      const { lines } = yield* send("write-after-logout", cookie)
      const line = lineAbout(lines, "session vanished before it could be written")
      expect(line).toContain(redactId(id))
      expect(lines.join("\n")).not.toContain(id)
    }))
}, { generateId })

const collisions = (name: string) =>
  Effect.gen(function*() {
    const taken = [uniqueId(name), uniqueId(name), uniqueId(name)]
    for (const id of taken) yield* occupy(id)
    nextIds.push(...taken)
    return taken
  })

onBothStores((it) => {
  it("an id generator that keeps producing taken ids fails the request after three tries", () =>
    Effect.gen(function*() {
      yield* collisions("taken")
      const { lines, setCookie, status } = yield* send("write")
      expect(status).toBe(500)
      expect(Option.isNone(setCookie)).toBe(true)
      expect(nextIds).toHaveLength(0)
      expect(lines.filter((line) => line.includes("session id collision"))).toHaveLength(2)
    }).pipe(Effect.ensuring(Effect.sync(() => nextIds.length = 0))))

  it("an id generator that keeps producing taken ids fails a regenerate after three tries", () =>
    Effect.gen(function*() {
      nextIds.push(uniqueId("first"))
      const cookie = Option.getOrThrow((yield* send("write")).setCookie)
      yield* collisions("taken")
      const { lines, status } = yield* send("regenerate", cookie)
      expect(status).toBe(500)
      expect(lines.filter((line) => line.includes("session id collision"))).toHaveLength(2)
    }).pipe(Effect.ensuring(Effect.sync(() => nextIds.length = 0))))
}, { generateId })

describe("merge writes", () => {
  onBothStores((it) => {
    it("a session deleted before its merge is logged with the redacted id, and not re-created", () =>
      Effect.gen(function*() {
        const id = uniqueId("stored")
        nextIds.push(id)
        const cookie = Option.getOrThrow((yield* send("write")).setCookie)
        const { lines } = yield* send("write-after-logout", cookie)
        const line = lineAbout(lines, "session vanished before it could be written")
        expect(line).toContain(redactId(id))
        expect(lines.join("\n")).not.toContain(id)
        const policy = yield* SessionPolicy.SessionPolicy
        const stored = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.get(policy.storageKey(id)))
        expect(Option.isNone(stored)).toBe(true)
      }))

    it("a stored value no merge can read is logged with the redacted id and written whole", () =>
      Effect.gen(function*() {
        const id = uniqueId("stored")
        nextIds.push(id)
        const cookie = Option.getOrThrow((yield* send("write")).setCookie)
        const { lines, status } = yield* send("overwrite-then-write", cookie)
        expect(status).toBe(200)
        const line = lineAbout(lines, "stored session payload could not be merged; writing it whole")
        expect(line).toContain(redactId(id))
        expect(lines.join("\n")).not.toContain(id)
        const policy = yield* SessionPolicy.SessionPolicy
        const stored = yield* Effect.flatMap(RedisClient.RedisClient, (redis) => redis.get(policy.storageKey(id)))
        const payload = JSON.parse(Option.getOrThrow(stored)) as { readonly m: Record<string, unknown> }
        expect(Object.keys(payload.m)).toStrictEqual(["n"])
      }))
  }, { generateId, writeMode: "merge" })
})

describe("failures the request survives or answers", () => {
  onBothStores((it) => {
    it("a session over maxPayloadBytes is a warning with its size, not an error", () =>
      Effect.gen(function*() {
        const { lines, status } = yield* send("write")
        expect(status).toBe(413)
        const line = lineAbout(lines, "session not written: its payload is over maxPayloadBytes")
        expect(line).toContain("level=WARN")
        expect(line).toMatch(/bytes\\?":\d+/)
        expect(lines.join("\n")).not.toContain("level=ERROR")
      }))
  }, { maxPayloadBytes: 40 })

  onBothStores((it) => {
    it("an onInvalid hook that fails is logged, and the request goes on", () =>
      Effect.gen(function*() {
        const { lines, status } = yield* send("write", "session=forged")
        expect(status).toBe(200)
        const line = lineAbout(lines, "session onInvalid hook failed")
        expect(line).toContain("level=WARN")
        expect(line).toContain("hook broke")
      }))
  }, { onInvalid: () => Effect.die(new Error("hook broke")) })
})
