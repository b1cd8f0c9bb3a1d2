/**
 * The servers `npm run bench:peers` compares: the same four routes served by
 * this library (the demo app, docs/examples/app.ts), by express 5 with
 * express-session + connect-redis, and by fastify 5 with @fastify/session +
 * connect-redis; each with sessions in Redis, and without sessions.
 *
 * | route                  | answers                                         | session                         |
 * |------------------------|-------------------------------------------------|---------------------------------|
 * | `GET /api/noop`        | `ok` (text)                                     | not used by the handler         |
 * | `GET /api/read`        | `{"n": n}` (`null` before the first incr)       | read                            |
 * | `GET /api/incr`        | `{"n": n + 1}`                                  | written                         |
 * | `GET /api/login?user=U`| `{"user": U}` (400 `{"error"}` for a bad name)  | new id, user=U, n=0, CSRF token, a flash |
 *
 * Without sessions the same handlers keep their data in ONE process-wide
 * object (as the demo's baseline does): same JSON, no cookie, no Redis.
 *
 * The peers are configured as their documentation recommends and as close to
 * this library's defaults as they allow (docs/benchmarks.md lists each choice):
 * cookie `session`, Path=/, HttpOnly, SameSite=Lax, no Max-Age (a
 * browser-session cookie), Secure off (plain-HTTP loopback); 20 minutes of
 * idle timeout in Redis, slid by activity; nothing stored for a client that
 * never wrote (`saveUninitialized: false`); a new session id on login.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import fastifyCookie from "@fastify/cookie"
import fastifySession from "@fastify/session"
import { RedisStore } from "connect-redis"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import express from "express"
import session from "express-session"
import Fastify from "fastify"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { createClient } from "redis"
import { makeApp, SessionsUncountedLive } from "../docs/examples/app.js"

// The session data of the peers' handlers.
declare module "express-session" {
  interface SessionData {
    n: number
    user: string
    csrf: string
    flash: Array<string>
  }
}
declare module "fastify" {
  interface Session {
    n?: number
    user?: string
    csrf?: string
    flash?: Array<string>
  }
}

export const frameworks = ["effect-session-redis", "express-session", "@fastify/session"] as const
export type Framework = typeof frameworks[number]

export interface ServerOptions {
  readonly framework: Framework
  /** false: the same routes without sessions (the framework's own baseline). */
  readonly sessions: boolean
  /** Needed with sessions. */
  readonly redisUrl?: string | undefined
}

export interface RunningServer {
  readonly port: number
  readonly close: () => Promise<void>
}

/** The idle timeout every framework gets: this library's default. */
export const IDLE_TIMEOUT_SECONDS = 1200
/** Every framework's session cookie name. */
export const COOKIE_NAME = "session"
const HOST = "127.0.0.1"

const cookie = { path: "/", httpOnly: true, secure: false, sameSite: "lax" } as const

/** `?user=` as the demo checks it: 1 to 64 characters. */
const userFrom = (value: unknown): string | undefined =>
  typeof value === "string" && value.length >= 1 && value.length <= 64 ? value : undefined
const badUser = { error: "user must be 1 to 64 characters" }

/** The process-wide state of a server without sessions. */
const makeBaseline = () => {
  const state: { n?: number; user?: string; csrf?: string; flash?: Array<string> } = {}
  return {
    read: () => ({ n: state.n ?? null }),
    incr: () => ({ n: state.n = (state.n ?? 0) + 1 }),
    login: (user: string) => {
      Object.assign(state, loginData(user))
      return { user }
    }
  }
}

/** What a login stores: the same data as the demo's `login`. */
const loginData = (user: string) => ({
  user,
  n: 0,
  csrf: randomBytes(32).toString("hex"),
  flash: [`Welcome, ${user}!`]
})

const connectRedis = async (url: string | undefined) => {
  if (url === undefined) throw new Error("a server with sessions needs redisUrl")
  const client = createClient({ url })
  client.on("error", () => {}) // reported by the failing request instead
  await client.connect()
  return client
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))
  })

// -----------------------------------------------------------------------------
// express 5 + express-session + connect-redis
// -----------------------------------------------------------------------------

const startExpress = async (options: ServerOptions): Promise<RunningServer> => {
  const app = express()
  app.disable("x-powered-by")
  let quit = async () => {}
  if (options.sessions) {
    const client = await connectRedis(options.redisUrl)
    quit = async () => void (await client.quit())
    app.use(session({
      store: new RedisStore({ client, prefix: "sess:", ttl: IDLE_TIMEOUT_SECONDS }),
      secret: randomBytes(32).toString("base64url"),
      name: COOKIE_NAME,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      cookie
    }))
    app.get("/api/noop", (_req, res) => void res.type("text/plain").send("ok"))
    app.get("/api/read", (req, res) => void res.json({ n: req.session.n ?? null }))
    app.get("/api/incr", (req, res) => {
      req.session.n = (req.session.n ?? 0) + 1
      res.json({ n: req.session.n })
    })
    app.get("/api/login", (req, res, next) => {
      const user = userFrom(req.query["user"])
      if (user === undefined) return void res.status(400).json(badUser)
      req.session.regenerate((error) => {
        if (error) return next(error)
        Object.assign(req.session, loginData(user))
        res.json({ user })
      })
    })
  } else {
    const baseline = makeBaseline()
    app.get("/api/noop", (_req, res) => void res.type("text/plain").send("ok"))
    app.get("/api/read", (_req, res) => void res.json(baseline.read()))
    app.get("/api/incr", (_req, res) => void res.json(baseline.incr()))
    app.get("/api/login", (req, res) => {
      const user = userFrom(req.query["user"])
      if (user === undefined) return void res.status(400).json(badUser)
      res.json(baseline.login(user))
    })
  }
  const server = http.createServer(app)
  const port = await listen(server)
  return {
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await quit()
    }
  }
}

// -----------------------------------------------------------------------------
// fastify 5 + @fastify/cookie + @fastify/session + connect-redis
// -----------------------------------------------------------------------------

const startFastify = async (options: ServerOptions): Promise<RunningServer> => {
  const app = Fastify({ logger: false })
  let quit = async () => {}
  if (options.sessions) {
    const client = await connectRedis(options.redisUrl)
    quit = async () => void (await client.quit())
    await app.register(fastifyCookie)
    await app.register(fastifySession, {
      // connect-redis implements the express-session Store, which @fastify/session documents as compatible
      store: new RedisStore({ client, prefix: "sess:", ttl: IDLE_TIMEOUT_SECONDS }) as unknown as NonNullable<
        fastifySession.FastifySessionOptions["store"]
      >,
      secret: randomBytes(32).toString("base64url"),
      cookieName: COOKIE_NAME,
      saveUninitialized: false,
      // @fastify/session has no touch: its sliding expiry is `rolling`, a save on every request with a session
      rolling: true,
      cookie
    })
    app.get("/api/noop", (_req, reply) => reply.type("text/plain").send("ok"))
    app.get("/api/read", (req) => ({ n: req.session.n ?? null }))
    app.get("/api/incr", (req) => {
      const n = (req.session.n ?? 0) + 1
      req.session.n = n
      return { n }
    })
    app.get<{ Querystring: { user?: string } }>("/api/login", async (req, reply) => {
      const user = userFrom(req.query.user)
      if (user === undefined) return reply.status(400).send(badUser)
      await req.session.regenerate()
      Object.assign(req.session, loginData(user))
      return { user }
    })
  } else {
    const baseline = makeBaseline()
    app.get("/api/noop", (_req, reply) => reply.type("text/plain").send("ok"))
    app.get("/api/read", () => baseline.read())
    app.get("/api/incr", () => baseline.incr())
    app.get<{ Querystring: { user?: string } }>("/api/login", (req, reply) => {
      const user = userFrom(req.query.user)
      return user === undefined ? reply.status(400).send(badUser) : baseline.login(user)
    })
  }
  await app.listen({ port: 0, host: HOST })
  const address = app.server.address() as AddressInfo
  return {
    port: address.port,
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
      await quit()
    }
  }
}

// -----------------------------------------------------------------------------
// this library: the demo app
// -----------------------------------------------------------------------------

const startOurs = async (options: ServerOptions): Promise<RunningServer> => {
  const server = http.createServer()
  const serverLayer = NodeHttpServer.layer(() => server, { port: 0, host: HOST })
  const quiet = Logger.minimumLogLevel(LogLevel.Warning)
  const layer = options.sessions
    ? HttpServer.serve(makeApp({ sessions: true })).pipe(
      Layer.provide(SessionsUncountedLive),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([
          ["REDIS_URL", options.redisUrl ?? ""],
          ["SESSION_SECRET", randomBytes(32).toString("base64url")],
          ["SESSION_COOKIE_SECURE", "false"]
        ])
      )))
    )
    : HttpServer.serve(makeApp({ sessions: false }))
  const runtime = ManagedRuntime.make(layer.pipe(Layer.provide(serverLayer), Layer.provide(quiet)))
  await runtime.runtime()
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections()
      await runtime.dispose()
    }
  }
}

/** Starts one server on 127.0.0.1:<free port>. */
export const startServer = (options: ServerOptions): Promise<RunningServer> => {
  switch (options.framework) {
    case "effect-session-redis":
      return startOurs(options)
    case "express-session":
      return startExpress(options)
    case "@fastify/session":
      return startFastify(options)
  }
}
