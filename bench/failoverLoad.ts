/**
 * The load generator of `bench/failover.ts`, run as a child process (`fork`)
 * so that its timings don't depend on the server's event loop.
 *
 * `clients` virtual clients, each with its own keep-alive connection and its
 * own session cookie (taken from the first response, updated whenever a
 * response sets another), send in a closed loop, at random, `GET /api/read`
 * or `GET /api/incr`, until `durationMs` has passed. Every request is
 * recorded; a request without an answer after `hangMillis` is abandoned and
 * recorded with status -1.
 */
import * as http from "node:http"

export interface LoadRequest {
  readonly port: number
  readonly clients: number
  readonly durationMs: number
  readonly hangMillis: number
}

/** One request: which client, which route, when (epoch ms), status (0: socket error, -1: no answer), `n` in the body. */
export interface RequestRecord {
  readonly client: number
  readonly incr: boolean
  readonly start: number
  readonly end: number
  readonly status: number
  readonly retryAfter: string | undefined
  readonly n: number | null | undefined
}

export type LoadMessage =
  | { readonly _tag: "Started"; readonly at: number }
  | { readonly _tag: "Done"; readonly records: ReadonlyArray<RequestRecord> }

const once = (
  agent: http.Agent,
  port: number,
  path: string,
  cookie: string | undefined,
  hangMillis: number
): Promise<{ status: number; retryAfter: string | undefined; cookie: string | undefined; body: string }> =>
  new Promise((resolve) => {
    const req = http.request(
      { agent, host: "127.0.0.1", port, path, method: "GET", headers: cookie === undefined ? {} : { cookie } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          clearTimeout(timer)
          const retryAfter = res.headers["retry-after"]
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            cookie: res.headers["set-cookie"]?.find((c) => c.startsWith("session="))?.split(";")[0],
            body: Buffer.concat(chunks).toString()
          })
        })
        res.on("error", () => resolve({ status: 0, retryAfter: undefined, cookie: undefined, body: "" }))
      }
    )
    const timer = setTimeout(() => {
      req.destroy()
      resolve({ status: -1, retryAfter: undefined, cookie: undefined, body: "" })
    }, hangMillis)
    req.on("error", () => {
      clearTimeout(timer)
      resolve({ status: 0, retryAfter: undefined, cookie: undefined, body: "" })
    })
    req.end()
  })

const parseN = (body: string): number | null | undefined => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && "n" in parsed) {
      return typeof parsed.n === "number" ? parsed.n : null
    }
  } catch {
    // not JSON (a 503's text body)
  }
  return undefined
}

/** Runs the load in this process (`onStart`: the epoch ms at which the clock started); the child does the same. */
export const run = async (
  task: LoadRequest,
  onStart: (at: number) => void = () => {}
): Promise<ReadonlyArray<RequestRecord>> => {
  const records: Array<RequestRecord> = []
  const cookies: Array<string | undefined> = []
  const agents = Array.from({ length: task.clients }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
  // every client starts its session before the clock starts
  await Promise.all(agents.map(async (agent, client) => {
    const first = await once(agent, task.port, "/api/incr", undefined, task.hangMillis)
    cookies[client] = first.cookie
  }))
  const started = Date.now()
  onStart(started)
  const deadline = started + task.durationMs
  await Promise.all(agents.map(async (agent, client) => {
    while (Date.now() < deadline) {
      const incr = Math.random() < 0.5
      const start = Date.now()
      const res = await once(agent, task.port, incr ? "/api/incr" : "/api/read", cookies[client], task.hangMillis)
      if (res.cookie !== undefined) cookies[client] = res.cookie
      records.push({
        client,
        incr,
        start,
        end: Date.now(),
        status: res.status,
        retryAfter: res.retryAfter,
        n: res.status === 200 ? parseN(res.body) : undefined
      })
      // a failed request is retried after a short pause, as a browser's user would, not in a hot loop
      if (res.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }))
  for (const agent of agents) agent.destroy()
  return records
}

if (process.send !== undefined && process.argv[1]?.includes("failoverLoad") === true) {
  process.once("message", (task: LoadRequest) => {
    void run(task, (at) => process.send?.({ _tag: "Started", at } satisfies LoadMessage)).then((records) => {
      process.send?.({ _tag: "Done", records } satisfies LoadMessage, () => process.exit(0))
    })
  })
  process.on("disconnect", () => process.exit(0))
}
