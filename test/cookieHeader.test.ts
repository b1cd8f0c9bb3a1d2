/**
 * The middleware reads its one cookie straight from the `Cookie` header; it
 * must find exactly what `@effect/platform`'s `Cookies.parseHeader` (what
 * `request.cookies` gives) would have found for that name.
 */
import * as Cookies from "@effect/platform/Cookies"
import { describe, expect, it } from "@effect/vitest"
import { cookieValue } from "../src/internal/cookieHeader.js"

const parsed = (header: string, name: string): string | undefined => {
  const cookies = Cookies.parseHeader(header)
  return Object.hasOwn(cookies, name) ? cookies[name] : undefined
}

const headers = [
  "",
  "session=abc",
  "session=",
  "session",
  "a=1; session=abc; b=2",
  "a=1;session=abc;b=2",
  "  session  =  abc  ; b=2",
  "session=first; session=second",
  "sessionx=1; xsession=2; session=3",
  "session=\"quoted\"",
  "session=\" quoted, with spaces \"; b=2",
  "session=\"unterminated",
  "session=a%20b",
  "session=%E0%A4%A",
  "session=a=b=c",
  "noequals; session=abc",
  "session=abc; noequals",
  "a=1; noequals; session=abc; also-no-equals",
  ";;; session=abc;;",
  "=; session=abc",
  "a=1",
  "a=1; b=2",
  "session=abc;",
  "Session=upper; session=lower",
  "session=\u00e9t\u00e9",
  "x=\"a;b\"; session=abc"
]

describe("cookieValue", () => {
  it.each(headers)("finds what Cookies.parseHeader finds in %j", (header) => {
    expect(cookieValue(header, "session")).toStrictEqual(parsed(header, "session"))
  })

  it("finds the first of two cookies with the name", () => {
    expect(cookieValue("session=first; session=second", "session")).toBe("first")
  })

  it("does not match a cookie whose name only contains the name", () => {
    expect(cookieValue("my_session=1; session_x=2", "session")).toBeUndefined()
  })

  it("finds a cookie named like an Object.prototype member, which parseHeader drops", () => {
    expect(cookieValue("a=1; constructor=v", "constructor")).toBe("v")
    expect(cookieValue("__proto__=v", "__proto__")).toBe("v")
    expect(parsed("a=1; constructor=v", "constructor")).toBeUndefined()
  })

  it("drops the first and last characters of a value that starts with a quote, like parseHeader", () => {
    expect(cookieValue("session=\"a", "session")).toBe("")
    expect(cookieValue("session=\"abc\"", "session")).toBe("abc")
  })

  it("works for any cookie name, e.g. a __Host- prefixed one", () => {
    expect(cookieValue("a=1; __Host-session=v", "__Host-session")).toBe("v")
  })
})
