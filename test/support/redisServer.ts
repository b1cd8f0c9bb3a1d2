/**
 * A private `redis-server` per test file, on a free port of 127.0.0.1,
 * without persistence. Admin commands go over a tiny raw RESP client (one
 * short connection per command) and are left out of `commandstats()`, so a
 * test counts only what the code under test sent.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { accessSync, constants, readFileSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { IoredisClient } from "../../src/RedisClient.js"

export interface RedisServerHarness {
  readonly port: number
  /** What the harness authenticates its own commands with (`AUTH`), if the server requires it. */
  readonly password: string | undefined
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The pid of the running server (undefined while stopped). */
  readonly pid: number | undefined
  readonly running: boolean
  /** SIGTERM, then wait for the process to exit (SIGKILL after 2 s). */
  readonly stop: () => Promise<void>
  /** SIGKILL, then wait for the process to exit. */
  readonly kill: () => Promise<void>
  /** Start again on the same port (stopping first if it is running). */
  readonly restart: () => Promise<void>
  /** SIGSTOP: the server keeps its sockets open but answers nothing. */
  readonly pause: () => void
  /** SIGCONT */
  readonly resume: () => void
  /**
   * `DEBUG SLEEP <seconds>` on a connection of its own: the server is alive but
   * answers nobody until it wakes. Resolves when it does. Needs a server
   * started with `debugCommand: true`.
   */
  readonly debugSleep: (seconds: number) => Promise<void>
  /** Calls per command since the last `resetStats()`, admin commands excluded: `{ get: 3 }`. */
  readonly commandstats: () => Promise<Record<string, number>>
  /** `CONFIG RESETSTAT` */
  readonly resetStats: () => Promise<void>
  /** `FLUSHALL` */
  readonly flushall: () => Promise<void>
  /** `KEYS *`, sorted */
  readonly keys: () => Promise<ReadonlyArray<string>>
  /** The RESP version (2 or 3) of every client connection but the asking one (`CLIENT LIST`). */
  readonly clientProtocols: () => Promise<ReadonlyArray<number>>
}

const notFound =
  "redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"

const adminCommands = new Set([
  "auth",
  "info",
  "config",
  "flushall",
  "keys",
  "ping",
  "client",
  "hello",
  "select",
  "command",
  "debug",
  "quit"
])

const startupTimeoutMillis = 5_000

// Kill every server we started if the test process exits without releasing them.
const children = new Set<ChildProcess>()
let exitHookInstalled = false
const installExitHook = (): void => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on("exit", () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL")
      } catch {
        // already gone
      }
    }
  })
}

const findRedisServer = (): string => {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue
    const candidate = path.join(dir, "redis-server")
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  throw new Error(notFound)
}

/**
 * The first port of the kernel's ephemeral range: outgoing connections take
 * their local ports from it, so a port chosen there by `listen(0)` could be
 * taken by a client socket before redis-server binds it ("Address already in
 * use"). Ports are chosen below it instead.
 */
const ephemeralLow = ((): number => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 12000 ? low : 32768
  } catch {
    return 32768
  }
})()

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.unref()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const handedOut = new Set<number>()

/**
 * A TCP port that nothing listens on (at the moment of asking), outside the
 * ephemeral range and not handed out before by this process.
 */
export const freePort = async (): Promise<number> => {
  for (;;) {
    const port = 10000 + Math.floor(Math.random() * (ephemeralLow - 10000))
    if (handedOut.has(port) || !(await canListen(port))) continue
    handedOut.add(port)
    return port
  }
}

// --- a minimal RESP client -------------------------------------------------

type Reply = string | number | null | ReadonlyArray<Reply>

class RespError extends Error {
  override readonly name = "RespError"
}

const encode = (args: ReadonlyArray<string>): string =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")

/** Parses one reply at `offset`; undefined when the buffer is incomplete. */
const parse = (buf: Buffer, offset: number): { reply: Reply | RespError; next: number } | undefined => {
  const eol = buf.indexOf("\r\n", offset)
  if (eol === -1) return undefined
  const type = String.fromCharCode(buf[offset] ?? 0)
  const line = buf.toString("utf8", offset + 1, eol)
  switch (type) {
    case "+":
      return { reply: line, next: eol + 2 }
    case "-":
      return { reply: new RespError(line), next: eol + 2 }
    case ":":
      return { reply: Number(line), next: eol + 2 }
    case "$": {
      const length = Number(line)
      if (length < 0) return { reply: null, next: eol + 2 }
      const end = eol + 2 + length
      if (buf.length < end + 2) return undefined
      return { reply: buf.toString("utf8", eol + 2, end), next: end + 2 }
    }
    case "*": {
      const count = Number(line)
      if (count < 0) return { reply: null, next: eol + 2 }
      const items: Array<Reply> = []
      let next = eol + 2
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next)
        if (item === undefined) return undefined
        if (item.reply instanceof RespError) return item
        items.push(item.reply)
        next = item.next
      }
      return { reply: items, next }
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`)
  }
}

/**
 * Sends one command on a fresh connection and resolves with its reply; with
 * `password`, `AUTH password` goes first on the same connection (its
 * failure rejects).
 */
export const send = (
  port: number,
  args: ReadonlyArray<string>,
  timeoutMillis = 2_000,
  password?: string
): Promise<Reply> =>
  new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0)
    let settled = false
    // replies still to read: AUTH's (if any), then the command's
    let pending = password === undefined ? 1 : 2
    const socket = net.connect({ port, host: "127.0.0.1" })
    const finish = (error: Error | undefined, reply?: Reply) => {
      if (settled) return
      settled = true
      socket.destroy()
      if (error !== undefined) reject(error)
      else resolve(reply ?? null)
    }
    socket.setTimeout(timeoutMillis, () => finish(new Error(`${args[0]}: no reply within ${timeoutMillis} ms`)))
    socket.once("error", (error) => finish(error))
    socket.once("close", () => finish(new Error(`${args[0]}: connection closed`)))
    socket.once(
      "connect",
      () => socket.write((password === undefined ? "" : encode(["AUTH", password])) + encode(args))
    )
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const parsed = parse(buffer, 0)
        if (parsed === undefined) return
        buffer = buffer.subarray(parsed.next)
        pending--
        if (parsed.reply instanceof RespError) return finish(parsed.reply)
        if (pending === 0) return finish(undefined, parsed.reply)
      }
    })
  })

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** `cmdstat_get:calls=3,usec=…` → `{ get: 3 }`, admin commands left out. */
export const parseCommandstats = (info: string): Record<string, number> => {
  const stats: Record<string, number> = {}
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match === null) continue
    const [, name, calls] = match
    if (name === undefined || calls === undefined) continue
    const base = name.split("|")[0] ?? name
    if (adminCommands.has(base)) continue
    stats[name] = (stats[name] ?? 0) + Number(calls)
  }
  return stats
}

// --- the harness -----------------------------------------------------------

/** Redis ≥ 7 refuses `DEBUG` unless started with `--enable-debug-command`; older servers reject that flag. */
const debugCommandArgs = (executable: string): ReadonlyArray<string> => {
  const version = /v=(\d+)\./.exec(execFileSync(executable, ["--version"], { encoding: "utf8" }))
  return Number(version?.[1] ?? 0) >= 7 ? ["--enable-debug-command", "yes"] : []
}

/**
 * Starts a private redis-server and resolves once it answers PING. `args` are
 * appended to the command line (e.g. `["--rename-command", "GETEX", ""]`);
 * `debugCommand` allows `DEBUG` (for `debugSleep`).
 */
export const startRedisServer = async (
  options: {
    readonly args?: ReadonlyArray<string>
    readonly debugCommand?: boolean
    /** A port of the caller's choosing instead of a free one. */
    readonly port?: number
    /** Run as a sentinel (`redis-server <file> --sentinel`) with this writable config file. */
    readonly sentinelConfig?: string
    /**
     * Sent with `AUTH` before each of the harness's own commands (the
     * readiness `PING` included); the caller makes the server require it
     * (`--requirepass`, or `requirepass` in a sentinel's file).
     */
    readonly password?: string
  } = {}
): Promise<RedisServerHarness> => {
  const executable = findRedisServer()
  installExitHook()
  const port = options.port ?? await freePort()
  const password = options.password
  const admin = (args: ReadonlyArray<string>, timeoutMillis?: number) => send(port, args, timeoutMillis, password)
  const extraArgs = [...(options.debugCommand === true ? debugCommandArgs(executable) : []), ...(options.args ?? [])]
  let child: ChildProcess | undefined

  const spawnServer = async (): Promise<void> => {
    const output: Array<string> = []
    const listen = ["--port", String(port), "--bind", "127.0.0.1", "--daemonize", "no"]
    const proc = spawn(
      executable,
      options.sentinelConfig === undefined
        ? [...listen, "--save", "", "--appendonly", "no", ...extraArgs]
        : [options.sentinelConfig, "--sentinel", ...listen, ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    children.add(proc)
    child = proc
    proc.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()))
    proc.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()))
    let exited: string | undefined
    let spawnError: Error | undefined
    proc.once("error", (error) => {
      spawnError = error
    })
    proc.once("exit", (code, signal) => {
      children.delete(proc)
      exited = `exited with ${signal ?? code}`
      if (child === proc) child = undefined
    })

    const deadline = Date.now() + startupTimeoutMillis
    for (;;) {
      if (spawnError !== undefined) {
        throw "code" in spawnError && spawnError.code === "ENOENT" ? new Error(notFound) : spawnError
      }
      if (exited !== undefined) {
        throw new Error(`redis-server on port ${port} ${exited} during startup:\n${output.join("")}`)
      }
      try {
        if ((await admin(["PING"], 200)) === "PONG") return
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL")
        throw new Error(
          `redis-server on port ${port} did not answer PING within ${startupTimeoutMillis} ms:\n${output.join("")}`
        )
      }
      await sleep(25)
    }
  }

  const waitForExit = (proc: ChildProcess, escalateAfterMillis: number | undefined): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        resolve()
        return
      }
      const timer = escalateAfterMillis === undefined
        ? undefined
        : setTimeout(() => proc.kill("SIGKILL"), escalateAfterMillis)
      proc.once("exit", () => {
        if (timer !== undefined) clearTimeout(timer)
        resolve()
      })
    })

  const terminate = async (signal: "SIGTERM" | "SIGKILL"): Promise<void> => {
    const proc = child
    if (proc === undefined) return
    child = undefined
    if (signal === "SIGTERM") proc.kill("SIGCONT") // a paused server cannot handle SIGTERM
    proc.kill(signal)
    await waitForExit(proc, signal === "SIGTERM" ? 2_000 : undefined)
  }

  const signal = (name: "SIGSTOP" | "SIGCONT") => {
    if (child === undefined) throw new Error(`redis-server on port ${port} is not running`)
    child.kill(name)
  }

  await spawnServer()

  return {
    port,
    password,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    get running() {
      return child !== undefined
    },
    stop: () => terminate("SIGTERM"),
    kill: () => terminate("SIGKILL"),
    restart: async () => {
      await terminate("SIGTERM")
      await spawnServer()
    },
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    debugSleep: async (seconds) => {
      await admin(["DEBUG", "SLEEP", String(seconds)], seconds * 1000 + 2_000)
    },
    commandstats: async () => {
      const info = await admin(["INFO", "commandstats"])
      if (typeof info !== "string") throw new Error("INFO: unexpected reply")
      return parseCommandstats(info)
    },
    resetStats: async () => {
      await admin(["CONFIG", "RESETSTAT"])
    },
    flushall: async () => {
      await admin(["FLUSHALL"])
    },
    keys: async () => {
      const keys = await admin(["KEYS", "*"])
      if (!Array.isArray(keys)) throw new Error("KEYS: unexpected reply")
      return keys.map(String).sort()
    },
    clientProtocols: async () => {
      const list = await admin(["CLIENT", "LIST"])
      if (typeof list !== "string") throw new Error("CLIENT LIST: unexpected reply")
      return list.split("\n")
        .filter((line) => line !== "" && !line.includes("cmd=client|list"))
        .map((line) => Number(/ resp=(\d+)/.exec(line)?.[1]))
    }
  }
}

/** The private redis-server of a test file. */
export class RedisServer extends Context.Tag("test/RedisServer")<RedisServer, RedisServerHarness>() {}

/** Starts the server when the layer is built and stops it when it is released. */
export const layerRedisServerWith = (
  options: Parameters<typeof startRedisServer>[0] = {}
): Layer.Layer<RedisServer> =>
  Layer.scoped(
    RedisServer,
    Effect.acquireRelease(
      Effect.promise(() => startRedisServer(options)),
      (server) => Effect.promise(() => server.stop())
    )
  )

/** A plain server (no extra options). */
export const layerRedisServer: Layer.Layer<RedisServer> = layerRedisServerWith()

/** What the tests use of an ioredis class: `Redis` of ioredis 5 and of ioredis 6 both fit. */
export type IoredisClass = new(url: string, options: {
  readonly lazyConnect: boolean
  readonly enableOfflineQueue: boolean
  readonly maxRetriesPerRequest: number
  readonly enableAutoPipelining?: boolean
}) => IoredisClient & {
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  on(event: "error", listener: (error: Error) => void): unknown
}
