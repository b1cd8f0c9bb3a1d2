/**
 * `npm run failover`: what users see when the Redis master dies under load.
 *
 * For each deployment and each write mode (no `WAIT`; `replicaAcks` 1 replica
 * / 100 ms): starts the deployment on loopback, serves the demo app
 * (docs/examples/app.ts, `makeApp({ sessions: true })`) in this process on
 * the library's client for that deployment, and runs the load generator
 * (bench/failoverLoad.ts, a child process) for FAILOVER_DURATION_MS (20000):
 * FAILOVER_CLIENTS (20) clients with a session each, mixing `/api/read` and
 * `/api/incr` in a closed loop. At FAILOVER_KILL_AT_MS (5000) the master gets
 * SIGKILL; nothing restarts it. Prints a Markdown table of the figures of
 * bench/failoverReport.ts.
 *
 * Deployments (test/support/redisCluster.ts): Sentinel (master, replica, 3
 * sentinels, down-after 1000 ms, failover-timeout 3000 ms) on
 * `RedisClient.layerSentinel`; Cluster (3 masters with a replica each,
 * cluster-node-timeout as the harness sets it) on `RedisClient.layerCluster`,
 * where the kill takes down one master of three.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpServer from "@effect/platform/HttpServer"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import { fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { makeApp, PolicyLive } from "../docs/examples/app.js"
import * as RedisClient from "../src/RedisClient.js"
import * as UserSessions from "../src/UserSessions.js"
import { startRedisCluster, startRedisSentinel } from "../test/support/redisCluster.js"
import type { LoadMessage, LoadRequest, RequestRecord } from "./failoverLoad.js"
import { analyse, type FailoverFigures } from "./failoverReport.js"

const intFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

const CLIENTS = intFromEnv("FAILOVER_CLIENTS", 20)
const DURATION_MS = intFromEnv("FAILOVER_DURATION_MS", 20_000)
const KILL_AT_MS = intFromEnv("FAILOVER_KILL_AT_MS", 5_000)
const commandTimeout = Duration.seconds(1)
/** A request is "hanging" past the command timeout plus this margin (a request runs at most a few commands). */
const HANG_MILLIS = 5_000
const ACKS: RedisClient.ReplicaAcksOptions = { replicas: 1, timeout: Duration.millis(100) }

// -----------------------------------------------------------------------------
// deployments
// -----------------------------------------------------------------------------

interface Deployment {
  readonly name: string
  readonly store: (acks: RedisClient.ReplicaAcksOptions | undefined) => Layer.Layer<RedisClient.RedisClient>
  /** SIGKILLs the master; resolves with the time from the kill until the deployment names a new master. */
  readonly killMaster: () => Promise<{ readonly killedAt: number; readonly promoted: Promise<number> }>
  readonly stop: () => Promise<void>
}

/** Resolves with the time from `killedAt` until `promoted()` says yes (polling every 50 ms). */
const until = async (killedAt: number, promoted: () => Promise<boolean>): Promise<number> => {
  const deadline = killedAt + 30_000
  for (;;) {
    if (await promoted().catch(() => false)) return Date.now() - killedAt
    if (Date.now() > deadline) throw new Error("no new master within 30 s")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const sentinel = async (): Promise<Deployment> => {
  const harness = await startRedisSentinel()
  return {
    name: "Sentinel",
    store: (acks) =>
      RedisClient.layerSentinel({
        sentinels: harness.sentinelAddresses,
        masterName: harness.masterName,
        commandTimeout,
        replicaAcks: acks
      }).pipe(Layer.orDie),
    killMaster: async () => {
      const master = await harness.currentMaster()
      const killedAt = Date.now()
      await harness.kill(master)
      const promoted = until(killedAt, async () => (await harness.currentMaster()).port !== master.port)
      return { killedAt, promoted }
    },
    stop: harness.stop
  }
}

const cluster = async (): Promise<Deployment> => {
  const harness = await startRedisCluster({ masters: 3, replicas: 1 })
  return {
    name: "Cluster (3 masters, 1 replica each)",
    store: (acks) =>
      RedisClient.layerCluster({ nodes: harness.addresses, commandTimeout, replicaAcks: acks }).pipe(Layer.orDie),
    killMaster: async () => {
      const [master] = await harness.masters()
      if (master === undefined) throw new Error("no master")
      const killedAt = Date.now()
      await harness.kill(master)
      const promoted = until(killedAt, async () => (await harness.masters()).length === 3)
      return { killedAt, promoted }
    },
    stop: harness.stop
  }
}

const deployments: ReadonlyArray<() => Promise<Deployment>> = [sentinel, cluster]

// -----------------------------------------------------------------------------
// one run
// -----------------------------------------------------------------------------

/** Serves the demo app with sessions on 127.0.0.1:<free port> until the scope closes. */
const serveApp = (store: Layer.Layer<RedisClient.RedisClient>) =>
  Effect.gen(function*() {
    const services = UserSessions.layer.pipe(
      Layer.provideMerge(Layer.mergeAll(store, PolicyLive)),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["SESSION_SECRET", randomBytes(32).toString("base64url")], ["SESSION_COOKIE_SECURE", "false"]])
      )))
    )
    const context = yield* Layer.build(
      HttpServer.serve(makeApp({ sessions: true })).pipe(
        Layer.provide(services),
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return address.port
  })

/** Runs the load generator; calls `onStart` with the epoch ms at which its clock started. */
const runLoad = (task: LoadRequest, onStart: (at: number) => void) =>
  Effect.async<ReadonlyArray<RequestRecord>>((resume) => {
    const child = fork(
      fileURLToPath(
        new URL(import.meta.url.endsWith(".ts") ? "./failoverLoad.ts" : "./failoverLoad.js", import.meta.url)
      ),
      { stdio: ["ignore", "inherit", "inherit", "ipc"] }
    )
    child.on("message", (message: LoadMessage) => {
      if (message._tag === "Started") onStart(message.at)
      else resume(Effect.succeed(message.records))
    })
    child.once("exit", (code) => resume(Effect.dieMessage(`the load generator exited (${code})`)))
    child.send(task)
    return Effect.sync(() => child.kill("SIGKILL"))
  })

interface Run {
  readonly deployment: string
  readonly mode: string
  readonly figures: FailoverFigures
  readonly promotedMs: number
  readonly shortfalls: number
}

/** Shortfalls of every command (the counter is tagged by command). */
const shortfallCount = Effect.map(
  Effect.forEach(
    ["SET", "DEL", "EVAL", "ZREM"],
    (command) => Metric.value(Metric.tagged(RedisClient.replicaAckShortfalls, "command", command))
  ),
  (states) => states.reduce((sum, state) => sum + state.count, 0)
)

const oneRun = (start: () => Promise<Deployment>, acks: RedisClient.ReplicaAcksOptions | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    const deployment = yield* Effect.acquireRelease(Effect.promise(start), (d) => Effect.promise(d.stop))
    const port = yield* serveApp(deployment.store(acks))
    const shortfallsBefore = yield* shortfallCount
    let kill: Promise<{ readonly killedAt: number; readonly promoted: Promise<number> }> | undefined
    const records = yield* runLoad(
      { port, clients: CLIENTS, durationMs: DURATION_MS, hangMillis: HANG_MILLIS },
      () => {
        kill = new Promise((resolve) => setTimeout(() => resolve(deployment.killMaster()), KILL_AT_MS))
      }
    )
    if (kill === undefined) return yield* Effect.dieMessage("the load generator never started")
    const { killedAt, promoted } = yield* Effect.promise(() => kill as NonNullable<typeof kill>)
    const run: Run = {
      deployment: deployment.name,
      mode: acks === undefined ? "no WAIT" : `WAIT ${acks.replicas} ${Duration.toMillis(acks.timeout)}`,
      figures: analyse(records, killedAt),
      promotedMs: yield* Effect.promise(() => promoted),
      shortfalls: (yield* shortfallCount) - shortfallsBefore
    }
    return run
  }))

// -----------------------------------------------------------------------------
// the table
// -----------------------------------------------------------------------------

const ms = (value: number | undefined) => value === undefined ? "–" : `${Math.round(value)}`

const table = (runs: ReadonlyArray<Run>): string => {
  const rows: Array<ReadonlyArray<string>> = [
    [
      "deployment",
      "writes",
      "requests",
      "failed (by status)",
      "not 503 + Retry-After",
      "max latency ms (failed)",
      "new master ms",
      "first success ms",
      "last failure ms",
      "writes lost (clients)",
      "sessions lost",
      "p50 / p99 ms before",
      "p50 / p99 ms after",
      "WAIT shortfalls"
    ],
    ...runs.map(({ deployment, figures: f, mode, promotedMs, shortfalls }) => [
      deployment,
      mode,
      String(f.requests),
      `${f.failed} (${Object.entries(f.failedByStatus).map(([s, n]) => `${s}: ${n}`).join(", ")})`,
      String(f.untyped),
      `${ms(f.maxLatencyMs)} (${ms(f.maxFailedLatencyMs)})`,
      ms(promotedMs),
      ms(f.firstSuccessMs),
      ms(f.lastFailureMs),
      `${f.writesLost} (${f.clientsWithLoss})`,
      String(f.sessionsLost),
      `${f.p50BeforeMs} / ${f.p99BeforeMs}`,
      `${f.p50AfterMs} / ${f.p99AfterMs}`,
      String(shortfalls)
    ])
  ]
  const line = (row: ReadonlyArray<string>) => `| ${row.join(" | ")} |`
  const [head, ...body] = rows
  return [line(head ?? []), `|${(head ?? []).map(() => "---").join("|")}|`, ...body.map(line)].join("\n")
}

const program = Effect.gen(function*() {
  console.log(
    `${CLIENTS} clients, ${DURATION_MS} ms per run, master SIGKILLed at ${KILL_AT_MS} ms; ` +
      `commandTimeout ${Duration.format(commandTimeout)}; times from the kill\n`
  )
  const runs: Array<Run> = []
  for (const start of deployments) {
    for (const acks of [undefined, ACKS]) {
      const run = yield* oneRun(start, acks)
      console.log(`${run.deployment}, ${run.mode}: ${JSON.stringify(run.figures)}`)
      runs.push(run)
    }
  }
  console.log(`\n${table(runs)}`)
})

NodeRuntime.runMain(
  program.pipe(
    Logger.withMinimumLogLevel(LogLevel.None)
  )
)
