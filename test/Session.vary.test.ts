/**
 * `Vary` end to end: a handler that already sends `Vary` listing `Cookie`,
 * or `Vary: *`, gets its header back as it wrote it, whether the request
 * wrote the session (a cookie is set) or only read it. Real middleware,
 * in-process requests, the in-memory store (the header does not depend on
 * the store).
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RedisClient from "../src/RedisClient.js"
import * as Session from "../src/Session.js"
import * as SessionMiddleware from "../src/SessionMiddleware.js"
import type * as SessionPolicy from "../src/SessionPolicy.js"
import { layerWith } from "./support/sessionApp.js"

/** `?write=1` increments `n`, otherwise reads it; the response carries `?vary=` as its `Vary`. */
const app = SessionMiddleware.middleware(
  Effect.gen(function*() {
    const url = new URL((yield* HttpServerRequest.HttpServerRequest).url, "http://localhost")
    const n = yield* Session.get("n")
    if (url.searchParams.get("write") === "1") {
      yield* Session.set("n", Option.getOrElse(n, () => 0) as number + 1)
    }
    return HttpServerResponse.text("ok", { headers: { vary: url.searchParams.get("vary") ?? "" } })
  })
)

/** One request; succeeds with the response's `Vary` and `Set-Cookie` lines. */
const send = (query: string, cookie?: string) =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<SessionPolicy.SessionPolicy | RedisClient.RedisClient>()
    const response = yield* Effect.promise(() =>
      HttpApp.toWebHandlerRuntime(runtime)(app)(
        new Request(`http://localhost/?${query}`, { headers: cookie === undefined ? {} : { cookie } })
      )
    )
    return { vary: response.headers.get("vary"), setCookies: response.headers.getSetCookie() }
  })

/** A stored session: the `session=…` pair to send back. */
const storedSession = Effect.map(send("write=1&vary=Origin"), ({ setCookies }) => (setCookies[0] ?? "").split(";")[0])

describe("Vary set by the application", () => {
  const memory = layerWith(RedisClient.layerMemory)

  it.effect.each([
    { vary: "Accept-Encoding, cookie" },
    { vary: "Cookie, Accept-Encoding" },
    { vary: "*" }
  ])("a response that sets the session cookie keeps Vary: $vary as it is", ({ vary }) =>
    Effect.gen(function*() {
      const reply = yield* send(`write=1&vary=${encodeURIComponent(vary)}`)
      expect(reply.setCookies).toHaveLength(1)
      expect(reply.vary).toBe(vary)
    }).pipe(Effect.provide(memory)))

  it.effect.each([
    { vary: "Accept-Encoding, cookie" },
    { vary: "*" }
  ])("a response that only reads the session keeps Vary: $vary as it is", ({ vary }) =>
    Effect.gen(function*() {
      const cookie = yield* storedSession
      const reply = yield* send(`vary=${encodeURIComponent(vary)}`, cookie)
      expect(reply.setCookies).toEqual([])
      expect(reply.vary).toBe(vary)
    }).pipe(Effect.provide(memory)))

  it.effect("a response that only reads the session adds Cookie to the application's other Vary values", () =>
    Effect.gen(function*() {
      const cookie = yield* storedSession
      const reply = yield* send("vary=Accept-Encoding", cookie)
      expect(reply.vary).toBe("Accept-Encoding, Cookie")
    }).pipe(Effect.provide(memory)))
})
