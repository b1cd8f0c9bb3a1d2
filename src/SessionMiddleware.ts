/**
 * Gives every request its `Session`, and commits it before the response is
 * sent: the data write (at most one), then `Set-Cookie`, `Vary: Cookie` and
 * `Cache-Control: private`, all in a pre-response handler so error
 * responses are covered too. A TTL-only refresh runs after the response.
 *
 * - any `HttpApp` / `HttpRouter`: `SessionMiddleware.middleware`
 * - `HttpApi`: `SessionMiddleware.HttpApiSession` + `layerHttpApi`
 * - `HttpLayerRouter`: `SessionMiddleware.layerRouter`
 *
 * @since 0.1.0
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Engine from "./internal/engine.js"
import { RedisClient, type RedisClientShape } from "./RedisClient.js"
import { Session, type SessionShape } from "./Session.js"
import { SessionPolicy, type SessionPolicyShape } from "./SessionPolicy.js"

/**
 * Starts the session of the current request and registers its commit.
 * `failed` tells, once the response is known, whether the handler failed
 * (for `cookieOnException`).
 */
const begin = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  failed: (response: HttpServerResponse.HttpServerResponse) => boolean,
  use: (session: SessionShape) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  Effect.contextWithEffect((context: Context.Context<HttpServerRequest.HttpServerRequest | Scope.Scope>) => {
    const request = Context.get(context, HttpServerRequest.HttpServerRequest)
    const session = Engine.make(policy, redis, request, Context.get(context, Scope.Scope))
    return Effect.zipRight(
      HttpApp.appendPreResponseHandler((req, response) => session.commit(req, response, failed(response))),
      use(session.service)
    )
  })

/**
 * Runs an app with a `Session`, remembering whether it failed.
 */
const wrap = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  app: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Session> | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  Effect.suspend(() => {
    // The Exit a scope finalizer sees doesn't reliably tell failure apart (platform-notes): record it here.
    // Installed at serve level, the platform renders and commits the error response before the failure
    // reaches this wrapper, so a 5xx response counts as failed too.
    let failed = false
    const markFailed = Effect.sync(() => {
      failed = true
    })
    return begin(policy, redis, (response) => failed || response.status >= 500, (session) =>
      app.pipe(
        Effect.tapErrorCause(() => markFailed),
        Effect.provideService(Session, session)
      ))
  })

/**
 * Session middleware for any `HttpApp`, including `HttpRouter` apps and
 * `HttpServer.serve(app, middleware)`. Needs `SessionPolicy` and
 * `RedisClient`.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = <E, R>(
  app: HttpApp.Default<E, R>
): HttpApp.Default<E, Exclude<R, Session> | SessionPolicy | RedisClient | Scope.Scope> =>
  Effect.flatMap(SessionPolicy, (policy) => Effect.flatMap(RedisClient, (redis) => wrap(policy, redis, app)))

/**
 * The `HttpApi` middleware that provides `Session` to handlers. Add it to
 * groups or endpoints with `.middleware(HttpApiSession)` and provide
 * `layerHttpApi`.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export class HttpApiSession extends HttpApiMiddleware.Tag<HttpApiSession>()(
  "effect-session-redis/SessionMiddleware/HttpApiSession",
  { provides: Session }
) {}

/**
 * Implements `HttpApiSession`. An `HttpApi` middleware cannot observe the
 * handler's outcome, so a response with status 500 or more counts as a
 * failed request for `cookieOnException`.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export const layerHttpApi: Layer.Layer<HttpApiSession, never, SessionPolicy | RedisClient> = Layer.effect(
  HttpApiSession,
  Effect.gen(function*() {
    // Capture the services, not the Layer's context: that would carry the Layer's Scope into requests.
    const policy = yield* SessionPolicy
    const redis = yield* RedisClient
    return begin(policy, redis, (response) => response.status >= 500, Effect.succeed)
  })
)

/**
 * Session middleware for `HttpLayerRouter`: provide it to the routes that
 * use `Session`.
 *
 * @since 0.1.0
 * @category HttpLayerRouter
 */
export const layerRouter = HttpLayerRouter.middleware<{ provides: Session }>()(
  Effect.gen(function*() {
    const policy = yield* SessionPolicy
    const redis = yield* RedisClient
    return (httpEffect) => wrap(policy, redis, httpEffect)
  })
).layer
