/**
 * One session's state as a request moves it: where it stands against the
 * store (New, Stored, Moving, Gone, Unavailable), which id it has, what it
 * owes the store. Plain data, no store, no HTTP, no clock: each test does
 * what a request would and reads the state.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Backing } from "../src/internal/commit.js"
import type { Payload } from "../src/internal/payload.js"
import { SessionState, type StateRules } from "../src/internal/sessionState.js"
import * as Serializer from "../src/Serializer.js"

const NOW = 1_000_000

const rules = (overrides: Partial<StateRules> = {}): StateRules => {
  let next = 0
  return {
    timeout: 1200,
    timeoutTrigger: undefined,
    redisTtl: true,
    payloadExpiry: false,
    maxLifetime: undefined,
    maxTimeout: 86_400,
    serializer: Serializer.json,
    detectChanges: false,
    generateId: () => `gen${++next}`,
    ...overrides
  }
}

/** Sessions whose payload carries its expiry `x`. */
const withX = rules({ payloadExpiry: true })

/** The stored payload, decoded afresh for each load: a session changes its values in place. */
const storedPayload = (overrides: Partial<Payload> = {}): Payload => ({ m: { a: 1 }, c: NOW - 100, v: 1, ...overrides })

/** A request's state after loading the stored session `s1`. */
const loaded = (payload: Payload = storedPayload(), given: StateRules = rules()): SessionState => {
  const state = new SessionState(given)
  state.startFresh(NOW)
  state.adopt("s1", payload, NOW)
  return state
}

/** A request's state with no session: a new one from now. */
const fresh = (given: StateRules = rules()): SessionState => {
  const state = new SessionState(given)
  state.startFresh(NOW)
  return state
}

const moved = (): SessionState => {
  const state = loaded()
  state.regenerate()
  return state
}

const gone = (): SessionState => {
  const state = loaded()
  state.gone()
  return state
}

const unavailable = (): SessionState => {
  const state = new SessionState(rules())
  state.unavailable(NOW)
  return state
}

describe("loading", () => {
  it("a fresh session is New, without an id, created now, and owes nothing", () => {
    const state = fresh()
    expect(state.backing).toStrictEqual({ _tag: "New", id: undefined, idRequested: false })
    expect(state.times).toStrictEqual({ created: NOW, timeout: 1200, expiresAt: undefined, pinned: false })
    expect([state.isNew, state.changed, state.data.isEmpty]).toStrictEqual([true, false, true])
  })

  it("an adopted session is Stored under its id, with the payload's values, times and user", () => {
    const state = loaded(storedPayload({ x: NOW + 50, u: { id: "u1" } }))
    expect(state.backing).toStrictEqual({ _tag: "Stored", id: "s1", createdHere: false })
    expect(state.data.values).toStrictEqual({ a: 1 })
    expect(state.times).toStrictEqual({ created: NOW - 100, timeout: 1200, expiresAt: NOW + 50, pinned: false })
    expect(state.binding).toStrictEqual({ id: "u1" })
    expect(state.isNew).toBe(false)
  })

  it("an adopted payload that must move its expiry is changed though no value is", () => {
    const state = loaded(storedPayload({ x: NOW + 50 }))
    expect([state.rewrite, state.changed, state.data.changed]).toStrictEqual([true, true, false])
  })

  it("an adopted per-session timeout the read slid away owes a TTL refresh", () => {
    expect(loaded(storedPayload({ t: 500 })).ttlRefresh).toBe(500)
  })

  it("starting fresh forgets the loaded values, times, user and owed rewrites", () => {
    const state = loaded(storedPayload({ t: 500, x: NOW + 50, u: { id: "u1" } }))
    state.bindUser("u2", undefined)
    state.startFresh(NOW + 1)
    expect(state.backing._tag).toBe("New")
    expect(state.data.isEmpty).toBe(true)
    expect(state.times.created).toBe(NOW + 1)
    expect([state.rewrite, state.ttlRefresh, state.binding, state.indexChange]).toStrictEqual([
      false,
      undefined,
      undefined,
      undefined
    ])
  })

  it("an unreachable store leaves an Unavailable, empty session from now", () => {
    const state = unavailable()
    expect(state.backing).toStrictEqual({ _tag: "Unavailable" })
    expect(state.times.created).toBe(NOW)
    expect(state.isNew).toBe(true)
  })
})

describe("isNew: the session was not stored before this request", () => {
  it.each<[string, Backing, boolean]>([
    ["New", { _tag: "New", id: undefined, idRequested: false }, true],
    ["Gone", { _tag: "Gone" }, true],
    ["Unavailable", { _tag: "Unavailable" }, true],
    ["Stored by an earlier request", { _tag: "Stored", id: "s1", createdHere: false }, false],
    ["Stored by this request", { _tag: "Stored", id: "s1", createdHere: true }, true],
    ["Moving from a stored session", { _tag: "Moving", from: "s1", id: undefined, createdHere: false }, false],
    [
      "Moving from a session this request created",
      { _tag: "Moving", from: "s1", id: undefined, createdHere: true },
      false
    ]
  ])("%s", (_, backing, expected) => {
    const state = fresh()
    state.backing = backing
    expect(state.isNew).toBe(expected)
  })
})

describe("ids", () => {
  it.each<[string, () => SessionState, string, Backing]>([
    ["a Stored session keeps its id", loaded, "s1", { _tag: "Stored", id: "s1", createdHere: false }],
    ["a New session gets one, asked for", fresh, "gen1", { _tag: "New", id: "gen1", idRequested: true }],
    ["a Moving session gets its new one", moved, "gen1", {
      _tag: "Moving",
      from: "s1",
      id: "gen1",
      createdHere: false
    }],
    ["a Gone session gets one that is never written", gone, "gen1", { _tag: "Gone" }],
    ["an Unavailable session gets one that is never written", unavailable, "gen1", { _tag: "Unavailable" }]
  ])("ensureId: %s", (_, make, id, backing) => {
    const state = make()
    expect(state.ensureId()).toBe(id)
    expect(state.backing).toStrictEqual(backing)
  })

  it("ensureId hands out the same id twice", () => {
    const state = fresh()
    expect([state.ensureId(), state.ensureId()]).toStrictEqual(["gen1", "gen1"])
  })

  it.each<[string, () => SessionState, string | undefined]>([
    ["an empty New session: none", fresh, undefined],
    ["a Stored session with data: its id", loaded, "s1"],
    ["a Gone session: none", gone, undefined],
    ["an Unavailable session: none", unavailable, undefined]
  ])("idIfExists: %s", (_, make, expected) => {
    expect(make().idIfExists()).toBe(expected)
  })

  it("idIfExists fixes a new session's id without asking for it to be written", () => {
    const state = fresh()
    state.data.set("a", 1)
    expect(state.idIfExists()).toBe("gen1")
    expect(state.idIfExists()).toBe("gen1")
    expect(state.backing).toStrictEqual({ _tag: "New", id: "gen1", idRequested: false })
  })

  it.each<[string, () => SessionState]>([
    ["Gone", gone],
    ["Unavailable", unavailable]
  ])("idIfExists of a %s session with data: none, and no id is fixed", (_, make) => {
    const state = make()
    state.data.set("a", 2)
    const before = state.backing
    expect(state.idIfExists()).toBeUndefined()
    expect(state.backing).toStrictEqual(before)
  })

  it("idIfExists of an emptied Stored session: none", () => {
    const state = loaded()
    state.data.delete("a")
    expect(state.idIfExists()).toBeUndefined()
  })
})

describe("regenerate: a new id for the same values", () => {
  it.each<[string, () => SessionState, Backing]>([
    ["a Stored session moves", loaded, { _tag: "Moving", from: "s1", id: undefined, createdHere: false }],
    ["a Gone session stays gone", gone, { _tag: "Gone" }],
    ["an Unavailable session stays unavailable", unavailable, { _tag: "Unavailable" }]
  ])("%s", (_, make, backing) => {
    const state = make()
    state.regenerate()
    expect(state.backing).toStrictEqual(backing)
  })

  it("a session this request created moves, and remembers it was created here", () => {
    const state = fresh()
    state.created("s9", storedPayload())
    state.regenerate()
    expect(state.backing).toStrictEqual({ _tag: "Moving", from: "s9", id: undefined, createdHere: true })
  })

  it("an id handed out before is dropped: New", () => {
    const state = fresh()
    state.ensureId()
    state.regenerate()
    expect(state.backing).toStrictEqual({ _tag: "New", id: undefined, idRequested: true })
    expect(state.ensureId()).toBe("gen2")
  })

  it("an id handed out before is dropped: Moving", () => {
    const state = moved()
    state.ensureId()
    state.regenerate()
    expect(state.backing).toStrictEqual({ _tag: "Moving", from: "s1", id: undefined, createdHere: false })
  })

  it("a bound session's user index must learn the new id", () => {
    const state = loaded(storedPayload({ u: { id: "u1" } }))
    state.regenerate()
    expect(state.indexChange).toStrictEqual({ _tag: "Add", userId: "u1" })
  })

  it("an unbound session owes no index change", () => {
    const state = loaded()
    state.regenerate()
    expect(state.indexChange).toBeUndefined()
  })
})

describe("invalidate: the stored session ends", () => {
  it("a Stored session's key is deleted at the commit; a new session starts", () => {
    const state = loaded()
    state.invalidate(NOW + 1)
    expect(state.staleIds).toStrictEqual(new Set(["s1"]))
    expect(state.backing._tag).toBe("New")
    expect(state.data.isEmpty).toBe(true)
    expect(state.times.created).toBe(NOW + 1)
  })

  it("a Moving session's old key is deleted", () => {
    const state = moved()
    state.invalidate(NOW)
    expect(state.staleIds).toStrictEqual(new Set(["s1"]))
  })

  it("a New session has no key to delete", () => {
    const state = fresh()
    state.invalidate(NOW)
    expect(state.staleIds).toBeUndefined()
  })

  it("a bound session leaves its user's index", () => {
    const state = loaded(storedPayload({ u: { id: "u1" } }))
    state.invalidate(NOW)
    expect(state.endedBindings).toStrictEqual([{ userId: "u1", id: "s1" }])
    expect(state.binding).toBeUndefined()
  })

  it("an unbound session leaves no index", () => {
    const state = loaded()
    state.invalidate(NOW)
    expect(state.endedBindings).toBeUndefined()
  })

  it("an Unavailable session stays unavailable: nothing may be written", () => {
    const state = unavailable()
    state.invalidate(NOW)
    expect(state.backing).toStrictEqual({ _tag: "Unavailable" })
  })

  it("an expired key is deleted and the client's cookie expired", () => {
    const state = fresh()
    state.expired("old")
    state.stale("older")
    expect(state.staleIds).toStrictEqual(new Set(["old", "older"]))
    expect(state.expireClientCookie).toBe(true)
  })
})

describe("users", () => {
  it.each<[string, string | undefined, Payload["u"]]>([
    ["without a label", undefined, { id: "u1" }],
    ["with a label", "laptop", { id: "u1", label: "laptop" }]
  ])("binding %s joins the user's index and rewrites the payload", (_, label, binding) => {
    const state = loaded()
    state.bindUser("u1", label)
    expect(state.binding).toStrictEqual(binding)
    expect(state.indexChange).toStrictEqual({ _tag: "Add", userId: "u1" })
    expect(state.changed).toBe(true)
  })

  it("unbinding leaves the user's index and rewrites the payload", () => {
    const state = loaded(storedPayload({ u: { id: "u1" } }))
    state.unbindUser()
    expect([state.binding, state.indexChange, state.changed]).toStrictEqual([
      undefined,
      { _tag: "Remove", userId: "u1" },
      true
    ])
  })

  it("unbinding an unbound session changes nothing", () => {
    const state = loaded()
    state.unbindUser()
    expect([state.indexChange, state.changed]).toStrictEqual([undefined, false])
  })

  it("a bound session's payload carries its user and the time of the write", () => {
    const state = loaded(storedPayload({ u: { id: "u1" } }))
    expect(state.payloadAt(NOW + 5)).toStrictEqual({
      m: { a: 1 },
      c: NOW - 100,
      v: 1,
      t: 1200,
      x: undefined,
      u: { id: "u1" },
      w: NOW + 5
    })
  })

  it("an unbound session's payload carries neither", () => {
    expect(loaded().payloadAt(NOW)).toStrictEqual({ m: { a: 1 }, c: NOW - 100, v: 1, t: 1200, x: undefined })
  })
})

describe("timeouts and expiry", () => {
  it.each([
    ["a timeout of its own", 300, 300],
    ["at most the cap", 90_000, 86_400],
    ["zero restores the policy's", 0, 1200]
  ])("adjustTimeout: %s", (_, seconds, expected) => {
    const state = loaded()
    state.adjustTimeout(seconds)
    expect(state.times.timeout).toBe(expected)
    expect(state.changed).toBe(true)
    expect(state.ttlSeconds(NOW)).toBe(expected)
  })

  it("adjustPayloadExpiry pins `x` to the whole second at or after the time given", () => {
    const state = loaded()
    state.adjustPayloadExpiry(NOW + 10.2)
    expect(state.times).toMatchObject({ expiresAt: NOW + 11, pinned: true })
    expect(state.changed).toBe(true)
    expect(state.payloadAt(NOW).x).toBe(NOW + 11)
  })

  it.each<[string, () => SessionState, number]>([
    [
      "a stored, unchanged session keeps its stored `x`",
      () => loaded(storedPayload({ x: NOW + 1200 }), withX),
      NOW + 1200
    ],
    ["a new session will be written: a timeout from now", () => fresh(withX), NOW + 1200],
    [
      "a changed session will be written: a timeout from now",
      () => {
        const state = loaded(storedPayload({ x: NOW + 1200 }), withX)
        state.data.set("a", 2)
        return state
      },
      NOW + 1200
    ]
  ])("expiresAt: %s", (_, make, expected) => {
    expect(make().expiresAt(NOW)).toBe(expected)
  })

  it("a regenerated session will be written, though unchanged: a timeout from now", () => {
    const state = loaded(storedPayload({ x: NOW + 1000 }), rules({ payloadExpiry: true, timeoutTrigger: 60 }))
    expect(state.expiresAt(NOW)).toBe(NOW + 1000)
    state.regenerate()
    expect(state.changed).toBe(false)
    expect(state.expiresAt(NOW)).toBe(NOW + 1200)
  })

  it("an unchanged stored `x` is what expiresAt reports, even when it is near", () => {
    const state = loaded(storedPayload({ x: NOW + 1200 }), rules({ payloadExpiry: true, timeoutTrigger: 60 }))
    expect(state.changed).toBe(false)
    expect(state.expiresAt(NOW + 30)).toBe(NOW + 1200)
  })

  it("lifetimeEnds: creation plus the absolute lifetime", () => {
    expect(loaded(storedPayload(), rules({ maxLifetime: 3600 })).lifetimeEnds).toBe(NOW + 3500)
    expect(loaded().lifetimeEnds).toBeUndefined()
  })
})

describe("writes", () => {
  it("a save takes the written `x` and owes nothing more", () => {
    const state = loaded(storedPayload({ t: 500, x: NOW + 50 }))
    state.data.set("a", 2)
    state.saved(storedPayload({ x: NOW + 99 }))
    expect(state.times.expiresAt).toBe(NOW + 99)
    expect([state.changed, state.rewrite, state.ttlRefresh, state.data.changed]).toStrictEqual([
      false,
      false,
      undefined,
      false
    ])
  })

  it("creating the key stores the session under it, created here", () => {
    const state = fresh()
    state.data.set("a", 1)
    state.created("s9", storedPayload())
    expect(state.backing).toStrictEqual({ _tag: "Stored", id: "s9", createdHere: true })
    expect(state.changed).toBe(false)
  })

  it("a key deleted by another request leaves the session Gone", () => {
    expect(gone().backing).toStrictEqual({ _tag: "Gone" })
  })

  it("a key deleted by the commit leaves a New session", () => {
    const state = loaded()
    state.deleted()
    expect(state.backing).toStrictEqual({ _tag: "New", id: undefined, idRequested: false })
  })

  it.each<[string, (state: SessionState) => void, boolean]>([
    ["nothing changed: mergeable", () => {}, true],
    ["a key set: mergeable", (state) => state.data.set("b", 2), true],
    ["a key removed: mergeable", (state) => state.data.delete("a"), true],
    ["the values cleared: the whole payload is written", (state) => state.data.clear(), false],
    ["a key no merge can address: the whole payload is written", (state) => state.data.set("\ud800", 1), false]
  ])("mergeable: %s", (_, act, expected) => {
    const state = loaded()
    act(state)
    expect(state.mergeable).toBe(expected)
  })
})
