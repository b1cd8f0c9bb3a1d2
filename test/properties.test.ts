/**
 * Properties, checked with fast-check over generated input: the cookie
 * signer (round trip, tamper evidence, total on hostile input), the payload
 * codec (round trip, total on hostile input) and the commit decision (the
 * promises of docs/redis-usage.md: no orphan key, no cookie on a refused
 * response, a session deleted meanwhile is never written again, logout is
 * never undone).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import fc from "fast-check"
import * as CookieSigner from "../src/CookieSigner.js"
import * as Commit from "../src/internal/commit.js"
import * as Payload from "../src/internal/payload.js"
import * as Serializer from "../src/Serializer.js"

const CURRENT = Redacted.make("properties-current-secret-0123456789abcdef")
const PREVIOUS = Redacted.make("properties-previous-secret-0123456789abcdef")
const current = CookieSigner.make(CURRENT)
const previous = CookieSigner.make(PREVIOUS)
const rotating = CookieSigner.rotating([current, previous])

/** Every UTF-16 code unit, lone surrogates included: what a header can decode to and a JS caller can pass. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit))

/** A session id: any well-formed string, unicode included, that fits in a cookie. */
const sessionId = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 100 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{64}$/)
)

/** Strings a client can send: anything, things shaped like base64url, and padded ones. */
const hostileString = fc.oneof(
  fc.string({ unit: anyCodeUnit, maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,400}={0,5}$/),
  fc.string({ unit: fc.constantFrom("A", "-", "_", "=", "%", " ", ";", "\""), maxLength: 200 })
)

const decodeBytes = (value: string): Buffer => Buffer.from(value, "base64url")

describe("CookieSigner properties", () => {
  it("sign then verify gives the id back, for any id", () => {
    fc.assert(
      fc.property(sessionId, (id) => {
        expect(current.verify(current.sign(id))).toStrictEqual(Option.some(id))
      }),
      { numRuns: 500 }
    )
  })

  it("a rotating signer gives the id back under either secret; only the previous one's cookie is stale", () => {
    fc.assert(
      fc.property(sessionId, fc.boolean(), (id, signedBefore) => {
        const value = (signedBefore ? previous : rotating).sign(id)
        expect(rotating.verify(value)).toStrictEqual(Option.some(id))
        expect(rotating.isStale?.(value)).toBe(signedBefore)
      }),
      { numRuns: 300 }
    )
  })

  it("any change to one byte of a signed value fails to verify", () => {
    fc.assert(
      fc.property(
        sessionId,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (id, at, flip) => {
          const bytes = decodeBytes(current.sign(id))
          const index = at % bytes.length
          bytes[index] = (bytes[index] ?? 0) ^ flip
          expect(current.verify(bytes.toString("base64url"))).toStrictEqual(Option.none())
        }
      ),
      { numRuns: 500 }
    )
  })

  it("any change to one character fails to verify, unless it only touched unused trailing bits", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    fc.assert(
      fc.property(sessionId, fc.nat(), fc.constantFrom(...alphabet), (id, at, replacement) => {
        const value = current.sign(id)
        const index = at % value.length
        fc.pre(value[index] !== replacement)
        const tampered = value.slice(0, index) + replacement + value.slice(index + 1)
        // Base64 decoders (WebOb's too) ignore the unused bits of a last character: the same bytes, the same cookie.
        const sameBytes = decodeBytes(tampered).equals(decodeBytes(value))
        expect(current.verify(tampered)).toStrictEqual(sameBytes ? Option.some(id) : Option.none())
      }),
      { numRuns: 500 }
    )
  })

  it("any truncation fails to verify: of the characters or of the bytes", () => {
    fc.assert(
      fc.property(sessionId, fc.nat(), (id, at) => {
        const value = current.sign(id)
        expect(current.verify(value.slice(0, at % value.length))).toStrictEqual(Option.none())
        const bytes = decodeBytes(value)
        expect(current.verify(bytes.subarray(0, at % bytes.length).toString("base64url"))).toStrictEqual(Option.none())
      }),
      { numRuns: 500 }
    )
  })

  it("bytes added to a signed value fail to verify", () => {
    fc.assert(
      fc.property(sessionId, fc.uint8Array({ minLength: 1, maxLength: 16 }), (id, extra) => {
        const value = Buffer.concat([decodeBytes(current.sign(id)), extra]).toString("base64url")
        expect(current.verify(value)).toStrictEqual(Option.none())
      }),
      { numRuns: 300 }
    )
  })

  it("verify and isStale never throw on arbitrary strings, and accept none of them", () => {
    fc.assert(
      fc.property(hostileString, (value) => {
        for (const signer of [current, rotating]) {
          const verified = signer.verify(value)
          expect(Option.isOption(verified) && Option.isNone(verified)).toBe(true)
          expect(signer.isStale?.(value) ?? false).toBe(false)
        }
      }),
      { numRuns: 2_000 }
    )
  })
})

describe("payload codec properties", () => {
  const serializer = Serializer.json

  /** Session data: JSON-safe values (JSON has no -0: fast-check's -0 is taken as the 0 JSON gives back). */
  const data = fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 })
    .map((value) => JSON.parse(JSON.stringify(value)) as Payload.Data)
  const time = fc.maxSafeInteger()
  const payload: fc.Arbitrary<Payload.Payload> = fc.record({
    m: data,
    c: time,
    v: fc.integer({ min: Payload.PAYLOAD_VERSION, max: 1_000 }),
    t: fc.option(time, { nil: undefined }),
    x: fc.option(time, { nil: undefined })
  })

  it("encode then decode gives the payload back, for any JSON data and times", () => {
    fc.assert(
      fc.property(payload, (p) => {
        const decoded = Payload.decode(serializer, Payload.encode(serializer, p))
        expect(decoded).toEqual({ _tag: "Valid", payload: p })
      }),
      { numRuns: 500 }
    )
  })

  it("the encoding is pyramid_session_redis's: keys m, c, v, then t and x only when present", () => {
    fc.assert(
      fc.property(payload, (p) => {
        const keys = Object.keys(JSON.parse(Payload.encode(serializer, p)) as object)
        const present = ["m", "c", "v", "t", "x"].filter((key) => p[key as keyof Payload.Payload] !== undefined)
        expect(keys).toEqual(present)
      }),
      { numRuns: 200 }
    )
  })

  /** Text a store can hold: anything, any JSON, and objects shaped almost like a payload. */
  const storedText = fc.oneof(
    fc.string({ unit: anyCodeUnit, maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.record(
      {
        m: fc.jsonValue({ maxDepth: 2 }),
        c: fc.jsonValue({ maxDepth: 1 }),
        v: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.jsonValue({ maxDepth: 1 })),
        t: fc.jsonValue({ maxDepth: 1 }),
        x: fc.jsonValue({ maxDepth: 1 })
      },
      { requiredKeys: [] }
    ).map((raw) => JSON.stringify(raw)),
    payload.map((p) => Payload.encode(serializer, p)).chain((text) =>
      fc.nat(text.length).map((cut) => text.slice(0, cut))
    )
  )

  /** A serializer that throws anything, not only Errors. */
  const throwing: Serializer.Serializer = {
    serialize: JSON.stringify,
    deserialize: (text) => {
      if (text.length % 2 === 0) throw "not an Error"
      return JSON.parse(text)
    }
  }

  it("decode never throws on arbitrary text, and gives a tagged result whose Valid payload has the right shape", () => {
    fc.assert(
      fc.property(storedText, fc.constantFrom(serializer, throwing), (text, using) => {
        const decoded = Payload.decode(using, text)
        expect(["Valid", "Undecodable", "Legacy"]).toContain(decoded._tag)
        if (decoded._tag === "Valid") {
          const { m, c, v, t, x } = decoded.payload
          expect(typeof m === "object" && m !== null && !Array.isArray(m)).toBe(true)
          expect(Number.isSafeInteger(c)).toBe(true)
          expect(v).toBeGreaterThanOrEqual(Payload.PAYLOAD_VERSION)
          for (const time of [t, x]) expect(time === undefined || Number.isSafeInteger(time)).toBe(true)
        }
      }),
      { numRuns: 2_000 }
    )
  })
})

describe("commit decision properties", () => {
  const id = fc.stringMatching(/^[a-z0-9]{1,6}$/)

  const backing: fc.Arbitrary<Commit.Backing> = fc.oneof(
    fc.record({ _tag: fc.constant("New" as const), id: fc.option(id, { nil: undefined }), idRequested: fc.boolean() }),
    fc.record({ _tag: fc.constant("Stored" as const), id, createdHere: fc.boolean() }),
    fc.record({
      _tag: fc.constant("Moving" as const),
      from: id,
      id: fc.option(id, { nil: undefined }),
      createdHere: fc.boolean()
    }),
    fc.constant({ _tag: "Gone" as const })
  )

  const response: fc.Arbitrary<Commit.ResponseFacts> = fc.record({
    status: fc.oneof(fc.constantFrom(200, 204, 302, 400, 401, 404, 499, 500, 503), fc.integer({ min: 100, max: 599 })),
    failed: fc.boolean(),
    checkPassed: fc.boolean()
  })

  const rules: fc.Arbitrary<Commit.CommitRules> = fc.record({
    invalidateEmptySession: fc.boolean(),
    cookieOnException: fc.boolean(),
    writeMode: fc.constantFrom("merge" as const, "replace" as const)
  })

  const snapshot: fc.Arbitrary<Commit.Snapshot> = fc.record({
    backing,
    loaded: fc.boolean(),
    empty: fc.boolean(),
    changed: fc.boolean(),
    mergeable: fc.boolean(),
    staleIds: fc.array(id, { maxLength: 3 }),
    expireClientCookie: fc.boolean(),
    recookie: fc.boolean(),
    clientId: fc.option(id, { nil: undefined }),
    response
  })

  /** What applying a write can come back with. */
  const outcomesOf = (write: Commit.Write, generated: string): ReadonlyArray<Commit.Outcome> => {
    switch (write._tag) {
      case "None":
        return [{ _tag: "Unchanged" }]
      case "Create":
        return [{ _tag: "Created", id: write.id ?? generated }]
      case "Update":
        // `SET XX` finds the key, or another request deleted it meanwhile
        return [{ _tag: "Updated" }, { _tag: "Gone" }]
      case "Delete":
        return [{ _tag: "Deleted" }]
      case "Move":
        // the move lands, or another request deleted the old key meanwhile
        return [{ _tag: "Moved", id: write.id ?? generated }, { _tag: "Gone" }]
    }
  }

  /** A request, its plan, and one outcome its write can have. */
  const committed = fc.tuple(rules, snapshot, id, fc.nat()).map(([r, s, generated, pick]) => {
    const plan = Commit.planWrites(r, s)
    const outcomes = outcomesOf(plan.write, generated)
    const outcome = outcomes[pick % outcomes.length] ?? { _tag: "Unchanged" as const }
    const cookie = Commit.planCookie(r, s, outcome)
    return { rules: r, s, plan, outcome, cookie, allowed: Commit.cookieAllowed(r, s.response) }
  })

  const runs = { numRuns: 5_000 }

  it("the cookie is refused for each documented reason: a 499, a failure without cookieOnException, a failed check", () => {
    fc.assert(
      fc.property(rules, response, (r, res) => {
        if (res.status === 499) expect(Commit.cookieAllowed(r, res)).toBe(false)
        if (!res.checkPassed) expect(Commit.cookieAllowed(r, res)).toBe(false)
        if (!r.cookieOnException && (res.failed || res.status >= 500)) expect(Commit.cookieAllowed(r, res)).toBe(false)
        if (res.checkPassed && !res.failed && res.status < 400) expect(Commit.cookieAllowed(r, res)).toBe(true)
      }),
      runs
    )
  })

  it("a key is created only when its cookie is allowed, and only for a new session", () => {
    fc.assert(
      fc.property(committed, ({ s, plan, allowed }) => {
        if (plan.write._tag === "Create") {
          expect(allowed).toBe(true)
          expect(s.backing._tag).toBe("New")
        }
      }),
      runs
    )
  })

  it("a created key always gets its cookie: no orphan key", () => {
    fc.assert(
      fc.property(committed, ({ outcome, cookie }) => {
        if (outcome._tag === "Created") expect(cookie).toEqual({ _tag: "Set", id: outcome.id })
      }),
      runs
    )
  })

  it("a refused response carries no session cookie at all: never Set, never Expire", () => {
    fc.assert(
      fc.property(committed, ({ allowed, cookie }) => {
        if (!allowed) expect(cookie).toEqual(Commit.keep)
      }),
      runs
    )
  })

  it("a session deleted by another request is never written again, and its cookie is never set", () => {
    fc.assert(
      fc.property(committed, ({ s, plan, outcome, cookie }) => {
        if (s.backing._tag === "Gone") {
          expect(plan.write).toEqual({ _tag: "None" })
          expect(cookie._tag).not.toBe("Set")
        }
        if (outcome._tag === "Gone") expect(cookie._tag).not.toBe("Set")
      }),
      runs
    )
  })

  it("a session created in this request is deleted only when its cookie is refused or it is empty under invalidateEmptySession", () => {
    fc.assert(
      fc.property(committed, ({ rules: r, s, plan, allowed }) => {
        if (s.backing._tag === "Stored" && s.backing.createdHere) {
          const mustGo = !allowed || (r.invalidateEmptySession && s.empty)
          expect(plan.write._tag === "Delete").toBe(mustGo)
        }
      }),
      runs
    )
  })

  it("a stored session is only ever deleted, updated or moved from its own id, and updated only when it changed", () => {
    fc.assert(
      fc.property(committed, ({ s, plan }) => {
        const { write } = plan
        const storedId = s.backing._tag === "Stored"
          ? s.backing.id
          : s.backing._tag === "Moving"
          ? s.backing.from
          : undefined
        if (write._tag === "Update" || write._tag === "Delete") expect(write.id).toBe(storedId)
        if (write._tag === "Move") expect(write.from).toBe(storedId)
        if (write._tag === "Update") expect(s.changed).toBe(true)
      }),
      runs
    )
  })

  it("a new session holding nothing, whose id nobody asked for, costs no write", () => {
    fc.assert(
      fc.property(committed, ({ s, plan }) => {
        if (s.backing._tag === "New" && s.empty && !s.backing.idRequested) {
          expect(plan.write).toEqual({ _tag: "None" })
        }
      }),
      runs
    )
  })

  it("logout is never undone: every ended session is deleted, whatever the response", () => {
    fc.assert(
      fc.property(committed, ({ s, plan }) => {
        expect(plan.deletes).toEqual(s.staleIds)
      }),
      runs
    )
  })

  it("a cookie is only ever set to an id this request owns: created, stored, or the client's own", () => {
    fc.assert(
      fc.property(committed, ({ s, outcome, cookie }) => {
        if (cookie._tag !== "Set") return
        const owned = [
          outcome._tag === "Created" || outcome._tag === "Moved" ? outcome.id : undefined,
          s.backing._tag === "Stored" ? s.backing.id : undefined,
          s.backing._tag === "Moving" ? s.backing.from : undefined,
          s.clientId
        ]
        expect(owned).toContain(cookie.id)
        expect(outcome._tag).not.toBe("Deleted")
      }),
      runs
    )
  })

  it("a session persisted early by this request gets its cookie whenever it is kept", () => {
    fc.assert(
      fc.property(committed, ({ s, outcome, cookie, allowed }) => {
        const kept = outcome._tag !== "Deleted" && outcome._tag !== "Gone"
        if (s.backing._tag === "Stored" && s.backing.createdHere && allowed && kept) {
          expect(cookie).toEqual({ _tag: "Set", id: s.backing.id })
        }
      }),
      runs
    )
  })
})
