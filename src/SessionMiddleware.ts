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
 * When Redis is unreachable, a request that needs its session fails with
 * `503` and `Retry-After` unless the policy (`onStoreUnavailable`) or the
 * route (`tolerateStoreOutage`) lets it go on with an anonymous session.
 *
 * @since 0.1.0
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import { RequestSession } from "./internal/requestSession.js"
import * as StoreOutage from "./internal/storeOutage.js"
import { RedisClient, type RedisClientShape } from "./RedisClient.js"
import { Session } from "./Session.js"
import { SessionPolicy, type SessionPolicyShape } from "./SessionPolicy.js"

/**
 * Starts the current request's session and registers its commit. Runs on
 * every request, including those that never touch their session: it only
 * builds the session object; nothing is read until the handler asks.
 */
const start = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  context: Context.Context<HttpServerRequest.HttpServerRequest | Scope.Scope>,
  use: (session: RequestSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const request = Context.get(context, HttpServerRequest.HttpServerRequest)
  const session = new RequestSession(policy, redis, request, Context.get(context, Scope.Scope))
  return Effect.zipRight(HttpApp.appendPreResponseHandler(session.commit), use(session))
}

/** `start` with services captured when a Layer was built. */
const begin = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  use: (session: RequestSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  Effect.contextWithEffect((context: Context.Context<HttpServerRequest.HttpServerRequest | Scope.Scope>) =>
    start(policy, redis, context, use)
  )

/**
 * Runs an app with the request's `Session`, recording a failure for
 * `cookieOnException`: the `Exit` a scope finalizer sees does not reliably
 * tell (it depends on the serve-level middleware installed). Installed at
 * serve level, the platform renders and commits the error response before
 * the failure reaches this point; the commit then counts a 5xx as failed.
 */
const provideSession = <A, E, R>(
  session: RequestSession,
  app: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Session>> =>
  Effect.provideService(Effect.tapErrorCause(app, session.markFailed), Session, session.service)

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
  Effect.contextWithEffect((
    context: Context.Context<SessionPolicy | RedisClient | HttpServerRequest.HttpServerRequest | Scope.Scope>
  ) =>
    start(
      Context.get(context, SessionPolicy),
      Context.get(context, RedisClient),
      context,
      (session) => provideSession(session, app)
    )
  )

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
    return begin(policy, redis, (session) => Effect.succeed(session.service))
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
    return (httpEffect) => begin(policy, redis, (session) => provideSession(session, httpEffect))
  })
).layer

/**
 * Lets the wrapped handler (a route, a group, a whole app) go on when its
 * session cannot be loaded because Redis is unreachable (`SessionStoreError`
 * with reason `Connection` or `Timeout`): the session is a new, empty,
 * anonymous one that is never written, and the client's cookie is left as it
 * is, so its real session is there again once Redis is back. Reads find
 * nothing; writes are kept for the rest of the request only; `persistNow`,
 * `regenerate`, `bindUser` and `refreshNow` write nothing; `invalidate` and
 * `require` fail with the store's error (a logout that cannot happen must not
 * look done, and "not logged in" would be a lie). `session.storeAvailable`
 * tells the handler. A write at the end of the request that finds Redis
 * unreachable is dropped the same way, without a cookie (unless it deletes a
 * session). Each such request counts in `storeUnavailable` and logs a warning.
 *
 * Decided when the request's session is first loaded: wrap the effect that
 * loads it. Overrides the policy's `onStoreUnavailable`.
 *
 * @since 0.2.0
 * @category store outages
 */
export const tolerateStoreOutage = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, StoreOutage.currentMode, "anonymous")

/**
 * The opposite of `tolerateStoreOutage`: the wrapped handler answers `503`
 * with `Retry-After` when Redis is unreachable, whatever the policy's
 * `onStoreUnavailable` (for a login, a payment, anything that must not go on
 * without its session).
 *
 * @since 0.2.0
 * @category store outages
 */
export const failOnStoreOutage = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, StoreOutage.currentMode, "fail")

/**
 * Counts the requests that went on with an anonymous, unwritten session
 * because Redis was unreachable, tagged with `reason` (`Connection`,
 * `Timeout`). Never a key or an id.
 *
 * @since 0.2.0
 * @category metrics
 */
export const storeUnavailable: Metric.Metric.Counter<number> = StoreOutage.counter
