/**
 * The server of `npm run soak`, in a process of its own so that its memory
 * is measured alone: the demo app (docs/examples/app.ts) with sessions,
 * `SessionsLive` on the Redis at `REDIS_URL`, served on 127.0.0.1 at a free
 * port. It tells the parent its port, then answers `rss` requests with its
 * resident set size, over the IPC channel `fork` opens.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { createServer } from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { makeApp, SessionsLive } from "../docs/examples/app.js"

/** `collect`: after measuring, run a full GC and measure the heap again (needs `--expose-gc`). */
export type ToServer = { readonly _tag: "Rss"; readonly collect?: boolean }
export type FromServer =
  | { readonly _tag: "Listening"; readonly port: number }
  | {
    readonly _tag: "Rss"
    readonly rss: number
    /** V8's heap in use: what is left when RSS moves with the heap's own size. */
    readonly heapUsed: number
    /** The event loop's delay since the previous report, ms: p99 and max. */
    readonly loopDelayP99: number
    readonly loopDelayMax: number
    /** The heap in use right after a full GC, when asked for and possible: what stays alive. */
    readonly heapAfterGc: number | undefined
  }

const send = (message: FromServer): void => {
  process.send?.(message)
}

const program = Effect.gen(function*() {
  const served = HttpServer.serve(makeApp({ sessions: true })).pipe(Layer.provide(SessionsLive))
  const context = yield* Layer.build(
    Layer.provideMerge(served, NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  process.on("message", (message: ToServer) => {
    if (message._tag !== "Rss") return
    const { heapUsed, rss } = process.memoryUsage()
    const gc: unknown = Reflect.get(globalThis, "gc")
    let heapAfterGc: number | undefined
    if (message.collect === true && typeof gc === "function") {
      gc()
      heapAfterGc = process.memoryUsage().heapUsed
    }
    send({
      _tag: "Rss",
      rss,
      heapUsed,
      loopDelayP99: loopDelay.percentile(99) / 1e6,
      loopDelayMax: loopDelay.max / 1e6,
      heapAfterGc
    })
    loopDelay.reset()
  })
  // the parent went away: don't outlive it
  process.on("disconnect", () => process.exit(0))
  send({ _tag: "Listening", port: address.port })
  return yield* Effect.never
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

NodeRuntime.runMain(program)
