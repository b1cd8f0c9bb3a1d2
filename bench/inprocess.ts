/**
 * In-process cost per request (no sockets): the demo app through
 * `HttpApp.toWebHandlerRuntime`, with and without the session middleware,
 * on the memory store. A quick way to see what the middleware itself costs.
 *
 * `npx tsx bench/inprocess.ts`
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { makeApp } from "../docs/examples/app.js"

const N = Number(process.env["N"] ?? 20000)

const layer = Layer.mergeAll(
  RedisClient.layerMemory,
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
  const time = async (label: string, handler: (r: Request) => Promise<Response>, path: string) => {
    for (let i = 0; i < 2000; i++) await (await handler(new Request(`http://localhost${path}`, { headers: { cookie } }))).text()
    const start = process.hrtime.bigint()
    for (let i = 0; i < N; i++) await (await handler(new Request(`http://localhost${path}`, { headers: { cookie } }))).text()
    const us = Number(process.hrtime.bigint() - start) / 1000 / N
    console.log(`${label.padEnd(8)} ${path.padEnd(10)} ${us.toFixed(1)} µs/request`)
    return us
  }
  for (const path of ["/api/noop", "/api/read", "/api/incr"]) {
    const base = await time("without", without, path)
    const sess = await time("with", withSessions, path)
    console.log(`         ratio ${(base / sess).toFixed(2)}×`)
  }
  await runtime.dispose()
}

main()
