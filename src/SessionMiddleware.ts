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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Engine from "./internal/engine.js"
import { RedisClient, type RedisClientShape } from "./RedisClient.js"
import { Session } from "./Session.js"
import { SessionPolicy, type SessionPolicyShape } from "./SessionPolicy.js"

/**
 * Starts the session of the current request and arranges its commit. This
 * runs on every request, including the many that never touch their session,
 * so it takes as few effect steps as it can.
 */
const start = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  use: (session: Engine.RequestSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const context = fiber.currentContext
  const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
  const session = Engine.make(policy, redis, request, Context.unsafeGet(context, Scope.Scope))
  if (usesServerCommit(fiber) && awaitCommit(request, session)) return use(session)
  return Effect.zipRight(HttpApp.appendPreResponseHandler(commitHandler(session)), use(session))
}

/**
 * The pre-response handler. It stays reachable after the response, with the
 * request's finished fiber, so it is made here, where it captures nothing but
 * the session (not the middleware's context or app).
 */
const commitHandler = (session: Engine.RequestSession): HttpApp.PreResponseHandler => (request, response) =>
  session.commit(request, response)

// --- the server-level commit handler (`layerServer`) ----------------------------

/**
 * Sessions waiting for the server-level commit handler, by the request's
 * `source` (Node's `IncomingMessage`, or the web `Request`): kept by a
 * mounted or rewritten request (`request.modify`), and collected with it.
 */
const awaitingCommit = new WeakMap<object, Engine.RequestSession>()

/**
 * In fibers that inherit what `layerServer` installed: the pre-response
 * handlers it installed. Local to this module, like `awaitingCommit`: a
 * second copy of the library sees no marker and registers per request.
 */
const serverCommitInstalled = FiberRef.unsafeMake<Option.Option<HttpApp.PreResponseHandler> | undefined>(undefined)

/**
 * Whether this request can leave its commit to the server-level handler.
 * Only while nobody has appended a handler since (the platform's CORS at
 * serve level does, per request): pre-response handlers run in order, and
 * the commit must run after them, or a `Vary` they replace loses `Cookie`.
 */
const usesServerCommit = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => {
  const installed = fiber.getFiberRef(serverCommitInstalled)
  return installed !== undefined && fiber.getFiberRef(HttpApp.currentPreResponseHandlers) === installed
}

/** Hands the session to the server-level handler; false when it can't take it (then register per request). */
const awaitCommit = (request: HttpServerRequest.HttpServerRequest, session: Engine.RequestSession): boolean => {
  const source = request.source
  if (typeof source !== "object" || source === null) return false
  const waiting = awaitingCommit.get(source)
  // Not yet committed: a second session in this request (nested middleware), which gets its own handler.
  // Committed: an earlier request with the same source (a web `Request` handled twice), now replaced.
  if (waiting !== undefined && !waiting.commitStarted) return false
  awaitingCommit.set(source, session)
  return true
}

/**
 * The server-level handler. The entry stays after the commit: the platform
 * runs the handlers again on its error path, and the commit then re-applies
 * its decision. It goes with the request's `source`.
 */
const commitAwaiting: HttpApp.PreResponseHandler = (request, response) => {
  const source = request.source
  const session = typeof source === "object" && source !== null ? awaitingCommit.get(source) : undefined
  return session === undefined ? Effect.succeed(response) : session.commit(request, response)
}

/**
 * Optional: installs the session commit once for every request of the
 * server, instead of registering a pre-response handler per request. Each
 * registration is a write to the request fiber's FiberRefs; over HTTP that
 * measured as a few percent of a session read's throughput.
 *
 * Provide it where the HTTP server is built (with `SessionPolicy` and
 * `RedisClient`), never inside a request: the handler lives as long as the
 * Layer, and one provided per request is gone before the response, so its
 * sessions would not be committed. Applies to all three integrations.
 * Without it, and for a request where another pre-response handler was
 * added before the middleware ran (serve-level CORS), the middleware
 * registers the commit per request, so that it runs last. A request whose
 * `HttpServerRequest` the app replaces with one of another `source` (not
 * `request.modify`, which keeps it) needs the per-request handler: don't
 * use this Layer then.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.flatMap(FiberRef.get(HttpApp.currentPreResponseHandlers), (handlers) => {
    // Appended like `HttpApp.appendPreResponseHandler`: after the handlers already installed.
    const installed = Option.some<HttpApp.PreResponseHandler>(
      Option.isNone(handlers)
        ? commitAwaiting
        : (request, response) => Effect.flatMap(handlers.value(request, response), (out) => commitAwaiting(request, out))
    )
    return Effect.zipRight(
      Effect.locallyScoped(HttpApp.currentPreResponseHandlers, installed),
      Effect.locallyScoped(serverCommitInstalled, installed)
    )
  })
)

/** `start` with services captured when a Layer was built. */
const begin = <A, E, R>(
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  use: (session: Engine.RequestSession) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withFiberRuntime<A, E, R>((fiber) => start(policy, redis, fiber, use))

/**
 * Runs an app with the request's `Session`, remembering whether it failed.
 *
 * Not `Effect.provideService`, which restores the previous context when the
 * app ends, with an acquire/use/release (an uninterruptible region, an
 * `Exit`, two context writes). This runs on every request, and each write
 * to a fiber's context copies its FiberRefs; over HTTP the restore measured
 * as a few percent of the throughput of a session read. Here the context is
 * set once, for the rest of the request's fiber. Routes and mounted apps
 * run inside the router's own context scope, so nothing leaks past them;
 * code wrapped around the middleware in the same fiber (the platform's
 * response handling, the commit, a user's outer middleware) sees the
 * request's `Session` too, which is the right one for it.
 *
 * The overload states what the implementation does: `Session` is in the
 * app's context, so the result no longer requires it. The compiler cannot
 * see through a context set on the fiber.
 */
function provideSession<A, E, R>(
  session: Engine.RequestSession,
  app: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Session>>
function provideSession<A, E, R>(session: Engine.RequestSession, app: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
  // The Exit a scope finalizer sees doesn't reliably tell failure apart (platform-notes): record it here.
  // Installed at serve level, the platform renders and commits the error response before the failure
  // reaches this wrapper; the commit then counts a 5xx response as failed.
  const recorded = Effect.tapErrorCause(app, () => Effect.sync(() => session.markFailed()))
  return Effect.zipRight(
    FiberRef.update(FiberRef.currentContext, (context) => Context.add(context, Session, session.service)),
    recorded
  )
}

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
  Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    return start(
      Context.unsafeGet(context, SessionPolicy),
      Context.unsafeGet(context, RedisClient),
      fiber,
      (session) => provideSession(session, app)
    )
  })

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
