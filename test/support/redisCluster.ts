/**
 * Private Redis deployments for a test file, on free ports of 127.0.0.1,
 * without persistence, their files in a temporary directory:
 *
 * - a Redis Cluster of N masters (and R replicas per master), built with
 *   `redis-cli --cluster create`, ready once every node says `cluster_state:ok`;
 * - a Sentinel deployment: a master, a replica and three sentinels, with a
 *   short `down-after-milliseconds` so failover tests are quick, ready once
 *   every sentinel knows the replica and the other sentinels.
 *
 * Both count commands the way `RedisServerHarness` does, summed over the
 * current masters (replicas replay the masters' writes, and the client sends
 * nothing to them), with replication, gossip and discovery traffic left out.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFile, execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { HostPort } from "../../src/RedisClient.js"
import { freePort, type RedisServerHarness, send, startRedisServer } from "./redisServer.js"

/** What a test needs of any deployment: the RedisServerHarness subset the command-count tests use. */
export interface Deployment {
  /** Calls per command on the current master(s) since the last `resetStats()`, admin and replication traffic excluded. */
  readonly commandstats: () => Promise<Record<string, number>>
  readonly resetStats: () => Promise<void>
  readonly flushall: () => Promise<void>
  /** Every key, sorted. */
  readonly keys: () => Promise<ReadonlyArray<string>>
}

export interface ClusterHarness extends Deployment {
  /** Every node, in creation order: the masters first, then the replicas. */
  readonly nodes: ReadonlyArray<RedisServerHarness>
  /** The nodes' addresses, as a client is given them. */
  readonly addresses: ReadonlyArray<HostPort>
  /** `host:port,host:port,…`, the value of `REDIS_CLUSTER_NODES`. */
  readonly nodesVariable: string
  /** The running nodes that are masters now. */
  readonly masters: () => Promise<ReadonlyArray<RedisServerHarness>>
  /** SIGKILL one node. */
  readonly kill: (node: RedisServerHarness) => Promise<void>
  /** Stops every node and removes the temporary directory. */
  readonly stop: () => Promise<void>
}

export interface SentinelHarness extends Deployment {
  readonly masterName: string
  /** The master at start (after a failover, `currentMaster` tells). */
  readonly master: RedisServerHarness
  readonly replica: RedisServerHarness
  readonly sentinels: ReadonlyArray<RedisServerHarness>
  readonly sentinelAddresses: ReadonlyArray<HostPort>
  /** `host:port,…`, the value of `REDIS_SENTINELS`. */
  readonly sentinelsVariable: string
  /** The data node the sentinels name as master. */
  readonly currentMaster: () => Promise<RedisServerHarness>
  /** SIGKILL one node (a data node or a sentinel). */
  readonly kill: (node: RedisServerHarness) => Promise<void>
  readonly stop: () => Promise<void>
}

const installHint = "(Debian/Ubuntu: apt-get install redis-server, which includes redis-cli; macOS: brew install redis)"

/** Cluster, replication and sentinel traffic: not sent by the code under test. */
const infrastructureCommands = new Set([
  "cluster",
  "readonly",
  "readwrite",
  "asking",
  "publish",
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "replconf",
  "psync",
  "sync",
  "role",
  "sentinel",
  "failover",
  "replicaof",
  "slaveof",
  "multi",
  "exec"
])

const withoutInfrastructure = (stats: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(stats).filter(([name]) => !infrastructureCommands.has(name.split("|")[0] ?? name))
  )

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMillis = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    try {
      if (await check()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMillis} ms`)
    await sleep(50)
  }
}

/** One admin command to a node, authenticated as the node's harness is. */
const ask = (node: RedisServerHarness, args: ReadonlyArray<string>) => send(node.port, args, undefined, node.password)

const info = async (node: RedisServerHarness, section: string): Promise<string> => {
  const reply = await ask(node, ["INFO", section])
  if (typeof reply !== "string") throw new Error(`INFO ${section}: unexpected reply`)
  return reply
}

const isMaster = async (node: RedisServerHarness): Promise<boolean> =>
  node.running && /^role:master\r?$/m.test(await info(node, "replication"))

const sumStats = (all: ReadonlyArray<Record<string, number>>): Record<string, number> => {
  const sum: Record<string, number> = {}
  for (const stats of all) {
    for (const [name, calls] of Object.entries(stats)) sum[name] = (sum[name] ?? 0) + calls
  }
  return sum
}

const redisMajorVersion = (): number => {
  try {
    return Number(/v=(\d+)\./.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? 0)
  } catch {
    throw new Error(`redis-server not found on PATH: install it ${installHint}`)
  }
}

const redisCli = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(
          "code" in error && error.code === "ENOENT"
            ? new Error(`redis-cli not found on PATH: install it ${installHint}`)
            : new Error(`redis-cli ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`)
        )
      } else {
        resolve(stdout)
      }
    })
  })

/**
 * A port whose cluster bus port (port + 10000) is free too: Redis before 7
 * has no `--cluster-port` and always uses that one.
 */
const portWithBus = async (): Promise<{ port: number; args: ReadonlyArray<string> }> => {
  if (redisMajorVersion() >= 7) {
    return { port: await freePort(), args: ["--cluster-port", String(await freePort())] }
  }
  for (;;) {
    const port = await freePort()
    if (port + 10000 <= 65535) return { port, args: [] }
  }
}

const clusterNodeArgs = (dir: string, name: string): ReadonlyArray<string> => [
  "--cluster-enabled",
  "yes",
  "--cluster-config-file",
  path.join(dir, `nodes-${name}.conf`),
  "--cluster-node-timeout",
  "1000",
  "--dir",
  dir
]

/**
 * Why this redis-server cannot run a cluster, or undefined when it can: a
 * node is started with `--cluster-enabled yes` and asked `INFO cluster`.
 * Fails (never skips) when redis-server itself is missing.
 */
export const clusterUnsupported = async (): Promise<string | undefined> => {
  redisMajorVersion()
  const dir = mkdtempSync(path.join(tmpdir(), "redis-cluster-probe-"))
  try {
    const { args, port } = await portWithBus()
    let node: RedisServerHarness
    try {
      node = await startRedisServer({ port, args: [...clusterNodeArgs(dir, "probe"), ...args] })
    } catch (error) {
      return `redis-server did not start with --cluster-enabled yes: ${String(error)}`
    }
    try {
      return /^cluster_enabled:1\r?$/m.test(await info(node, "cluster"))
        ? undefined
        : "INFO cluster does not say cluster_enabled:1"
    } finally {
      await node.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Prints why a suite does not run, where nobody can miss it. */
export const announceSkip = (suite: string, reason: string): void => {
  const line = "!".repeat(78)
  console.warn(`\n${line}\n!! SKIPPED: ${suite}\n!! redis-server lacks Redis Cluster support: ${reason}\n${line}\n`)
}

const stopAll = async (nodes: ReadonlyArray<RedisServerHarness>, dir: string): Promise<void> => {
  await Promise.all(nodes.map((node) => node.stop()))
  rmSync(dir, { recursive: true, force: true })
}

/** `--requirepass` and `--masterauth` (a replica, or a master after failover, authenticates to its master). */
const passwordArgs = (password: string | undefined): ReadonlyArray<string> =>
  password === undefined ? [] : ["--requirepass", password, "--masterauth", password]

/**
 * Starts a Redis Cluster of `masters` masters with `replicas` replicas each;
 * with `password`, every node requires it.
 */
export const startRedisCluster = async (
  options: { readonly masters?: number; readonly replicas?: number; readonly password?: string } = {}
): Promise<ClusterHarness> => {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 0
  const password = options.password
  const dir = mkdtempSync(path.join(tmpdir(), "redis-cluster-"))
  const nodes: Array<RedisServerHarness> = []
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const { args, port } = await portWithBus()
      nodes.push(
        await startRedisServer({
          port,
          args: [...clusterNodeArgs(dir, String(i)), ...args, ...passwordArgs(password)],
          ...(password === undefined ? {} : { password })
        })
      )
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`)
    await redisCli([
      ...(password === undefined ? [] : ["-a", password, "--no-auth-warning"]),
      "--cluster",
      "create",
      ...addresses,
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes"
    ])
    await waitFor("cluster_state:ok on every node", async () => {
      const states = await Promise.all(nodes.map((node) => ask(node, ["CLUSTER", "INFO"])))
      return states.every((state) => typeof state === "string" && /^cluster_state:ok\r?$/m.test(state))
    })
    if (replicas > 0) {
      await waitFor("every replica in sync", async () => {
        const replies = await Promise.all(nodes.slice(masters).map((node) => info(node, "replication")))
        return replies.every((reply) => /^master_link_status:up\r?$/m.test(reply))
      })
    }
  } catch (error) {
    await stopAll(nodes, dir)
    throw error
  }

  const runningMasters = async () => {
    const roles = await Promise.all(nodes.map((node) => isMaster(node).catch(() => false)))
    return nodes.filter((_, i) => roles[i])
  }

  return {
    nodes,
    addresses: nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
    nodesVariable: nodes.map((node) => `127.0.0.1:${node.port}`).join(","),
    masters: runningMasters,
    kill: (node) => node.kill(),
    commandstats: async () =>
      sumStats(
        await Promise.all((await runningMasters()).map((node) => node.commandstats().then(withoutInfrastructure)))
      ),
    resetStats: async () => {
      await Promise.all(nodes.filter((node) => node.running).map((node) => node.resetStats()))
    },
    flushall: async () => {
      await Promise.all((await runningMasters()).map((node) => node.flushall()))
    },
    keys: async () => (await Promise.all((await runningMasters()).map((node) => node.keys()))).flat().sort(),
    stop: () => stopAll(nodes, dir)
  }
}

/**
 * Starts a master, one replica and three sentinels watching the master as
 * `masterName`. With `password` the data nodes require it (and the sentinels
 * use it, `sentinel auth-pass`); with `sentinelPassword` the sentinels
 * require theirs (`requirepass` in their file, which they also use with each
 * other).
 */
export const startRedisSentinel = async (
  options: { readonly masterName?: string; readonly password?: string; readonly sentinelPassword?: string } = {}
): Promise<SentinelHarness> => {
  const masterName = options.masterName ?? "sessions"
  const { password, sentinelPassword } = options
  const dir = mkdtempSync(path.join(tmpdir(), "redis-sentinel-"))
  const started: Array<RedisServerHarness> = []
  const dataNode = (args: ReadonlyArray<string>) =>
    startRedisServer({
      args: ["--dir", dir, ...args, ...passwordArgs(password)],
      ...(password === undefined ? {} : { password })
    })
  try {
    const master = await dataNode([])
    started.push(master)
    const replica = await dataNode(["--replicaof", "127.0.0.1", String(master.port)])
    started.push(replica)
    const sentinels: Array<RedisServerHarness> = []
    for (let i = 0; i < 3; i++) {
      const file = path.join(dir, `sentinel-${i}.conf`)
      writeFileSync(
        file,
        [
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 3000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
          ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`]),
          ""
        ].join("\n")
      )
      const sentinel = await startRedisServer({
        sentinelConfig: file,
        ...(sentinelPassword === undefined ? {} : { password: sentinelPassword })
      })
      started.push(sentinel)
      sentinels.push(sentinel)
    }
    await waitFor(
      "the replica in sync",
      async () => /^master_link_status:up\r?$/m.test(await info(replica, "replication"))
    )
    // Ready for failover: every sentinel knows the replica and the two other sentinels.
    await waitFor("every sentinel knows the replica and the other sentinels", async () => {
      const views = await Promise.all(sentinels.map(async (sentinel) => {
        const replicas = await ask(sentinel, ["SENTINEL", "REPLICAS", masterName])
        const others = await ask(sentinel, ["SENTINEL", "SENTINELS", masterName])
        return Array.isArray(replicas) && replicas.length === 1 && Array.isArray(others) && others.length === 2
      }))
      return views.every(Boolean)
    })

    const dataNodes = [master, replica]
    const currentMaster = async () => {
      for (const sentinel of sentinels.filter((s) => s.running)) {
        try {
          const address = await ask(sentinel, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName])
          const port = Array.isArray(address) ? Number(address[1]) : NaN
          const node = dataNodes.find((candidate) => candidate.port === port)
          if (node !== undefined) return node
        } catch {
          // ask the next one
        }
      }
      throw new Error("no sentinel names a known master")
    }

    return {
      masterName,
      master,
      replica,
      sentinels,
      sentinelAddresses: sentinels.map((sentinel) => ({ host: "127.0.0.1", port: sentinel.port })),
      sentinelsVariable: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(","),
      currentMaster,
      kill: (node) => node.kill(),
      commandstats: async () => withoutInfrastructure(await (await currentMaster()).commandstats()),
      resetStats: async () => {
        await Promise.all(dataNodes.filter((node) => node.running).map((node) => node.resetStats()))
      },
      flushall: async () => (await currentMaster()).flushall(),
      keys: async () => (await currentMaster()).keys(),
      stop: () => stopAll(started, dir)
    }
  } catch (error) {
    await stopAll(started, dir)
    throw error
  }
}

/** The private cluster of a test file. */
export class RedisCluster extends Context.Tag("test/RedisCluster")<RedisCluster, ClusterHarness>() {}

/** The private Sentinel deployment of a test file. */
export class RedisSentinel extends Context.Tag("test/RedisSentinel")<RedisSentinel, SentinelHarness>() {}

/** Starts the cluster when the layer is built and stops it (removing its files) when released. */
export const layerRedisCluster = (
  options: Parameters<typeof startRedisCluster>[0] = {}
): Layer.Layer<RedisCluster> =>
  Layer.scoped(
    RedisCluster,
    Effect.acquireRelease(
      Effect.promise(() => startRedisCluster(options)),
      (cluster) => Effect.promise(() => cluster.stop())
    )
  )

/** Starts the Sentinel deployment when the layer is built and stops it when released. */
export const layerRedisSentinel = (
  options: Parameters<typeof startRedisSentinel>[0] = {}
): Layer.Layer<RedisSentinel> =>
  Layer.scoped(
    RedisSentinel,
    Effect.acquireRelease(
      Effect.promise(() => startRedisSentinel(options)),
      (sentinel) => Effect.promise(() => sentinel.stop())
    )
  )
