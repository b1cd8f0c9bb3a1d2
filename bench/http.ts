/**
 * `npm run bench`: what the session middleware costs over real HTTP.
 *
 * Starts a private redis-server (a free port on 127.0.0.1, never 6379; the
 * test harness's logic), serves the demo app (docs/examples/app.ts) twice on
 * 127.0.0.1:0 in this process, and load-tests both from a forked load
 * generator (bench/loadgen.ts: keep-alive connections in a closed loop):
 *
 * - without sessions: `makeApp({ sessions: false })`: the same handlers with
 *   a stand-in `Session` that is ONE process-wide `Map` (no middleware, no
 *   cookie, no Redis). `/api/read` is a Map lookup, `/api/incr` a Map update.
 * - with sessions: `makeApp({ sessions: true })` with `SessionMiddleware`,
 *   the demo's policy and `RedisClient.layerConfig()` on the private Redis.
 *
 * Every connection sends its own established session cookie (the same
 * headers go to both apps). Redis commands per request come from INFO
 * commandstats deltas over the measured window.
 *
 * Environment: BENCH_CONNECTIONS (50), BENCH_DURATION_MS (4000),
 * BENCH_WARMUP_MS (1000).
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { makeApp, SessionsLive } from "../docs/examples/app.js"
import { startRedisServer } from "../test/support/redisServer.js"
import type { RunRequest, RunResult } from "./loadgen.js"

const intFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

const CONNECTIONS = intFromEnv("BENCH_CONNECTIONS", 50)
const DURATION_MS = intFromEnv("BENCH_DURATION_MS", 4000)
const WARMUP_MS = intFromEnv("BENCH_WARMUP_MS", 1000)
const HOST = "127.0.0.1"
const ROUTES = ["/api/noop", "/api/read", "/api/incr"] as const

// -----------------------------------------------------------------------------
// resources: all scoped, so an error or Ctrl-C stops everything we started
// -----------------------------------------------------------------------------

const redisServer = Effect.acquireRelease(
  Effect.promise(() => startRedisServer()),
  (server) => Effect.promise(() => server.stop())
).pipe(
  Effect.tap((server) =>
    server.port === 6379 ? Effect.dieMessage("refusing to benchmark against port 6379") : Effect.void
  )
)

interface LoadGenerator {
  readonly run: (task: Omit<RunRequest, "id">) => Effect.Effect<RunResult>
}

const loadGenerator = Effect.acquireRelease(
  Effect.sync(() =>
    // the same execArgv as this process, so tsx loads the TypeScript child too
    fork(fileURLToPath(new URL("./loadgen.ts", import.meta.url)), { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  ),
  (child) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000)
      child.once("exit", () => {
        clearTimeout(timer)
        resume(Effect.void)
      })
      child.kill("SIGTERM")
    })
).pipe(
  Effect.map((child: ChildProcess): LoadGenerator => {
    let nextId = 0
    return {
      run: (task) =>
        Effect.async<RunResult>((resume) => {
          const id = nextId++
          const onMessage = (message: RunResult) => {
            if (message.id !== id) return
            child.off("message", onMessage)
            child.off("exit", onExit)
            resume(Effect.succeed(message))
          }
          const onExit = () => resume(Effect.dieMessage("the load generator exited"))
          child.on("message", onMessage)
          child.once("exit", onExit)
          child.send({ ...task, id } satisfies RunRequest)
        })
    }
  })
)

/** Serves (`HttpServer.serve(app)`) on 127.0.0.1:<free port> until the scope closes; succeeds with the port. */
const serve = <E>(served: Layer.Layer<never, E, HttpServer.HttpServer>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.provideMerge(served, NodeHttpServer.layer(http.createServer, { port: 0, host: HOST }))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return address.port
  })

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** One plain GET; succeeds with the status, the `session=` cookie it set, and the body. */
const get = (port: number, path: string, cookie?: string) =>
  Effect.async<{ status: number; cookie: string | undefined; body: string }, Error>((resume) => {
    const req = http.get({ host: HOST, port, path, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () => {
        const setCookie = res.headers["set-cookie"]?.find((c) => c.startsWith("session="))
        resume(Effect.succeed({
          status: res.statusCode ?? 0,
          cookie: setCookie?.split(";")[0],
          body: Buffer.concat(chunks).toString()
        }))
      })
    })
    req.on("error", (error) => resume(Effect.fail(error)))
  })

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length))) ?? []
  const line = (row: ReadonlyArray<string>) =>
    "| " + row.map((cell, col) => col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)).join(" | ") + " |"
  const rule = "|" + widths.map((w, col) => col === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`).join("|") + "|"
  const [head, ...body] = rows
  return [line(head ?? []), rule, ...body.map(line)].join("\n")
}

interface Measured {
  readonly result: RunResult
  readonly reqPerSec: number
  /** Redis calls per command over the measured window. */
  readonly commands: Readonly<Record<string, number>>
}

// -----------------------------------------------------------------------------
// the benchmark
// -----------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const totalStarted = Date.now()
  const redis = yield* redisServer
  console.log(`redis-server ${redis.url} (pid ${redis.pid}), private to this run`)

  const sessionServices = SessionsLive.pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
      new Map([
        ["REDIS_URL", redis.url],
        ["SESSION_SECRET", randomBytes(32).toString("base64url")],
        ["SESSION_COOKIE_SECURE", "false"]
      ])
    )))
  )
  const ports = {
    without: yield* serve(HttpServer.serve(makeApp({ sessions: false }))),
    with: yield* serve(HttpServer.serve(makeApp({ sessions: true })).pipe(Layer.provide(sessionServices)))
  }
  console.log(`demo app without sessions on ${HOST}:${ports.without}, with sessions on ${HOST}:${ports.with}`)
  // Acquired after the servers, so released before them: closing a server waits for the
  // load generator's keep-alive connections, which go away with the load generator.
  const load = yield* loadGenerator

  // One established session per connection: the first /api/incr of each.
  const cookies: Array<string> = []
  for (let i = 0; i < CONNECTIONS; i++) {
    const reply = yield* get(ports.with, "/api/incr")
    if (reply.status !== 200 || reply.cookie === undefined) {
      return yield* Effect.dieMessage(`could not establish a session: ${reply.status} ${reply.body}`)
    }
    cookies.push(reply.cookie)
  }
  // sanity: both apps answer every route
  for (const route of ROUTES) {
    for (const port of [ports.without, ports.with]) {
      const reply = yield* get(port, route, cookies[0])
      if (reply.status !== 200) return yield* Effect.dieMessage(`${route} on ${port}: ${reply.status} ${reply.body}`)
    }
  }
  console.log(
    `${CONNECTIONS} connections, ${WARMUP_MS} ms warm-up + ${DURATION_MS} ms measured per route and app\n`
  )

  const measure = (port: number, path: string) =>
    Effect.gen(function*() {
      const task = { host: HOST, port, path, cookies, connections: CONNECTIONS }
      yield* load.run({ ...task, durationMs: WARMUP_MS })
      yield* Effect.promise(() => redis.resetStats())
      const result = yield* load.run({ ...task, durationMs: DURATION_MS })
      const commands = yield* Effect.promise(() => redis.commandstats())
      const measured: Measured = { result, reqPerSec: result.requests / (result.elapsedMs / 1000), commands }
      const problems = result.requests - result.ok
      console.log(
        `  ${path.padEnd(10)} ${port === ports.with ? "with   " : "without"} ${fmt(measured.reqPerSec).padStart(7)} req/s` +
          `  p50 ${fmt(result.latencyMs.p50, 2)} ms  p99 ${fmt(result.latencyMs.p99, 2)} ms` +
          (problems > 0 ? `  !! ${problems} not 200: ${JSON.stringify(result.statuses)} errors=${result.errors}` : "")
      )
      return measured
    })

  const rows: Array<Array<string>> = [[
    "route",
    "req/s without",
    "req/s with",
    "ratio",
    "Redis cmds/req",
    "commands",
    "p50 ms without / with",
    "p99 ms without / with",
    "non-200"
  ]]
  const ratios: Record<string, number> = {}
  // Both apps share one process and its JIT: measure in A-B-B-A order and add the two runs up,
  // so neither side gains from going second.
  const combine = (a: Measured, b: Measured): Measured => ({
    result: {
      ...b.result,
      requests: a.result.requests + b.result.requests,
      ok: a.result.ok + b.result.ok,
      elapsedMs: a.result.elapsedMs + b.result.elapsedMs
    },
    reqPerSec: (a.result.requests + b.result.requests) / ((a.result.elapsedMs + b.result.elapsedMs) / 1000),
    commands: Object.fromEntries(
      [...new Set([...Object.keys(a.commands), ...Object.keys(b.commands)])].map((name) => [
        name,
        (a.commands[name] ?? 0) + (b.commands[name] ?? 0)
      ])
    )
  })
  for (const route of ROUTES) {
    const without1 = yield* measure(ports.without, route)
    const with1 = yield* measure(ports.with, route)
    const with2 = yield* measure(ports.with, route)
    const without2 = yield* measure(ports.without, route)
    const without = combine(without1, without2)
    const withSessions = combine(with1, with2)
    const ratio = withSessions.reqPerSec / without.reqPerSec
    ratios[route] = ratio
    const requests = withSessions.result.requests
    const total = Object.values(withSessions.commands).reduce((a, b) => a + b, 0)
    const breakdown = Object.entries(withSessions.commands)
      .map(([name, calls]) => `${name} ${fmt(calls / requests, 2)}`)
      .join(", ")
    const baselineCommands = Object.values(without.commands).reduce((a, b) => a + b, 0)
    rows.push([
      route,
      fmt(without.reqPerSec),
      fmt(withSessions.reqPerSec),
      `${fmt(ratio, 2)}×`,
      fmt(total / requests, 2) + (baselineCommands > 0 ? ` (baseline ${fmt(baselineCommands / without.result.requests, 2)})` : ""),
      breakdown === "" ? "-" : breakdown,
      `${fmt(without.result.latencyMs.p50, 2)} / ${fmt(withSessions.result.latencyMs.p50, 2)}`,
      `${fmt(without.result.latencyMs.p99, 2)} / ${fmt(withSessions.result.latencyMs.p99, 2)}`,
      String(without.result.requests - without.result.ok + withSessions.result.requests - withSessions.result.ok)
    ])
  }

  console.log(`\n${table(rows)}\n`)
  const readRatio = ratios["/api/read"] ?? 0
  console.log(
    `/api/read with sessions: ${fmt(readRatio, 2)}× baseline: ` +
      (readRatio >= 0.9 ? "meets the target (≥ 0.9× baseline)" : "does NOT meet the target (≥ 0.9× baseline)")
  )
  console.log(`(total ${fmt((Date.now() - totalStarted) / 1000, 1)} s; node ${process.version}, redis-server on ${redis.url})`)
})

NodeRuntime.runMain(
  program.pipe(
    Effect.scoped,
    // the servers' own logs (store, policy) are not part of the report
    Logger.withMinimumLogLevel(LogLevel.Warning)
  ),
  { disableErrorReporting: false }
)
