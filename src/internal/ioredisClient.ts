/**
 * `RedisClientShape` over an ioredis client (5 or 6): each command's span,
 * its time bound, and the mapping of every failure to a `SessionStoreError`
 * that carries no key.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import {
  type IoredisClient,
  type MergeResult,
  type MoveResult,
  type PayloadPatch,
  type RedisClientShape,
  SessionStoreError,
  type SetOptions,
  storeErrors
} from "../RedisClient.js"
import * as Tracing from "./tracing.js"

/** Drops the arguments Redis echoes back in some errors (they may contain a key). */
/** @internal */
export const sanitizeMessage = (message: string): string => {
  const withoutArgs = message.replace(/,?\s*with args beginning with:.*$/s, "")
  return withoutArgs.length > 200 ? `${withoutArgs.slice(0, 200)}…` : withoutArgs
}

const errorName = (cause: unknown): string => cause instanceof Error ? cause.name : ""

/** @internal */
export const errorMessage = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const errorCode = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null && "code" in cause) {
    const code: unknown = cause.code
    return typeof code === "string" ? code : ""
  }
  return ""
}

const classify = (cause: unknown): SessionStoreError["reason"] => {
  const message = errorMessage(cause)
  if (/command timed out/i.test(message)) return "Timeout"
  if (errorName(cause) === "ReplyError") return "Reply"
  // "Connection is closed.", "Stream isn't writeable…", MaxRetriesPerRequestError,
  // ECONNREFUSED / ECONNRESET / EPIPE / ETIMEDOUT (connect) and anything else the
  // client itself raises: the server could not be reached.
  return "Connection"
}

/**
 * A driver failure's detail: its code, then its message without arguments.
 * `redact` sees the whole message, before it is cut short (which could leave part of a secret).
 *
 * @internal
 */
export const errorDetail = (cause: unknown, redact: (message: string) => string = (message) => message): string => {
  const code = errorCode(cause)
  const message = sanitizeMessage(redact(errorMessage(cause)))
  return code !== "" && !message.includes(code) ? `${code}: ${message}` : message
}

/** @internal */
export const toStoreError = (command: string, cause: unknown): SessionStoreError =>
  new SessionStoreError({ command, reason: classify(cause), detail: errorDetail(cause) })

const isUnknownCommand = (cause: unknown): boolean =>
  errorName(cause) === "ReplyError" && /unknown command/i.test(errorMessage(cause))

/** A command's name for errors, and its span (built once per command, not per call). */
/** @internal */
export interface CommandSpan {
  readonly command: string
  readonly traced: <A, E>(self: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/** @internal */
export const commandSpan = (span: string, command: string): CommandSpan => ({
  command,
  traced: Tracing.withSpan(`RedisClient.${span}`, { "db.system": "redis", "db.operation": command })
})

/** Counts a failed command by its name and reason (never its key). */
const countStoreError = (error: SessionStoreError): Effect.Effect<void> =>
  Metric.increment(Metric.tagged(Metric.tagged(storeErrors, "command", error.command), "reason", error.reason))

/** `move`: KEYS = [to, from], ARGV = [value, ttl or ""]; 1 moved, 0 `to` taken, -1 `from` gone. */
const moveScript = `if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local written
if ARGV[2] == '' then written = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else written = redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') end
if not written then return 0 end
redis.call('DEL', KEYS[2])
return 1`

/**
 * `indexAdd`: KEYS = [index], ARGV = [member, score, ttl or ""]. Members
 * whose key is gone are dropped first; the TTL only ever grows.
 */
const indexAddScript = `for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', m) == 0 then redis.call('ZREM', KEYS[1], m) end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if ARGV[3] == '' then redis.call('PERSIST', KEYS[1])
elseif redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1`

/**
 * `mergePayload`: KEYS = [key], ARGV = [ttl or "", rest, n, n pairs of (key
 * literal, value JSON), then key literals to remove]; 1 merged, 0 the key is
 * missing (nothing written), -1 the stored value is no JSON object with an
 * object `m` (nothing written). Untouched members of `m` are copied as raw
 * text: cjson would re-encode them lossily (14 significant digits, `[]` as
 * `{}`, `/` escaped). cjson only decodes key literals. The same steps as
 * `payloadMerge.applyPatch`.
 */
const mergeScript = String.raw`local s = redis.call('GET', KEYS[1])
if not s then return 0 end
local find, byte, sub = string.find, string.byte, string.sub
local function ws(i) return find(s, '[^ \t\r\n]', i) end
local function strEnd(i)
  local j = i + 1
  while true do
    local k = find(s, '["\\]', j)
    if not k then return nil end
    if byte(s, k) == 34 then return k end
    j = k + 2
  end
end
local function valEnd(i)
  local c = byte(s, i)
  if c == 34 then return strEnd(i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local k = find(s, '[%[%]{}"]', j)
      if not k then return nil end
      local b = byte(s, k)
      if b == 34 then
        local e = strEnd(k)
        if not e then return nil end
        j = e + 1
      elseif b == 123 or b == 91 then depth = depth + 1; j = k + 1
      else
        depth = depth - 1
        if depth == 0 then return k end
        j = k + 1
      end
    end
  end
  if not find(s, '^[-0-9tfn]', i) then return nil end
  local k = find(s, '[ \t\r\n,}%]]', i)
  if not k then return nil end
  return k - 1
end
local function members(i)
  local out = {}
  local j = ws(i + 1)
  if not j then return nil end
  if byte(s, j) == 125 then return out end
  while true do
    if byte(s, j) ~= 34 then return nil end
    local ke = strEnd(j)
    if not ke then return nil end
    local c = ws(ke + 1)
    if not c or byte(s, c) ~= 58 then return nil end
    local vs = ws(c + 1)
    if not vs then return nil end
    local ve = valEnd(vs)
    if not ve then return nil end
    out[#out + 1] = {j, ke, vs, ve}
    local n = ws(ve + 1)
    if not n then return nil end
    local b = byte(s, n)
    if b == 125 then return out end
    if b ~= 44 then return nil end
    j = ws(n + 1)
    if not j then return nil end
  end
end
local function key(lit)
  if not find(lit, '\\', 1, true) then return sub(lit, 2, -2) end
  local ok, k = pcall(cjson.decode, lit)
  if ok and type(k) == 'string' then return k end
  return nil
end
local start = ws(1)
if not start or byte(s, start) ~= 123 then return -1 end
local top = members(start)
if not top then return -1 end
local m
for _, t in ipairs(top) do
  if key(sub(s, t[1], t[2])) == 'm' then m = t; break end
end
if not m or byte(s, m[3]) ~= 123 then return -1 end
local data = members(m[3])
if not data then return -1 end
local change, literal, order = {}, {}, {}
local n = tonumber(ARGV[3])
for a = 4 + 2 * n, #ARGV do
  local k = key(ARGV[a])
  if k then change[k] = false; literal[k] = ARGV[a] end
end
for a = 4, 3 + 2 * n, 2 do
  local k = key(ARGV[a])
  if k then
    if change[k] == nil then order[#order + 1] = k end
    change[k] = ARGV[a + 1]; literal[k] = ARGV[a]
  end
end
local out, written = {}, {}
for _, d in ipairs(data) do
  local lit = sub(s, d[1], d[2])
  local k = key(lit)
  local c = nil
  if k then c = change[k] end
  if c == nil then out[#out + 1] = lit .. ':' .. sub(s, d[3], d[4])
  elseif c and not written[k] then written[k] = true; out[#out + 1] = literal[k] .. ':' .. c end
end
for _, k in ipairs(order) do
  if not written[k] then out[#out + 1] = literal[k] .. ':' .. change[k] end
end
local merged = '{"m":{' .. table.concat(out, ',') .. '}' .. ARGV[2]
if ARGV[1] == '' then redis.call('SET', KEYS[1], merged)
else redis.call('SET', KEYS[1], merged, 'EX', ARGV[1]) end
return 1`

/** The script's SHA-1, for `EVALSHA`. */
const mergeScriptSha = createHash("sha1").update(mergeScript).digest("hex")

const spans = {
  get: commandSpan("get", "GET"),
  getEx: commandSpan("getEx", "GETEX"),
  getExFallback: commandSpan("getEx", "GET+EXPIRE"),
  set: commandSpan("set", "SET"),
  expire: commandSpan("expire", "EXPIRE"),
  del: commandSpan("del", "DEL"),
  ttl: commandSpan("ttl", "TTL"),
  move: commandSpan("move", "EVAL"),
  getMany: commandSpan("getMany", "MGET"),
  indexAdd: commandSpan("indexAdd", "EVAL"),
  indexMembers: commandSpan("indexMembers", "ZRANGE"),
  indexRemove: commandSpan("indexRemove", "ZREM"),
  mergePayload: commandSpan("mergePayload", "EVALSHA")
}

/** Another command tried after a failure (its errors are reported under its own name). */
/** @internal */
export interface Retry<A> {
  readonly command: string
  readonly attempt: Promise<A>
}

/** Runs one command: its span, its time bound, its failure as a `SessionStoreError`. */
/** @internal */
export type Run = <A, B>(
  span: CommandSpan,
  evaluate: () => Promise<A>,
  map: (a: A) => B,
  recover?: (cause: unknown) => Retry<A> | undefined
) => Effect.Effect<B, SessionStoreError>

/**
 * Every command fails with a `SessionStoreError` (never a defect), and with
 * reason `Timeout` once `commandTimeout` has passed since it was issued: the
 * bound is enforced here, not by the driver, because a driver's timer starts
 * only when the command is written, and with auto-pipelining a command can
 * wait behind a stalled batch for a whole timeout before that.
 */
/** @internal */
export const runner = (commandTimeout: Duration.DurationInput): Run => {
  const timeout = Duration.decode(commandTimeout)
  // setTimeout takes 1 ms to 2^31 - 1 ms (it treats anything longer as 1 ms)
  const timeoutMillis = Math.min(Math.max(1, Math.round(Duration.toMillis(timeout))), 2 ** 31 - 1)
  const timeoutDetail = `no reply within ${Duration.format(timeout)}`

  /**
   * One command. ioredis's own promise settles the effect (no extra promise
   * per command), and so does a plain timer: `Effect.timeoutFail` forks two
   * fibers per command, which costs more than the round trip it bounds. The
   * first of reply and timer wins and clears the other. No canceler: an
   * interrupted fiber ignores a late resume, and the reply or the timer still
   * ends the other. `recover` may answer a failure with another attempt
   * (another command) within the same bound.
   */
  const run: Run = <A, B>(
    { command, traced }: CommandSpan,
    evaluate: () => Promise<A>,
    map: (a: A) => B,
    recover?: (cause: unknown) => Retry<A> | undefined
  ): Effect.Effect<B, SessionStoreError> =>
    traced(Effect.async<B, SessionStoreError>((resume) => {
      let settled = false
      const settle = (result: Effect.Effect<B, SessionStoreError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(result)
      }
      const fail = (error: SessionStoreError) => settle(Effect.zipRight(countStoreError(error), Effect.fail(error)))
      const timer = setTimeout(
        () => fail(new SessionStoreError({ command, reason: "Timeout", detail: timeoutDetail })),
        timeoutMillis
      )
      const succeeded = (value: A) => settle(Effect.succeed(map(value)))
      const failed = (cause: unknown) => fail(toStoreError(command, cause))
      const rejected = recover === undefined ? failed : (cause: unknown) => {
        const retry = settled ? undefined : recover(cause)
        if (retry === undefined) return failed(cause)
        retry.attempt.then(succeeded, (retryCause: unknown) => fail(toStoreError(retry.command, retryCause)))
      }
      try {
        evaluate().then(succeeded, rejected)
      } catch (cause) {
        rejected(cause)
      }
    }))
  return run
}

/** Builds the service from an ioredis client (a single server, or a Sentinel-managed master). */
/** @internal */
export const fromIoredis = (client: IoredisClient, commandTimeout: Duration.DurationInput): RedisClientShape => {
  const run = runner(commandTimeout)

  const reply = (command: string, result: [error: Error | null, value: unknown] | undefined): unknown => {
    if (result === undefined) {
      throw new Error(`${command}: no reply in pipeline`)
    }
    if (result[0] !== null) throw result[0]
    return result[1]
  }

  // `GETEX` exists since Redis 6.2; older servers get a pipelined GET + EXPIRE.
  let getExSupported = true

  const getExFallback = async (key: string, ttlSeconds: number): Promise<string | null> => {
    const results = await client.pipeline().get(key).expire(key, ttlSeconds).exec()
    if (results === null) throw new Error("Pipeline aborted")
    const value = reply("GET", results[0])
    reply("EXPIRE", results[1])
    return typeof value === "string" ? value : null
  }

  /** The first "unknown command" reply switches this client to the fallback for good. */
  const getExRecovery = (key: string, ttlSeconds: number) => (cause: unknown): Retry<string | null> | undefined => {
    if (!isUnknownCommand(cause)) return undefined
    getExSupported = false
    return { command: "GET+EXPIRE", attempt: getExFallback(key, ttlSeconds) }
  }

  const set = (key: string, value: string, options?: SetOptions): Promise<"OK" | null> => {
    const ttl = options?.ttlSeconds
    switch (options?.condition) {
      case "NX":
        return ttl === undefined ? client.set(key, value, "NX") : client.set(key, value, "EX", ttl, "NX")
      case "XX":
        return ttl === undefined ? client.set(key, value, "XX") : client.set(key, value, "EX", ttl, "XX")
      case undefined:
        return ttl === undefined ? client.set(key, value) : client.set(key, value, "EX", ttl)
    }
  }

  const moveResult = (reply: unknown): MoveResult => reply === 1 ? "Moved" : reply === 0 ? "Taken" : "Gone"

  /** `EVALSHA`; a server without the script (restarted, `SCRIPT FLUSH`) gets it once by `EVAL`. */
  const mergeArgs = (key: string, patch: PayloadPatch, ttlSeconds: number | undefined) => [
    key,
    ttlSeconds ?? "",
    patch.rest,
    patch.set.length,
    ...patch.set.flat(),
    ...patch.remove
  ]
  const mergeRecovery = (args: ReadonlyArray<string | number>) => (cause: unknown): Retry<unknown> | undefined =>
    errorName(cause) === "ReplyError" && errorMessage(cause).startsWith("NOSCRIPT")
      ? { command: "EVAL", attempt: client.eval(mergeScript, 1, ...args) }
      : undefined
  const mergeResult = (reply: unknown): MergeResult => reply === 1 ? "Merged" : reply === 0 ? "Gone" : "Unreadable"

  const isOk = (reply: "OK" | null) => reply === "OK"
  const isOne = (reply: number) => reply === 1
  const same = (reply: number) => reply

  return {
    get: (key) => run(spans.get, () => client.get(key), Option.fromNullable),
    getEx: (key, ttlSeconds) =>
      getExSupported
        ? run(
          spans.getEx,
          () => client.getex(key, "EX", ttlSeconds),
          Option.fromNullable,
          getExRecovery(key, ttlSeconds)
        )
        : run(spans.getExFallback, () => getExFallback(key, ttlSeconds), Option.fromNullable),
    set: (key, value, options) => run(spans.set, () => set(key, value, options), isOk),
    expire: (key, ttlSeconds) => run(spans.expire, () => client.expire(key, ttlSeconds), isOne),
    del: (key) => run(spans.del, () => client.del(key), isOne),
    ttl: (key) => run(spans.ttl, () => client.ttl(key), same),
    move: (from, to, value, options) =>
      run(spans.move, () => client.eval(moveScript, 2, to, from, value, options?.ttlSeconds ?? ""), moveResult),
    getMany: (keys) =>
      keys.length === 0
        ? Effect.succeed([])
        : run(spans.getMany, () => client.mget(...keys), (values) => values.map((v) => Option.fromNullable(v))),
    indexAdd: (index, member, score, ttlSeconds) =>
      run(
        spans.indexAdd,
        () => client.eval(indexAddScript, 1, index, member, score, ttlSeconds ?? ""),
        () => undefined
      ),
    indexMembers: (index) => run(spans.indexMembers, () => client.zrange(index, 0, -1), (members) => members),
    indexRemove: (index, members) =>
      members.length === 0
        ? Effect.void
        : run(spans.indexRemove, () => client.zrem(index, ...members), () => undefined),
    mergePayload: (key, patch, options) => {
      const args = mergeArgs(key, patch, options?.ttlSeconds)
      return run(
        spans.mergePayload,
        (): Promise<unknown> => client.evalsha(mergeScriptSha, 1, ...args),
        mergeResult,
        mergeRecovery(args)
      )
    }
  }
}
