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
 * - with sessions and merge writes, on `/api/incr` only: the same with
 *   `SESSION_WRITE_MODE=merge` (one `EVALSHA` per update instead of `SET XX`).
 * - reference, on `/api/read` only: the app without sessions whose read does
 *   one `GETEX` through ioredis and parses the stored JSON, without the
 *   session library: what a Redis read in a handler costs on this stack, the
 *   floor under "with sessions".
 *
 * `npm run bench` compiles with tsc first and runs the JavaScript, as an
 * application would run the published package (a TypeScript loader such as
 * tsx adds work of its own to every function the library creates).
 *
 * Every connection sends its own established session cookie (the same
 * headers go to both apps). Redis commands per request come from INFO
 * commandstats deltas over the measured windows.
 *
 * The machine's speed drifts (server, load generator and Redis share it), so
 * each route is measured in rounds: one window per app, back to back, in
 * rotating order (without-with, then with-without, …). A round's ratio
 * compares windows a few seconds apart; the reported ratio is the median
 * of the rounds' ratios, with their range; requests/s, latencies and the
 * server's CPU time per request (this process, GC included) are medians of
 * the windows. CPU per request says what a request costs the server itself;
 * it still moves with the machine's speed and with load (more requests per
 * event-loop turn amortise more).
 *
 * Environment: BENCH_CONNECTIONS (50), BENCH_ROUNDS (12),
 * BENCH_DURATION_MS (2000, per window), BENCH_WARMUP_MS (1500, per app and route).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpServer from "@effect/platform/HttpServer"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { Redis } from "ioredis"
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { makeApp, makeBaselineSession, router, SessionsUncountedLive } from "../docs/examples/app.js"
import * as Session from "../src/Session.js"
import { startRedisServer } from "../test/support/redisServer.js"
import type { RunRequest, RunResult } from "./loadgen.js"

const intFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

const CONNECTIONS = intFromEnv("BENCH_CONNECTIONS", 50)
const ROUNDS = intFromEnv("BENCH_ROUNDS", 12)
const DURATION_MS = intFromEnv("BENCH_DURATION_MS", 2000)
const WARMUP_MS = intFromEnv("BENCH_WARMUP_MS", 1500)
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
    // Compiled (npm run bench) or under a TypeScript loader: the child is the sibling file of the same kind.
    fork(fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./loadgen.ts" : "./loadgen.js", import.meta.url)), {
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
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

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length))) ?? []
  const line = (row: ReadonlyArray<string>) =>
    "| " + row.map((cell, col) =>
      col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)
    ).join(" | ") + " |"
  const rule = "|" + widths.map((w, col) => col === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`).join("|") +
    "|"
  const [head, ...body] = rows
  return [line(head ?? []), rule, ...body.map(line)].join("\n")
}

interface Measured {
  readonly result: RunResult
  readonly reqPerSec: number
  /** Redis calls per command over the measured window. */
  readonly commands: Readonly<Record<string, number>>
  /** This process's CPU time (user + system) per request over the window: the server's cost, GC included. */
  readonly cpuMicrosPerRequest: number
}

// -----------------------------------------------------------------------------
// the reference: a Redis read without the session library
// -----------------------------------------------------------------------------

type App = "without" | "with" | "reference" | "merge"

const REFERENCE_KEY = "bench:reference"

/** An ioredis client with the options `RedisClient.layer` uses, holding one stored session payload. */
const referenceRedis = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis(url, { enableAutoPipelining: true, commandTimeout: 1000, maxRetriesPerRequest: 1 })
      await client.set(REFERENCE_KEY, JSON.stringify({ m: { n: 1 }, c: Math.floor(Date.now() / 1000), v: 1, t: 1200 }))
      return client
    }),
    (client) => Effect.promise(() => client.quit())
  )

/**
 * The baseline's stand-in `Session`, except that `get` reads the one stored
 * payload with `GETEX` (sliding its TTL, like the default policy) and parses
 * it: no cookie, no signature, no middleware.
 */
const referenceSession = (client: Redis): Session.SessionShape => ({
  ...makeBaselineSession(),
  get: (key) =>
    Effect.async<Option.Option<unknown>>((resume) => {
      client.getex(REFERENCE_KEY, "EX", 1200).then(
        (raw) => {
          const payload: unknown = raw === null ? undefined : JSON.parse(raw)
          const data = typeof payload === "object" && payload !== null && "m" in payload ? payload.m : undefined
          resume(Effect.succeed(
            typeof data === "object" && data !== null && Object.hasOwn(data, key)
              ? Option.some(Object.getOwnPropertyDescriptor(data, key)?.value)
              : Option.none()
          ))
        },
        (error: unknown) => resume(Effect.die(error))
      )
    })
})

// -----------------------------------------------------------------------------
// the benchmark
// -----------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const totalStarted = Date.now()
  const redis = yield* redisServer
  console.log(`redis-server ${redis.url} (pid ${redis.pid}), private to this run`)

  const sessionSecret = randomBytes(32).toString("base64url")
  /** The demo's services; `writeMode` chooses how /api/incr's update is written ("with" is the default, replace). */
  const sessionServices = (writeMode: "merge" | "replace") =>
    SessionsUncountedLive.pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([
          ["REDIS_URL", redis.url],
          ["SESSION_SECRET", sessionSecret],
          ["SESSION_COOKIE_SECURE", "false"],
          ["SESSION_WRITE_MODE", writeMode]
        ])
      )))
    )
  const referenceClient = yield* referenceRedis(redis.url)
  const ports: Record<App, number> = {
    without: yield* serve(HttpServer.serve(makeApp({ sessions: false }))),
    with: yield* serve(HttpServer.serve(makeApp({ sessions: true })).pipe(Layer.provide(sessionServices("replace")))),
    merge: yield* serve(HttpServer.serve(makeApp({ sessions: true })).pipe(Layer.provide(sessionServices("merge")))),
    reference: yield* serve(
      HttpServer.serve(Effect.provideService(router, Session.Session, referenceSession(referenceClient)))
    )
  }
  console.log(
    `demo app without sessions on ${HOST}:${ports.without}, with sessions on ${HOST}:${ports.with}, ` +
      `with sessions and merge writes on ${HOST}:${ports.merge}, reference on ${HOST}:${ports.reference}`
  )
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
  // sanity: every app answers its routes
  for (const route of ROUTES) {
    for (
      const port of route === "/api/read"
        ? [ports.without, ports.with, ports.reference]
        : route === "/api/incr"
        ? [ports.without, ports.with, ports.merge]
        : [ports.without, ports.with]
    ) {
      const reply = yield* get(port, route, cookies[0])
      if (reply.status !== 200) return yield* Effect.dieMessage(`${route} on ${port}: ${reply.status} ${reply.body}`)
    }
  }
  console.log(
    `${CONNECTIONS} connections; per route: ${WARMUP_MS} ms warm-up per app, then ${ROUNDS} rounds of ` +
      `${DURATION_MS} ms per app\n`
  )

  /** One measured window: requests/s and the Redis commands it caused. */
  const measure = (port: number, path: string) =>
    Effect.gen(function*() {
      yield* Effect.promise(() => redis.resetStats())
      const cpuBefore = process.cpuUsage()
      const result = yield* load.run({
        host: HOST,
        port,
        path,
        cookies,
        connections: CONNECTIONS,
        durationMs: DURATION_MS
      })
      const cpu = process.cpuUsage(cpuBefore)
      const commands = yield* Effect.promise(() => redis.commandstats())
      const measured: Measured = {
        result,
        reqPerSec: result.requests / (result.elapsedMs / 1000),
        commands,
        cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, result.requests)
      }
      return measured
    })

  const warmUp = (port: number, path: string) =>
    load.run({ host: HOST, port, path, cookies, connections: CONNECTIONS, durationMs: WARMUP_MS })

  const median = (values: ReadonlyArray<number>): number => {
    const sorted = [...values].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
  }
  const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)
  const notOk = (windows: ReadonlyArray<Measured>) => sum(windows.map((w) => w.result.requests - w.result.ok))
  const rate = (windows: ReadonlyArray<Measured>) => median(windows.map((w) => w.reqPerSec))

  const range = (values: ReadonlyArray<number>) => `${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)}`
  const cpu = (windows: ReadonlyArray<Measured>) => fmt(median(windows.map((w) => w.cpuMicrosPerRequest)))
  const latency = (windows: ReadonlyArray<Measured>, p: "p50" | "p99") =>
    fmt(median(windows.map((w) => w.result.latencyMs[p])), 2)
  const commandNames = (windows: ReadonlyArray<Measured>) =>
    [...new Set(windows.flatMap((w) => Object.keys(w.commands)))].sort()
  const calls = (windows: ReadonlyArray<Measured>, name: string) => sum(windows.map((w) => w.commands[name] ?? 0))
  const requestsIn = (windows: ReadonlyArray<Measured>) => sum(windows.map((w) => w.result.requests))
  const commandsPerRequest = (windows: ReadonlyArray<Measured>) =>
    sum(commandNames(windows).map((name) => calls(windows, name))) / requestsIn(windows)
  const commandBreakdown = (windows: ReadonlyArray<Measured>) =>
    commandNames(windows).map((name) => `${name} ${fmt(calls(windows, name) / requestsIn(windows), 2)}`).join(", ") ||
    "-"

  const rows: Array<Array<string>> = [[
    "route",
    "req/s without",
    "req/s with",
    "ratio",
    "ratio range",
    "Redis cmds/req",
    "commands",
    "p50 ms without / with",
    "p99 ms without / with",
    "server CPU µs/req without / with",
    "non-200"
  ]]
  const ratios: Record<string, number> = {}
  const reference: Array<Measured> = []
  const referenceRatios: Array<number> = []
  const merge: Array<Measured> = []
  const replace: Array<Measured> = []
  const mergeOverReplace: Array<number> = []
  for (const route of ROUTES) {
    const apps: ReadonlyArray<App> = route === "/api/read"
      ? ["without", "with", "reference"]
      : route === "/api/incr"
      ? ["without", "with", "merge"]
      : ["without", "with"]
    for (const app of apps) yield* warmUp(ports[app], route)
    const without: Array<Measured> = []
    const withSessions: Array<Measured> = []
    const roundRatios: Array<number> = []
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first, so no app gains from the order.
      const order = apps.map((_, i) => apps[(i + round) % apps.length] ?? "without")
      const windows: Partial<Record<App, Measured>> = {}
      for (const app of order) windows[app] = yield* measure(ports[app], route)
      const w = windows.without
      const s = windows.with
      if (w === undefined || s === undefined) return yield* Effect.dieMessage("a window was not measured")
      without.push(w)
      withSessions.push(s)
      roundRatios.push(s.reqPerSec / w.reqPerSec)
      const r = windows.reference
      if (r !== undefined) {
        reference.push(r)
        referenceRatios.push(r.reqPerSec / w.reqPerSec)
      }
      const p = windows.merge
      if (p !== undefined) {
        merge.push(p)
        mergeOverReplace.push(p.reqPerSec / s.reqPerSec)
      }
      const measured = [w, s, ...(r === undefined ? [] : [r]), ...(p === undefined ? [] : [p])]
      const problems = notOk(measured)
      console.log(
        `  ${route.padEnd(10)} round ${String(round + 1).padStart(2)}/${ROUNDS}: without ${
          fmt(w.reqPerSec).padStart(6)
        } req/s,` +
          ` with ${fmt(s.reqPerSec).padStart(6)} req/s, ratio ${fmt(s.reqPerSec / w.reqPerSec, 2)}×` +
          (r === undefined
            ? ""
            : `; reference ${fmt(r.reqPerSec).padStart(6)} req/s, ${fmt(r.reqPerSec / w.reqPerSec, 2)}×`) +
          (p === undefined
            ? ""
            : `; merge ${fmt(p.reqPerSec).padStart(6)} req/s, merge/replace ${fmt(p.reqPerSec / s.reqPerSec, 3)}×`) +
          (problems > 0
            ? `  !! ${problems} not 200: ${JSON.stringify(measured.map((m) => m.result.statuses))}` +
              ` socket errors=${sum(measured.map((m) => m.result.errors))}`
            : "")
      )
    }
    const ratio = median(roundRatios)
    ratios[route] = ratio
    if (route === "/api/incr") replace.push(...withSessions)
    const baselineCommands = sum(without.flatMap((w) => Object.values(w.commands)))
    const baselineRequests = sum(without.map((w) => w.result.requests))
    rows.push([
      route,
      fmt(rate(without)),
      fmt(rate(withSessions)),
      `${fmt(ratio, 2)}×`,
      range(roundRatios),
      fmt(commandsPerRequest(withSessions), 2) +
      (baselineCommands > 0 ? ` (baseline ${fmt(baselineCommands / baselineRequests, 2)})` : ""),
      commandBreakdown(withSessions),
      `${latency(without, "p50")} / ${latency(withSessions, "p50")}`,
      `${latency(without, "p99")} / ${latency(withSessions, "p99")}`,
      `${cpu(without)} / ${cpu(withSessions)}`,
      String(notOk(without) + notOk(withSessions))
    ])
  }

  console.log(`\n${table(rows)}\n`)
  console.log(
    `ratio: median of the ${ROUNDS} rounds' with/without ratios (range: lowest–highest round); ` +
      "req/s, latencies and CPU: medians of the windows.\n"
  )
  console.log(
    "Reference for /api/read, no session library: the app without sessions whose read does one GETEX through\n" +
      "ioredis (same client options) and parses the stored JSON — what any Redis read inside a handler costs here:\n" +
      `  ${fmt(rate(reference))} req/s, ${fmt(median(referenceRatios), 2)}× the app without sessions ` +
      `(range ${range(referenceRatios)}), server CPU ${cpu(reference)} µs/req, ` +
      `${fmt(commandsPerRequest(reference), 2)} Redis cmds/req (${commandBreakdown(reference)})\n`
  )
  console.log(
    "/api/incr (a write), with sessions: writeMode merge (one EVALSHA) against replace (the default, SET XX):\n" +
      `  merge ${fmt(rate(merge))} req/s, replace ${fmt(rate(replace))} req/s; ` +
      `merge/replace ${fmt(median(mergeOverReplace), 3)}× (range ${range(mergeOverReplace)}), ` +
      `server CPU µs/req merge ${cpu(merge)} / replace ${cpu(replace)}; ` +
      `merge ${fmt(commandsPerRequest(merge), 2)} Redis cmds/req (${commandBreakdown(merge)}; ` +
      "GET and SET run inside the EVALSHA)\n"
  )
  // The floors, in the same run: /api/read ≥ 0.85× the app without sessions and ≥ 0.90× the bare GETEX reference.
  const readRatio = ratios["/api/read"] ?? 0
  const referenceRatio = readRatio / median(referenceRatios)
  const verdict = (ratio: number, floor: number) => ratio >= floor ? `meets ≥ ${floor}×` : `does NOT meet ≥ ${floor}×`
  console.log(
    `/api/read with sessions: ${fmt(readRatio, 2)}× the app without sessions (${verdict(readRatio, 0.85)}), ` +
      `${fmt(referenceRatio, 2)}× the bare GETEX reference (${
        verdict(referenceRatio, 0.9)
      }); medians of ${ROUNDS} rounds`
  )
  console.log(
    `(total ${fmt((Date.now() - totalStarted) / 1000, 1)} s; node ${process.version}, redis-server on ${redis.url})`
  )
})

NodeRuntime.runMain(
  program.pipe(
    Effect.scoped,
    // the servers' own logs (store, policy) are not part of the report
    Logger.withMinimumLogLevel(LogLevel.Warning)
  ),
  { disableErrorReporting: false }
)
