/**
 * A session's values as one request sees them: reads and writes, flash
 * queues, the CSRF token, and the change tracking that decides whether the
 * request has anything to write. It knows neither HTTP nor the store and
 * imports nothing from Effect.
 */
import { randomBytes } from "node:crypto"
import type { Serializer } from "../Serializer.js"
import type { Data } from "./payload.js"

/** Flash messages live under `_f_` + queue name; the default queue is `""`. */
const FLASH_PREFIX = "_f_"
/** The CSRF token's key: 64 lowercase hex characters, as pyramid_session_redis stores it. */
const CSRF_KEY = "_csrft_"

const flashKey = (queue: string | undefined) => FLASH_PREFIX + (queue ?? "")

// Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, watching a value that is no object costs a serialization and finds no change
const isObject = (value: unknown): boolean => typeof value === "object" && value !== null

/** @internal */
export interface DataOptions {
  readonly serializer: Serializer
  /** Values handed out may be mutated in place: compare fingerprints to see it. */
  readonly detectChanges: boolean
}

/** The keys a request changed since the load or the last save: what a merge write sends. */
export interface DataChanges {
  /** Keys whose value was set or mutated in place (present now). */
  readonly set: ReadonlyArray<string>
  /** Keys removed (absent now). */
  readonly removed: ReadonlyArray<string>
  /** Every key counts: the values were cleared, or `markChanged` said something unseen changed. */
  readonly whole: boolean
}

/**
 * Invariant: `changed` is true iff the values differ from what was loaded or
 * last saved, as far as the options let us see; `changes` names the keys.
 * Writes through this class record their key; in-place mutations of
 * handed-out objects are seen by comparing each handed-out key's serialized
 * value with its baseline, taken when it was first handed out.
 *
 * @internal
 */
export class SessionData {
  #values: Data
  /** Keys set or removed since the load or the last save. */
  #touched = new Set<string>()
  /** Everything changed: `clear`, or `markChanged`. */
  #whole = false
  /** Serialized values of the keys whose mutable value was handed out, when it was (or at the last save). */
  #baselines: Map<string, string> | undefined

  constructor(values: Data, readonly options: DataOptions) {
    this.#values = values
  }

  /** The values, for the payload. */
  get values(): Data {
    return this.#values
  }

  get isEmpty(): boolean {
    for (const _ in this.#values) return false
    return true
  }

  get changed(): boolean {
    if (this.#whole || this.#touched.size > 0) return true
    if (this.#baselines === undefined) return false
    for (const key of this.#baselines.keys()) if (this.#mutated(key)) return true
    return false
  }

  /** Which keys changed. */
  changes(): DataChanges {
    const set: Array<string> = []
    const removed: Array<string> = []
    for (const key of this.#touched) (this.has(key) ? set : removed).push(key)
    if (this.#baselines !== undefined) {
      for (const key of this.#baselines.keys()) if (!this.#touched.has(key) && this.#mutated(key)) set.push(key)
    }
    return { set, removed, whole: this.#whole }
  }

  /** The values were written: changes count from here. */
  saved(): void {
    // Stryker disable next-line ArrayDeclaration: equivalent, a key that is not held is never watched (`has` below)
    const held = [...(this.#baselines?.keys() ?? []), ...this.#touched]
    this.#touched = new Set()
    this.#whole = false
    this.#baselines = undefined
    // The caller may still hold, and mutate, the objects it was handed or set: they stay watched.
    if (this.options.detectChanges) {
      // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, a removed key serializes to "" before and after, so watching it finds no change
      for (const key of held) if (this.has(key) && isObject(this.#values[key])) this.#watch(key)
    }
  }

  /** Marks the session as changed, for in-place mutations that change detection does not see. */
  markChanged(): void {
    this.#whole = true
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#values, key)
  }

  /** The value under `key` (undefined when absent: ask `has`). The caller may mutate it. */
  get(key: string): unknown {
    return this.has(key) ? this.#expose(key, this.#values[key]) : undefined
  }

  keys(): ReadonlyArray<string> {
    return Object.keys(this.#values)
  }

  entries(): ReadonlyArray<readonly [string, unknown]> {
    return Object.entries(this.#values).map(([key, value]) => [key, this.#expose(key, value)] as const)
  }

  set(key: string, value: unknown): void {
    // defineProperty: a key like "__proto__" is data, never the object's prototype.
    // Stryker disable next-line BooleanLiteral: equivalent, values are only ever written through defineProperty, which a configurable key allows
    Object.defineProperty(this.#values, key, { value, writable: true, enumerable: true, configurable: true })
    this.#touched.add(key)
  }

  /** Removes a key; true when it was there. */
  delete(key: string): boolean {
    if (!this.has(key)) return false
    delete this.#values[key]
    this.#touched.add(key)
    return true
  }

  clear(): void {
    if (!this.isEmpty) this.#whole = true
    this.#values = {}
  }

  /** The messages of a flash queue, oldest first. */
  peekFlash(queue: string | undefined): ReadonlyArray<unknown> {
    const key = flashKey(queue)
    const messages = this.has(key) ? this.#values[key] : undefined
    return Array.isArray(messages) ? messages : []
  }

  /** Appends a message; with `allowDuplicate` false, a message already queued is skipped. */
  flash(message: unknown, queue: string | undefined, allowDuplicate: boolean): void {
    const messages = this.peekFlash(queue)
    const { serialize } = this.options.serializer
    if (!allowDuplicate && messages.some((m) => serialize(m) === serialize(message))) return
    this.set(flashKey(queue), [...messages, message])
  }

  popFlash(queue: string | undefined): ReadonlyArray<unknown> {
    const messages = this.peekFlash(queue)
    this.delete(flashKey(queue))
    return messages
  }

  newCsrfToken(): string {
    const token = randomBytes(32).toString("hex")
    this.set(CSRF_KEY, token)
    return token
  }

  /** The stored CSRF token, or a new one. */
  csrfToken(): string {
    const token = this.has(CSRF_KEY) ? this.#values[CSRF_KEY] : undefined
    return typeof token === "string" ? token : this.newCsrfToken()
  }

  /** Handing out a mutable value fixes the baseline its mutations are compared with. */
  #expose<A>(key: string, value: A): A {
    if (this.options.detectChanges && isObject(value) && !this.#touched.has(key) && !this.#baselines?.has(key)) {
      this.#watch(key)
    }
    return value
  }

  #watch(key: string): void {
    ;(this.#baselines ??= new Map()).set(key, this.#serialized(key))
  }

  #mutated(key: string): boolean {
    // Stryker disable next-line OptionalChaining: equivalent, only called for keys of `#baselines`
    return this.#baselines?.get(key) !== this.#serialized(key)
  }

  /** A key's value as the serializer writes it; a removed key serializes to "". */
  #serialized(key: string): string {
    // Stryker disable next-line StringLiteral: equivalent, a watched key leaves only by delete or clear, which count as changes already
    return this.has(key) ? String(this.options.serializer.serialize(this.#values[key])) : ""
  }
}
