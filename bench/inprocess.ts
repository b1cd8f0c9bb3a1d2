/**
 * In-process CPU cost per request (no sockets): the demo app through
 * `HttpApp.toWebHandlerRuntime`, with and without the session middleware, 50
 * requests in flight, on the memory store or, with REDIS_URL, on Redis.
 * A quick way to see what the middleware itself costs.
 *
 * `npx tsc -p tsconfig.bench.json && node dist-bench/bench/inprocess.js`
 * (compiled, like `npm run bench`; `npx tsx bench/inprocess.ts` works too,
 * but the loader adds work to every function the library creates)
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { makeApp } from "../docs/examples/app.js"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"

const N = Number(process.env["N"] ?? 20000)
const CONCURRENCY = 50
const url = process.env["REDIS_URL"]

const layer = Layer.mergeAll(
  url === undefined ? RedisClient.layerMemory : Layer.orDie(RedisClient.layer({ url })),
  Layer.orDie(SessionPolicy.layer({ secret: Redacted.make("x".repeat(40)), cookieSecure: false })),
  Logger.minimumLogLevel(LogLevel.Warning)
)

const main = async () => {
  const runtime = ManagedRuntime.make(layer)
  const rt = await runtime.runtime()
  const withSessions = HttpApp.toWebHandlerRuntime(rt)(makeApp({ sessions: true }))
  const without = HttpApp.toWebHandlerRuntime(rt)(makeApp({ sessions: false }))
  const first = await withSessions(new Request("http://localhost/api/incr"))
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
  const run = async (handler: (r: Request) => Promise<Response>, path: string, count: number) => {
    let next = 0
    const worker = async () => {
      while (next++ < count) {
        await (await handler(new Request(`http://localhost${path}`, { headers: { cookie } }))).text()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  }
  const time = async (label: string, handler: (r: Request) => Promise<Response>, path: string) => {
    await run(handler, path, 2000)
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    await run(handler, path, N)
    const wall = Number(process.hrtime.bigint() - start) / 1000 / N
    const used = process.cpuUsage(cpu)
    const us = (used.user + used.system) / N
    console.log(`${label.padEnd(8)} ${path.padEnd(10)} ${us.toFixed(1)} µs CPU/request, ${wall.toFixed(1)} µs wall`)
    return us
  }
  console.log(`store: ${url === undefined ? "memory" : url}`)
  for (const path of ["/api/noop", "/api/read", "/api/incr"]) {
    const base = await time("without", without, path)
    const sess = await time("with", withSessions, path)
    console.log(`         CPU ratio ${(base / sess).toFixed(2)}×  (+${(sess - base).toFixed(1)} µs)`)
  }
  await runtime.dispose()
}

main()
