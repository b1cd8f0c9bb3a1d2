/**
 * The demo server: `npm start` (`tsx docs/examples/server.ts`).
 *
 * Runs with no environment at all (in-memory store, a random development
 * secret, cookies without Secure). Environment:
 *
 * - `REDIS_CLUSTER_NODES`: use a Redis Cluster (`host:port,host:port`, some of its nodes)
 * - `REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`: use the master that these sentinels
 *   (`host:port,…`) watch under that name
 * - `REDIS_PASSWORD`, `REDIS_SENTINEL_PASSWORD`: the passwords of Cluster or Sentinel
 * - `REDIS_URL`: use one Redis server (`redis://[user:password@]host:port[/db]`)
 * - none of these: the in-memory store
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
