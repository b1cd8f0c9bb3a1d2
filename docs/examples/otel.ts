/**
 * The demo server with OpenTelemetry: `npx tsx docs/examples/otel.ts`.
 *
 * Installing a tracer of its own is what makes the library open its spans:
 * `Session.load`, `Session.commit`, `Session.refreshTtl`, and one
 * `RedisClient.<command>` span per Redis command (`db.system`, `db.operation`).
 * The Effect metrics, `session_invalid_total` (tagged `cause`) and
 * `session_too_large_total` among them, are exported with the spans.
 *
 * Environment, besides `server.ts`'s:
 *
 * - `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://localhost:4318`): export over
 *   OTLP/HTTP with `@effect/opentelemetry`'s own exporter; unset, spans and
 *   metrics are printed to the console by the OpenTelemetry SDK's exporters
 * - `OTEL_SERVICE_NAME` (default `effect-session-redis-demo`)
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Otlp from "@effect/opentelemetry/Otlp"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import { makeApp, SessionsLive } from "./app.js"

const ServerLive = NodeHttpServer.layerConfig(createServer, {
  port: Config.withDefault(Config.port("PORT"), 3000),
  host: Config.withDefault(Config.string("HOST"), "127.0.0.1")
})

// --- docs/getting-started.md, "Metrics and tracing" ---
/** OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else the console. */
const TelemetryLive: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const serviceName = yield* Config.withDefault(Config.string("OTEL_SERVICE_NAME"), "effect-session-redis-demo")
    const endpoint = yield* Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if (Option.isSome(endpoint)) {
      return Otlp.layerJson({ baseUrl: endpoint.value, resource: { serviceName } }).pipe(
        Layer.provide(FetchHttpClient.layer)
      )
    }
    return NodeSdk.layer(() => ({
      resource: { serviceName },
      spanProcessor: new BatchSpanProcessor(new ConsoleSpanExporter()),
      metricReader: new PeriodicExportingMetricReader({
        exporter: new ConsoleMetricExporter(),
        exportIntervalMillis: 10_000
      })
    }))
  })
)

const Main = HttpServer.serve(makeApp({ sessions: true }), HttpMiddleware.logger).pipe(
  HttpServer.withLogAddress,
  Layer.provide(SessionsLive),
  Layer.provide(ServerLive),
  // provided last, so the server and the session layers run under its tracer
  Layer.provide(TelemetryLive)
)
// --- end of the snippet ---

NodeRuntime.runMain(Layer.launch(Main))
