/**
 * `npm run bench:peers`: this library next to express-session + connect-redis
 * and @fastify/session + connect-redis, in one run on one private Redis.
 *
 * Starts a private redis-server (a free port on 127.0.0.1, never 6379;
 * without persistence), forks the load generator (bench/loadgen.ts:
 * keep-alive connections in a closed loop), and then, one server at a time,
 * forks each framework's server (bench/peerServer.ts → bench/peerApps.ts)
 * without sessions and with sessions. Each connection is a client with its
 * own session, established by one `/api/incr` first. Each new server process
 * is first warmed up on every route but the login; then for each route: a
 * warm-up, CONFIG RESETSTAT, the measured window, INFO commandstats.
 * `/api/login` runs last and follows the cookies the server sets (each login
 * replaces the session id), as a browser would.
 *
 * With BENCH_ROUNDS > 1 the whole sequence repeats (every server restarted,
 * the order of frameworks and of with/without rotated) and each figure is the
 * median over the rounds; commands per request are summed over them.
 *
 * Writes the generated section of docs/benchmarks.md (between its markers)
 * and the chart docs/benchmarks/peers.svg.
 *
 * Environment: BENCH_CONNECTIONS (50), BENCH_SECONDS (1.5, per measured window),
 * BENCH_WARMUP_SECONDS (1, per server and route), BENCH_ROUNDS (2),
 * BENCH_NO_WRITE (set: print only, leave the docs alone).
 */
import { type ChildProcess, fork } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startRedisServer } from "../test/support/redisServer.js"
import type { RunRequest, RunResult } from "./loadgen.js"
import { COOKIE_NAME, type Framework, frameworks, type ServerOptions } from "./peerApps.js"
import type { ServerMessage } from "./peerServer.js"
import { chartSvg, fmt, rewriteSection, type Row, section } from "./peersReport.js"

const numberFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const CONNECTIONS = Math.round(numberFromEnv("BENCH_CONNECTIONS", 50))
const SECONDS = numberFromEnv("BENCH_SECONDS", 1.5)
const WARMUP_SECONDS = numberFromEnv("BENCH_WARMUP_SECONDS", 1)
const ROUNDS = Math.round(numberFromEnv("BENCH_ROUNDS", 2))
const WRITE = process.env["BENCH_NO_WRITE"] === undefined
const HOST = "127.0.0.1"
const ROUTES = ["/api/noop", "/api/read", "/api/incr", "/api/login?user=user{i}"] as const
const ROUTE_LABEL = (route: string) => route.split("?")[0] ?? route

const here = path.dirname(fileURLToPath(import.meta.url))
/** The sibling module of the same kind: compiled (npm run bench:peers) or under a TypeScript loader. */
const sibling = (name: string) => path.join(here, import.meta.url.endsWith(".ts") ? `${name}.ts` : `${name}.js`)
const repoRoot = process.cwd()

// -----------------------------------------------------------------------------
// child processes
// -----------------------------------------------------------------------------

const children = new Set<ChildProcess>()
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")))
// Ctrl-C or kill: exit, so that the exit hooks stop the children and the redis-server
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130))

const stopChild = (child: ChildProcess, message?: string) =>
  new Promise<void>((resolve) => {
    children.delete(child)
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    if (message !== undefined && child.connected) child.send(message)
    else child.kill("SIGTERM")
  })

const startLoadGenerator = () => {
  const child = fork(sibling("loadgen"), { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  children.add(child)
  let nextId = 0
  const run = (task: Omit<RunRequest, "id">) =>
    new Promise<RunResult>((resolve, reject) => {
      const id = nextId++
      const onMessage = (message: RunResult) => {
        if (message.id !== id) return
        child.off("message", onMessage)
        child.off("exit", onExit)
        resolve(message)
      }
      const onExit = () => reject(new Error("the load generator exited"))
      child.on("message", onMessage)
      child.once("exit", onExit)
      child.send({ ...task, id } satisfies RunRequest)
    })
  return { run, stop: () => stopChild(child) }
}

const startServerProcess = (options: ServerOptions) =>
  new Promise<{ port: number; stop: () => Promise<void> }>((resolve, reject) => {
    const child = fork(sibling("peerServer"), [JSON.stringify(options)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    children.add(child)
    child.once("message", (message: ServerMessage) => {
      if ("error" in message) reject(new Error(`${options.framework}: ${message.error}`))
      else resolve({ port: message.port, stop: () => stopChild(child, "close") })
    })
    child.once("exit", (code) => reject(new Error(`${options.framework} server exited with ${code}`)))
  })

/** One plain GET: the status, the session cookie it set, and the body. */
const get = (port: number, route: string, cookie?: string) =>
  new Promise<{ status: number; cookie: string | undefined; body: string }>((resolve, reject) => {
    const req = http.get({ host: HOST, port, path: route, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          cookie: res.headers["set-cookie"]?.find((c) => c.startsWith(`${COOKIE_NAME}=`))?.split(";")[0],
          body: Buffer.concat(chunks).toString()
        }))
    })
    req.on("error", reject)
  })

// -----------------------------------------------------------------------------
// figures
// -----------------------------------------------------------------------------

interface Window {
  readonly reqPerSec: number
  readonly p99Ms: number
  readonly requests: number
  readonly failures: number
  readonly commands: Readonly<Record<string, number>>
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)

const totalCommands = (windows: ReadonlyArray<Window>) => {
  const total: Record<string, number> = {}
  for (const w of windows) {
    for (const [name, calls] of Object.entries(w.commands)) total[name] = (total[name] ?? 0) + calls
  }
  return total
}

const versionOf = (name: string): string => {
  try {
    const json = JSON.parse(readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as {
      version?: string
    }
    return json.version ?? "?"
  } catch {
    return "?"
  }
}

// -----------------------------------------------------------------------------
// the run
// -----------------------------------------------------------------------------

const main = async () => {
  const started = Date.now()
  const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(" / ")
  const loadPerCpu = (os.loadavg()[0] ?? 0) / Math.max(1, os.cpus().length)
  const redis = await startRedisServer()
  if (redis.port === 6379) throw new Error("refusing to benchmark against port 6379")
  const load = startLoadGenerator()
  const windows = new Map<string, Array<Window>>()
  const key = (framework: Framework, sessions: boolean, route: string) => `${framework}|${sessions}|${route}`
  const scenarios = ROUNDS * frameworks.length * 2 * ROUTES.length
  let done = 0
  try {
    const redisVersion = await redisVersionOf(redis.url)
    console.log(
      `redis-server ${redisVersion} at ${redis.url} (private to this run); ${CONNECTIONS} connections, ` +
        `${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured per scenario, ${ROUNDS} round(s), ${scenarios} scenarios`
    )
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate the order from round to round, so that no framework or variant always runs at the same moment.
      const order = frameworks.map((_, i) => frameworks[(i + round - 1) % frameworks.length] ?? "express-session")
      for (const framework of order) {
        for (const sessions of round % 2 === 1 ? [false, true] : [true, false]) {
          await redis.flushall()
          const server = await startServerProcess({ framework, sessions, redisUrl: redis.url })
          try {
            let cookies: ReadonlyArray<string> = []
            if (sessions) {
              const established: Array<string> = []
              for (let i = 0; i < CONNECTIONS; i++) {
                const reply = await get(server.port, "/api/incr")
                if (reply.status !== 200 || reply.cookie === undefined) {
                  throw new Error(`${framework}: no session from /api/incr: ${reply.status} ${reply.body}`)
                }
                established.push(reply.cookie)
              }
              cookies = established
            }
            // A fresh process: warm every route but the login up once before the first measurement.
            for (const route of ROUTES.slice(0, 3)) {
              await load.run({
                host: HOST,
                port: server.port,
                path: route,
                connections: CONNECTIONS,
                cookies,
                durationMs: WARMUP_SECONDS * 1000
              })
            }
            for (const route of ROUTES) {
              const label = `[${++done}/${scenarios}] round ${round} ${framework.padEnd(20)} ${
                sessions ? "with sessions   " : "without sessions"
              } ${ROUTE_LABEL(route).padEnd(10)}`
              // a terminal gets one line per scenario, rewritten when it finishes; a log gets both lines
              process.stdout.write(process.stdout.isTTY ? `${label} …` : `${label} started\n`)
              // (a login from no session: a login with cookies[0] would end that session before the measurement)
              const isLogin = route.startsWith("/api/login")
              const sanity = await get(server.port, route.replaceAll("{i}", "0"), isLogin ? undefined : cookies[0])
              if (sanity.status !== 200) throw new Error(`${label}: ${sanity.status} ${sanity.body}`)
              const followCookie = isLogin && sessions ? COOKIE_NAME : undefined
              const task = { host: HOST, port: server.port, path: route, connections: CONNECTIONS, followCookie }
              const warm = await load.run({ ...task, cookies, durationMs: WARMUP_SECONDS * 1000 })
              if (followCookie !== undefined) cookies = warm.cookies
              await redis.resetStats()
              const result = await load.run({ ...task, cookies, durationMs: SECONDS * 1000 })
              const commands = await redis.commandstats()
              const window: Window = {
                reqPerSec: result.requests / (result.elapsedMs / 1000),
                p99Ms: result.latencyMs.p99,
                requests: result.requests,
                failures: result.requests - result.ok,
                commands
              }
              const list = windows.get(key(framework, sessions, route)) ?? []
              list.push(window)
              windows.set(key(framework, sessions, route), list)
              const perRequest = sum(Object.values(commands)) / Math.max(1, result.requests)
              process.stdout.write(
                `${process.stdout.isTTY ? "\r" : ""}${label}: ${fmt(window.reqPerSec).padStart(6)} req/s, p99 ${
                  fmt(window.p99Ms, 1).padStart(5)
                } ms` +
                  `, ${fmt(perRequest, 2)} Redis cmds/req` +
                  (window.failures > 0 ? `  !! ${window.failures} failed: ${JSON.stringify(result.statuses)}` : "") +
                  "\n"
              )
            }
          } finally {
            await server.stop()
          }
        }
      }
    }

    const rows: Array<Row> = []
    for (const framework of frameworks) {
      for (const route of ROUTES) {
        const withSessions = windows.get(key(framework, true, route)) ?? []
        const without = windows.get(key(framework, false, route)) ?? []
        const commands = totalCommands(withSessions)
        const requests = sum(withSessions.map((w) => w.requests))
        const reqPerSec = median(withSessions.map((w) => w.reqPerSec))
        const baselineReqPerSec = median(without.map((w) => w.reqPerSec))
        rows.push({
          framework,
          route: ROUTE_LABEL(route),
          reqPerSec,
          p99Ms: median(withSessions.map((w) => w.p99Ms)),
          commandsPerRequest: sum(Object.values(commands)) / Math.max(1, requests),
          commandBreakdown: Object.keys(commands).sort()
            .map((name) => `${name.toUpperCase()} ${fmt((commands[name] ?? 0) / Math.max(1, requests), 2)}`)
            .join(", ") || "none",
          baselineReqPerSec,
          baselineP99Ms: median(without.map((w) => w.p99Ms)),
          ratio: reqPerSec / baselineReqPerSec,
          failures: sum([...withSessions, ...without].map((w) => w.failures))
        })
      }
    }

    const totalSeconds = (Date.now() - started) / 1000
    const cpus = os.cpus()
    const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC"
    const info = {
      date,
      machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${
        fmt(os.totalmem() / 2 ** 30, 1)
      } GiB, ${os.type()} ${os.release()}`,
      load: loadAtStart,
      loadPerCpu,
      rounds: ROUNDS,
      worstSpread: Math.max(
        1,
        ...[...windows.values()].map((list) => {
          const rates = list.map((w) => w.reqPerSec)
          return Math.max(...rates) / Math.max(1e-9, Math.min(...rates))
        })
      ),
      totalSeconds,
      versions: [
        ["node", process.version.slice(1)],
        ["redis-server", redisVersion],
        ...[
          "effect",
          "@effect/platform",
          "@effect/platform-node",
          "ioredis",
          "express",
          "express-session",
          "fastify",
          "@fastify/session",
          "@fastify/cookie",
          "connect-redis",
          "redis"
        ].map((name) => [name, versionOf(name)] as const)
      ] as const,
      settings: [
        ["BENCH_CONNECTIONS", String(CONNECTIONS)],
        ["BENCH_SECONDS", String(SECONDS)],
        ["BENCH_WARMUP_SECONDS", String(WARMUP_SECONDS)],
        ["BENCH_ROUNDS", String(ROUNDS)]
      ] as const
    }
    const generated = section(rows, info, "benchmarks/peers.svg")
    console.log(`\n${generated}\n`)
    if (WRITE) {
      const svg = await chartSvg(
        rows,
        `${date} · ${info.machine.split(",")[0]} · ${CONNECTIONS} connections · median of ${ROUNDS} × ${SECONDS} s`
      )
      mkdirSync(path.join(repoRoot, "docs", "benchmarks"), { recursive: true })
      writeFileSync(path.join(repoRoot, "docs", "benchmarks", "peers.svg"), svg)
      rewriteSection(path.join(repoRoot, "docs", "benchmarks.md"), generated)
      console.log("wrote docs/benchmarks.md (generated section) and docs/benchmarks/peers.svg")
    }
    console.log(
      `total ${fmt(totalSeconds, 1)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")}`
    )
  } finally {
    await load.stop()
    await redis.stop()
  }
}

/** `redis_version` from INFO server, over a short raw connection. */
const redisVersionOf = async (url: string): Promise<string> => {
  const { createClient } = await import("redis")
  const client = createClient({ url })
  await client.connect()
  try {
    const info = await client.info("server")
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "?"
  } finally {
    await client.quit()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
