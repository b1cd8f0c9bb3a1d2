/**
 * The signed session-id cookie: byte-compatible with pyramid_session_redis
 * (WebOb's SignedSerializer, HMAC-SHA512 over "pyramid_session_redis." +
 * secret), and anything that is not a value we signed is simply "no cookie".
 *
 * Vectors were produced by the Python implementation
 * (test/fixtures/cookie-vectors.json); each is its own test in an `it.each` table.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { beforeEach, vi } from "vitest"
import * as CookieSigner from "../src/CookieSigner.js"

// Every HMAC computed, by the signer and by this file: the rotation tests count them.
vi.mock("node:crypto", async (importOriginal) => {
  // eslint-disable-next-line @typescript-eslint/consistent-type-imports -- vi.mock gets the module itself
  const crypto = await importOriginal<typeof import("node:crypto")>()
  return { ...crypto, createHmac: vi.fn(crypto.createHmac) }
})
const hmacs = vi.mocked(createHmac)

const Vectors = Schema.Struct({
  salt: Schema.String,
  hash: Schema.Literal("sha512"),
  valid: Schema.Array(Schema.Struct({
    secret: Schema.String,
    session_id: Schema.String,
    cookie_value: Schema.String
  })),
  checks: Schema.Array(Schema.Union(
    Schema.Struct({ secret: Schema.String, cookie_value: Schema.String, rejected: Schema.String }),
    Schema.Struct({ secret: Schema.String, cookie_value: Schema.String, accepted_as: Schema.String })
  ))
})

const vectors = Schema.decodeUnknownSync(Vectors)(
  JSON.parse(readFileSync(new URL("./fixtures/cookie-vectors.json", import.meta.url), "utf8"))
)

type Check = (typeof vectors.checks)[number]
const acceptedChecks = vectors.checks.filter((check): check is Extract<Check, { accepted_as: string }> =>
  "accepted_as" in check
)
const rejectedChecks = vectors.checks.filter((check): check is Extract<Check, { rejected: string }> =>
  "rejected" in check
)

const SECRET = "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss"
const signer = CookieSigner.make(Redacted.make(SECRET))

/** Signs raw bytes the way pyramid_session_redis does, without going through a string. */
const signRawBytes = (secret: string, id: Uint8Array): string => {
  const sig = createHmac("sha512", Buffer.from(CookieSigner.defaultSalt + secret, "latin1")).update(id).digest()
  return Buffer.concat([sig, id]).toString("base64url")
}

const decode = (cookieValue: string): Buffer => Buffer.from(cookieValue, "base64url")

const SESSION_ID = "xg_8ZKABuODQ5eKDxxFwKkdu6xw5TGtOyveTc-_n63rocU3u9FuaYQsbwRArHEDg"
const signed = signer.sign(SESSION_ID)

describe("CookieSigner", () => {
  it("uses pyramid_session_redis's salt", () => {
    expect(CookieSigner.defaultSalt).toBe(vectors.salt)
  })

  describe("valid vectors from the Python implementation", () => {
    it.each(vectors.valid)("vector %#: sign($session_id) is pyramid_session_redis's cookie value", (vector) => {
      expect(CookieSigner.make(Redacted.make(vector.secret)).sign(vector.session_id)).toBe(vector.cookie_value)
    })

    it.each(vectors.valid)("vector %#: verify of pyramid_session_redis's cookie value is $session_id", (vector) => {
      expect(CookieSigner.make(Redacted.make(vector.secret)).verify(vector.cookie_value))
        .toStrictEqual(Option.some(vector.session_id))
    })

    it("a non-ASCII secret that fits in latin-1 is keyed as latin-1 (vector with \"ünïcödé\")", () => {
      const nonAscii = vectors.valid.find((vector) =>
        Array.from(vector.secret).some((char) => char.charCodeAt(0) > 0x7f)
      )
      expect(nonAscii).toBeDefined()
      if (nonAscii === undefined) return
      const key = (encoding: "latin1" | "utf8") =>
        createHmac("sha512", Buffer.from(CookieSigner.defaultSalt + nonAscii.secret, encoding))
          .update(Buffer.from(nonAscii.session_id, "utf8"))
          .digest()
      const signature = decode(nonAscii.cookie_value).subarray(0, 64)
      expect(signature).toStrictEqual(key("latin1"))
      expect(signature).not.toStrictEqual(key("utf8"))
    })
  })

  it("a secret outside latin-1 is keyed as UTF-8 (WebOb's fallback)", () => {
    const secret = "секрет-🔑-that-does-not-fit-in-latin-1"
    const id = "A-_z09"
    const expected = Buffer.concat([
      createHmac("sha512", Buffer.from(CookieSigner.defaultSalt + secret, "utf8")).update(id, "utf8").digest(),
      Buffer.from(id, "utf8")
    ]).toString("base64url")
    const unicodeSigner = CookieSigner.make(Redacted.make(secret))
    expect(unicodeSigner.sign(id)).toBe(expected)
    expect(unicodeSigner.verify(expected)).toStrictEqual(Option.some(id))
  })

  it("a secret with U+00FF, the last latin-1 character, is keyed as latin-1, like WebOb", () => {
    const secret = "secret-ending-in-ÿ"
    const key = (encoding: "latin1" | "utf8") =>
      createHmac("sha512", Buffer.from(CookieSigner.defaultSalt + secret, encoding)).update("abc", "utf8").digest()
    const signature = decode(CookieSigner.make(Redacted.make(secret)).sign("abc")).subarray(0, 64)
    expect(signature).toStrictEqual(key("latin1"))
    expect(signature).not.toStrictEqual(key("utf8"))
  })

  describe("checks from the Python implementation", () => {
    it.each(acceptedChecks)("accepted check %#: $cookie_value is accepted as $accepted_as", (check) => {
      expect(CookieSigner.make(Redacted.make(check.secret)).verify(check.cookie_value))
        .toStrictEqual(Option.some(check.accepted_as))
    })

    it.each(rejectedChecks)(
      "rejected check %#: $cookie_value is rejected (pyramid_session_redis raises $rejected)",
      (check) => {
        expect(CookieSigner.make(Redacted.make(check.secret)).verify(check.cookie_value)).toStrictEqual(Option.none())
      }
    )

    it("every check is in one of the two tables above", () => {
      expect(acceptedChecks.length + rejectedChecks.length).toBe(vectors.checks.length)
      expect(acceptedChecks.length).toBeGreaterThan(0)
      expect(rejectedChecks.length).toBeGreaterThan(0)
    })
  })

  describe("round trip", () => {
    it("verify(sign(id)) is the id", () => {
      expect(signer.verify(signed)).toStrictEqual(Option.some(SESSION_ID))
    })

    it("a non-ASCII id round-trips as UTF-8", () => {
      expect(signer.verify(signer.sign("sessión:ключ:🍪"))).toStrictEqual(Option.some("sessión:ключ:🍪"))
    })

    it("the cookie value is unpadded base64url", () => {
      expect(signed).toMatch(/^[A-Za-z0-9_-]+$/)
    })

    it("a custom salt gives a different cookie that the default-salt signer rejects", () => {
      const salted = CookieSigner.make(Redacted.make(SECRET), { salt: "other." })
      const value = salted.sign(SESSION_ID)
      expect(value).not.toBe(signed)
      expect(salted.verify(value)).toStrictEqual(Option.some(SESSION_ID))
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })
  })

  describe("hostile input is no cookie, never an error", () => {
    it("rejects the empty string", () => {
      expect(signer.verify("")).toStrictEqual(Option.none())
    })

    it("rejects garbage", () => {
      expect(signer.verify("garbage")).toStrictEqual(Option.none())
      expect(signer.verify("!@#$%^&*()")).toStrictEqual(Option.none())
      expect(signer.verify("====")).toStrictEqual(Option.none())
    })

    it("rejects a truncated signature", () => {
      expect(signer.verify(signed.slice(0, 60))).toStrictEqual(Option.none())
    })

    it("rejects a value with its last character cut off", () => {
      expect(signer.verify(signed.slice(0, -1))).toStrictEqual(Option.none())
    })

    it("rejects a signature with one flipped bit", () => {
      const bytes = decode(signed)
      bytes[10] = (bytes[10] ?? 0) ^ 0x01
      expect(signer.verify(bytes.toString("base64url"))).toStrictEqual(Option.none())
    })

    it("rejects a value with one changed character in the id part", () => {
      // characters from 86 on encode only id bytes (the signature is 64 bytes = 85⅓ characters)
      const index = 120
      const original = signed.charAt(index)
      const tampered = signed.slice(0, index) + (original === "A" ? "B" : "A") + signed.slice(index + 1)
      expect(decode(tampered).subarray(0, 64)).toStrictEqual(decode(signed).subarray(0, 64))
      expect(signer.verify(tampered)).toStrictEqual(Option.none())
    })

    it("rejects a value signed with another secret", () => {
      const other = CookieSigner.make(Redacted.make("another secret, just as long as the first one"))
      expect(signer.verify(other.sign(SESSION_ID))).toStrictEqual(Option.none())
    })

    it("rejects a validly signed value longer than 4096 characters", () => {
      const longId = "x".repeat(3009) // 64 + 3009 bytes → 4098 characters
      const value = signer.sign(longId)
      expect(value.length).toBeGreaterThan(CookieSigner.maxCookieValueLength)
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })

    it("accepts a validly signed value of exactly 4096 characters", () => {
      const id = "x".repeat(3008) // 64 + 3008 = 3072 bytes → 4096 characters
      const value = signer.sign(id)
      expect(value.length).toBe(CookieSigner.maxCookieValueLength)
      expect(signer.verify(value)).toStrictEqual(Option.some(id))
    })

    it("rejects a huge value without work", () => {
      expect(signer.verify("A".repeat(1_000_000))).toStrictEqual(Option.none())
    })

    it("rejects a validly signed id that is not UTF-8", () => {
      const value = signRawBytes(SECRET, Uint8Array.from([0x61, 0xff, 0xfe, 0x62]))
      // the signature itself is right: only the id bytes are wrong
      expect(decode(value).subarray(64)).toStrictEqual(Buffer.from([0x61, 0xff, 0xfe, 0x62]))
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })

    it("rejects a validly signed id holding a truncated UTF-8 sequence", () => {
      const value = signRawBytes(SECRET, Uint8Array.from([0x61, 0xe2, 0x82]))
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })

    it("keeps a leading byte order mark in the id, as Python's decode does", () => {
      const value = signRawBytes(SECRET, Uint8Array.from([0xef, 0xbb, 0xbf, 0x61, 0x62, 0x63]))
      expect(signer.verify(value)).toStrictEqual(Option.some("\ufeffabc"))
    })

    it("rejects a validly signed id that is UTF-8-encoded surrogate (CESU) bytes", () => {
      const value = signRawBytes(SECRET, Uint8Array.from([0xed, 0xa0, 0x80]))
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })

    it("rejects a value using the standard base64 alphabet (+ instead of -)", () => {
      const value = signer.sign("abc")
      expect(value).toContain("-")
      expect(signer.verify(value.replaceAll("-", "+"))).toStrictEqual(Option.none())
    })

    it("rejects a value using the standard base64 alphabet (/ instead of _)", () => {
      const value = signer.sign("abc")
      expect(value).toContain("_")
      expect(signer.verify(value.replaceAll("_", "/"))).toStrictEqual(Option.none())
    })

    it("rejects a value containing a space", () => {
      expect(signer.verify(signed.slice(0, 50) + " " + signed.slice(50))).toStrictEqual(Option.none())
    })

    it("rejects a value with leading or trailing whitespace", () => {
      expect(signer.verify(" " + signed)).toStrictEqual(Option.none())
      expect(signer.verify(signed + " ")).toStrictEqual(Option.none())
      expect(signer.verify(signed + "\n")).toStrictEqual(Option.none())
    })

    it("rejects a signed value with one character appended (4n+1 characters are no base64, as in Python)", () => {
      const value = signer.sign("ab") // 64 + 2 bytes → 88 characters
      expect(value.length % 4).toBe(0)
      // Buffer.from drops the lone last character: it would decode to the signed bytes
      expect(decode(value + "A")).toStrictEqual(decode(value))
      expect(signer.verify(value + "A")).toStrictEqual(Option.none())
    })

    it.each([
      ["the empty string", ""],
      ["only padding", "===="],
      ["4n+1 characters", signer.sign("ab") + "A"],
      ["a character outside base64url", "+" + signed.slice(1)]
    ])("%s is refused before any HMAC", (_, value) => {
      hmacs.mockClear()
      expect(signer.verify(value)).toStrictEqual(Option.none())
      expect(hmacs).not.toHaveBeenCalled()
    })

    it("rejects a value that is only a valid signature over an empty id", () => {
      const value = signRawBytes(SECRET, new Uint8Array(0))
      expect(decode(value).length).toBe(64)
      expect(signer.verify(value)).toStrictEqual(Option.none())
    })

    it("rejects the signature of one id attached to another id", () => {
      const a = decode(signer.sign("aaaa"))
      const b = decode(signer.sign("bbbb"))
      const spliced = Buffer.concat([a.subarray(0, 64), b.subarray(64)]).toString("base64url")
      expect(signer.verify(spliced)).toStrictEqual(Option.none())
    })
  })
})

describe("verified-cookie memory", () => {
  const secret = Redacted.make("memory-secret-memory-secret-memory-0123")

  it("a value verifies the same way the second time, from memory", () => {
    const signer = CookieSigner.make(secret)
    const value = signer.sign("some-session")
    expect(signer.verify(value)).toEqual(Option.some("some-session"))
    expect(signer.verify(value)).toEqual(Option.some("some-session"))
  })

  it("a rejected value stays rejected when presented again", () => {
    const signer = CookieSigner.make(secret)
    const forged = CookieSigner.make(Redacted.make("another-secret-another-secret-0123")).sign("some-session")
    expect(signer.verify(forged)).toEqual(Option.none())
    expect(signer.verify(forged)).toEqual(Option.none())
  })

  it("what one signer verified is not accepted by a signer with another secret", () => {
    const first = CookieSigner.make(secret)
    const second = CookieSigner.make(Redacted.make("another-secret-another-secret-0123"))
    const value = first.sign("some-session")
    expect(first.verify(value)).toEqual(Option.some("some-session"))
    expect(second.verify(value)).toEqual(Option.none())
  })

  /** The HMACs `verify` computes for `value`: none when it is remembered, one when it is not. */
  const hmacsToVerify = (signer: CookieSigner.CookieSigner, value: string): number => {
    hmacs.mockClear()
    expect(Option.isSome(signer.verify(value))).toBe(true)
    return hmacs.mock.calls.length
  }

  it("a verified value is remembered after others were verified: verifying it again costs no HMAC", () => {
    const signer = CookieSigner.make(secret)
    const [first, second] = [signer.sign("first"), signer.sign("second")]
    signer.verify(first)
    signer.verify(second)
    expect(hmacsToVerify(signer, first)).toBe(0)
  })

  it("a value of exactly 512 characters is remembered like any shorter one", () => {
    const signer = CookieSigner.make(secret)
    const value = signer.sign("x".repeat(320)) // 64 + 320 = 384 bytes → 512 characters
    expect(value.length).toBe(512)
    signer.verify(value)
    signer.verify(signer.sign("another"))
    expect(hmacsToVerify(signer, value)).toBe(0)
  })

  it("a value longer than 512 characters is remembered only as the last one", () => {
    const signer = CookieSigner.make(secret)
    const value = signer.sign("x".repeat(323)) // 64 + 323 = 387 bytes → 516 characters
    expect(value.length).toBeGreaterThan(512)
    signer.verify(value)
    expect(hmacsToVerify(signer, value)).toBe(0)
    signer.verify(signer.sign("another"))
    expect(hmacsToVerify(signer, value)).toBe(1)
  })

  describe("at most 10,000 values are remembered", () => {
    /** A signer that has verified 10,001 distinct values, in order. */
    const pastCapacity = () => {
      const signer = CookieSigner.make(secret)
      const values = Array.from({ length: 10_001 }, (_, i) => signer.sign(`id-${i}`))
      for (const value of values) signer.verify(value)
      return { signer, values }
    }

    it("the 10,001st verified value evicts the oldest: verifying it again costs one HMAC", () => {
      const { signer, values } = pastCapacity()
      expect(hmacsToVerify(signer, values[0] ?? "")).toBe(1)
    })

    it("the 10,001st verified value evicts only the oldest: the second oldest costs no HMAC", () => {
      const { signer, values } = pastCapacity()
      expect(hmacsToVerify(signer, values[1] ?? "")).toBe(0)
    })
  })

  it("memory stays bounded: many distinct values all still verify", () => {
    const signer = CookieSigner.make(secret)
    for (let i = 0; i < 25_000; i++) {
      expect(Option.isSome(signer.verify(signer.sign(`id-${i}`)))).toBe(true)
    }
    expect(signer.verify(signer.sign("id-0"))).toEqual(Option.some("id-0"))
  })
})

describe("padding", () => {
  const secret = Redacted.make("padding-secret-padding-secret-padding-01")

  it("a long run of '=' is rejected quickly", () => {
    const signer = CookieSigner.make(secret)
    const started = performance.now()
    for (let i = 0; i < 50; i++) expect(signer.verify("=".repeat(4000) + "a")).toEqual(Option.none())
    // A quadratic scan takes ~16 ms per value; a linear one well under 1 ms.
    expect(performance.now() - started).toBeLessThan(200)
  })

  it("padded variants of one cookie verify without being remembered separately", () => {
    const signer = CookieSigner.make(secret)
    const value = signer.sign("padded")
    expect(signer.verify(value + "=")).toEqual(Option.some("padded"))
    expect(signer.verify(value + "==")).toEqual(Option.some("padded"))
    expect(signer.verify(value)).toEqual(Option.some("padded"))
  })
})

describe("CookieSigner.rotating", () => {
  const OLDER = Redacted.make("older-secret-older-secret-older-secret-0123")
  const NEWER = Redacted.make("newer-secret-newer-secret-newer-secret-0123")
  const unrelated = CookieSigner.make(Redacted.make("unrelated-secret-unrelated-secret-0123"))

  /** A rotating signer whose secrets are `current` then `previous`. */
  const rotation = (current: string, ...previous: ReadonlyArray<string>) =>
    CookieSigner.rotating([
      CookieSigner.make(Redacted.make(current)),
      ...previous.map((secret) => CookieSigner.make(Redacted.make(secret)))
    ])

  beforeEach(() => {
    hmacs.mockClear()
  })

  describe("cookies pyramid_session_redis signed verify under any listed secret", () => {
    it.each(vectors.valid)("vector %#: as the current secret, not stale", (vector) => {
      const signer = rotation(vector.secret, Redacted.value(OLDER))
      expect(signer.verify(vector.cookie_value)).toStrictEqual(Option.some(vector.session_id))
      expect(signer.isStale?.(vector.cookie_value)).toBe(false)
    })

    it.each(vectors.valid)("vector %#: as a previous secret, stale", (vector) => {
      const signer = rotation(Redacted.value(NEWER), Redacted.value(OLDER), vector.secret)
      expect(signer.verify(vector.cookie_value)).toStrictEqual(Option.some(vector.session_id))
      expect(signer.isStale?.(vector.cookie_value)).toBe(true)
    })

    it.each(rejectedChecks)("rejected check %#: rejected under every secret of a rotation", (check) => {
      const signer = rotation(Redacted.value(NEWER), check.secret)
      expect(signer.verify(check.cookie_value)).toStrictEqual(Option.none())
      expect(signer.isStale?.(check.cookie_value)).toBe(false)
    })
  })

  it.each(vectors.valid)(
    "vector %#: signing uses the first secret only, byte for byte pyramid_session_redis's",
    (vector) => {
      expect(rotation(vector.secret, Redacted.value(OLDER)).sign(vector.session_id)).toBe(vector.cookie_value)
      expect(rotation(Redacted.value(OLDER), vector.secret).sign(vector.session_id))
        .toBe(CookieSigner.make(OLDER).sign(vector.session_id))
    }
  )

  it("a value signed with no listed secret is rejected, and not stale", () => {
    const signer = CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])
    const value = unrelated.sign("abc")
    expect(signer.verify(value)).toStrictEqual(Option.none())
    expect(signer.isStale?.(value)).toBe(false)
  })

  it("what the signer produces is current: it verifies, and is not stale", () => {
    const signer = CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])
    const value = signer.sign(SESSION_ID)
    expect(signer.verify(value)).toStrictEqual(Option.some(SESSION_ID))
    expect(signer.isStale?.(value)).toBe(false)
  })

  it("isStale without a verify first verifies the value itself", () => {
    const signer = CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])
    expect(signer.isStale?.(CookieSigner.make(OLDER).sign("a"))).toBe(true)
    expect(signer.isStale?.(CookieSigner.make(NEWER).sign("b"))).toBe(false)
    expect(signer.isStale?.("garbage")).toBe(false)
  })

  it("a single signer is that signer itself: nothing is ever stale", () => {
    const only = CookieSigner.make(NEWER)
    expect(CookieSigner.rotating([only])).toBe(only)
  })

  it("hostile values are rejected, never an error", () => {
    const signer = CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])
    for (
      const value of ["", "garbage", "====", "A".repeat(1_000_000), CookieSigner.make(OLDER).sign("x").slice(0, -1)]
    ) {
      expect(signer.verify(value)).toStrictEqual(Option.none())
      expect(signer.isStale?.(value)).toBe(false)
    }
  })

  describe("cost: which secret verified a value is remembered", () => {
    const signer = () => CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])

    it("a current cookie: verify then isStale is one HMAC", () => {
      const rotating = signer()
      const value = CookieSigner.make(NEWER).sign("current")
      hmacs.mockClear()
      expect(rotating.verify(value)).toStrictEqual(Option.some("current"))
      expect(rotating.isStale?.(value)).toBe(false)
      expect(hmacs).toHaveBeenCalledTimes(1)
    })

    it("a stale cookie: one HMAC per secret tried, none for isStale, none when presented again", () => {
      const rotating = signer()
      const value = CookieSigner.make(OLDER).sign("stale")
      hmacs.mockClear()
      expect(rotating.verify(value)).toStrictEqual(Option.some("stale"))
      expect(hmacs).toHaveBeenCalledTimes(2)
      expect(rotating.isStale?.(value)).toBe(true)
      expect(rotating.verify(value)).toStrictEqual(Option.some("stale"))
      expect(rotating.isStale?.(value)).toBe(true)
      expect(hmacs).toHaveBeenCalledTimes(2)
    })

    it("a long stale cookie (past what is remembered in bulk): isStale right after verify costs no HMAC", () => {
      const rotating = signer()
      const value = CookieSigner.make(OLDER).sign("x".repeat(600))
      expect(value.length).toBeGreaterThan(512)
      hmacs.mockClear()
      expect(Option.isSome(rotating.verify(value))).toBe(true)
      expect(rotating.isStale?.(value)).toBe(true)
      expect(hmacs).toHaveBeenCalledTimes(2)
    })
  })

  describe("custom signers rotate the same way", () => {
    /** A toy scheme `<tag>:<id>`, counting its verifications; `revoked` ids stop verifying. */
    const tagged = (tag: string) => {
      const counts = { verify: 0 }
      const revoked = new Set<string>()
      const signer: CookieSigner.CookieSigner = {
        sign: (id) => `${tag}:${id}`,
        verify: (value) => {
          counts.verify++
          const id = value.startsWith(`${tag}:`) ? value.slice(tag.length + 1) : undefined
          return id === undefined || revoked.has(id) ? Option.none() : Option.some(id)
        }
      }
      return { signer, counts, revoked }
    }

    it("signs with the first, verifies with any, stale only under a previous one", () => {
      const v2 = tagged("v2")
      const v1 = tagged("v1")
      const rotating = CookieSigner.rotating([v2.signer, v1.signer])
      expect(rotating.sign("abc")).toBe("v2:abc")
      expect(rotating.verify("v2:abc")).toStrictEqual(Option.some("abc"))
      expect(rotating.isStale?.("v2:abc")).toBe(false)
      expect(rotating.verify("v1:abc")).toStrictEqual(Option.some("abc"))
      expect(rotating.isStale?.("v1:abc")).toBe(true)
      expect(rotating.verify("v0:abc")).toStrictEqual(Option.none())
    })

    it("a value is verified by the signer that accepted it before, and only by it", () => {
      const v2 = tagged("v2")
      const v1 = tagged("v1")
      const rotating = CookieSigner.rotating([v2.signer, v1.signer])
      rotating.verify("v1:abc")
      expect([v2.counts.verify, v1.counts.verify]).toEqual([1, 1])
      rotating.isStale?.("v1:abc")
      rotating.verify("v1:abc")
      expect([v2.counts.verify, v1.counts.verify]).toEqual([1, 2])
    })

    it("remembering never overrides a signer: a value it stops accepting is rejected", () => {
      const v2 = tagged("v2")
      const v1 = tagged("v1")
      const rotating = CookieSigner.rotating([v2.signer, v1.signer])
      expect(rotating.verify("v1:abc")).toStrictEqual(Option.some("abc"))
      v1.revoked.add("abc")
      expect(rotating.verify("v1:abc")).toStrictEqual(Option.none())
    })

    it("a value of 4097 characters is refused by a rotating signer without asking any signer", () => {
      const v2 = tagged("v2")
      const v1 = tagged("v1")
      const rotating = CookieSigner.rotating([v2.signer, v1.signer])
      const value = "v1:" + "x".repeat(4094)
      expect(value.length).toBe(CookieSigner.maxCookieValueLength + 1)
      expect(rotating.verify(value)).toStrictEqual(Option.none())
      expect([v2.counts.verify, v1.counts.verify]).toEqual([0, 0])
    })

    it("a value of exactly 4096 characters is verified by a rotating signer", () => {
      const rotating = CookieSigner.rotating([tagged("v2").signer, tagged("v1").signer])
      const value = "v1:" + "x".repeat(4093)
      expect(value.length).toBe(CookieSigner.maxCookieValueLength)
      expect(rotating.verify(value)).toStrictEqual(Option.some("x".repeat(4093)))
    })

    /** A signer that accepts exactly the values in `accepts`, each as its own id, counting its verifications. */
    const listed = () => {
      const counts = { verify: 0 }
      const accepts = new Set<string>()
      const signer: CookieSigner.CookieSigner = {
        sign: (id) => id,
        verify: (value) => {
          counts.verify++
          return accepts.has(value) ? Option.some(value) : Option.none()
        }
      }
      return { signer, counts, accepts }
    }

    /** A value verified by the first signer, which then stops accepting it while the second starts to. */
    const moved = () => {
      const first = listed()
      const second = listed()
      const rotating = CookieSigner.rotating([first.signer, second.signer])
      first.accepts.add("abc")
      expect(rotating.verify("abc")).toStrictEqual(Option.some("abc"))
      first.accepts.delete("abc")
      second.accepts.add("abc")
      first.counts.verify = 0
      second.counts.verify = 0
      return { first, second, rotating }
    }

    it("a value its remembered signer now refuses is verified by another signer that accepts it", () => {
      const { rotating } = moved()
      expect(rotating.verify("abc")).toStrictEqual(Option.some("abc"))
      expect(rotating.isStale?.("abc")).toBe(true)
    })

    it("a remembered signer that now refuses a value is asked once, not again with the others", () => {
      const { first, rotating, second } = moved()
      rotating.verify("abc")
      expect([first.counts.verify, second.counts.verify]).toEqual([1, 1])
    })

    it("a value moving to another signer does not evict the oldest value from a full memory", () => {
      const first = listed()
      const second = listed()
      const rotating = CookieSigner.rotating([first.signer, second.signer])
      const values = Array.from({ length: 10_000 }, (_, i) => `value-${i}`)
      for (const value of values) {
        second.accepts.add(value)
        rotating.verify(value)
      }
      const [oldest = "", , , middle = ""] = values
      second.accepts.delete(middle)
      first.accepts.add(middle)
      expect(rotating.verify(middle)).toStrictEqual(Option.some(middle))
      first.counts.verify = 0
      // still remembered as the second signer's: the first is not asked
      expect(rotating.verify(oldest)).toStrictEqual(Option.some(oldest))
      expect(first.counts.verify).toBe(0)
    })

    it("a rotating signer inside another: its stale values are stale in the outer one", () => {
      const inner = CookieSigner.rotating([CookieSigner.make(NEWER), CookieSigner.make(OLDER)])
      const outer = CookieSigner.rotating([inner, unrelated])
      const value = CookieSigner.make(OLDER).sign("nested")
      expect(outer.verify(value)).toStrictEqual(Option.some("nested"))
      expect(outer.isStale?.(value)).toBe(true)
      expect(outer.isStale?.(CookieSigner.make(NEWER).sign("nested"))).toBe(false)
      expect(outer.isStale?.(unrelated.sign("nested"))).toBe(true)
    })
  })
})
