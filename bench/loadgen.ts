/**
 * The load generator of `bench/http.ts`, run as a child process (`fork`) so
 * that it does not compete with the server for the server's event loop.
 *
 * A bounded, autocannon-like closed loop: `connections` keep-alive
 * connections, each sending its next request as soon as the previous
 * response has been read, until `durationMs` has passed. Connection `i` sends
 * `cookies[i % cookies.length]` (if any). Keep-alive agents live across runs,
 * so a warm-up run leaves its connections open for the measured run.
 */
import * as http from "node:http"
import { performance } from "node:perf_hooks"

export interface RunRequest {
  readonly id: number
  readonly host: string
  readonly port: number
  /** `{i}` in it becomes the connection's index (one user name per connection, say). */
  readonly path: string
  readonly cookies: ReadonlyArray<string>
  readonly connections: number
  readonly durationMs: number
  /**
   * A cookie jar per connection: a `Set-Cookie` of this name replaces the
   * connection's cookie (as a browser would), so a session whose id changes
   * (login) keeps being sent. Without it, every request sends the same cookie.
   */
  readonly followCookie?: string | undefined
}

export interface RunResult {
  readonly id: number
  readonly requests: number
  /** Responses with status 200. */
  readonly ok: number
  /** Other statuses, by status. */
  readonly statuses: Readonly<Record<string, number>>
  /** Socket errors. */
  readonly errors: number
  readonly elapsedMs: number
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p99: number; readonly max: number }
  /** Each connection's cookie at the end (with `followCookie`: the last one the server set). */
  readonly cookies: ReadonlyArray<string>
}

const agents = new Map<number, http.Agent>()

const agentFor = (port: number, connections: number): http.Agent => {
  let agent = agents.get(port)
  if (agent === undefined) {
    agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
    agents.set(port, agent)
  }
  return agent
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Replaces `headers.cookie` with the `name=` cookie of `setCookie`, if there is one. */
const follow = (headers: http.OutgoingHttpHeaders, setCookie: ReadonlyArray<string> | undefined, name: string) => {
  const cookie = setCookie?.find((c) => c.startsWith(`${name}=`))?.split(";")[0]
  if (cookie !== undefined) headers["cookie"] = cookie
}

const run = async (task: RunRequest): Promise<RunResult> => {
  const pathOf = (i: number) => task.path.replaceAll("{i}", String(i))
  const agent = agentFor(task.port, task.connections)
  const statuses: Record<string, number> = {}
  const latencies: Array<number> = []
  let ok = 0
  let errors = 0

  const once = (path: string, headers: http.OutgoingHttpHeaders): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now()
      const req = http.request(
        { agent, host: task.host, port: task.port, path, method: "GET", headers },
        (res) => {
          res.on("data", () => {})
          res.on("end", () => {
            latencies.push(performance.now() - started)
            if (task.followCookie !== undefined) follow(headers, res.headers["set-cookie"], task.followCookie)
            if (res.statusCode === 200) ok++
            else statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1
            resolve()
          })
          res.on("error", () => {
            errors++
            resolve()
          })
        }
      )
      req.on("error", () => {
        errors++
        resolve()
      })
      req.end()
    })

  const started = performance.now()
  const deadline = started + task.durationMs
  const finalCookies: Array<string> = []
  const connection = async (i: number) => {
    const cookie = task.cookies.length === 0 ? undefined : task.cookies[i % task.cookies.length]
    const headers: http.OutgoingHttpHeaders = cookie === undefined ? {} : { cookie }
    finalCookies[i] = cookie ?? ""
    const path = pathOf(i)
    while (performance.now() < deadline) await once(path, headers)
    finalCookies[i] = typeof headers["cookie"] === "string" ? headers["cookie"] : ""
  }
  await Promise.all(Array.from({ length: task.connections }, (_, i) => connection(i)))
  const elapsedMs = performance.now() - started

  const sorted = Float64Array.from(latencies).sort()
  const sum = latencies.reduce((a, b) => a + b, 0)
  return {
    id: task.id,
    requests: latencies.length + errors,
    ok,
    statuses,
    errors,
    elapsedMs,
    cookies: task.cookies.length === 0 ? [] : finalCookies,
    latencyMs: {
      mean: latencies.length === 0 ? 0 : sum / latencies.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1] ?? 0
    }
  }
}

if (process.send !== undefined) {
  process.on("message", (task: RunRequest) => {
    void run(task).then((result) => process.send?.(result))
  })
  // the parent went away (finished, crashed or was killed): don't outlive it
  process.on("disconnect", () => {
    for (const agent of agents.values()) agent.destroy()
    process.exit(0)
  })
}
