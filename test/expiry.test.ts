/**
 * The expiry rules as tables: when a session ends, what its stored `x` and
 * Redis TTL are, and when a read must rewrite it. No Redis, no HTTP, no
 * clock: every function takes the time it is given (epoch seconds).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Expiry from "../src/internal/expiry.js"
import type { Payload } from "../src/internal/payload.js"

const NOW = 1_000_000

/** The default policy: a 20-minute idle timeout in the Redis TTL, no `x`, no trigger, no lifetime. */
const rules = (overrides: Partial<Expiry.ExpiryRules> = {}): Expiry.ExpiryRules => ({
  timeout: 1200,
  timeoutTrigger: undefined,
  redisTtl: true,
  payloadExpiry: false,
  maxLifetime: undefined,
  maxTimeout: 86_400,
  ...overrides
})

const times = (overrides: Partial<Expiry.Times> = {}): Expiry.Times => ({
  created: NOW - 100,
  timeout: 1200,
  expiresAt: undefined,
  pinned: false,
  ...overrides
})

const payload = (overrides: Partial<Payload> = {}): Payload => ({ m: { a: 1 }, c: NOW - 100, v: 1, ...overrides })

describe("fresh", () => {
  it("a new session starts now, with the policy's timeout and no expiry of its own", () => {
    expect(Expiry.fresh(rules({ timeout: 300 }), NOW)).toStrictEqual({
      created: NOW,
      timeout: 300,
      expiresAt: undefined,
      pinned: false
    })
  })
})

describe("slideOnRead: the TTL a read moves in the same command (GETEX)", () => {
  it.each([
    ["the timeout in the TTL, no trigger", rules(), 1200],
    ["a trigger: the TTL moves only when `x` is rewritten", rules({ timeoutTrigger: 60 }), undefined],
    ["the timeout not in the TTL", rules({ redisTtl: false }), undefined],
    ["no timeout", rules({ timeout: undefined }), undefined]
  ])("%s", (_, given, expected) => {
    expect(Expiry.slideOnRead(given)).toBe(expected)
  })
})

describe("isExpired: a stored `x` in the past ends the session", () => {
  it.each([
    ["no `x`", undefined, false],
    ["`x` a second ahead", NOW + 1, false],
    ["`x` is now: the last second of the session", NOW, false],
    ["`x` a second ago", NOW - 1, true]
  ])("%s", (_, x, expected) => {
    expect(Expiry.isExpired(payload({ x }), NOW)).toBe(expected)
  })
})

describe("lifetimeEnds", () => {
  it("no absolute lifetime: never", () => {
    expect(Expiry.lifetimeEnds(rules(), { created: NOW })).toBeUndefined()
  })
  it("the creation time plus the lifetime", () => {
    expect(Expiry.lifetimeEnds(rules({ maxLifetime: 3600 }), { created: NOW - 100 })).toBe(NOW + 3500)
  })
})

describe("adopt: the times of a loaded payload", () => {
  it("keeps the payload's creation time and `x`, not pinned", () => {
    expect(Expiry.adopt(rules(), payload({ c: 42, x: NOW + 5 }), NOW).times).toStrictEqual({
      created: 42,
      timeout: 1200,
      expiresAt: NOW + 5,
      pinned: false
    })
  })

  it.each([
    ["no stored timeout: the policy's", undefined, 1200],
    ["a stored timeout of 0 is not a valid EX: the policy's", 0, 1200],
    ["a negative stored timeout: the policy's", -5, 1200],
    ["a stored timeout under the cap: its own", 500, 500],
    ["a stored timeout at the cap: its own", 86_400, 86_400],
    ["a stored timeout over the cap: the cap", 86_401, 86_400]
  ])("timeout: %s", (_, t, expected) => {
    expect(Expiry.adopt(rules(), payload({ t }), NOW).times.timeout).toBe(expected)
  })

  describe("rewrite: must the payload be written again although no value changed?", () => {
    const withX = rules({ payloadExpiry: true })
    const withTrigger = rules({ payloadExpiry: true, timeoutTrigger: 60 })
    it.each([
      ["no `x` in the payload or the policy", rules(), undefined, false],
      ["an `x` the policy doesn't write: dropped once", rules(), NOW + 10, true],
      ["`x` without a timeout: dropped once", rules({ payloadExpiry: true, timeout: undefined }), NOW + 10, true],
      ["neither `x` nor a timeout", rules({ payloadExpiry: true, timeout: undefined }), undefined, false],
      ["`x`, no trigger: `x` already where this read puts it", withX, NOW + 1200, false],
      ["`x`, no trigger: `x` a second behind", withX, NOW + 1199, true],
      ["`x`, no trigger: `x` a second ahead", withX, NOW + 1201, true],
      ["`x`, no trigger: no `x` stored yet", withX, undefined, true],
      ["a trigger, no `x` stored yet", withTrigger, undefined, true],
      ["a trigger: more than the trigger left", withTrigger, NOW + 61, false],
      ["a trigger: exactly the trigger left", withTrigger, NOW + 60, true],
      ["a trigger: less than the trigger left", withTrigger, NOW + 59, true]
    ])("%s", (_, given, x, expected) => {
      expect(Expiry.adopt(given, payload({ x }), NOW).rewrite).toBe(expected)
    })

    it.each([
      ["a per-session timeout of 100 caps a trigger of 60 at 50: 51 left", 100, NOW + 51, false],
      ["a per-session timeout of 100 caps a trigger of 60 at 50: 50 left", 100, NOW + 50, true],
      ["half of an odd timeout rounds down: 101 caps at 50, 51 left", 101, NOW + 51, false],
      ["half of an odd timeout rounds down: 101 caps at 50, 50 left", 101, NOW + 50, true],
      ["a timeout long enough keeps the trigger: 61 left", 1000, NOW + 61, false]
    ])("%s", (_, t, x, expected) => {
      expect(Expiry.adopt(withTrigger, payload({ t, x }), NOW).rewrite).toBe(expected)
    })
  })

  describe("ttlRefresh: the TTL to set after the response, when the read slid it to something else", () => {
    it.each([
      ["the policy's timeout: the slide was right", rules(), payload(), undefined],
      ["a per-session timeout: set to it", rules(), payload({ t: 500 }), 500],
      [
        "a lifetime ending sooner than the timeout: set to what is left",
        rules({ maxLifetime: 3600 }),
        payload({ c: NOW - 3570 }),
        30
      ],
      ["a lifetime ending later: the slide was right", rules({ maxLifetime: 3600 }), payload({ c: NOW }), undefined],
      ["a trigger: the read slid nothing", rules({ timeoutTrigger: 60 }), payload({ t: 500 }), undefined],
      ["the timeout not in the TTL", rules({ redisTtl: false }), payload({ t: 500 }), undefined],
      ["no timeout and no lifetime: nothing to set", rules({ timeout: undefined }), payload(), undefined]
    ])("%s", (_, given, loaded, expected) => {
      expect(Expiry.adopt(given, loaded, NOW).ttlRefresh).toBe(expected)
    })
  })
})

describe("payloadAt: the payload a write stores", () => {
  it("carries the values, the creation time, the version and the timeout", () => {
    expect(Expiry.payloadAt(rules(), times({ timeout: 300 }), { a: 1 }, NOW)).toStrictEqual({
      m: { a: 1 },
      c: NOW - 100,
      v: 1,
      t: 300,
      x: undefined
    })
  })

  it.each([
    ["no `x` in the policy", rules(), times(), undefined],
    ["`x`: a timeout from now", rules({ payloadExpiry: true }), times(), NOW + 1200],
    ["`x` without a timeout: none", rules({ payloadExpiry: true }), times({ timeout: undefined }), undefined],
    [
      "a pinned `x` is written as is",
      rules({ payloadExpiry: true }),
      times({ pinned: true, expiresAt: NOW + 7 }),
      NOW + 7
    ],
    [
      "a pinned `x` is written even where the policy writes none",
      rules(),
      times({ pinned: true, expiresAt: NOW + 7 }),
      NOW + 7
    ]
  ])("x: %s", (_, given, session, expected) => {
    expect(Expiry.payloadAt(given, session, {}, NOW).x).toBe(expected)
  })
})

describe("ttlSeconds: the EX of a write", () => {
  it.each([
    ["the timeout not in the TTL", rules({ redisTtl: false }), times(), undefined],
    ["the session's timeout", rules(), times({ timeout: 300 }), 300],
    ["no timeout, no lifetime: no EX", rules({ timeout: undefined }), times({ timeout: undefined }), undefined],
    ["no timeout: what is left of the lifetime", rules({ maxLifetime: 3600 }), times({ timeout: undefined }), 3500],
    ["the timeout, when it ends first", rules({ maxLifetime: 3600 }), times({ timeout: 300 }), 300],
    ["what is left of the lifetime, when it ends first", rules({ maxLifetime: 3600 }), times({ timeout: 3600 }), 3500],
    ["a lifetime ending now: one second, never 0", rules({ maxLifetime: 100 }), times(), 1],
    ["a lifetime already over: one second, never negative", rules({ maxLifetime: 50 }), times(), 1]
  ])("%s", (_, given, session, expected) => {
    expect(Expiry.ttlSeconds(given, session, NOW)).toBe(expected)
  })
})

describe("nextExpiry: when the session ends if left idle from now", () => {
  const withX = rules({ payloadExpiry: true })
  it.each([
    ["no timeout, no lifetime: never", rules(), times({ timeout: undefined }), true, undefined],
    ["the timeout from now", rules(), times(), false, NOW + 1200],
    ["`x` not rewritten: the stored `x`", withX, times({ expiresAt: NOW + 60 }), false, NOW + 60],
    ["`x` rewritten by this request: a timeout from now", withX, times({ expiresAt: NOW + 60 }), true, NOW + 1200],
    ["`x` not stored yet: a timeout from now", withX, times(), false, NOW + 1200],
    ["a pinned `x`", rules(), times({ pinned: true, expiresAt: NOW + 7 }), true, NOW + 7],
    ["a pinned absent `x`: never", rules(), times({ pinned: true }), true, undefined],
    ["the lifetime's end, when sooner", rules({ maxLifetime: 600 }), times(), true, NOW + 500],
    ["the idle end, when sooner than the lifetime's", rules({ maxLifetime: 6000 }), times(), true, NOW + 1200],
    ["no timeout: the lifetime's end", rules({ maxLifetime: 600 }), times({ timeout: undefined }), true, NOW + 500],
    [
      "a pinned `x` after the lifetime's end: the lifetime's end",
      rules({ maxLifetime: 600 }),
      times({ pinned: true, expiresAt: NOW + 900 }),
      true,
      NOW + 500
    ]
  ])("%s", (_, given, session, willWrite, expected) => {
    expect(Expiry.nextExpiry(given, session, NOW, willWrite)).toBe(expected)
  })
})
