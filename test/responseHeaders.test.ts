/**
 * `Vary` on a response that depends on the session cookie, value by value:
 * `Cookie` is added once, whatever the case and spacing of what the
 * application already listed, and `Vary: *` (varies on everything) is left
 * alone. No HTTP: the pure function the commit plan uses.
 */
import { describe, expect, it } from "@effect/vitest"
import { varyWithCookie } from "../src/internal/responseHeaders.js"

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
