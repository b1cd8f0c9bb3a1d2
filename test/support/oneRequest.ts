/**
 * A fixture app of one route whose handler is the test's own effect, run
 * through the real session middleware in-process on the test's runtime (so
 * `TestClock` drives session time). For a behaviour of `Session` itself
 * within one request, where a route table in sessionApp.ts would only hide
 * what is being checked.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as CookieSigner from "../../src/CookieSigner.js"
import { RedisClient, Session, SessionMiddleware, type SessionPolicy } from "../../src/index.js"
import { layerWithStore, recording, secret } from "./sessionApp.js"

/**
 * Runs `body` as the handler of one request (no cookie: a new session) and
 * gives back its result. A failure or defect in `body`, such as a failed
 * `expect`, fails the caller with the same cause.
 */
export const inOneRequest = <A, E>(
  body: Effect.Effect<A, E, Session.Session>
): Effect.Effect<A, E, SessionPolicy.SessionPolicy | RedisClient.RedisClient> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>()
    let result: Exit.Exit<A, E> | undefined
    const app = SessionMiddleware.middleware(
      Effect.as(
        Effect.tap(Effect.exit(body), (exit) => {
          result = exit
        }),
        HttpServerResponse.empty()
      )
    )
    yield* Effect.promise(() => HttpApp.toWebHandlerRuntime(runtime)(app)(new Request("http://localhost/")))
    if (result === undefined) return yield* Effect.dieMessage("inOneRequest: the handler did not run")
    return yield* result
  })

// --- one request to a handler, on a memory store holding the session `s1`: what it sent, set and logged

export const signer = CookieSigner.make(secret)
/** A session stored under `s1` (created at time 0, the TestClock's start). */
export const storedPayload = `{"m":{"n":1},"c":0,"v":1}`

export interface Sent {
  readonly status: number
  readonly headers: Headers
  readonly body: string
  /** The `session=…` Set-Cookie line, if any. */
  readonly setCookie: string | undefined
  readonly lines: ReadonlyArray<string>
}

/** Sends one request to `handler` behind the session middleware; `cookie` is the session cookie's value. */
export const send = (
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, Session.Session>,
  cookie?: string
) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.map(Logger.logfmtLogger, (line) => void lines.push(line))
    const runtime = yield* Effect.provide(
      Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>(),
      Logger.replace(Logger.defaultLogger, logger)
    )
    const response = yield* Effect.promise(() =>
      HttpApp.toWebHandlerRuntime(runtime)(SessionMiddleware.middleware(handler))(
        new Request("http://localhost/", { headers: cookie === undefined ? {} : { cookie: `session=${cookie}` } })
      )
    )
    const body = yield* Effect.promise(() => response.text())
    // finalizers after the response (the deferred TTL refresh) and background undo run on later turns
    yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    const setCookie = response.headers.getSetCookie().find((line) => line.startsWith("session="))
    return { status: response.status, headers: response.headers, body, setCookie, lines } satisfies Sent
  })

/** A memory store with `s1` stored, behind a recording client; `change` replaces some commands. */
export const storeWith = (
  change: (memory: RedisClient.RedisClientShape) => Partial<RedisClient.RedisClientShape> = () => ({})
) =>
  Effect.gen(function*() {
    const memory = yield* RedisClient.makeMemory
    yield* memory.set("s1", storedPayload, { ttlSeconds: 1200 })
    const recorded = recording({ ...memory, ...change(memory) })
    return { memory, client: recorded.client, log: recorded.log }
  })

export const unreachable = (command: string) =>
  Effect.fail(new RedisClient.SessionStoreError({ reason: "Connection", command }))
export const refused = (command: string) => Effect.fail(new RedisClient.SessionStoreError({ reason: "Reply", command }))

/** Runs `body` with a store made by `storeWith(change)` and a policy of `options`. */
export const withSessions = <A, E>(
  options: Partial<SessionPolicy.Options>,
  change: (memory: RedisClient.RedisClientShape) => Partial<RedisClient.RedisClientShape>,
  body: (
    store: Effect.Effect.Success<ReturnType<typeof storeWith>>
  ) => Effect.Effect<A, E, SessionPolicy.SessionPolicy | RedisClient.RedisClient>
) => Effect.flatMap(storeWith(change), (store) => Effect.provide(body(store), layerWithStore(store.client, options)))

export const ok = HttpServerResponse.text("ok")
export const readN = Effect.as(Session.get("n"), ok)
/** The cookie value of a session stored under `id`. */
export const cookieOf = (id: string) => signer.sign(id)
/** The log line that contains `text`. */
export const lineWith = (sent: Sent, text: string) => {
  const line = sent.lines.find((entry) => entry.includes(text))
  expect(line, `a log line with "${text}" among:\n${sent.lines.join("\n")}`).toBeDefined()
  return line ?? ""
}
