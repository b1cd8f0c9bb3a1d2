/**
 * `replicaAcks`: every write that changes a session's content or existence
 * is followed by `WAIT replicas timeout` in the same pipeline, on the same
 * connection, so it costs no extra round trip (the two commands leave in one
 * write; `WAIT` answers once enough replicas have acknowledged everything the
 * connection wrote before it, or at the timeout).
 *
 * Decorates the ioredis client rather than the service, so spans, time bounds
 * and error mapping stay `fromIoredis`'s own. On a Cluster the pipeline goes to
 * the master of the write's slot (`WAIT` has no key), so it waits for that
 * master's replicas.
 *
 * Which writes wait: `SET`, `DEL`, the `move` and `indexAdd` scripts (`EVAL`)
 * and `ZREM`. TTL slides (`GETEX`, `EXPIRE`) don't: losing one at a failover
 * only moves an expiry back to where it was a moment earlier.
 *
 * A shortfall (fewer replicas within the timeout, or `WAIT` refused) does not
 * fail the write: it is already applied on the master, and will reach the
 * replicas unless the master dies first. Failing the request would answer 503
 * for a write that stands, and would turn the loss of a replica into an outage
 * of every write. It is counted in `session_replica_ack_shortfall_total`.
 */
import type * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import type { IoredisClient, RedisClient, ReplicaAcksOptions } from "../RedisClient.js"
import { replicaAckShortfalls } from "../RedisClient.js"

type ReplicaAcks = ReplicaAcksOptions

type PipelineReply = Array<[error: Error | null, result: unknown]> | null

/** What this module needs of an ioredis pipeline (a `Redis` or `Cluster` one). */
interface AckPipeline {
  set(...args: Array<string | number>): AckPipeline
  del(key: string): AckPipeline
  eval(script: string, numKeys: number, ...args: Array<string | number>): AckPipeline
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): AckPipeline
  zrem(key: string, ...members: Array<string>): AckPipeline
  wait(replicas: number, timeoutMillis: number): AckPipeline
  exec(): Promise<PipelineReply>
}

/** An ioredis client whose pipelines can `WAIT`: `Redis` and `Cluster` of ioredis 5 and 6. */
/** @internal */
export type AckClient = IoredisClient & { readonly pipeline: () => unknown }

/** The bad option, in words; undefined when the options are usable with `commandTimeout`. */
/** @internal */
export const invalid = (acks: ReplicaAcks, commandTimeout: Duration.DurationInput): string | undefined => {
  const timeout = Duration.decode(acks.timeout)
  if (!Number.isInteger(acks.replicas) || acks.replicas < 1) {
    return `replicaAcks.replicas must be a whole number ≥ 1, got ${acks.replicas}`
  }
  if (Duration.toMillis(timeout) < 1) return "replicaAcks.timeout must be at least 1 millisecond"
  if (Duration.greaterThanOrEqualTo(timeout, Duration.decode(commandTimeout))) {
    return `replicaAcks.timeout (${Duration.format(timeout)}) must be shorter than commandTimeout (${
      Duration.format(Duration.decode(commandTimeout))
    })`
  }
  return undefined
}

const releaseMarginMillis = 500

const shortfall = (command: string): void =>
  replicaAckShortfalls.unsafeUpdate(1, [MetricLabel.make("command", command)])

/**
 * The client with its writes followed by `WAIT`. Reads and TTL slides go to
 * the client untouched.
 */
/** @internal */
export const decorate = (client: AckClient, acks: ReplicaAcks): IoredisClient => {
  const timeoutMillis = Math.max(1, Math.round(Duration.toMillis(Duration.decode(acks.timeout))))
  const replicas = acks.replicas
  // ioredis types `pipeline()` per client class; every one has the commands above.
  const pipeline = () => client.pipeline() as unknown as AckPipeline

  /** One `WAIT` after one write (a Cluster: each write's pipeline goes to its own slot's master). */
  const alone = async (command: string, queue: (pipeline: AckPipeline) => AckPipeline): Promise<unknown> => {
    const results = await queue(pipeline()).wait(replicas, timeoutMillis).exec()
    if (results === null) throw new Error(`${command}: pipeline aborted`)
    const [write, wait] = results
    if (write === undefined) throw new Error(`${command}: no reply in pipeline`)
    if (write[0] !== null) throw write[0]
    if (!acknowledged(wait)) shortfall(command)
    return write[1]
  }

  const acknowledged = (wait: [Error | null, unknown] | undefined): boolean =>
    wait !== undefined &&
    // Stryker disable next-line ConditionalExpression: a reply with an error carries no result, so the number check repeats it
    wait[0] === null &&
    typeof wait[1] === "number" && wait[1] >= replicas

  interface Pending {
    readonly command: string
    readonly queue: (pipeline: AckPipeline) => AckPipeline
    readonly resolve: (value: unknown) => void
    readonly reject: (cause: unknown) => void
  }
  let pending: Array<Pending> = []
  let inFlight = false

  /**
   * Group commit (one connection): the writes issued while a batch waits go
   * out together, followed by one `WAIT`, once it answers. `WAIT` blocks its
   * connection until it answers, so one per write would queue every command
   * behind every write's wait (with the replicas gone, `timeout` per write, one
   * after the other); one batch at a time bounds any command's extra wait to
   * about two `timeout`s.
   */
  const flush = (): void => {
    const batch = pending
    pending = []
    inFlight = true
    const p = pipeline()
    for (const write of batch) write.queue(p)
    // A batch that a stalled server never answers fails by the callers' own time bound; the next
    // batch need not wait for it any longer than its WAIT could take, plus a round trip's margin.
    let released = false
    const release = () => {
      if (released) return
      released = true
      clearTimeout(guard)
      inFlight = false
      if (pending.length > 0) flush()
    }
    const guard = setTimeout(release, timeoutMillis + releaseMarginMillis)
    p.wait(replicas, timeoutMillis).exec().then(
      (results) => {
        const wait = results?.[batch.length]
        const short = !acknowledged(wait)
        batch.forEach((write, i) => {
          const result = results?.[i]
          if (result === undefined) write.reject(new Error(`${write.command}: no reply in pipeline`))
          else if (result[0] !== null) write.reject(result[0])
          else {
            if (short) shortfall(write.command)
            write.resolve(result[1])
          }
        })
      },
      (cause: unknown) => batch.forEach((write) => write.reject(cause))
    ).finally(release)
  }

  const grouped = (command: string, queue: (pipeline: AckPipeline) => AckPipeline): Promise<unknown> =>
    new Promise((resolve, reject) => {
      pending.push({ command, queue, resolve, reject })
      // the writes of this tick join the batch; a batch in flight takes the next ones when it answers
      // (only a release flushes besides this tick, and only while a batch is in flight: nothing can
      // empty `pending` or start a batch before the tick runs)
      if (!inFlight && pending.length === 1) process.nextTick(flush)
    })

  const written = "isCluster" in client && client.isCluster === true ? alone : grouped

  // The overloads of ioredis's `set`, `del`, `eval`, `evalsha` and `zrem` all end up as
  // a flat argument list; the results keep their types (the same commands run).
  const overrides = {
    set: (...args: Array<string | number>) => written("SET", (p) => p.set(...args)),
    del: (key: string) => written("DEL", (p) => p.del(key)),
    eval: (script: string, numKeys: number, ...args: Array<string | number>) =>
      written("EVAL", (p) => p.eval(script, numKeys, ...args)),
    evalsha: (sha: string, numKeys: number, ...args: Array<string | number>) =>
      written("EVALSHA", (p) => p.evalsha(sha, numKeys, ...args)),
    zrem: (key: string, ...members: Array<string>) => written("ZREM", (p) => p.zrem(key, ...members))
  } as unknown as Pick<IoredisClient, "set" | "del" | "eval" | "evalsha" | "zrem">

  return {
    get: client.get.bind(client),
    getex: client.getex.bind(client),
    expire: client.expire.bind(client),
    ttl: client.ttl.bind(client),
    mget: client.mget.bind(client),
    zrange: client.zrange.bind(client),
    pipeline: client.pipeline.bind(client),
    ...overrides
  }
}

/** `acks` checked against `commandTimeout`: a defect when unusable (a programming error). */
/** @internal */
export const check = (
  acks: ReplicaAcks | undefined,
  commandTimeout: Duration.DurationInput
): Effect.Effect<void> => {
  const problem = acks === undefined ? undefined : invalid(acks, commandTimeout)
  return problem === undefined ? Effect.void : Effect.dieMessage(problem)
}

/** The client, decorated when `acks` is set. */
/** @internal */
export const apply = (client: AckClient, acks: ReplicaAcks | undefined): IoredisClient =>
  acks === undefined ? client : decorate(client, acks)

/** Reads `replicaAcks` from configuration; unusable values are a `ConfigError`. */
/** @internal */
export const fromConfig = (
  config: Config.Config<Option.Option<ReplicaAcks>>,
  commandTimeout: Duration.DurationInput
): Effect.Effect<ReplicaAcks | undefined, ConfigError.ConfigError> =>
  Effect.flatMap(config, (acks) => {
    const problem = Option.isNone(acks) ? undefined : invalid(acks.value, commandTimeout)
    return problem === undefined
      ? Effect.succeed(Option.getOrUndefined(acks))
      : Effect.fail(ConfigError.InvalidData(["REDIS_REPLICA_ACKS_TIMEOUT"], problem))
  })

/** A `layerFrom…` layer over `client`, decorated when `options.replicaAcks` is set (a defect when unusable). */
/** @internal */
export const layer = (
  client: IoredisClient,
  options: {
    readonly commandTimeout?: Duration.DurationInput | undefined
    readonly replicaAcks?: ReplicaAcks | undefined
  },
  defaultCommandTimeout: Duration.DurationInput,
  build: (client: IoredisClient, commandTimeout: Duration.DurationInput) => Layer.Layer<RedisClient>
): Layer.Layer<RedisClient> => {
  const commandTimeout = options.commandTimeout ?? defaultCommandTimeout
  const problem = options.replicaAcks === undefined ? undefined : invalid(options.replicaAcks, commandTimeout)
  return problem === undefined
    ? build(apply(client, options.replicaAcks), commandTimeout)
    : Layer.die(new Error(problem))
}
