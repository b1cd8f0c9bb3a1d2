/**
 * The commit decision: from a snapshot of one request's session and its
 * final response, what to write to the store and what to do with the
 * cookie. Pure functions over plain data, tested as tables; the effectful
 * step that applies a plan is in `requestSession.ts`. Imports nothing from
 * Effect.
 *
 * The write comes first and its outcome feeds the cookie: an update of a
 * session that another request deleted meanwhile (`SET XX` finds no key)
 * ends this session too.
 */
import { privateCacheControl, varyWithCookie } from "./responseHeaders.js"

/** Where the session stands against the store. */
export type Backing =
  /** No key: written only once it holds data, or once its id was asked for (`idRequested`). */
  | { readonly _tag: "New"; readonly id: string | undefined; readonly idRequested: boolean }
  /** The key exists: loaded, or created by this request (`persistNow`). */
  | { readonly _tag: "Stored"; readonly id: string; readonly createdHere: boolean }
  /** Stored under `from`, to move to a new id (`regenerate`): the reserved `id`, or a generated one. */
  | { readonly _tag: "Moving"; readonly from: string; readonly id: string | undefined; readonly createdHere: boolean }
  /** Deleted by another request while this one held it: never written again. */
  | { readonly _tag: "Gone" }
  /**
   * The store could not be reached when loading, and the request goes on with an anonymous
   * session (`onStoreUnavailable: "anonymous"`): nothing is ever written for it, and the
   * client's cookie is left alone so its real session survives the outage.
   */
  | { readonly _tag: "Unavailable" }

/** The policy settings the decision reads. */
export interface CommitRules {
  readonly invalidateEmptySession: boolean
  readonly cookieOnException: boolean
  /** `merge`: an update applies only the changed keys to the stored payload (see `updateOf`). */
  readonly writeMode: "merge" | "replace"
}

/** The final response, as far as the decision needs it. */
export interface ResponseFacts {
  readonly status: number
  /** The handler failed (a 5xx status counts as failed too). */
  readonly failed: boolean
  /** The application's `responseAllowsCookie` check passed (true without one). */
  readonly checkPassed: boolean
}

export interface Snapshot {
  readonly backing: Backing
  /** The session was loaded or invalidated in this request (not merely created blind by `recookie`). */
  readonly loaded: boolean
  /** The session's values are empty. */
  readonly empty: boolean
  /** The payload differs from the stored one (values or expiry). */
  readonly changed: boolean
  /** The changes are known key by key (no `clear` or `markChanged`), each key with a UTF-8 form. */
  readonly mergeable: boolean
  /** Keys to delete first: invalidated or expired sessions. */
  readonly staleIds: ReadonlyArray<string>
  /** The client's cookie names a session that is over. */
  readonly expireClientCookie: boolean
  /** The application asked for the cookie to be sent again (or adjusted its attributes). */
  readonly recookie: boolean
  /** The verified id of the request's cookie, when the session was never loaded. */
  readonly clientId: string | undefined
  readonly response: ResponseFacts
}

export type Write =
  | { readonly _tag: "None" }
  /** `SET NX`: with the id reserved for it, or a generated one. */
  | { readonly _tag: "Create"; readonly id: string | undefined }
  /**
   * Never re-creates a session deleted meanwhile. `merge`: the changed keys
   * applied to the stored payload (one `EVALSHA`); otherwise the whole
   * payload (`SET XX`).
   */
  | { readonly _tag: "Update"; readonly id: string; readonly merge: boolean }
  | { readonly _tag: "Delete"; readonly id: string }
  /** `SET to NX` + `DEL from` in one atomic step, only while `from` exists. */
  | { readonly _tag: "Move"; readonly from: string; readonly id: string | undefined }

export interface WritePlan {
  readonly deletes: ReadonlyArray<string>
  readonly write: Write
}

/** What applying the write did: `Gone` when `SET XX` found no key. */
export type Outcome =
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Created"; readonly id: string }
  | { readonly _tag: "Moved"; readonly id: string }
  | { readonly _tag: "Updated" }
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Deleted" }

export type CookieAction =
  | { readonly _tag: "Keep" }
  | { readonly _tag: "Set"; readonly id: string }
  | { readonly _tag: "Expire" }

export const keep: CookieAction = { _tag: "Keep" }
const expire: CookieAction = { _tag: "Expire" }
const unchanged: Outcome = { _tag: "Unchanged" }
const noWrite: Write = { _tag: "None" }

/**
 * A client that went away (499) will never hold a cookie, nor will one whose
 * failed request may not set one, nor one the application's check refuses.
 */
export const cookieAllowed = (rules: CommitRules, response: ResponseFacts): boolean =>
  response.status !== 499 &&
  (rules.cookieOnException || !(response.failed || response.status >= 500)) &&
  response.checkPassed

/**
 * The store writes of the commit. A key is created only together with its
 * cookie, so no key is ever left that no client holds a cookie for.
 */
export const planWrites = (rules: CommitRules, s: Snapshot): WritePlan =>
  s.backing._tag === "Unavailable" ? nothing : { deletes: s.staleIds, write: decideWrite(rules, s, s.backing) }

const nothing: WritePlan = { deletes: [], write: noWrite }

/** The update of the stored session `id`: a merge when the policy asks for one and the changes allow it. */
export const updateOf = (rules: CommitRules, mergeable: boolean, id: string): Write => ({
  _tag: "Update",
  id,
  merge: rules.writeMode === "merge" && mergeable
})

const decideWrite = (rules: CommitRules, s: Snapshot, backing: Exclude<Backing, { _tag: "Unavailable" }>): Write => {
  switch (backing._tag) {
    case "Gone":
      return noWrite
    case "New":
      return (backing.idRequested || !s.empty) && cookieAllowed(rules, s.response)
        ? { _tag: "Create", id: backing.id }
        : noWrite
    case "Stored":
      // Created early by `persistNow`, but its cookie will never reach the client.
      if (backing.createdHere && !cookieAllowed(rules, s.response)) return { _tag: "Delete", id: backing.id }
      if (rules.invalidateEmptySession && s.empty) return { _tag: "Delete", id: backing.id }
      return s.changed ? updateOf(rules, s.mergeable, backing.id) : noWrite
    case "Moving":
      // Created early by `persistNow`: without its cookie no client will ever hold it.
      if (backing.createdHere && !cookieAllowed(rules, s.response)) return { _tag: "Delete", id: backing.from }
      if (rules.invalidateEmptySession && s.empty) return { _tag: "Delete", id: backing.from }
      // The client will not get the new cookie: it keeps the old id, so the session stays where it is.
      if (!cookieAllowed(rules, s.response)) return s.changed ? updateOf(rules, s.mergeable, backing.from) : noWrite
      return { _tag: "Move", from: backing.from, id: backing.id }
  }
}

export const hasWrites = (plan: WritePlan): boolean => plan.deletes.length > 0 || plan.write._tag !== "None"

/** The cookie, once the write's outcome is known. */
export const planCookie = (rules: CommitRules, s: Snapshot, outcome: Outcome = unchanged): CookieAction => {
  const { backing } = s
  // The client's cookie names its real session, which must outlive the outage.
  if (backing._tag === "Unavailable" || !cookieAllowed(rules, s.response)) return keep
  switch (outcome._tag) {
    case "Created":
    case "Moved":
      return { _tag: "Set", id: outcome.id }
    case "Gone":
      // Deleted or moved by another request meanwhile: the old id is dead in Redis already, and
      // expiring the cookie could delete the one a concurrent login (regenerate) just set.
      return keep
    case "Deleted":
      // The emptied session the client holds is over; one created in this request never reached it.
      // Stryker disable next-line ConditionalExpression: equivalent, only a Stored or Moving backing plans a Delete
      return (backing._tag === "Stored" && !backing.createdHere) || (backing._tag === "Moving" && !backing.createdHere)
        ? expire
        : s.expireClientCookie
        ? expire
        : keep
      // Unchanged, Updated: decided below
  }
  if (backing._tag === "Gone") return keep
  // Stryker disable next-line ConditionalExpression: equivalent, a Moving backing created here is moved or deleted, never Unchanged or Updated
  if (backing._tag === "Stored" && backing.createdHere) return { _tag: "Set", id: backing.id }
  if (s.expireClientCookie) return expire
  if (s.recookie) {
    // A Moving backing never gets here: it always writes, and the outcome decided its cookie above.
    const id = backing._tag === "Stored"
      ? backing.id
      : s.loaded
      ? undefined
      : s.clientId
    if (id !== undefined) return { _tag: "Set", id }
  }
  return keep
}

/** Header values to set on the response; absent: leave the header as it is. */
export interface HeaderChanges {
  readonly vary?: string
  readonly cacheControl?: string
  readonly retryAfter?: string
}

export interface HeaderFacts {
  readonly vary: string | undefined
  readonly cacheControl: string | undefined
  readonly retryAfter: string | undefined
  readonly status: number
  /** When the session's store failed during this request: the seconds its error asks clients to wait. */
  readonly storeRetryAfter: number | undefined
  /** The request read its session cookie: the response depends on it. */
  readonly cookieRead: boolean
}

/**
 * `Vary: Cookie` on every response that depends on the cookie, a private
 * `Cache-Control` on every response that sets or expires it, and
 * `Retry-After` on a 503 caused by the store (an `HttpApi` error response
 * cannot carry headers of its own).
 */
export const planHeaders = (cookie: CookieAction, facts: HeaderFacts): HeaderChanges => {
  const changes: { vary?: string; cacheControl?: string; retryAfter?: string } = {}
  if (cookie._tag !== "Keep") {
    const cacheControl = privateCacheControl(facts.cacheControl)
    if (cacheControl !== facts.cacheControl) changes.cacheControl = cacheControl
  }
  if (cookie._tag !== "Keep" || facts.cookieRead) {
    const vary = varyWithCookie(facts.vary)
    if (vary !== facts.vary) changes.vary = vary
  }
  if (facts.storeRetryAfter !== undefined && facts.status === 503 && facts.retryAfter === undefined) {
    changes.retryAfter = String(facts.storeRetryAfter)
  }
  return changes
}
