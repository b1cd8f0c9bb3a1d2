/**
 * The HttpApi testing recipe of docs/getting-started.md, run as it is printed.
 *
 * Keep this file and the document in sync: the code below the marker line is
 * the snippet under "Testing an HttpApi app" (docs/getting-started.md), copied
 * verbatim except for the import of the library, which here is
 * "../src/index.js" instead of "effect-session-redis". Change one, change both;
 * the last test fails while they differ.
 */
import { readFileSync } from "node:fs"
// --- docs/getting-started.md, "Testing an HttpApi app" ---
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
import { InvalidSession, RedisClient, Session, SessionMiddleware, SessionPolicy } from "../src/index.js"

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
// --- end of the snippet ---

it("the snippet above is the one printed in docs/getting-started.md", () => {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")
  const test = read("./recipes.test.ts")
  const snippet = test.slice(
    test.indexOf("\n", test.indexOf("// --- docs/getting-started.md")) + 1,
    test.indexOf("// --- end of the snippet ---")
  ).replace("from \"../src/index.js\"", "from \"effect-session-redis\"")
  const doc = read("../docs/getting-started.md")
  const section = doc.slice(doc.indexOf("### Testing an HttpApi app"))
  const printed = section.slice(section.indexOf("```ts\n") + "```ts\n".length, section.indexOf("\n```\n") + 1)
  expect(printed).toBe(snippet)
})
