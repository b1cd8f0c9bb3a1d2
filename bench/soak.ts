/**
 * `npm run soak`: the demo app under sustained load on real Redis, checking
 * that nothing fails, nothing leaks, and nothing is left behind.
 *
 * Starts a private redis-server (a free port on 127.0.0.1, never 6379, no
 * persistence), serves the demo app with sessions from a child process
 * (bench/soakServer.ts, so its memory is measured alone), and runs virtual
 * clients over keep-alive connections, each with its own cookie jar and its
 * own user, each sending its next request as soon as the previous answer is
 * read. Every request is one of `GET /api/read`, `/api/incr`,
 * `/api/login?user=…` (regenerate + bind to the user's index) and
 * `/api/logout` (invalidate), drawn at random with the weights below.
 *
 * Passes when:
 * - no request failed (a status outside 2xx/3xx, or a socket error);
 * - the server's RSS at the end is at most 10% above its RSS after warm-up
 *   (nothing is forced: no GC call, the process as it is);
 * - every session key in Redis belongs to a cookie some client still holds
 *   (logout and regenerate leave nothing behind; a session is created only
 *   when data is written). Cookies whose key is gone are counted: a failed
 *   logout whose DEL still reached Redis leaves one, and it is harmless (its
 *   next request starts a new session);
 * - every live member of a user's index is the session of a client logged in
 *   as that user, and every logged-in client's session is in its index.
 * Index entries of sessions that ended (logout) are counted and reported:
 * they are dropped the next time the user's index is written or listed.
 *
 * Prints progress every 5 s and a Markdown summary; exits non-zero when a
 * criterion fails.
 *
 * Environment: SOAK_SECONDS (60), SOAK_CONNECTIONS (256), SOAK_WARMUP_SECONDS (20: V8 grows its heap to a steady size over the first 15 s at 256 connections);
 * SOAK_HEAP_AFTER_GC=1, a diagnostic for a failed RSS check: the server runs
 * with `--expose-gc`, and after the RSS is measured at the end of the warm-up
 * and at the end of the run it runs one full GC and reports the heap that
 * stays alive (a leak grows it; a heap V8 simply has not collected yet does
 * not). Off by default: a forced GC changes what is measured after it.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as CookieSigner from "../src/CookieSigner.js"
import { startRedisServer } from "../test/support/redisServer.js"
import type { FromServer, ToServer } from "./soakServer.js"

const intFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

const SECONDS = intFromEnv("SOAK_SECONDS", 60)
const CONNECTIONS = intFromEnv("SOAK_CONNECTIONS", 256)
const WARMUP_SECONDS = Math.min(intFromEnv("SOAK_WARMUP_SECONDS", 20), Math.max(1, SECONDS - 1))
const PROGRESS_MS = 5_000
const RSS_GROWTH_LIMIT = 0.1
const HOST = "127.0.0.1"
const HEAP_AFTER_GC = process.env["SOAK_HEAP_AFTER_GC"] === "1"

/** The request mix, in percent. */
const MIX = [
  { action: "read", weight: 45 },
  { action: "incr", weight: 35 },
  { action: "login", weight: 10 },
  { action: "logout", weight: 10 }
] as const

type Action = typeof MIX[number]["action"]

const pick = (): Action => {
  let r = Math.random() * 100
  for (const { action, weight } of MIX) {
    if (r < weight) return action
    r -= weight
  }
  return "read"
}

// -----------------------------------------------------------------------------
// resources: scoped, so an error or Ctrl-C stops everything we started
// -----------------------------------------------------------------------------

const redisServer = Effect.acquireRelease(
  Effect.promise(() => startRedisServer()),
  (server) => Effect.promise(() => server.stop())
).pipe(
  Effect.tap((server) => server.port === 6379 ? Effect.dieMessage("refusing to soak port 6379") : Effect.void)
)

type Memory = Omit<Extract<FromServer, { _tag: "Rss" }>, "_tag">

interface AppServer {
  readonly port: number
  readonly pid: number | undefined
  readonly memory: (collect?: boolean) => Promise<Memory>
}

const appServer = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      fork(
        fileURLToPath(
          new URL(import.meta.url.endsWith(".ts") ? "./soakServer.ts" : "./soakServer.js", import.meta.url)
        ),
        {
          env: { ...process.env, ...env },
          execArgv: HEAP_AFTER_GC ? [...process.execArgv, "--expose-gc"] : process.execArgv,
          stdio: ["ignore", "inherit", "inherit", "ipc"]
        }
      )
    ),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
        child.once("exit", () => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        child.kill("SIGTERM")
      })
  ).pipe(
    Effect.flatMap((child: ChildProcess) =>
      Effect.async<AppServer, Error>((resume) => {
        const onExit = (code: number | null) => resume(Effect.fail(new Error(`the server exited (${code})`)))
        child.once("exit", onExit)
        child.on("message", (message: FromServer) => {
          if (message._tag !== "Listening") return
          child.off("exit", onExit)
          resume(Effect.succeed({
            port: message.port,
            pid: child.pid,
            memory: (collect = false) =>
              new Promise<Memory>((resolve, reject) => {
                const onRss = (reply: FromServer) => {
                  if (reply._tag !== "Rss") return
                  child.off("message", onRss)
                  resolve(reply)
                }
                child.on("message", onRss)
                if (!child.send({ _tag: "Rss", collect } satisfies ToServer)) reject(new Error("the server is gone"))
              })
          }))
        })
      })
    )
  )

const ioredis = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })),
    (client) => Effect.promise(() => client.quit())
  )

// -----------------------------------------------------------------------------
// the virtual clients
// -----------------------------------------------------------------------------

interface VirtualClient {
  readonly user: string
  /** The `session=` cookie's value, as the server last set it. */
  cookie: string | undefined
  loggedIn: boolean
}

interface Stats {
  requests: number
  errors: number
  readonly failures: Map<string, number>
  readonly latencies: Array<number>
  readonly byAction: Record<Action, number>
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MB`

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

const pathOf = (action: Action, client: VirtualClient): string =>
  action === "login" ? `/api/login?user=${encodeURIComponent(client.user)}` : `/api/${action}`

/** One request of `client`; updates its cookie jar and the stats. Never rejects. */
const send = (agent: http.Agent, port: number, client: VirtualClient, action: Action, stats: Stats): Promise<void> =>
  new Promise((resolve) => {
    const started = performance.now()
    const fail = (why: string) => {
      stats.errors++
      stats.failures.set(why, (stats.failures.get(why) ?? 0) + 1)
      resolve()
    }
    const headers: http.OutgoingHttpHeaders = client.cookie === undefined ? {} : { cookie: `session=${client.cookie}` }
    const req = http.request({ agent, host: HOST, port, path: pathOf(action, client), headers }, (res) => {
      res.on("data", () => {})
      res.on("error", (error) => fail(`response: ${error.message}`))
      res.on("end", () => {
        stats.latencies.push(performance.now() - started)
        stats.requests++
        stats.byAction[action]++
        const status = res.statusCode ?? 0
        if (status < 200 || status >= 400) return fail(`${action}: HTTP ${status}`)
        for (const line of res.headers["set-cookie"] ?? []) {
          const match = /^session=([^;]*)/.exec(line)
          if (match === null) continue
          client.cookie = match[1] === "" ? undefined : match[1]
          // A new session that a login did not start is anonymous: the old one is over (for
          // example after a logout answered with a 503 whose DEL Redis still ran).
          if (action !== "login") client.loggedIn = false
        }
        if (action === "login") client.loggedIn = true
        if (action === "logout") client.loggedIn = false
        resolve()
      })
    })
    req.on("error", (error) => fail(`socket: ${error.message}`))
    req.end()
  })

// -----------------------------------------------------------------------------
// the checks at the end
// -----------------------------------------------------------------------------

interface KeyCheck {
  readonly sessionKeys: number
  readonly heldCookies: number
  /** Session keys no client holds a cookie for. */
  readonly orphanKeys: number
  /** Cookies whose session key is missing. */
  readonly deadCookies: number
  readonly indexKeys: number
  readonly liveIndexMembers: number
  /** Index members whose session is gone (logged out): dropped lazily. */
  readonly endedIndexMembers: number
  /** Index keys with no live member (users logged out for good). */
  readonly indexesWithoutLiveMember: number
  /** Live index members that are not the session of a client logged in as that user. */
  readonly strayIndexMembers: number
  /** Logged-in clients whose session is missing from their user's index. */
  readonly unindexedLogins: number
}

const checkKeys = (redis: Redis, clients: ReadonlyArray<VirtualClient>, signer: CookieSigner.CookieSigner) =>
  Effect.promise(async (): Promise<KeyCheck> => {
    const keys = await redis.keys("*")
    const indexKeys = keys.filter((key) => key.startsWith("user:"))
    const sessionKeys = new Set(keys.filter((key) => !key.startsWith("user:")))
    // The demo's policy stores a session under its id (no hashIds, no prefix).
    const held = new Map<string, VirtualClient>()
    for (const client of clients) {
      if (client.cookie === undefined) continue
      const id = signer.verify(client.cookie)
      if (Option.isSome(id)) held.set(id.value, client)
    }
    const orphanKeys = [...sessionKeys].filter((key) => !held.has(key)).length
    const deadCookies = [...held.keys()].filter((id) => !sessionKeys.has(id)).length

    let liveIndexMembers = 0
    let endedIndexMembers = 0
    let indexesWithoutLiveMember = 0
    let strayIndexMembers = 0
    const indexed = new Set<string>()
    for (const index of indexKeys) {
      const members = await redis.zrange(index, 0, -1)
      let live = 0
      for (const member of members) {
        if (!sessionKeys.has(member)) {
          endedIndexMembers++
          continue
        }
        live++
        indexed.add(member)
        const owner = held.get(member)
        // The index key is the hash of the user id: compare through the owner's session, not the name.
        if (owner === undefined || !owner.loggedIn) strayIndexMembers++
      }
      liveIndexMembers += live
      if (live === 0) indexesWithoutLiveMember++
    }
    const unindexedLogins = [...held.entries()].filter(([id, client]) => client.loggedIn && !indexed.has(id)).length
    return {
      sessionKeys: sessionKeys.size,
      heldCookies: held.size,
      orphanKeys,
      deadCookies,
      indexKeys: indexKeys.length,
      liveIndexMembers,
      endedIndexMembers,
      indexesWithoutLiveMember,
      strayIndexMembers,
      unindexedLogins
    }
  })

// -----------------------------------------------------------------------------
// the soak
// -----------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const redis = yield* redisServer
  const secret = randomBytes(32).toString("base64url")
  const server = yield* appServer({
    REDIS_URL: redis.url,
    SESSION_SECRET: secret,
    SESSION_COOKIE_SECURE: "false"
  })
  const signer = CookieSigner.make(Redacted.make(secret))
  const admin = yield* ioredis(redis.url)
  console.log(
    `soak: ${SECONDS} s, ${CONNECTIONS} connections, warm-up ${WARMUP_SECONDS} s; ` +
      `redis-server ${redis.url} (pid ${redis.pid}); demo app on ${HOST}:${server.port} (pid ${server.pid})`
  )

  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS })
  yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
  const clients: Array<VirtualClient> = Array.from(
    { length: CONNECTIONS },
    (_, i) => ({ user: `soak-user-${i}`, cookie: undefined, loggedIn: false })
  )
  const stats: Stats = {
    requests: 0,
    errors: 0,
    failures: new Map(),
    latencies: [],
    byAction: { read: 0, incr: 0, login: 0, logout: 0 }
  }

  const result = yield* Effect.promise(async () => {
    const started = performance.now()
    const deadline = started + SECONDS * 1000
    const rssSamples: Array<{ readonly at: number; readonly rss: number; readonly heapUsed: number }> = []
    let maxLoopDelay = 0
    let warmRss: number | undefined
    let warmHeap: number | undefined
    let warmHeapAfterGc: number | undefined
    let warmLatencyIndex = 0
    let lastRequests = 0
    let lastAt = started
    const initialRss = (await server.memory()).rss

    const progress = setInterval(() => {
      void server.memory().then(({ heapUsed, loopDelayMax, loopDelayP99, rss }) => {
        const now = performance.now()
        const elapsed = (now - started) / 1000
        rssSamples.push({ at: elapsed, rss, heapUsed })
        maxLoopDelay = Math.max(maxLoopDelay, loopDelayMax)
        const rate = (stats.requests - lastRequests) / ((now - lastAt) / 1000)
        lastRequests = stats.requests
        lastAt = now
        console.log(
          `  ${fmt(elapsed).padStart(4)} s  ${fmt(rate).padStart(7)} req/s  ${
            fmt(stats.requests).padStart(9)
          } requests  ` +
            `${stats.errors} errors  server RSS ${mb(rss)} (heap ${mb(heapUsed)}), ` +
            `event loop delay p99 ${fmt(loopDelayP99)} ms, max ${fmt(loopDelayMax)} ms  load ${
              os.loadavg().map((l) => fmt(l, 1)).join(" ")
            }`
        )
      })
    }, PROGRESS_MS)
    const warm = setTimeout(() => {
      warmLatencyIndex = stats.latencies.length
      void server.memory(HEAP_AFTER_GC).then(({ heapAfterGc, heapUsed, rss }) => {
        warmRss = rss
        warmHeap = heapUsed
        warmHeapAfterGc = heapAfterGc
        console.log(`  warm-up over: server RSS ${mb(rss)} (heap ${mb(heapUsed)})`)
      })
    }, WARMUP_SECONDS * 1000)

    const loop = async (client: VirtualClient) => {
      while (performance.now() < deadline) await send(agent, server.port, client, pick(), stats)
    }
    await Promise.all(clients.map(loop))
    const elapsedMs = performance.now() - started
    clearInterval(progress)
    clearTimeout(warm)
    const end = await server.memory(HEAP_AFTER_GC)
    maxLoopDelay = Math.max(maxLoopDelay, end.loopDelayMax)
    return {
      elapsedMs,
      initialRss,
      warmRss,
      warmHeap,
      endRss: end.rss,
      endHeap: end.heapUsed,
      warmHeapAfterGc,
      endHeapAfterGc: end.heapAfterGc,
      rssSamples,
      warmLatencyIndex,
      maxLoopDelay
    }
  })

  const check = yield* checkKeys(admin, clients, signer)

  const all = Float64Array.from(stats.latencies).sort()
  const steady = Float64Array.from(stats.latencies.slice(result.warmLatencyIndex)).sort()
  const warmRss = result.warmRss ?? result.initialRss
  const growth = (result.endRss - warmRss) / warmRss
  const afterWarm = result.rssSamples.filter((s) => s.at >= WARMUP_SECONDS)
  const rssMin = Math.min(...afterWarm.map((s) => s.rss), result.endRss)
  const rssMax = Math.max(...afterWarm.map((s) => s.rss), result.endRss)
  const loadAverage = os.loadavg().map((l) => fmt(l, 1)).join(", ")

  const criteria = [
    { name: "no failed request", ok: stats.errors === 0, figure: `${stats.errors} errors` },
    {
      name: `server RSS at the end at most ${RSS_GROWTH_LIMIT * 100}% above after warm-up`,
      ok: growth <= RSS_GROWTH_LIMIT,
      figure: `${mb(warmRss)} → ${mb(result.endRss)} (${growth >= 0 ? "+" : ""}${fmt(growth * 100, 1)}%)`
    },
    {
      name: "every session key held by a client's cookie",
      ok: check.orphanKeys === 0,
      figure: `${check.orphanKeys} of ${check.sessionKeys} keys without a cookie`
    },
    {
      name: "users' indexes hold exactly the logged-in sessions",
      ok: check.strayIndexMembers === 0 && check.unindexedLogins === 0,
      figure: `${check.strayIndexMembers} stray, ${check.unindexedLogins} missing`
    }
  ]
  const passed = criteria.every((c) => c.ok)

  const summary = [
    `## Soak: ${SECONDS} s at ${CONNECTIONS} connections`,
    "",
    `Node ${process.version}, ${process.platform}/${process.arch}, ${os.cpus().length} CPUs, load average at the end ` +
    `${loadAverage}; redis-server on 127.0.0.1 (private, no persistence).`,
    `Mix: ${MIX.map((m) => `${m.action} ${m.weight}%`).join(", ")}; warm-up ${WARMUP_SECONDS} s.`,
    "",
    "| figure | value |",
    "|:--|--:|",
    `| requests | ${fmt(stats.requests)} (${
      MIX.map((m) => `${m.action} ${fmt(stats.byAction[m.action])}`).join(", ")
    }) |`,
    `| throughput | ${fmt(stats.requests / (result.elapsedMs / 1000))} req/s |`,
    `| errors | ${stats.errors} |`,
    `| latency p50 / p99 / max, whole run | ${fmt(percentile(all, 50), 1)} / ${fmt(percentile(all, 99), 1)} / ${
      fmt(all[all.length - 1] ?? 0, 1)
    } ms |`,
    `| latency p50 / p99, after warm-up | ${fmt(percentile(steady, 50), 1)} / ${fmt(percentile(steady, 99), 1)} ms |`,
    `| server RSS: start / after warm-up / end | ${mb(result.initialRss)} / ${mb(warmRss)} / ${mb(result.endRss)} |`,
    `| server RSS after warm-up: min / max | ${mb(rssMin)} / ${mb(rssMax)} |`,
    `| server V8 heap in use: after warm-up / end | ${mb(result.warmHeap ?? 0)} / ${mb(result.endHeap)} |`,
    `| server event loop delay, max | ${fmt(result.maxLoopDelay)} ms |`,
    ...(result.warmHeapAfterGc === undefined || result.endHeapAfterGc === undefined ? [] : [
      `| server heap alive after a full GC: after warm-up / end (diagnostic) | ${mb(result.warmHeapAfterGc)} / ${
        mb(result.endHeapAfterGc)
      } |`
    ]),
    `| session keys / cookies held | ${fmt(check.sessionKeys)} / ${fmt(check.heldCookies)} |`,
    `| cookies held whose key is gone (a failed logout or login leaves these; harmless) | ${fmt(check.deadCookies)} |`,
    `| user index keys (live members, ended members) | ${fmt(check.indexKeys)} (${fmt(check.liveIndexMembers)}, ${
      fmt(check.endedIndexMembers)
    }) |`,
    `| user indexes without a live session | ${fmt(check.indexesWithoutLiveMember)} |`,
    "",
    "| criterion | result | figure |",
    "|:--|:--|:--|",
    ...criteria.map((c) => `| ${c.name} | ${c.ok ? "pass" : "FAIL"} | ${c.figure} |`),
    ...(stats.failures.size === 0
      ? []
      : ["", "Failures:", ...[...stats.failures].map(([why, count]) => `- ${why}: ${count}`)])
  ].join("\n")
  console.log(`\n${summary}\n`)
  if (!passed) process.exitCode = 1
})

NodeRuntime.runMain(Effect.scoped(program))
