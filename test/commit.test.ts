/**
 * The commit decision as tables: no Redis, no HTTP. Each row is a kind of
 * request from docs/redis-usage.md, or a cookie or header rule; the store
 * tests (Session.commands.test.ts) check that the commands match.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Commit from "../src/internal/commit.js"
import { sharedCacheable } from "../src/internal/responseHeaders.js"

const rules: Commit.CommitRules = { invalidateEmptySession: false, cookieOnException: true, writeMode: "merge" }
const ok: Commit.ResponseFacts = { status: 200, failed: false, checkPassed: true }

const newSession: Commit.Backing = { _tag: "New", id: undefined, idRequested: false }
const stored: Commit.Backing = { _tag: "Stored", id: "s1", createdHere: false }
const createdHere: Commit.Backing = { _tag: "Stored", id: "s1", createdHere: true }
const unavailable: Commit.Backing = { _tag: "Unavailable" }

/** A request that loaded an existing session and changed nothing; rows override what they are about. */
const snapshot = (overrides: Partial<Commit.Snapshot> = {}): Commit.Snapshot => ({
  backing: stored,
  loaded: true,
  empty: false,
  changed: false,
  mergeable: true,
  staleIds: [],
  expireClientCookie: false,
  recookie: false,
  clientId: undefined,
  response: ok,
  ...overrides
})

const none: Commit.Write = { _tag: "None" }
const keep: Commit.CookieAction = { _tag: "Keep" }
const expire: Commit.CookieAction = { _tag: "Expire" }
const set = (id: string): Commit.CookieAction => ({ _tag: "Set", id })
const created = (id: string): Commit.Outcome => ({ _tag: "Created", id })
const unchanged: Commit.Outcome = { _tag: "Unchanged" }
const updated: Commit.Outcome = { _tag: "Updated" }
const gone: Commit.Outcome = { _tag: "Gone" }
const deleted: Commit.Outcome = { _tag: "Deleted" }

interface Row {
  readonly request: string
  readonly snapshot: Commit.Snapshot
  readonly rules?: Commit.CommitRules
  /** What the store answered to the write (when there is one). */
  readonly outcome?: Commit.Outcome
  readonly deletes?: ReadonlyArray<string>
  readonly write: Commit.Write
  readonly cookie: Commit.CookieAction
}

const rows: ReadonlyArray<Row> = [
  // default mode (docs/redis-usage.md)
  {
    request: "no cookie, session only read: nothing, no cookie",
    snapshot: snapshot({ backing: newSession, empty: true }),
    write: none,
    cookie: keep
  },
  {
    request: "no cookie, session written: SET NX, and its cookie",
    snapshot: snapshot({ backing: newSession }),
    outcome: created("n1"),
    write: { _tag: "Create", id: undefined },
    cookie: set("n1")
  },
  { request: "session, read: no write, no cookie", snapshot: snapshot(), write: none, cookie: keep },
  {
    request: "session, written: the changed keys merged (EVALSHA), no cookie (the client has it)",
    snapshot: snapshot({ changed: true }),
    outcome: updated,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request: "session, invalidated (read first or not): DEL, and the cookie expired",
    snapshot: snapshot({ backing: newSession, empty: true, staleIds: ["s1"], expireClientCookie: true }),
    deletes: ["s1"],
    write: none,
    cookie: expire
  },
  {
    request: "session, invalidated then written (login): DEL + SET NX, and the new cookie",
    snapshot: snapshot({ backing: newSession, staleIds: ["s1"], expireClientCookie: true }),
    outcome: created("n1"),
    deletes: ["s1"],
    write: { _tag: "Create", id: undefined },
    cookie: set("n1")
  },
  {
    request: "payload past its x, read: DEL, and the cookie expired",
    snapshot: snapshot({ backing: newSession, empty: true, staleIds: ["s1"], expireClientCookie: true }),
    deletes: ["s1"],
    write: none,
    cookie: expire
  },
  // other modes and special cases
  {
    request: "trigger or payload expiry past its threshold: the payload is rewritten (SET XX)",
    snapshot: snapshot({ changed: true }),
    outcome: updated,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request: "persistNow on a new session, cookie then refused: DEL of the key no client will hold",
    snapshot: snapshot({ backing: createdHere, response: { ...ok, checkPassed: false } }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: keep
  },
  {
    request: "persistNow on a new session, cookie allowed: no second write, and its cookie",
    snapshot: snapshot({ backing: createdHere }),
    write: none,
    cookie: set("s1")
  },
  {
    request: "handler fails after writing a new session, cookieOnException off: nothing at all",
    rules: { ...rules, cookieOnException: false },
    snapshot: snapshot({ backing: newSession, response: { ...ok, status: 500, failed: true } }),
    write: none,
    cookie: keep
  },
  {
    request: "a 5xx response counts as failed (HttpApi): no new session without cookieOnException",
    rules: { ...rules, cookieOnException: false },
    snapshot: snapshot({ backing: newSession, response: { ...ok, status: 503 } }),
    write: none,
    cookie: keep
  },
  {
    request: "a failed request with cookieOnException (the default): the new session and its cookie",
    snapshot: snapshot({ backing: newSession, response: { ...ok, status: 500, failed: true } }),
    outcome: created("n1"),
    write: { _tag: "Create", id: undefined },
    cookie: set("n1")
  },
  {
    request: "new session, response refused by responseAllowsCookie: nothing at all",
    snapshot: snapshot({ backing: newSession, response: { ...ok, checkPassed: false } }),
    write: none,
    cookie: keep
  },
  {
    request: "the client went away (499): no new session",
    snapshot: snapshot({ backing: newSession, response: { ...ok, status: 499 } }),
    write: none,
    cookie: keep
  },
  {
    request: "an existing session changed on a refused response: still written, no cookie",
    snapshot: snapshot({ changed: true, response: { ...ok, checkPassed: false } }),
    outcome: updated,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request:
      "an update that finds the key deleted by another request (SET XX fails): nothing comes back, the cookie is left alone",
    snapshot: snapshot({ changed: true }),
    outcome: gone,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request: "an update that finds the key deleted, with recookie asked: no cookie for the deleted session",
    snapshot: snapshot({ changed: true, recookie: true }),
    outcome: gone,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request: "a session found gone earlier in the request (persistNow): never written again, the cookie left alone",
    snapshot: snapshot({ backing: { _tag: "Gone" }, changed: true }),
    write: none,
    cookie: keep
  },
  {
    request:
      "a session found gone earlier, the client's cookie naming an ended one: the cookie left alone (a concurrent login may have set it)",
    snapshot: snapshot({ backing: { _tag: "Gone" }, changed: true, expireClientCookie: true }),
    write: none,
    cookie: keep
  },
  {
    request: "ensureId on an empty new session: SET NX with that id, and its cookie",
    snapshot: snapshot({ backing: { _tag: "New", id: "r1", idRequested: true }, empty: true }),
    outcome: created("r1"),
    write: { _tag: "Create", id: "r1" },
    cookie: set("r1")
  },
  {
    request: "idIfExists reserved an id, then the data was removed: nothing",
    snapshot: snapshot({ backing: { _tag: "New", id: "r1", idRequested: false }, empty: true }),
    write: none,
    cookie: keep
  },
  {
    request: "invalidateEmptySession, an existing session emptied: DEL, and the cookie expired",
    rules: { ...rules, invalidateEmptySession: true },
    snapshot: snapshot({ empty: true, changed: true }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: expire
  },
  {
    request: "invalidateEmptySession, a session created and emptied in this request: DEL, no cookie",
    rules: { ...rules, invalidateEmptySession: true },
    snapshot: snapshot({ backing: createdHere, empty: true }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: keep
  },
  {
    request: "invalidateEmptySession off: an emptied session is written empty",
    snapshot: snapshot({ empty: true, changed: true }),
    outcome: updated,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  // regenerate: the stored session moves to a new id
  {
    request: "regenerate: one atomic move (SET NX + DEL), and the new cookie",
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: false } }),
    outcome: { _tag: "Moved", id: "n1" },
    write: { _tag: "Move", from: "s1", id: undefined },
    cookie: set("n1")
  },
  {
    request: "regenerate after ensureId: the move goes to the reserved id",
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: "r1", createdHere: false } }),
    outcome: { _tag: "Moved", id: "r1" },
    write: { _tag: "Move", from: "s1", id: "r1" },
    cookie: set("r1")
  },
  {
    request: "regenerate with invalidateEmptySession of a session that still has values: one atomic move",
    rules: { ...rules, invalidateEmptySession: true },
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: false } }),
    outcome: { _tag: "Moved", id: "n1" },
    write: { _tag: "Move", from: "s1", id: undefined },
    cookie: set("n1")
  },
  {
    request: "persistNow, then regenerate of the emptied session with invalidateEmptySession: DEL, no cookie",
    rules: { ...rules, invalidateEmptySession: true },
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: true }, empty: true }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: keep
  },
  {
    request: "regenerate of a session deleted meanwhile: nothing comes back, the cookie left alone",
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: false } }),
    outcome: gone,
    write: { _tag: "Move", from: "s1", id: undefined },
    cookie: keep
  },
  {
    request: "regenerate on a refused response: the session stays under its id (written there if changed)",
    snapshot: snapshot({
      backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: false },
      changed: true,
      response: { ...ok, checkPassed: false }
    }),
    outcome: updated,
    write: { _tag: "Update", id: "s1", merge: true },
    cookie: keep
  },
  {
    request: "regenerate of an emptied session with invalidateEmptySession: DEL, and the cookie expired",
    rules: { ...rules, invalidateEmptySession: true },
    snapshot: snapshot({ backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: false }, empty: true }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: expire
  },
  {
    request: "persistNow, then regenerate, then a refused cookie: the key no client will hold is deleted",
    snapshot: snapshot({
      backing: { _tag: "Moving", from: "s1", id: undefined, createdHere: true },
      response: { ...ok, checkPassed: false }
    }),
    outcome: deleted,
    write: { _tag: "Delete", id: "s1" },
    cookie: keep
  },
  // recookie
  {
    request: "recookie on an existing session: the same id again",
    snapshot: snapshot({ recookie: true }),
    write: none,
    cookie: set("s1")
  },
  {
    request: "recookie without loading: the id of the client's verified cookie, no read",
    snapshot: snapshot({ backing: newSession, loaded: false, empty: true, recookie: true, clientId: "c1" }),
    write: none,
    cookie: set("c1")
  },
  {
    request: "recookie without a valid cookie and without loading: nothing to re-send",
    snapshot: snapshot({ backing: newSession, loaded: false, empty: true, recookie: true }),
    write: none,
    cookie: keep
  },
  {
    request: "recookie on a session found missing: no cookie for a session that does not exist",
    snapshot: snapshot({ backing: newSession, empty: true, recookie: true, clientId: "c1" }),
    write: none,
    cookie: keep
  },
  {
    request: "recookie on a refused response: no cookie",
    snapshot: snapshot({ recookie: true, response: { ...ok, checkPassed: false } }),
    write: none,
    cookie: keep
  },
  // the store was unreachable and an anonymous session stands in (onStoreUnavailable: "anonymous")
  {
    request: "store unavailable, values written in the request: nothing, the client's cookie kept",
    snapshot: snapshot({ backing: unavailable, changed: true }),
    write: none,
    cookie: keep
  },
  {
    request: "store unavailable, emptied under invalidateEmptySession: no delete, cookie kept",
    snapshot: snapshot({ backing: unavailable, empty: true, changed: true }),
    rules: { ...rules, invalidateEmptySession: true },
    write: none,
    cookie: keep
  },
  {
    request: "store unavailable, stale ids and an expired cookie asked for: nothing deleted, cookie kept",
    snapshot: snapshot({ backing: unavailable, staleIds: ["c1"], expireClientCookie: true }),
    write: none,
    cookie: keep
  },
  {
    request: "store unavailable, recookie: the cookie is not re-sent",
    snapshot: snapshot({ backing: unavailable, recookie: true, clientId: "c1" }),
    write: none,
    cookie: keep
  }
]

describe("the commit decision", () => {
  it.each(rows)("$request", (row) => {
    const plan = Commit.planWrites(row.rules ?? rules, row.snapshot)
    expect(plan.deletes).toEqual(row.deletes ?? [])
    expect(plan.write).toEqual(row.write)
    expect(Commit.planCookie(row.rules ?? rules, row.snapshot, row.outcome ?? unchanged)).toEqual(row.cookie)
  })

  it("a plan with neither deletes nor a write has nothing to write", () => {
    expect(Commit.hasWrites({ deletes: [], write: none })).toBe(false)
    expect(Commit.hasWrites({ deletes: ["s1"], write: none })).toBe(true)
    expect(Commit.hasWrites({ deletes: [], write: { _tag: "Update", id: "s1", merge: true } })).toBe(true)
  })
})

describe("merge or whole write of an update", () => {
  const moving: Commit.Backing = { _tag: "Moving", from: "s1", id: undefined, createdHere: false }
  const refused: Commit.ResponseFacts = { ...ok, checkPassed: false }
  it.each<{
    readonly case: string
    readonly writeMode: "merge" | "replace"
    readonly mergeable: boolean
    readonly backing?: Commit.Backing
    readonly response?: Commit.ResponseFacts
    readonly merge: boolean
  }>([
    { case: "merge policy, changes known key by key: merge", writeMode: "merge", mergeable: true, merge: true },
    { case: "merge policy, clear or markChanged: whole payload", writeMode: "merge", mergeable: false, merge: false },
    { case: "replace policy: whole payload", writeMode: "replace", mergeable: true, merge: false },
    { case: "replace policy, not mergeable: whole payload", writeMode: "replace", mergeable: false, merge: false },
    {
      case: "regenerated, the new cookie refused: the session stays where it is, merged",
      writeMode: "merge",
      mergeable: true,
      backing: moving,
      response: refused,
      merge: true
    }
  ])("$case", (row) => {
    const s = snapshot({
      changed: true,
      mergeable: row.mergeable,
      backing: row.backing ?? stored,
      response: row.response ?? ok
    })
    expect(Commit.planWrites({ ...rules, writeMode: row.writeMode }, s).write).toStrictEqual({
      _tag: "Update",
      id: "s1",
      merge: row.merge
    })
  })

  it("a regenerated session is moved whole (never merged)", () => {
    const s = snapshot({ changed: true, backing: { _tag: "Moving", from: "s1", id: "s2", createdHere: false } })
    expect(Commit.planWrites(rules, s).write).toStrictEqual({ _tag: "Move", from: "s1", id: "s2" })
  })

  it("a new session is created whole (never merged)", () => {
    const s = snapshot({ changed: true, backing: newSession })
    expect(Commit.planWrites(rules, s).write).toStrictEqual({ _tag: "Create", id: undefined })
  })
})

describe("cookieAllowed", () => {
  it.each([
    { facts: ok, cookieOnException: true, allowed: true },
    { facts: { ...ok, status: 499 }, cookieOnException: true, allowed: false },
    { facts: { ...ok, failed: true }, cookieOnException: true, allowed: true },
    { facts: { ...ok, failed: true }, cookieOnException: false, allowed: false },
    { facts: { ...ok, status: 502 }, cookieOnException: false, allowed: false },
    { facts: { ...ok, status: 500 }, cookieOnException: false, allowed: false },
    { facts: { ...ok, status: 404 }, cookieOnException: false, allowed: true },
    { facts: { ...ok, checkPassed: false }, cookieOnException: true, allowed: false }
  ])(
    "status $facts.status, failed $facts.failed, check $facts.checkPassed, cookieOnException $cookieOnException: $allowed",
    ({ allowed, cookieOnException, facts }) => {
      expect(Commit.cookieAllowed({ ...rules, cookieOnException }, facts)).toBe(allowed)
    }
  )
})

describe("response headers", () => {
  const facts: Commit.HeaderFacts = {
    vary: undefined,
    cacheControl: undefined,
    retryAfter: undefined,
    status: 200,
    storeRetryAfter: undefined,
    cookieRead: false
  }

  it.each<
    {
      readonly rule: string
      readonly cookie: Commit.CookieAction
      readonly facts: Partial<Commit.HeaderFacts>
      readonly changes: Commit.HeaderChanges
    }
  >([
    { rule: "an untouched cookie that was never read: no header", cookie: keep, facts: {}, changes: {} },
    {
      rule: "a response that read the cookie varies on it",
      cookie: keep,
      facts: { cookieRead: true },
      changes: { vary: "Cookie" }
    },
    {
      rule: "a response that sets the cookie: private to the browser, and varies on the cookie",
      cookie: set("s1"),
      facts: {},
      changes: { vary: "Cookie", cacheControl: "private" }
    },
    {
      rule: "an expired cookie is kept from shared caches too",
      cookie: expire,
      facts: {},
      changes: { vary: "Cookie", cacheControl: "private" }
    },
    {
      rule: "Vary keeps what it lists and gains Cookie",
      cookie: keep,
      facts: { cookieRead: true, vary: "Origin" },
      changes: { vary: "Origin, Cookie" }
    },
    {
      rule: "Vary that already lists Cookie is kept as it is",
      cookie: keep,
      facts: { cookieRead: true, vary: "Accept, cookie" },
      changes: {}
    },
    { rule: "Vary: * is kept as it is", cookie: keep, facts: { cookieRead: true, vary: "*" }, changes: {} },
    {
      rule: "public and s-maxage give way to private when a cookie is set",
      cookie: set("s1"),
      facts: { cookieRead: true, cacheControl: "public, max-age=60, s-maxage=600" },
      changes: { vary: "Cookie", cacheControl: "private, max-age=60" }
    },
    {
      rule: "no-store already keeps every cache away",
      cookie: set("s1"),
      facts: { cookieRead: true, cacheControl: "no-store" },
      changes: { vary: "Cookie" }
    },
    {
      rule: "a 503 caused by the store gets Retry-After",
      cookie: keep,
      facts: { cookieRead: true, status: 503, storeRetryAfter: 1 },
      changes: { vary: "Cookie", retryAfter: "1" }
    },
    {
      rule: "a store failure the application answered itself (200) gets no Retry-After",
      cookie: keep,
      facts: { status: 200, storeRetryAfter: 1 },
      changes: {}
    },
    {
      rule: "a 503 that already has Retry-After keeps it",
      cookie: keep,
      facts: { status: 503, storeRetryAfter: 1, retryAfter: "30" },
      changes: {}
    },
    { rule: "the application's own 503 gets no Retry-After from us", cookie: keep, facts: { status: 503 }, changes: {} }
  ])("$rule", ({ changes, cookie, facts: overrides }) => {
    expect(Commit.planHeaders(cookie, { ...facts, ...overrides })).toEqual(changes)
  })
})

describe("what a shared cache may store (the ready response check refuses the cookie on these)", () => {
  const now = Date.parse("Mon, 30 Nov 2026 12:00:00 GMT")
  it.each<{ readonly cacheControl: string | undefined; readonly expires?: string; readonly shared: boolean }>([
    { cacheControl: undefined, shared: false },
    { cacheControl: "public", shared: true },
    { cacheControl: "public, max-age=60", shared: true },
    { cacheControl: "s-maxage=600", shared: true },
    { cacheControl: "private, s-maxage=600", shared: true },
    { cacheControl: "max-age=60", shared: true },
    { cacheControl: undefined, expires: "Thu, 01 Jan 2099 00:00:00 GMT", shared: true },
    { cacheControl: "private, max-age=60", shared: false },
    { cacheControl: "no-store", shared: false },
    { cacheControl: "no-store, max-age=60", shared: false },
    { cacheControl: "private, no-cache", shared: false },
    { cacheControl: "no-cache", shared: false },
    { cacheControl: "private", expires: "Thu, 01 Jan 2099 00:00:00 GMT", shared: false },
    { cacheControl: "private=\"set-cookie\", max-age=60", shared: true },
    { cacheControl: "max-age=0, must-revalidate", shared: false },
    { cacheControl: "no-cache", expires: "0", shared: false },
    { cacheControl: undefined, expires: "Thu, 01 Jan 1970 00:00:00 GMT", shared: false },
    { cacheControl: undefined, expires: "Mon, 30 Nov 2026 12:00:00 GMT", shared: false }
  ])("Cache-Control $cacheControl, Expires $expires: shared $shared", ({ cacheControl, expires, shared }) => {
    expect(sharedCacheable(cacheControl, expires, now)).toBe(shared)
  })
})
