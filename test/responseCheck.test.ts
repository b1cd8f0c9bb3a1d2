/**
 * `SessionPolicy.refuseCacheableResponses`, the ready response check: a
 * response a shared cache could store gets no session cookie. Its time is the
 * response's own `Date`, else the wall clock.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as SessionPolicy from "../src/SessionPolicy.js"

const request = HttpServerRequest.fromWeb(new Request("http://localhost/"))
const date = "Wed, 01 Jan 2020 00:00:00 GMT"

describe("refuseCacheableResponses", () => {
  it.each<readonly [string, Record<string, string>, boolean]>([
    ["no caching headers: the cookie may be set", {}, true],
    ["public: refused", { "cache-control": "public, max-age=60" }, false],
    ["s-maxage: refused", { "cache-control": "s-maxage=60" }, false],
    ["max-age alone: refused", { "cache-control": "max-age=60" }, false],
    ["private, no-cache: allowed", { "cache-control": "private, no-cache" }, true],
    ["no-store: allowed", { "cache-control": "no-store" }, true],
    ["Expires after the response's Date: refused", { date, expires: "Wed, 01 Jan 2020 01:00:00 GMT" }, false],
    ["Expires before the response's Date: allowed", { date, expires: "Tue, 31 Dec 2019 23:00:00 GMT" }, true],
    ["no Date, Expires in the future by the wall clock: refused", { expires: "Fri, 01 Jan 2999 00:00:00 GMT" }, false],
    ["no Date, Expires in the past by the wall clock: allowed", { expires: "Mon, 01 Jan 1990 00:00:00 GMT" }, true],
    [
      "an unreadable Date: the wall clock decides",
      { date: "garbage", expires: "Fri, 01 Jan 2999 00:00:00 GMT" },
      false
    ]
  ])("%s", (_, headers, allowed) => {
    expect(SessionPolicy.refuseCacheableResponses(request, HttpServerResponse.empty({ headers }))).toBe(allowed)
  })
})
