/**
 * The HttpApi testing recipe of docs/getting-started.md ("Testing an HttpApi
 * app"), which prints the code below this comment verbatim (test/docs.test.ts
 * checks it).
 */
import {
  Cookies,
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpClient
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Ref, Schema, TestClock } from "effect"
import { InvalidSession, RedisClient, Session, SessionMiddleware, SessionPolicy } from "effect-session-redis"

const User = Session.key("user", Schema.String)

class Api extends HttpApi.make("api").add(
  HttpApiGroup.make("auth")
    .add(HttpApiEndpoint.post("login", "/login").setPayload(Schema.Struct({ user: Schema.String })))
    .add(HttpApiEndpoint.get("whoami", "/whoami").addSuccess(Schema.Struct({ user: Schema.NullOr(Schema.String) })))
    .middleware(SessionMiddleware.HttpApiSession)
    .addError(RedisClient.SessionStoreError) // 503
    .addError(InvalidSession.SessionPayloadError) // 500
) {}

const AuthLive = HttpApiBuilder.group(Api, "auth", (handlers) =>
  handlers
    .handle("login", ({ payload }) =>
      // a new session (and id) for the user: a session id known before login is worthless after it
      Effect.zipRight(Session.invalidate, Session.set(User, payload.user)))
    .handle("whoami", () =>
      Session.get(User).pipe(
        Effect.map((user) => ({ user: Option.getOrNull(user) })),
        Effect.catchTag("SessionValueError", Effect.die)
      )))

// The app's layers, as in production, on the in-memory store; the server on a random local port.
const TestServer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(AuthLive),
  Layer.provide(SessionMiddleware.layerHttpApi),
  Layer.provide(RedisClient.layerMemory),
  Layer.provide(SessionPolicy.layer({
    secret: Redacted.make("test-secret-test-secret-test-secret!"),
    timeout: "20 minutes",
    cookieSecure: false // the test server speaks plain HTTP
  })),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

// A typed client that keeps cookies between requests, like a browser.
const browser = Effect.gen(function*() {
  const jar = yield* Ref.make(Cookies.empty)
  return yield* HttpApiClient.make(Api, { transformClient: HttpClient.withCookiesRef(jar) })
})

it.effect("a login lasts while it is used and ends after 20 idle minutes", () =>
  Effect.gen(function*() {
    const client = yield* browser
    expect(yield* client.auth.whoami()).toEqual({ user: null })

    yield* client.auth.login({ payload: { user: "alice" } })
    expect(yield* client.auth.whoami()).toEqual({ user: "alice" })

    yield* TestClock.adjust("19 minutes")
    expect(yield* client.auth.whoami()).toEqual({ user: "alice" }) // this request slid the timeout

    yield* TestClock.adjust("21 minutes")
    expect(yield* client.auth.whoami()).toEqual({ user: null }) // idle too long: expired
  }).pipe(Effect.provide(TestServer)))
