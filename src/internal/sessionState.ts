/**
 * One session as a request holds it: where it stands against the store, its
 * values, its times, and what is owed to the store and the client. Plain
 * state with the rules that change it; it knows neither HTTP nor the store
 * and imports nothing from Effect. `RequestSession` moves it through loads
 * and writes; `commit.ts` reads a snapshot of it.
 */
import type { Backing } from "./commit.js"
import * as Expiry from "./expiry.js"
import type { Binding, Payload } from "./payload.js"
import { isWellFormed } from "./payloadMerge.js"
import { type DataOptions, SessionData } from "./sessionData.js"

/** The policy settings the state reads. */
export interface StateRules extends Expiry.ExpiryRules, DataOptions {
  readonly generateId: () => string
}

const newSession: Backing = { _tag: "New", id: undefined, idRequested: false }
const unavailable: Backing = { _tag: "Unavailable" }

/** @internal */
export class SessionState {
  backing: Backing = newSession
  data: SessionData
  times: Expiry.Times
  /** The payload must be written even if no value changed (its expiry or timeout moved). */
  // Stryker disable next-line BooleanLiteral: equivalent, a request starts its state with `startFresh` or `unavailable`
  rewrite = false
  /** Seconds to set the TTL to after the response (a per-session timeout that the read slid away). */
  ttlRefresh: number | undefined
  /** Keys to delete at the commit: invalidated or expired sessions. */
  staleIds: Set<string> | undefined
  /** The client's cookie names a session that is over. */
  expireClientCookie = false
  /** The user the session is bound to (stored in the payload as `u`). */
  binding: Binding | undefined
  /** The change to a user's sessions index owed once the session is written. */
  indexChange: { readonly _tag: "Add" | "Remove"; readonly userId: string } | undefined
  /** Bound sessions this request ended: their ids leave their users' indexes with the deletes. */
  endedBindings: Array<{ readonly userId: string; readonly id: string }> | undefined

  constructor(readonly rules: StateRules) {
    this.data = new SessionData({}, rules)
    this.times = Expiry.fresh(rules, 0)
  }

  /** A new, empty session from `now` (what a request without a usable session gets). */
  startFresh(now: number): void {
    this.backing = newSession
    this.data = new SessionData({}, this.rules)
    this.times = Expiry.fresh(this.rules, now)
    this.rewrite = false
    this.ttlRefresh = undefined
    this.binding = undefined
    this.indexChange = undefined
  }

  /** The store could not be reached: an anonymous session from `now`, never written. */
  unavailable(now: number): void {
    this.startFresh(now)
    this.backing = unavailable
  }

  /** The stored session `id` as loaded at `now`. */
  adopt(id: string, payload: Payload, now: number): void {
    const adopted = Expiry.adopt(this.rules, payload, now)
    this.backing = { _tag: "Stored", id, createdHere: false }
    this.data = new SessionData(payload.m, this.rules)
    this.times = adopted.times
    this.rewrite = adopted.rewrite
    this.ttlRefresh = adopted.ttlRefresh
    this.binding = payload.u
  }

  /** Binds the session to a user; its id joins the user's index when the session is written. */
  bindUser(userId: string, label: string | undefined): void {
    this.binding = label === undefined ? { id: userId } : { id: userId, label }
    this.indexChange = { _tag: "Add", userId }
    this.rewrite = true
  }

  unbindUser(): void {
    if (this.binding === undefined) return
    this.indexChange = { _tag: "Remove", userId: this.binding.id }
    this.binding = undefined
    this.rewrite = true
  }

  /** The key `id` is over: delete it at the commit, and expire the client's cookie. */
  expired(id: string): void {
    this.stale(id)
    this.expireClientCookie = true
  }

  stale(id: string): void {
    ;(this.staleIds ??= new Set()).add(id)
  }

  /** Ends the stored session, if any; later writes start a new one. */
  invalidate(now: number): void {
    const backing = this.backing
    // Stryker disable next-line ConditionalExpression: equivalent, no other backing has a `from`
    const ended = backing._tag === "Stored" ? backing.id : backing._tag === "Moving" ? backing.from : undefined
    if (ended !== undefined) {
      this.stale(ended)
      // A loaded, bound session leaves its user's index now rather than at the user's next login.
      if (this.binding !== undefined) (this.endedBindings ??= []).push({ userId: this.binding.id, id: ended })
    }
    this.startFresh(now)
    // Still nothing may be written.
    if (backing._tag === "Unavailable") this.backing = unavailable
  }

  /**
   * A new id for the same values and creation time (login, privilege
   * change): the stored session moves to it at the commit. An id handed out
   * before is dropped, so the session never ends up under a known id.
   */
  regenerate(): void {
    const backing = this.backing
    // Gone and Unavailable: nothing is or will be stored, nothing moves.
    switch (backing._tag) {
      case "New":
        this.backing = { ...backing, id: undefined }
        return
      case "Stored":
        this.backing = { _tag: "Moving", from: backing.id, id: undefined, createdHere: backing.createdHere }
        // The user's index must learn the new id.
        if (this.binding !== undefined) this.indexChange = { _tag: "Add", userId: this.binding.id }
        return
      case "Moving":
        this.backing = { ...backing, id: undefined }
        return
    }
  }

  get isNew(): boolean {
    const backing = this.backing
    return backing._tag === "New" || backing._tag === "Gone" || backing._tag === "Unavailable" ||
      (backing._tag === "Stored" && backing.createdHere)
  }

  /** The payload differs from what is stored. */
  get changed(): boolean {
    return this.rewrite || this.data.changed
  }

  /** The changes can be merged into the stored payload key by key (see `Commit.updateOf`). */
  get mergeable(): boolean {
    const changes = this.data.changes()
    return !changes.whole && changes.set.every(isWellFormed) && changes.removed.every(isWellFormed)
  }

  ensureId(): string {
    const backing = this.backing
    switch (backing._tag) {
      // Stryker disable next-line ConditionalExpression: equivalent, the case below returns a stored id unchanged too
      case "Stored":
        return backing.id
      case "New":
      case "Moving": {
        const id = backing.id ?? this.rules.generateId()
        this.backing = backing._tag === "New" ? { _tag: "New", id, idRequested: true } : { ...backing, id }
        return id
      }
      case "Gone":
      case "Unavailable":
        // A session that vanished stays gone, an anonymous stand-in is never stored: the id is never written.
        return this.rules.generateId()
    }
  }

  /**
   * Like pyramid_session_redis's `session_id_safecheck`: the id a session
   * with data has or will get. It is fixed now, so the answer stays true;
   * unlike `ensureId`, the session is written only if it keeps data.
   */
  idIfExists(): string | undefined {
    const backing = this.backing
    if (this.data.isEmpty || backing._tag === "Gone" || backing._tag === "Unavailable") return undefined
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, the lines below return a stored id unchanged too
    if (backing._tag === "Stored") return backing.id
    const id = backing.id ?? this.rules.generateId()
    this.backing = { ...backing, id }
    return id
  }

  /** This session's idle timeout in seconds, at most `maxTimeout`; zero restores the policy's. */
  adjustTimeout(seconds: number): void {
    this.times = {
      ...this.times,
      timeout: seconds === 0 ? this.rules.timeout : Math.min(seconds, this.rules.maxTimeout)
    }
    this.rewrite = true
  }

  adjustPayloadExpiry(epochSeconds: number): void {
    this.times = { ...this.times, expiresAt: Math.ceil(epochSeconds), pinned: true }
    this.rewrite = true
  }

  /** When the session expires if left idle from `now` (never after its lifetime ends). */
  expiresAt(now: number): number | undefined {
    return Expiry.nextExpiry(this.rules, this.times, now, this.backing._tag !== "Stored" || this.changed)
  }

  /** When the session ends whatever its activity (`maxLifetime`). */
  get lifetimeEnds(): number | undefined {
    return Expiry.lifetimeEnds(this.rules, this.times)
  }

  payloadAt(now: number): Payload {
    const payload = Expiry.payloadAt(this.rules, this.times, this.data.values, now)
    return this.binding === undefined ? payload : { ...payload, u: this.binding, w: now }
  }

  /** The `EX` of a write at `now`. */
  ttlSeconds(now: number): number | undefined {
    return Expiry.ttlSeconds(this.rules, this.times, now)
  }

  /** `payload` was written: changes count from here. */
  saved(payload: Payload): void {
    this.times = { ...this.times, expiresAt: payload.x }
    this.data.saved()
    this.rewrite = false
    this.ttlRefresh = undefined
  }

  /** This request created the key `id` with `payload` (or moved the session there). */
  created(id: string, payload: Payload): void {
    this.backing = { _tag: "Stored", id, createdHere: true }
    this.saved(payload)
  }

  /** Another request deleted (or moved) the key while this one held it: the session is over here too. */
  gone(): void {
    this.backing = { _tag: "Gone" }
  }

  /** The commit deleted the key. */
  deleted(): void {
    this.backing = newSession
  }
}
