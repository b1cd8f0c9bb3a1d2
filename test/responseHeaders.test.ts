/**
 * The response headers a session adds, value by value, as the pure functions
 * the commit plan uses (no HTTP). `Vary`: `Cookie` is added once, whatever
 * the case and spacing of what the application already listed, and `Vary: *`
 * (varies on everything) is left alone. `Cache-Control`: how leniently a
 * directive is read, and a private one kept exactly as written. The main
 * tables of which responses a shared cache may store are in commit.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { privateCacheControl, sharedCacheable, varyWithCookie } from "../src/internal/responseHeaders.js"

describe("Vary on a response that depends on the session cookie", () => {
  it.each<{ readonly rule: string; readonly vary: string | undefined; readonly result: string }>([
    { rule: "no Vary becomes Vary: Cookie", vary: undefined, result: "Cookie" },
    { rule: "an empty Vary becomes Vary: Cookie", vary: "", result: "Cookie" },
    { rule: "a blank Vary becomes Vary: Cookie", vary: "  ", result: "Cookie" },
    { rule: "one other value is kept and Cookie appended", vary: "Origin", result: "Origin, Cookie" },
    {
      rule: "several other values are kept as written and Cookie appended",
      vary: "Accept-Encoding,Origin",
      result: "Accept-Encoding,Origin, Cookie"
    },
    { rule: "Cookie alone is kept", vary: "Cookie", result: "Cookie" },
    {
      rule: "Cookie listed among other values is kept as it is, not added twice",
      vary: "Accept-Encoding, cookie",
      result: "Accept-Encoding, cookie"
    },
    {
      rule: "Cookie listed first is kept as it is",
      vary: "Cookie, Accept-Encoding",
      result: "Cookie, Accept-Encoding"
    },
    { rule: "Cookie in capitals is recognised", vary: "Accept-Encoding,COOKIE", result: "Accept-Encoding,COOKIE" },
    { rule: "Cookie with spaces around it is recognised", vary: "Origin ,  Cookie ", result: "Origin ,  Cookie " },
    { rule: "a header merely containing Cookie is not Cookie", vary: "Cookie2", result: "Cookie2, Cookie" },
    { rule: "Vary: * is kept: it already varies on everything", vary: "*", result: "*" },
    { rule: "Vary: * with spaces is kept", vary: " * ", result: " * " },
    { rule: "* among other values is kept", vary: "Origin, *", result: "Origin, *" }
  ])("$rule", ({ result, vary }) => {
    expect(varyWithCookie(vary)).toBe(result)
  })
})

describe("Cache-Control directives as written by hand", () => {
  const now = Date.parse("Mon, 30 Nov 2026 12:00:00 GMT")
  it.each<{ readonly rule: string; readonly cacheControl: string; readonly shared: boolean }>([
    { rule: "spaces around the = of max-age still give a lifetime", cacheControl: "max-age = 60", shared: true },
    { rule: "a quoted max-age still gives a lifetime", cacheControl: "max-age=\"60\"", shared: true },
    { rule: "a max-age without a value gives no lifetime", cacheControl: "max-age", shared: false },
    { rule: "directive names are read in any case", cacheControl: "Max-Age=60", shared: true },
    { rule: "NO-STORE in capitals keeps shared caches away", cacheControl: "NO-STORE, max-age=60", shared: false },
    {
      rule: "a comma inside a quoted value does not split directives",
      cacheControl: "no-cache=\"Set-Cookie, public, Vary\"",
      shared: false
    }
  ])("$rule", ({ cacheControl, shared }) => {
    expect(sharedCacheable(cacheControl, undefined, now)).toBe(shared)
  })

  it.each<{ readonly rule: string; readonly cacheControl: string | undefined; readonly result: string }>([
    { rule: "none becomes private", cacheControl: undefined, result: "private" },
    { rule: "a browser lifetime is kept, made private", cacheControl: "max-age=60", result: "private, max-age=60" },
    { rule: "public is dropped", cacheControl: "public, max-age=60", result: "private, max-age=60" },
    { rule: "public is dropped even beside private", cacheControl: "public, private", result: "private" },
    { rule: "s-maxage is dropped beside no-store", cacheControl: "no-store, s-maxage=600", result: "no-store" },
    {
      rule: "a qualified private hides only its headers: it is dropped for a bare one",
      cacheControl: "private=\"set-cookie\", max-age=60",
      result: "private, max-age=60"
    },
    {
      rule: "private last, after a space, is recognised",
      cacheControl: "no-cache, private",
      result: "no-cache, private"
    },
    {
      rule: "a quoted value with commas stays one directive",
      cacheControl: "no-cache=\"Set-Cookie, Vary\", public",
      result: "private, no-cache=\"Set-Cookie, Vary\""
    }
  ])("privateCacheControl: $rule", ({ cacheControl, result }) => {
    expect(privateCacheControl(cacheControl)).toBe(result)
  })

  it.each([
    { cacheControl: "private,max-age=60" },
    { cacheControl: "no-store,no-cache" },
    { cacheControl: "PRIVATE" }
  ])("a Cache-Control that already keeps shared caches away is kept exactly as written: $cacheControl", ({
    cacheControl
  }) => {
    expect(privateCacheControl(cacheControl)).toBe(cacheControl)
  })
})
