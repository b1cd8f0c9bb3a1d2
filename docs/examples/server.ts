/**
 * The demo server: `npm start` (`tsx docs/examples/server.ts`).
 *
 * Runs with no environment at all (in-memory store, a random development
 * secret, cookies without Secure). Environment:
 *
 * - `REDIS_URL`: use Redis (`redis://[user:password@]host:port[/db]`) instead of memory
 * - `PORT` (default 3000), `HOST` (default 127.0.0.1)
 * - `SESSION_SECRET` (≥ 32 characters), `SESSION_COOKIE_SECURE`, and every
 *   other `SESSION_*` option of `SessionPolicy.config`
 *
 * Ctrl-C / SIGTERM shut it down gracefully (`NodeRuntime.runMain`).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { makeApp, SessionsLive } from "./app.js"

const ServerLive = NodeHttpServer.layerConfig(createServer, {
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
})

const Main = HttpServer.serve(makeApp({ sessions: true }), HttpMiddleware.logger).pipe(
  HttpServer.withLogAddress,
  Layer.provide(SessionsLive),
  Layer.provide(ServerLive)
)

NodeRuntime.runMain(Layer.launch(Main))
