/**
 * `npx tsx bench/replicaAcks.ts`: what `replicaAcks` (`WAIT 1 100`) costs a
 * session write, on a private master + replica on loopback. Alternates
 * windows with and without it in the same run: `SET … EX` one at a time
 * (latency), then 50 at a time (throughput; group commit shares one `WAIT`
 * among the writes issued together), and counts the `WAIT`s per write.
 *
 * Environment: ACKS_ROUNDS (5), ACKS_WRITES (2000 per window).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import { performance } from "node:perf_hooks"
import * as RedisClient from "../src/RedisClient.js"
import { startRedisServer } from "../test/support/redisServer.js"

const intFromEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}
const ROUNDS = intFromEnv("ACKS_ROUNDS", 5)
const WRITES = intFromEnv("ACKS_WRITES", 2000)
const acks: RedisClient.ReplicaAcksOptions = { replicas: 1, timeout: Duration.millis(100) }

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const percentile = (values: ReadonlyArray<number>, p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0

const main = async () => {
  const master = await startRedisServer()
  const replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(master.port)] })
  const client = new Redis(master.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true
  })
  await client.connect()
  await new Promise((resolve) => setTimeout(resolve, 1000)) // the replica's first sync
  const stores = {
    without: Effect.runSync(Effect.provide(RedisClient.RedisClient, RedisClient.layerFromClient(client))),
    with: Effect.runSync(
      Effect.provide(RedisClient.RedisClient, RedisClient.layerFromClient(client, { replicaAcks: acks }))
    )
  }
  const value = JSON.stringify({ m: { n: 1, user: "someone" }, c: 1700000000, v: 1, t: 1200 })
  const results: Record<"without" | "with", { p50: Array<number>; p99: Array<number>; rate: Array<number> }> = {
    without: { p50: [], p99: [], rate: [] },
    with: { p50: [], p99: [], rate: [] }
  }
  const waits: Record<"without" | "with", { writes: number; waits: number }> = {
    without: { writes: 0, waits: 0 },
    with: { writes: 0, waits: 0 }
  }
  let key = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (["without", "with"] as const) : (["with", "without"] as const)) {
      const store = stores[mode]
      const latencies: Array<number> = []
      for (let i = 0; i < WRITES; i++) {
        const started = performance.now()
        await Effect.runPromise(store.set(`k${key++}`, value, { ttlSeconds: 60 }))
        latencies.push(performance.now() - started)
      }
      results[mode].p50.push(percentile(latencies, 50))
      results[mode].p99.push(percentile(latencies, 99))
      await master.resetStats()
      const started = performance.now()
      for (let batch = 0; batch < WRITES / 50; batch++) {
        await Effect.runPromise(
          Effect.forEach(
            Array.from({ length: 50 }, () => `k${key++}`),
            (k) => store.set(k, value, { ttlSeconds: 60 }),
            { concurrency: "unbounded" }
          )
        )
      }
      results[mode].rate.push(WRITES / ((performance.now() - started) / 1000))
      const stats = await master.commandstats()
      waits[mode].writes += stats["set"] ?? 0
      waits[mode].waits += stats["wait"] ?? 0
    }
  }
  const row = (mode: "without" | "with") =>
    `| ${mode === "with" ? "WAIT 1 100" : "no WAIT"} | 1 | ${median(results[mode].p50).toFixed(3)} | ${
      median(results[mode].p99).toFixed(3)
    } | ${Math.round(median(results[mode].rate))} | ${
      (waits[mode].waits / Math.max(1, waits[mode].writes)).toFixed(3)
    } |`
  console.log(`${ROUNDS} rounds, ${WRITES} writes per window, medians of the rounds\n`)
  console.log(
    "| writes | round trips per write | one at a time p50 ms | p99 ms | 50 at a time writes/s | WAITs per write (50 at a time) |"
  )
  console.log("|---|---|---|---|---|---|")
  console.log(row("without"))
  console.log(row("with"))
  client.disconnect()
  await replica.stop()
  await master.stop()
}

void main()
