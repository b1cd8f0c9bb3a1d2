/**
 * What a `SessionStoreError` shows, and to whom: a client gets the tag and the
 * reason (HttpApi's schema encoding, `HttpServerRespondable`); logs and spans
 * get the command and what the driver said.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as CookieSigner from "../src/CookieSigner.js"
import * as InvalidSessionErrors from "../src/InvalidSession.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { endingTracer } from "./support/sessionApp.js"

/** What ioredis rejects a command with while disconnected (`enableOfflineQueue: false`). */
const driverMessage = "Stream isn't writeable and enableOfflineQueue options is false"

/** An ioredis stand-in whose every command fails like a disconnected client. */
const disconnectedClient = (() => {
  const reject = () => Promise.reject(new Error(driverMessage))
  return {
    get: reject,
    getex: reject,
    set: reject,
    expire: reject,
    del: reject,
    ttl: reject,
    pipeline: () => {
      throw new Error(driverMessage)
    }
  } as unknown as RedisClient.IoredisClient
})()

const redisDown = RedisClient.layerFromClient(disconnectedClient)

/** Fails the way a session read does when Redis is down. */
const readSession = Effect.flatMap(RedisClient.RedisClient, (redis) => redis.getEx("session:abc", 60))

interface Reply {
  readonly status: number
  readonly body: string
  readonly retryAfter: string | undefined
}

const getDown = Effect.gen(function*() {
  const response = yield* (yield* HttpClient.HttpClient).get("/down")
  return {
    status: response.status,
    body: yield* response.text,
    retryAfter: response.headers["retry-after"]
  } satisfies Reply
})

// HttpApi: the error is declared on the endpoint and encoded by its schema
class StoreGroup extends HttpApiGroup.make("store")
  .add(HttpApiEndpoint.get("down", "/down").addSuccess(Schema.String).addError(RedisClient.SessionStoreError))
{}
class Api extends HttpApi.make("api").add(StoreGroup) {}

const apiServer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(
    HttpApiBuilder.group(
      Api,
      "store",
      (handlers) => handlers.handle("down", () => Effect.as(readSession, "unreachable"))
    )
  ),
  Layer.provide(redisDown),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

// HttpApi with the session middleware: a handler's session read fails because Redis is down
const secret = Redacted.make("error-test-secret-0123456789abcdef-01")

class SessionGroup extends HttpApiGroup.make("session")
  .add(HttpApiEndpoint.get("read", "/read").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("write", "/write").addSuccess(Schema.String))
  .middleware(SessionMiddleware.HttpApiSession)
  .addError(RedisClient.SessionStoreError)
  .addError(InvalidSessionErrors.SessionPayloadError)
{}
class SessionApi extends HttpApi.make("sessionApi").add(SessionGroup) {}

const sessionApiServer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(SessionApi)),
  Layer.provide(HttpApiBuilder.group(SessionApi, "session", (handlers) =>
    handlers
      .handle("read", () => Effect.as(Session.get("n"), "unreachable"))
      .handle("write", () => Effect.as(Session.set("n", 1), "written in memory")))),
  Layer.provide(SessionMiddleware.layerHttpApi),
  Layer.provide(SessionPolicy.layer({ secret, cookieSecure: false })),
  Layer.provide(redisDown),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

// HttpRouter: the error goes unhandled and renders itself
const routerServer = HttpServer.serve(
  HttpRouter.empty.pipe(HttpRouter.get("/down", Effect.as(readSession, HttpServerResponse.text("unreachable"))))
).pipe(
  Layer.provide(redisDown),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

/** The error a session read fails with when Redis is down. */
const storeError = readSession.pipe(Effect.flip, Effect.provide(redisDown))

describe("SessionStoreError", () => {
  it.effect("carries the command and the driver's message for whoever handles it", () =>
    Effect.gen(function*() {
      const error = yield* storeError
      expect({ reason: error.reason, command: error.command, detail: error.detail }).toStrictEqual({
        reason: "Connection",
        command: "GETEX",
        detail: driverMessage
      })
    }))

  it.effect("encodes to its tag and reason only", () =>
    Effect.gen(function*() {
      const error = yield* storeError
      expect(yield* Schema.encode(RedisClient.SessionStoreError)(error)).toStrictEqual({
        _tag: "SessionStoreError",
        reason: "Connection"
      })
    }))

  it.effect("decodes from an encoded body, with no command or detail", () =>
    Effect.gen(function*() {
      const error = yield* Schema.decodeUnknown(RedisClient.SessionStoreError)({
        _tag: "SessionStoreError",
        reason: "Timeout"
      })
      expect(error).toBeInstanceOf(RedisClient.SessionStoreError)
      expect({ reason: error.reason, command: error.command, detail: error.detail }).toStrictEqual({
        reason: "Timeout",
        command: "",
        detail: ""
      })
    }))

  it.live("under HttpApi, the 503 body is the tag and the reason, without the command or the driver's message", () =>
    Effect.gen(function*() {
      const reply = yield* getDown
      expect(reply.status).toBe(503)
      expect(JSON.parse(reply.body)).toStrictEqual({ _tag: "SessionStoreError", reason: "Connection" })
      expect(reply.body).not.toContain("GETEX")
      expect(reply.body).not.toContain("enableOfflineQueue")
    }).pipe(Effect.provide(apiServer)))

  it.live("under HttpRouter, it renders as a 503 with Retry-After and no driver detail", () =>
    Effect.gen(function*() {
      const reply = yield* getDown
      expect(reply).toStrictEqual({ status: 503, body: "Session store unavailable", retryAfter: "1" })
    }).pipe(Effect.provide(routerServer)))

  it.live("under HttpApi with the session middleware, the 503 gets Retry-After from the session's pre-response handler", () =>
    Effect.gen(function*() {
      const cookie = `session=${CookieSigner.make(secret).sign("some-session-id")}`
      const response = yield* (yield* HttpClient.HttpClient).get("/read", { headers: { cookie } })
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toBe("1")
      expect(JSON.parse(yield* response.text)).toStrictEqual({ _tag: "SessionStoreError", reason: "Connection" })
    }).pipe(Effect.provide(sessionApiServer)))

  it.live("under HttpApi, a failed end-of-request write answers the declared JSON error with Retry-After", () =>
    Effect.gen(function*() {
      const response = yield* (yield* HttpClient.HttpClient).get("/write")
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toBe("1")
      expect(response.headers["set-cookie"]).toBeUndefined()
      expect(JSON.parse(yield* response.text)).toStrictEqual({ _tag: "SessionStoreError", reason: "Connection" })
    }).pipe(Effect.provide(sessionApiServer)))

  it.effect("each failed command is counted by command and reason, never by key", () =>
    Effect.gen(function*() {
      const counter = RedisClient.storeErrors.pipe(
        Metric.tagged("command", "GETEX"),
        Metric.tagged("reason", "Connection")
      )
      const before = (yield* Metric.value(counter)).count
      yield* Effect.flip(readSession)
      expect((yield* Metric.value(counter)).count).toBe(before + 1)
    }).pipe(Effect.provide(redisDown)))

  it.effect("its Retry-After is retryAfterSeconds", () =>
    Effect.gen(function*() {
      const error = yield* storeError
      expect(error.retryAfterSeconds).toBe(1)
    }))

  it.effect("a log of the failure names the command and the driver's message", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const logger = Logger.make(({ cause }) => {
        logged.push(Cause.pretty(cause))
      })
      const error = yield* storeError
      yield* Effect.logError(Cause.fail(error)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(logged.join("\n")).toContain(`GETEX failed (Connection): ${driverMessage}`)
    }))

  it.effect("the command's span ends with the error, command and driver's message included", () =>
    Effect.gen(function*() {
      const { ended, tracer } = yield* endingTracer
      yield* readSession.pipe(Effect.provide(redisDown), Effect.withTracer(tracer), Effect.exit)

      const span = ended.find((s) => s.name === "RedisClient.getEx")
      expect(span?.attributes.get("db.operation")).toBe("GETEX")
      const exit = span?.status._tag === "Ended" ? span.status.exit : undefined
      const failure = exit !== undefined && Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.map(failure, (error) => String(error))).toStrictEqual(
        Option.some(`SessionStoreError: Session store GETEX failed (Connection): ${driverMessage}`)
      )
    }))
})
