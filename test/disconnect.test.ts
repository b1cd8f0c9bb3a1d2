/**
 * A client that hangs up while its session is being committed: the request
 * is released all the same (its scope closes, its fiber ends).
 *
 * A real Node server on loopback serves a small app of its own through
 * `SessionMiddleware.middleware`. Every route writes the session, so the
 * pre-response commit issues a `SET`; the store holds each `SET` until the
 * test opens its gate. Raw sockets send the requests, wait for all commits
 * to start, hang up, wait for the server to see every hang-up, and only then
 * let the commits finish: the response is written to a connection that is
 * already gone, the case in which Node never calls `end`'s callback.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as Net from "node:net"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import { layerWithStore } from "./support/sessionApp.js"

/** Clients per case, hanging up together. */
const clients = 5

/** What the server did with the requests, and the gate its `SET`s wait at. */
interface Probe {
  /** Requests that reached their route. */
  started: number
  /** Requests whose scope has closed. */
  released: number
  /** Responses that Node has closed. */
  closed: number
  /** `SET`s sent by the commit (each waits at the gate). */
  commits: number
  readonly gate: Deferred.Deferred<void>
}

const body = new TextEncoder().encode("saved")

const formData = () => {
  const data = new FormData()
  data.append("saved", "yes")
  return data
}

/** Counts the request in and, by a finalizer on its scope, out; writes the session; answers `response`. */
const route = (probe: Probe, response: () => HttpServerResponse.HttpServerResponse) =>
  Effect.gen(function*() {
    probe.started++
    yield* Effect.addFinalizer(() => Effect.sync(() => probe.released++))
    const request = yield* HttpServerRequest.HttpServerRequest
    NodeHttpServerRequest.toServerResponse(request).once("close", () => probe.closed++)
    yield* Session.set("saved", true)
    return response()
  })

/** One route per body kind of a response; `HttpRouter.all`, so HEAD reaches them too. */
const app = (probe: Probe) =>
  HttpRouter.empty.pipe(
    HttpRouter.all("/uint8array", route(probe, () => HttpServerResponse.uint8Array(body))),
    HttpRouter.all("/raw", route(probe, () => HttpServerResponse.raw("saved"))),
    HttpRouter.all("/empty", route(probe, () => HttpServerResponse.empty())),
    HttpRouter.all("/stream", route(probe, () => HttpServerResponse.stream(Stream.make(body)))),
    HttpRouter.all("/formdata", route(probe, () => HttpServerResponse.formData(formData()))),
    SessionMiddleware.middleware
  )

/** The memory store, with every `SET` held until the gate opens. */
const gatedStore = (probe: Probe) =>
  Effect.map(RedisClient.makeMemory, (store): RedisClient.RedisClientShape => ({
    ...store,
    set: (key, value, options) =>
      Effect.sync(() => probe.commits++).pipe(
        Effect.zipRight(Deferred.await(probe.gate)),
        Effect.zipRight(store.set(key, value, options))
      )
  }))

/** Serves the app on a loopback port; succeeds with the port and the probe. */
const serve = Effect.gen(function*() {
  const probe: Probe = { started: 0, released: 0, closed: 0, commits: 0, gate: yield* Deferred.make<void>() }
  const server = HttpServer.serve(app(probe)).pipe(
    Layer.provide(layerWithStore(yield* gatedStore(probe))),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  const context = yield* Layer.build(server)
  const { address } = Context.get(context, HttpServer.HttpServer)
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  return { port: address.port, probe }
})

/** Polls `done` until it holds, for at most two seconds. */
const settled = (done: () => boolean) =>
  Effect.sync(done).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("5 millis") }),
    Effect.timeoutOption("2 seconds")
  )

/** Opens a loopback connection and sends `method path` on it. */
const send = (port: number, method: string, path: string) =>
  Effect.async<Net.Socket>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port }, () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
      resume(Effect.succeed(socket))
    })
    socket.once("error", (error) => resume(Effect.die(error)))
  })

/** Everything the server sends until it closes the connection. */
const readAll = (socket: Net.Socket) =>
  Effect.async<string>((resume) => {
    let received = ""
    socket.setEncoding("latin1")
    socket.on("data", (chunk: string) => (received += chunk))
    socket.once("close", () => resume(Effect.succeed(received)))
    socket.once("error", (error) => resume(Effect.die(error)))
  })

describe("a client that hangs up during the session commit", () => {
  it.scopedLive("a request served to the end is counted as released", () =>
    Effect.gen(function*() {
      const { port, probe } = yield* serve
      yield* Deferred.succeed(probe.gate, undefined)
      const received = yield* Effect.flatMap(send(port, "GET", "/uint8array"), readAll)
      yield* settled(() => probe.released === probe.started)
      expect(received).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nsaved$/)
      expect({ started: probe.started, released: probe.released }).toEqual({ started: 1, released: 1 })
    }))

  it.scopedLive.each(
    [
      ["a Uint8Array body", "GET", "/uint8array"],
      ["a Raw (string) body", "GET", "/raw"],
      ["an Empty body", "GET", "/empty"],
      ["a Stream body", "GET", "/stream"],
      ["a FormData body", "GET", "/formdata"],
      ["a HEAD request", "HEAD", "/uint8array"]
    ] as const
  )("%s: every request is released", ([, method, path]) =>
    Effect.gen(function*() {
      const { port, probe } = yield* serve
      const sockets = yield* Effect.all(Array.from({ length: clients }, () => send(port, method, path)))
      yield* settled(() => probe.commits === clients)
      for (const socket of sockets) socket.destroy()
      yield* settled(() => probe.closed === clients)
      expect({ commits: probe.commits, closed: probe.closed }).toEqual({ commits: clients, closed: clients })

      yield* Deferred.succeed(probe.gate, undefined)
      yield* settled(() => probe.released === clients)
      expect({ started: probe.started, released: probe.released }).toEqual({ started: clients, released: clients })
    }))
})
