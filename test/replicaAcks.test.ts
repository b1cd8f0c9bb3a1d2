/**
 * `replicaAcks` over a scripted pipeline: how each reply a pipeline can give
 * (a write's error, a missing reply, an aborted or failed pipeline, `WAIT`
 * short, refused or odd) becomes the write's outcome and the shortfall
 * count, how writes are batched behind one `WAIT`, and how options are
 * checked. The same decorator against redis-server and a replica is in
 * `RedisClient.replicaAcks.test.ts`.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import * as ReplicaAcks from "../src/internal/replicaAcks.js"
import * as RedisClient from "../src/RedisClient.js"

type Reply = Array<[Error | null, unknown]> | null

/** A client whose pipelines record their commands and answer with `answer(commands)`. */
const scripted = (answer: (commands: ReadonlyArray<string>) => Promise<Reply>, options: { cluster?: boolean } = {}) => {
  const sent: Array<ReadonlyArray<string>> = []
  let inFlight = 0
  let maxInFlight = 0
  const pipeline = () => {
    const commands: Array<string> = []
    const queue = (command: string) => () => {
      commands.push(command)
      return p
    }
    const p = {
      set: queue("SET"),
      del: queue("DEL"),
      eval: queue("EVAL"),
      evalsha: queue("EVALSHA"),
      zrem: queue("ZREM"),
      wait: (replicas: number, timeout: number) => queue(`WAIT ${replicas} ${timeout}`)(),
      exec: async () => {
        sent.push(commands)
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        try {
          return await answer(commands)
        } finally {
          inFlight--
        }
      }
    }
    return p
  }
  const unused = () => Promise.reject(new Error("not a write"))
  const client = {
    get: unused,
    getex: unused,
    expire: unused,
    ttl: unused,
    mget: unused,
    zrange: unused,
    pipeline,
    ...(options.cluster === true ? { isCluster: true } : {})
  } as unknown as ReplicaAcks.AckClient
  return { client, sent, maxInFlight: () => maxInFlight }
}

const acks = { replicas: 2, timeout: Duration.millis(50) }

/** Every write answered OK, then `WAIT` with `wait`. */
const answering = (wait: [Error | null, unknown]) => (commands: ReadonlyArray<string>): Promise<Reply> =>
  Promise.resolve([...commands.slice(0, -1).map((): [null, unknown] => [null, "OK"]), wait])

const shortfalls = (command: string) =>
  Effect.runSync(Metric.value(Metric.tagged(RedisClient.replicaAckShortfalls, "command", command))).count

const settle = <A>(promise: Promise<A>) =>
  promise.then((value) => ({ value }), (error: unknown) => ({ error: error instanceof Error ? error.message : error }))

const modes = [["one connection (writes batched)", false], ["a Cluster (one WAIT per write)", true]] as const

describe.each(modes)("replicaAcks on %s", (_, cluster) => {
  it("a write is sent with WAIT replicas timeout after it, and answers its own reply", async () => {
    const { client, sent } = scripted(answering([null, 2]), { cluster })
    expect(await ReplicaAcks.decorate(client, acks).set("k", "v")).toBe("OK")
    expect(sent).toEqual([["SET", "WAIT 2 50"]])
  })

  it.each(
    [
      ["enough replicas", [null, 2], 0],
      ["more replicas than asked", [null, 3], 0],
      ["fewer replicas", [null, 1], 1],
      ["WAIT refused", [new Error("ERR WAIT cannot be used with replica instances"), undefined], 1],
      ["a WAIT reply that is no number", [null, "2"], 1]
    ] as const
  )("%s: the write succeeds, and a shortfall is counted only when short", async (_, wait, counted) => {
    const before = shortfalls("DEL")
    const { client } = scripted(answering([wait[0], wait[1]]), { cluster })
    expect(await ReplicaAcks.decorate(client, acks).del("k")).toBe("OK")
    expect(shortfalls("DEL")).toBe(before + counted)
  })

  it("no WAIT reply at all counts a shortfall", async () => {
    const before = shortfalls("ZREM")
    const { client } = scripted((commands) => Promise.resolve(commands.slice(0, -1).map(() => [null, 1])), { cluster })
    expect(await ReplicaAcks.decorate(client, acks).zrem("k", "m")).toBe(1)
    expect(shortfalls("ZREM")).toBe(before + 1)
  })

  it("a write's error fails the write, whatever WAIT answered", async () => {
    const refused = new Error("NOSCRIPT No matching script")
    const { client } = scripted(() => Promise.resolve([[refused, undefined], [null, 2]]), { cluster })
    expect(await settle(ReplicaAcks.decorate(client, acks).evalsha("sha", 1, "k"))).toEqual({
      error: "NOSCRIPT No matching script"
    })
  })

  it("a pipeline that answers nothing for the write fails it, naming the command", async () => {
    const { client } = scripted(() => Promise.resolve([]), { cluster })
    expect(await settle(ReplicaAcks.decorate(client, acks).eval("script", 1, "k"))).toEqual({
      error: "EVAL: no reply in pipeline"
    })
  })

  it("a pipeline that fails fails the write with its cause", async () => {
    const { client } = scripted(() => Promise.reject(new Error("Connection is closed.")), { cluster })
    expect(await settle(ReplicaAcks.decorate(client, acks).set("k", "v"))).toEqual({ error: "Connection is closed." })
  })
})

describe("replicaAcks on a Cluster", () => {
  it("an aborted pipeline (null) fails the write, naming its command", async () => {
    const { client } = scripted(() => Promise.resolve(null), { cluster: true })
    expect(await settle(ReplicaAcks.decorate(client, acks).set("k", "v"))).toEqual({ error: "SET: pipeline aborted" })
  })

  it("writes issued together each get their own pipeline and WAIT", async () => {
    const { client, sent } = scripted(answering([null, 2]), { cluster: true })
    const redis = ReplicaAcks.decorate(client, acks)
    expect(await Promise.all([redis.set("a", "v"), redis.del("b")])).toEqual(["OK", "OK"])
    expect(sent).toEqual([["SET", "WAIT 2 50"], ["DEL", "WAIT 2 50"]])
  })
})

describe("replicaAcks batching (one connection)", () => {
  it("an aborted pipeline (null) fails every write of the batch, naming its command", async () => {
    const { client } = scripted(() => Promise.resolve(null))
    const redis = ReplicaAcks.decorate(client, acks)
    expect(await Promise.all([settle(redis.set("a", "v")), settle(redis.del("b"))])).toEqual([
      { error: "SET: no reply in pipeline" },
      { error: "DEL: no reply in pipeline" }
    ])
  })

  it("the writes of one tick share a pipeline and one WAIT; each gets its own reply and shortfall", async () => {
    const before = shortfalls("SET")
    const { client, sent } = scripted(() =>
      Promise.resolve<Reply>([[null, "OK"], [new Error("WRONGTYPE"), undefined], [null, 7], [null, 0]])
    )
    const redis = ReplicaAcks.decorate(client, acks)
    const results = await Promise.all([
      settle(redis.set("a", "v")),
      settle(redis.set("b", "v")),
      settle(redis.zrem("c", "m"))
    ])
    expect(sent).toEqual([["SET", "SET", "ZREM", "WAIT 2 50"]])
    expect(results).toEqual([{ value: "OK" }, { error: "WRONGTYPE" }, { value: 7 }])
    expect(shortfalls("SET")).toBe(before + 1)
  })

  it("writes issued while a batch waits go out together once it answers, never beside it", async () => {
    let answerFirst = (_: Reply) => {}
    const { client, maxInFlight, sent } = scripted((commands) =>
      sent.length === 1
        ? new Promise<Reply>((resolve) => (answerFirst = resolve))
        : answering([null, 2])(commands)
    )
    const redis = ReplicaAcks.decorate(client, acks)
    const first = redis.set("a", "v")
    await new Promise((resolve) => setTimeout(resolve, 5))
    const later = [redis.del("b"), redis.del("c")]
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(sent).toHaveLength(1)
    answerFirst([[null, "OK"], [null, 2]])
    expect(await Promise.all([first, ...later])).toEqual(["OK", "OK", "OK"])
    expect(sent).toEqual([["SET", "WAIT 2 50"], ["DEL", "DEL", "WAIT 2 50"]])
    expect(maxInFlight()).toBe(1)
  })

  it("a batch never answered holds the next one back for the WAIT timeout plus a margin, then lets it go", async () => {
    const { client, sent } = scripted((commands) =>
      sent.length === 1 ? new Promise<Reply>(() => {}) : answering([null, 2])(commands)
    )
    const redis = ReplicaAcks.decorate(client, acks)
    void redis.set("stalled", "v")
    await new Promise((resolve) => setTimeout(resolve, 5))
    const started = Date.now()
    expect(await redis.set("next", "v")).toBe("OK")
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(50 + 500 - 20)
    expect(waited).toBeLessThan(50 + 500 + 400)
  })

  it("a batch released by its guard and then answered lets only one batch out at a time", async () => {
    let answerFirst = (_: Reply) => {}
    let answerSecond = (_: Reply) => {}
    const { client, maxInFlight, sent } = scripted((commands) =>
      sent.length === 1
        ? new Promise<Reply>((resolve) => (answerFirst = resolve))
        : sent.length === 2
        ? new Promise<Reply>((resolve) => (answerSecond = resolve))
        : answering([null, 2])(commands)
    )
    const redis = ReplicaAcks.decorate(client, { replicas: 1, timeout: Duration.millis(1) })
    const first = redis.set("a", "v")
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = redis.set("b", "v") // released by the first batch's guard, about 500 ms later
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(sent).toHaveLength(2)
    answerFirst([[null, "OK"], [null, 1]]) // the first batch answers while the second is out
    await first
    const third = redis.set("c", "v")
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(sent).toHaveLength(2) // still behind the second batch
    answerSecond([[null, "OK"], [null, 1]])
    expect(await Promise.all([second, third])).toEqual(["OK", "OK"])
    expect(maxInFlight()).toBe(2) // the guard's release, the one overlap it allows
  })

  it("reads and TTL slides are passed to the client untouched", async () => {
    const { client, sent } = scripted(answering([null, 2]))
    const redis = ReplicaAcks.decorate(client, acks)
    await expect(redis.get("k")).rejects.toThrow("not a write")
    await expect(redis.expire("k", 1)).rejects.toThrow("not a write")
    expect(sent).toEqual([])
  })
})

describe("replicaAcks options", () => {
  it.each([
    [{ replicas: 1, timeout: Duration.millis(1) }, undefined],
    [{ replicas: 1, timeout: Duration.micros(999n) }, "replicaAcks.timeout must be at least 1 millisecond"],
    [{ replicas: 1.5, timeout: Duration.millis(10) }, "replicaAcks.replicas must be a whole number ≥ 1, got 1.5"],
    [
      { replicas: 1, timeout: Duration.seconds(1) },
      "replicaAcks.timeout (1s) must be shorter than commandTimeout (1s)"
    ]
  ])("invalid(%o, 1 second) is %s", (options, problem) => {
    expect(ReplicaAcks.invalid(options, Duration.seconds(1))).toBe(problem)
  })

  it("check: no options, or usable ones, pass; unusable ones are a defect with the problem", () => {
    expect(Exit.isSuccess(Effect.runSyncExit(ReplicaAcks.check(undefined, Duration.seconds(1))))).toBe(true)
    expect(Exit.isSuccess(Effect.runSyncExit(ReplicaAcks.check(acks, Duration.seconds(1))))).toBe(true)
    const exit = Effect.runSyncExit(ReplicaAcks.check({ replicas: 0, timeout: Duration.millis(5) }, "1 second"))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("replicaAcks.replicas must be a whole number ≥ 1")
  })

  it("fromConfig: an unusable value is a ConfigError at REDIS_REPLICA_ACKS_TIMEOUT, with the problem", () => {
    const read = ReplicaAcks.fromConfig(RedisClient.replicaAcksConfig, Duration.millis(100)).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_REPLICA_ACKS", "1"]]))),
      Effect.flip,
      Effect.runSync
    )
    expect(read._op).toBe("InvalidData")
    expect(read._op === "InvalidData" && read.path).toEqual(["REDIS_REPLICA_ACKS_TIMEOUT"])
    expect(read._op === "InvalidData" && read.message).toBe(
      "replicaAcks.timeout (100ms) must be shorter than commandTimeout (100ms)"
    )
  })

  it("fromConfig: none stays none, a usable value is read", () => {
    const read = (env: ReadonlyArray<readonly [string, string]>) =>
      ReplicaAcks.fromConfig(RedisClient.replicaAcksConfig, Duration.seconds(1)).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))),
        Effect.runSync
      )
    expect(read([])).toBeUndefined()
    expect(read([["REDIS_REPLICA_ACKS", "2"]])?.replicas).toBe(2)
    expect(Option.isOption(read([]))).toBe(false)
  })
})
