/**
 * The request's session cookie (`internal/clientCookie.ts`): read lazily,
 * verified once, and still readable after the request itself is let go
 * (a session used after the response, or a client that hung up).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ClientCookie } from "../src/internal/clientCookie.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import { secret } from "./support/sessionApp.js"

const requestWith = (cookie: string | undefined) =>
  HttpServerRequest.fromWeb(
    new Request("http://localhost/", { headers: cookie === undefined ? {} : { cookie } })
  )

describe("ClientCookie", () => {
  it.effect("reads the session cookie among others, and verifies its signature", () =>
    Effect.gen(function*() {
      const policy = yield* SessionPolicy.make({ secret })
      const signed = policy.signer.sign("abc")
      const cookie = new ClientCookie(requestWith(`a=1; session=${signed}; b=2`), policy)
      expect(cookie.raw).toBe(signed)
      expect(cookie.id).toStrictEqual(Option.some("abc"))
    }))

  it.effect("no cookie: no raw value and no id", () =>
    Effect.gen(function*() {
      const cookie = new ClientCookie(requestWith(undefined), yield* SessionPolicy.make({ secret }))
      expect([cookie.raw, cookie.id]).toStrictEqual([undefined, Option.none()])
    }))

  it.effect("after release (once or twice) the request is let go, and a cookie not yet read is still found", () =>
    Effect.gen(function*() {
      const policy = yield* SessionPolicy.make({ secret })
      const cookie = new ClientCookie(requestWith(`session=${policy.signer.sign("abc")}`), policy)
      cookie.release()
      cookie.release()
      expect(cookie.request).toBeUndefined()
      expect(cookie.id).toStrictEqual(Option.some("abc"))
    }))

  it.effect("a cookie read before release is still there after it, and releasing twice is harmless", () =>
    Effect.gen(function*() {
      const policy = yield* SessionPolicy.make({ secret })
      const signed = policy.signer.sign("abc")
      const cookie = new ClientCookie(requestWith(`session=${signed}`), policy)
      expect(cookie.raw).toBe(signed)
      cookie.release()
      cookie.release()
      expect(cookie.raw).toBe(signed)
      expect(cookie.id).toStrictEqual(Option.some("abc"))
    }))
})
