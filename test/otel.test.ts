/**
 * What the library hands to OpenTelemetry (`@effect/opentelemetry`'s
 * `NodeSdk`, in-memory exporters): the spans of a session's load, commit and
 * TTL refresh and of each Redis command, the invalid-session counter by
 * cause, and never a session id, a cookie, the secret or session data.
 *
 * The store is an ioredis stand-in over the memory store, so each command
 * goes through the real ioredis adapter (`RedisClient.layerFromClient`),
 * which is where the per-command spans are opened, without a Redis server.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  type ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import * as CookieSigner from "../src/CookieSigner.js"
import * as InvalidSession from "../src/InvalidSession.js"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { layerWith, secret } from "./support/sessionApp.js"

// -----------------------------------------------------------------------------
// the app
// -----------------------------------------------------------------------------

/** Session data that must stay in the process. */
const noteValue = "note-4f1c9e2a-private"
const Note = Session.key("note", Schema.String)

/** Routes take nothing from the URL: the platform's HTTP span records the URL, and this is about the library's. */
const app = SessionMiddleware.middleware(
  HttpRouter.toHttpApp(HttpRouter.empty.pipe(
    HttpRouter.get(
      "/create",
      Effect.gen(function*() {
        yield* Session.set(Note, noteValue)
        // A per-session timeout: the next read slides the TTL to the policy's, then sets it back (`Session.refreshTtl`).
        yield* Effect.flatMap(Session.Session, (session) => session.adjustTimeout("10 minutes"))
        return HttpServerResponse.text("created")
      })
    ),
    HttpRouter.get(
      "/read",
      Effect.map(Session.get(Note), (note) => HttpServerResponse.text(Option.getOrElse(note, () => "")))
    ),
    HttpRouter.get("/regenerate", Effect.as(Session.regenerate, HttpServerResponse.text("regenerated"))),
    // what an application must not do: for the test that the leak search finds what it looks for
    HttpRouter.get(
      "/leak",
      Effect.gen(function*() {
        const note = Option.getOrElse(yield* Session.get(Note), () => "")
        yield* Effect.annotateCurrentSpan("app.note", note)
        return HttpServerResponse.text("leaked")
      })
    )
  )).pipe(Effect.flatten)
)

/** The engine's own signer: turns a cookie value back into the session id it names. */
const signer = CookieSigner.make(secret)
const idOf = (cookie: string): string => Option.getOrThrow(signer.verify(cookie))

/** A Redis error reply that echoes the command's arguments, as some do: the key (the session id) and the payload. */
const echoingReplyError = (args: ReadonlyArray<string | number>): Error =>
  Object.assign(
    new Error(`ERR injected failure, with args beginning with: ${args.map((arg) => `'${arg}'`).join(" ")}`),
    { name: "ReplyError" }
  )

/**
 * An ioredis stand-in over the memory store; `fail()` makes every later
 * command fail with a reply that echoes its arguments.
 */
const ioredisOverMemory = () => {
  const store = Effect.runSync(RedisClient.makeMemory)
  let failing = false
  const run = <A>(args: ReadonlyArray<string | number>, command: Effect.Effect<A, RedisClient.SessionStoreError>) =>
    failing ? Promise.reject(echoingReplyError(args)) : Effect.runPromise(command)
  const asInteger = (ok: boolean) => ok ? 1 : 0
  const client = {
    get: (key: string) => run([key], Effect.map(store.get(key), Option.getOrNull)),
    getex: (key: string, ex: "EX", ttl: number) =>
      run([key, ex, ttl], Effect.map(store.getEx(key, ttl), Option.getOrNull)),
    set: (key: string, value: string, ...rest: Array<string | number>) => {
      const ex = rest.indexOf("EX")
      const options: RedisClient.SetOptions = {
        condition: rest.includes("NX") ? "NX" : rest.includes("XX") ? "XX" : undefined,
        ttlSeconds: ex === -1 ? undefined : Number(rest[ex + 1])
      }
      return run([key, value, ...rest], Effect.map(store.set(key, value, options), (ok) => ok ? "OK" : null))
    },
    expire: (key: string, ttl: number) => run([key, ttl], Effect.map(store.expire(key, ttl), asInteger)),
    del: (key: string) => run([key], Effect.map(store.del(key), asInteger)),
    ttl: (key: string) => run([key], store.ttl(key)),
    // the move script: KEYS = [to, from], ARGV = [value, ttl or ""]
    eval: (_script: string, _keys: number, to: string, from: string, value: string, ttl: number | "") =>
      run(
        [to, from, value, ttl],
        Effect.map(
          store.move(from, to, value, { ttlSeconds: ttl === "" ? undefined : ttl }),
          (moved) => moved === "Moved" ? 1 : moved === "Taken" ? 0 : -1
        )
      ),
    pipeline: () => {
      throw new Error("not used: the stand-in answers GETEX")
    }
  }
  return {
    client: client as unknown as RedisClient.IoredisClient,
    fail: () => {
      failing = true
    }
  }
}

// -----------------------------------------------------------------------------
// the exporters
// -----------------------------------------------------------------------------

/** Counts spans still open, so a test can wait for the ones that end after the response (the TTL refresh). */
class OpenSpans implements SpanProcessor {
  open = 0
  onStart() {
    this.open++
  }
  onEnd() {
    this.open--
  }
  forceFlush() {
    return Promise.resolve()
  }
  shutdown() {
    return Promise.resolve()
  }
}

interface Reply {
  readonly status: number
  readonly body: string
}

/** A browser of one cookie, on the test's runtime; `cookies` is every value the server set. */
const makeClient = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>()
  const handler = HttpApp.toWebHandlerRuntime(runtime)(app)
  const cookies: Array<string> = []
  let cookie: string | undefined
  const request = (path: string, options?: { readonly cookie: string }) =>
    Effect.promise(async (): Promise<Reply> => {
      const sent = options?.cookie ?? cookie
      const response = await handler(
        new Request(`http://localhost${path}`, { headers: sent === undefined ? {} : { cookie: `session=${sent}` } })
      )
      for (const line of response.headers.getSetCookie()) {
        const value = /^session=([^;]*)/.exec(line)?.[1]
        if (value !== undefined && value !== "") cookies.push(value)
        cookie = value === "" ? undefined : value
      }
      return { status: response.status, body: await response.text() }
    })
  return { request, cookies }
})

type Client = Effect.Effect.Success<typeof makeClient>

interface Exported<A> {
  readonly result: A
  readonly spans: ReadonlyArray<ReadableSpan>
  readonly metrics: ReadonlyArray<ResourceMetrics>
}

/**
 * Runs `flow` against the app under `NodeSdk.layer` with in-memory exporters
 * for spans and metrics, and gives back everything they exported.
 */
const exporting = <A>(flow: (client: Client, store: { readonly fail: () => void }) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const spanExporter = new InMemorySpanExporter()
    const openSpans = new OpenSpans()
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const metricReader = new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 3_600_000
    })
    const Otel = NodeSdk.layer(() => ({
      resource: { serviceName: "otel-test" },
      spanProcessor: [openSpans, new SimpleSpanProcessor(spanExporter)],
      metricReader
    }))
    const store = ioredisOverMemory()
    return yield* Effect.gen(function*() {
      const result = yield* flow(yield* makeClient, store)
      yield* Effect.suspend(() => openSpans.open === 0 ? Effect.void : Effect.fail("spans still open")).pipe(
        Effect.retry({ schedule: Schedule.spaced("5 millis"), times: 200 }),
        Effect.orDie
      )
      yield* Effect.promise(() => metricReader.forceFlush())
      // read before the layer closes: shutting the in-memory span exporter down empties it
      return {
        result,
        spans: [...spanExporter.getFinishedSpans()],
        metrics: [...metricExporter.getMetrics()]
      } satisfies Exported<A>
    }).pipe(Effect.provide(Layer.merge(Otel, layerWith(RedisClient.layerFromClient(store.client)))))
  })

/** The library's spans (not the platform's HTTP server span), in the order they ended. */
const librarySpans = (spans: ReadonlyArray<ReadableSpan>) =>
  spans.filter((span) => span.name.startsWith("Session.") || span.name.startsWith("RedisClient."))

const names = (spans: ReadonlyArray<ReadableSpan>) => librarySpans(spans).map((span) => span.name)

/** The last span of that name to end: the one of the flow's last request. */
const lastNamed = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const span = spans.filter((span) => span.name === name).at(-1)
  if (span === undefined) throw new Error(`no span ${name} among ${spans.map((span) => span.name).join(", ")}`)
  return span
}

/** The parent span: a command's span sits under the session operation that sent it. */
const parentSpan = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan): ReadableSpan | undefined =>
  spans.find((candidate) => candidate.spanContext().spanId === span.parentSpanContext?.spanId)

const parentOf = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan): string | undefined =>
  parentSpan(spans, span)?.name

/** The data points of a metric, across every collection. */
const dataPoints = (metrics: ReadonlyArray<ResourceMetrics>, name: string) =>
  metrics.flatMap((resource) =>
    resource.scopeMetrics.flatMap((scope) =>
      scope.metrics.flatMap((metric): ReadonlyArray<{ readonly attributes: object; readonly value: unknown }> =>
        metric.descriptor.name === name ? metric.dataPoints : []
      )
    )
  )

/** Every string an exporter sends, keys included: names, attributes, events, status messages, metric descriptors and points. */
const exportedStrings = (exported: Exported<unknown>): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (value: unknown): void => {
    if (typeof value === "string") out.push(value)
    else if (Array.isArray(value)) value.forEach(walk)
    else if (typeof value === "object" && value !== null) {
      for (const [key, inner] of Object.entries(value)) {
        out.push(key)
        walk(inner)
      }
    }
  }
  for (const span of exported.spans) {
    walk({
      name: span.name,
      attributes: span.attributes,
      events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
      status: span.status,
      links: span.links.map((link) => link.attributes)
    })
  }
  for (const resource of exported.metrics) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        walk({ descriptor: metric.descriptor, points: metric.dataPoints.map((point) => point.attributes) })
      }
    }
  }
  return out
}

const expectNoneContains = (strings: ReadonlyArray<string>, secrets: Record<string, string>) => {
  for (const [what, secret] of Object.entries(secrets)) {
    expect(secret.length, what).toBeGreaterThan(8)
    expect(strings.filter((string) => string.includes(secret)), `${what} in an exported string`).toEqual([])
  }
}

// -----------------------------------------------------------------------------
// the flows
// -----------------------------------------------------------------------------

const forgedCookie = "forged-cookie-value-5d2a7b"

const create = (client: Client) => client.request("/create")

describe("OpenTelemetry", () => {
  it.live("a new session is written by one SET inside Session.commit", () =>
    Effect.gen(function*() {
      const { result, spans } = yield* exporting((client) => create(client))
      expect(result.status).toBe(200)
      expect(names(spans)).toEqual(["Session.load", "RedisClient.set", "Session.commit"])
      const set = lastNamed(spans, "RedisClient.set")
      expect(set.attributes).toEqual({ "db.system": "redis", "db.operation": "SET" })
      expect(parentOf(spans, set)).toBe("Session.commit")
      // no store command without a cookie
      expect(lastNamed(spans, "Session.load").attributes).toEqual({})
    }))

  it.live("a read loads with GETEX inside Session.load, and the TTL refresh after the response is an EXPIRE", () =>
    Effect.gen(function*() {
      const { result, spans } = yield* exporting((client) => Effect.zipRight(create(client), client.request("/read")))
      expect(result).toEqual({ status: 200, body: noteValue })
      const read = librarySpans(spans).slice(3)
      // nothing to write: the commit opens no span
      expect(read.map((span) => span.name)).toEqual([
        "RedisClient.getEx",
        "Session.load",
        "RedisClient.expire",
        "Session.refreshTtl"
      ])
      const [getEx, , expire] = read
      expect(getEx?.attributes).toEqual({ "db.system": "redis", "db.operation": "GETEX" })
      expect(parentOf(spans, getEx!)).toBe("Session.load")
      expect(expire?.attributes).toEqual({ "db.system": "redis", "db.operation": "EXPIRE" })
      expect(parentOf(spans, expire!)).toBe("Session.refreshTtl")
    }))

  it.live("an invalid cookie is counted by cause, and reaches no store command", () =>
    Effect.gen(function*() {
      const counter = Metric.tagged(InvalidSession.invalidSessions, "cause", "InvalidCookie")
      const before = (yield* Metric.value(counter)).count
      const { metrics, result, spans } = yield* exporting((client) => client.request("/read", { cookie: forgedCookie }))
      expect(result).toEqual({ status: 200, body: "" })
      expect(names(spans)).toEqual(["Session.load"])
      const point = dataPoints(metrics, "session_invalid_total").find((point) =>
        "cause" in point.attributes && point.attributes.cause === "InvalidCookie"
      )
      expect(point?.attributes).toEqual({ cause: "InvalidCookie" })
      expect(point?.value).toBe(before + 1)
    }))

  it.live("regenerate moves the session with one EVAL inside Session.commit", () =>
    Effect.gen(function*() {
      const { result, spans } = yield* exporting((client) =>
        Effect.zipRight(
          create(client),
          Effect.zipWith(client.request("/regenerate"), client.request("/read"), (_, read) => read)
        )
      )
      expect(result).toEqual({ status: 200, body: noteValue })
      const move = lastNamed(spans, "RedisClient.move")
      expect(move.attributes).toEqual({ "db.system": "redis", "db.operation": "EVAL" })
      expect(parentOf(spans, move)).toBe("Session.commit")
    }))

  it.live("a failed store command marks its span and the session operation as errors, naming the command", () =>
    Effect.gen(function*() {
      const { result, spans } = yield* exporting((client, store) =>
        Effect.gen(function*() {
          yield* create(client)
          store.fail()
          const read = yield* client.request("/read")
          const write = yield* client.request("/create", { cookie: forgedCookie })
          return [read.status, write.status]
        })
      )
      expect(result).toEqual([503, 503])
      for (
        const [command, span, operation] of [["GETEX", "RedisClient.getEx", "Session.load"], [
          "SET",
          "RedisClient.set",
          "Session.commit"
        ]]
      ) {
        const failed = lastNamed(spans, span!)
        expect(failed.attributes).toEqual({ "db.system": "redis", "db.operation": command })
        expect(failed.status.code).toBe(SpanStatusCode.ERROR)
        // what Redis answered, without the arguments it echoed
        expect(failed.status.message).toBe(`Session store ${command} failed (Reply): ERR injected failure`)
        const parent = parentSpan(spans, failed)
        expect(parent?.name).toBe(operation)
        expect(parent?.status.code).toBe(SpanStatusCode.ERROR)
      }
    }))

  it.live("no exported span or metric carries a session id, a cookie, the secret or session data", () =>
    Effect.gen(function*() {
      const exported = yield* exporting((client, store) =>
        Effect.gen(function*() {
          yield* create(client)
          yield* client.request("/read")
          yield* client.request("/read", { cookie: forgedCookie })
          yield* client.request("/regenerate")
          yield* client.request("/read")
          store.fail()
          // a load and a write that fail, with driver errors that echo the key and the payload
          expect((yield* client.request("/read")).status).toBe(503)
          expect((yield* client.request("/create", { cookie: forgedCookie })).status).toBe(503)
          return client.cookies
        })
      )
      const cookies = exported.result
      const ids = new Set(cookies.map(idOf))
      // the created session, and the one regenerate moved it to
      expect(ids.size).toBe(2)
      // the flows above exported what they should, so finding nothing below means something
      expect(names(exported.spans)).toEqual(
        expect.arrayContaining(["RedisClient.getEx", "RedisClient.set", "RedisClient.move"])
      )
      expect(dataPoints(exported.metrics, "session_invalid_total").length).toBeGreaterThan(0)
      expectNoneContains(exportedStrings(exported), {
        ...Object.fromEntries([...ids].map((id, i) => [`session id ${i}`, id])),
        ...Object.fromEntries(cookies.map((cookie, i) => [`cookie ${i}`, cookie])),
        "forged cookie": forgedCookie,
        secret: Redacted.value(secret),
        "session data": noteValue
      })
    }))

  it.live("the leak search finds session data that an application puts on a span", () =>
    Effect.gen(function*() {
      const exported = yield* exporting((client) => Effect.zipRight(create(client), client.request("/leak")))
      expect(exportedStrings(exported)).toContain(noteValue)
    }))
})

it("the snippet in docs/getting-started.md is the one in docs/examples/otel.ts", () => {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")
  const example = read("../docs/examples/otel.ts")
  const marker = "// --- docs/getting-started.md, \"Metrics and tracing\" ---"
  const snippet = example.slice(
    example.indexOf("\n", example.indexOf(marker)) + 1,
    example.indexOf("// --- end of the snippet ---")
  )
  const doc = read("../docs/getting-started.md")
  const section = doc.slice(doc.indexOf("### Exporting with OpenTelemetry"))
  const fence = "```ts excerpt=docs/examples/otel.ts\n" // see test/docs.test.ts
  const printed = section.slice(section.indexOf(fence) + fence.length, section.indexOf("\n```\n") + 1)
  expect(snippet).toContain("NodeSdk.layer")
  expect(printed).toBe(snippet)
})
