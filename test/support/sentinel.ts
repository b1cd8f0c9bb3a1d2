/**
 * A minimal Sentinel deployment on loopback for failover tests and
 * `npm run failover`: a master, one replica and three sentinels (quorum 2),
 * with `down-after-milliseconds` 1000 so a killed master is replaced within
 * a few seconds. Ports are free ports of 127.0.0.1, never 6379.
 */
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { freePort, type RedisServerHarness, startRedisServer } from "./redisServer.js"

export const masterName = "sessions"

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface SentinelHarness {
  /** The server that was master at start. */
  readonly master: RedisServerHarness
  /** The server that was its replica at start. */
  readonly replica: RedisServerHarness
  readonly sentinels: ReadonlyArray<HostPort>
  /** The master the sentinels name now (`SENTINEL get-master-addr-by-name`), by the first that answers. */
  readonly currentMaster: () => Promise<HostPort | undefined>
  /** Resolves once the sentinels name a master other than `port`; rejects after `timeoutMillis`. */
  readonly waitForPromotion: (port: number, timeoutMillis: number) => Promise<HostPort>
  readonly stop: () => Promise<void>
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const sentinelClient = (port: number) =>
  new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false })

/** Runs one command on a fresh connection; undefined when the server does not answer. */
const ask = async (port: number, args: ReadonlyArray<string>): Promise<unknown> => {
  const client = sentinelClient(port)
  client.on("error", () => {})
  try {
    await client.connect()
    const [command, ...rest] = args
    return await client.call(command ?? "PING", ...rest)
  } catch {
    return undefined
  } finally {
    client.disconnect()
  }
}

/** `SENTINEL MASTER` as a record (its reply is a flat list, or a map under RESP3). */
const masterInfo = async (port: number): Promise<Record<string, string>> => {
  const reply = await ask(port, ["SENTINEL", "MASTER", masterName])
  const record: Record<string, string> = {}
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = String(reply[i + 1])
  }
  return record
}

/** Starts the deployment and resolves once every sentinel knows the replica and the other two sentinels. */
export const startSentinel = async (
  options: { readonly downAfterMillis?: number; readonly failoverTimeoutMillis?: number } = {}
): Promise<SentinelHarness> => {
  const master = await startRedisServer()
  const replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(master.port)] })
  const dir = mkdtempSync(path.join(tmpdir(), "sentinel-"))
  const children: Array<ChildProcess> = []
  const sentinels: Array<HostPort> = []
  const kill = () => {
    for (const child of children) child.kill("SIGKILL")
  }
  process.on("exit", kill)

  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve))
        child.kill("SIGTERM")
        await exited
      }
    }
    process.off("exit", kill)
    await Promise.all([master.stop(), replica.stop()])
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      const file = path.join(dir, `sentinel-${i}.conf`)
      writeFileSync(
        file,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "daemonize no",
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMillis ?? 1000}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMillis ?? 2000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          ""
        ].join("\n")
      )
      const child = spawn("redis-server", [file, "--sentinel"], { stdio: "ignore" })
      children.push(child)
      sentinels.push({ host: "127.0.0.1", port })
    }
    const deadline = Date.now() + 30_000
    for (const { port } of sentinels) {
      for (;;) {
        const info = await masterInfo(port)
        if (info["num-slaves"] === "1" && info["num-other-sentinels"] === "2") break
        if (Date.now() > deadline) {
          throw new Error(`sentinel on port ${port} not ready within 30 s: ${JSON.stringify(info)}`)
        }
        await sleep(100)
      }
    }
  } catch (error) {
    await stop()
    throw error
  }

  const currentMaster = async (): Promise<HostPort | undefined> => {
    for (const { port } of sentinels) {
      const reply = await ask(port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName])
      if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) }
    }
    return undefined
  }

  return {
    master,
    replica,
    sentinels,
    currentMaster,
    waitForPromotion: async (port, timeoutMillis) => {
      const deadline = Date.now() + timeoutMillis
      for (;;) {
        const current = await currentMaster()
        if (current !== undefined && current.port !== port) return current
        if (Date.now() > deadline) throw new Error(`no master other than port ${port} within ${timeoutMillis} ms`)
        await sleep(50)
      }
    },
    stop
  }
}
