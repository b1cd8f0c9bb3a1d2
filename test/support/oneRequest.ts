/**
 * A fixture app of one route whose handler is the test's own effect, run
 * through the real session middleware in-process on the test's runtime (so
 * `TestClock` drives session time). For a behaviour of `Session` itself
 * within one request, where a route table in sessionApp.ts would only hide
 * what is being checked.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { type RedisClient, type Session, SessionMiddleware, type SessionPolicy } from "../../src/index.js"

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
