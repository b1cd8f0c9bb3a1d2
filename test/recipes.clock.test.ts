/**
 * A recipe of docs/recipes.md ("Testing: the memory store and the TestClock"),
 * which prints the code below this comment verbatim (test/docs.test.ts checks it).
 */
import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { RedisClient, Session, SessionMiddleware, SessionPolicy } from "effect-session-redis"

const Visits = Session.key("visits", Schema.Number)

const app = SessionMiddleware.middleware(HttpRouter.empty.pipe(
  HttpRouter.get(
    "/",
    Effect.gen(function*() {
      const visits = yield* Session.modify(Visits, (n) => Option.getOrElse(n, () => 0) + 1)
      return HttpServerResponse.text(`visit ${visits}`)
    })
  )
))

const TestLayer = Layer.merge(
  RedisClient.layerMemory,
  SessionPolicy.layer({
    secret: Redacted.make("test-secret-test-secret-test-secret!"),
    timeout: "10 minutes",
    maxLifetime: "1 hour"
  })
)

/** A browser: sends back the cookie it was given last. */
const browser = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<RedisClient.RedisClient | SessionPolicy.SessionPolicy>()
  const handler = HttpApp.toWebHandlerRuntime(runtime)(app)
  let cookie: string | undefined
  return (path: string) =>
    Effect.promise(async () => {
      const response = await handler(new Request(`http://localhost${path}`, cookie ? { headers: { cookie } } : {}))
      cookie = response.headers.getSetCookie()[0]?.split(";")[0] ?? cookie
      return response.text()
    })
})

it.effect("an active session still ends after its maximum lifetime", () =>
  Effect.gen(function*() {
    const visit = yield* browser
    expect(yield* visit("/")).toBe("visit 1")
    for (let minute = 5; minute < 60; minute += 5) {
      yield* TestClock.adjust("5 minutes") // within the idle timeout: each visit slides it
      yield* visit("/")
    }
    yield* TestClock.adjust("5 minutes") // one hour after creation
    expect(yield* visit("/")).toBe("visit 1")
  }).pipe(Effect.provide(TestLayer)))
