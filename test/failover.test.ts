/**
 * The failover contract on Redis Sentinel, under a small load on the demo
 * app: while the master is gone, requests fail as `503` with `Retry-After`
 * (never another status, never a hang past the commands' time bounds), and
 * once a replica is promoted the same clients, and new sessions, work again.
 * `npm run failover` measures the same at a larger scale. Real time.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { run } from "../bench/failoverLoad.js"
import type { RequestRecord } from "../bench/failoverLoad.js"
import { analyse } from "../bench/failoverReport.js"
import { makeApp, PolicyLive } from "../docs/examples/app.js"
import * as RedisClient from "../src/RedisClient.js"
import * as UserSessions from "../src/UserSessions.js"
import { type SentinelHarness, startRedisSentinel } from "./support/redisCluster.js"

const commandTimeout = Duration.seconds(1)
/** A request runs at most two commands one after the other (read, then commit); plus scheduling margin. */
const requestBound = 2 * Duration.toMillis(commandTimeout) + 1_000

let sentinel: SentinelHarness
let scope: Scope.CloseableScope
let port: number

beforeAll(async () => {
  sentinel = await startRedisSentinel()
  scope = Effect.runSync(Scope.make())
  const services = UserSessions.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      RedisClient.layerSentinel({
        sentinels: sentinel.sentinelAddresses,
        masterName: sentinel.masterName,
        commandTimeout
      }),
      PolicyLive
    )),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
      new Map([["SESSION_SECRET", randomBytes(32).toString("base64url")], ["SESSION_COOKIE_SECURE", "false"]])
    )))
  )
  const context = await Effect.runPromise(
    Layer.buildWithScope(
      HttpServer.serve(makeApp({ sessions: true })).pipe(
        Layer.provide(services),
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provide(Logger.minimumLogLevel(LogLevel.None))
      ),
      scope
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  port = address.port
}, 30_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  await sentinel?.stop()
})

const get = (path: string, cookie?: string) =>
  new Promise<{ status: number; cookie: string | undefined; body: string }>((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          cookie: res.headers["set-cookie"]?.find((c) => c.startsWith("session="))?.split(";")[0],
          body: Buffer.concat(chunks).toString()
        }))
    }).on("error", reject)
  })

describe("failover on Sentinel", () => {
  let records: ReadonlyArray<RequestRecord> = []
  let killedAt = 0
  let oldMasterPort = 0

  beforeAll(async () => {
    const master = await sentinel.currentMaster()
    oldMasterPort = master.port
    records = await run(
      { port, clients: 5, durationMs: 9_000, hangMillis: 10_000 },
      () => {
        setTimeout(() => {
          killedAt = Date.now()
          void sentinel.kill(master)
        }, 1_000)
      }
    )
  }, 30_000)

  it("a replica is promoted", async () => {
    expect((await sentinel.currentMaster()).port).not.toBe(oldMasterPort)
  })

  it("requests fail while the master is gone, as 503 with Retry-After and nothing else", () => {
    const figures = analyse(records, killedAt)
    expect(figures.failed).toBeGreaterThan(0)
    expect(figures.failedByStatus).toEqual({ "503": figures.failed })
    expect(figures.untyped).toBe(0)
  })

  it("no request takes longer than its commands' time bounds", () => {
    expect(analyse(records, killedAt).maxLatencyMs).toBeLessThan(requestBound)
  })

  it("every client's session works again after the promotion", () => {
    const figures = analyse(records, killedAt)
    expect(figures.firstSuccessMs).toBeDefined()
    const lastFailure = killedAt + (figures.lastFailureMs ?? 0)
    for (let client = 0; client < 5; client++) {
      expect(records.some((r) => r.client === client && r.status === 200 && r.start > lastFailure)).toBe(true)
    }
  })

  it("a new session can be written and read on the new master", async () => {
    const written = await get("/api/incr")
    expect(written.status).toBe(200)
    expect(written.cookie).toBeDefined()
    const read = await get("/api/read", written.cookie)
    expect({ status: read.status, body: JSON.parse(read.body) }).toEqual({ status: 200, body: { n: 1 } })
  })
})
