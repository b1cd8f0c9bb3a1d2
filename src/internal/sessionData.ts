/**
 * A session's values as one request sees them: reads and writes, flash
 * queues, the CSRF token, and the change tracking that decides whether the
 * request has anything to write. It knows neither HTTP nor the store and
 * imports nothing from Effect.
 */
import { randomBytes } from "node:crypto"
import type { Serializer } from "../Serializer.js"
import { type Data, fingerprint } from "./payload.js"

/** Flash messages live under `_f_` + queue name; the default queue is `""`. */
const FLASH_PREFIX = "_f_"
/** The CSRF token's key: 64 lowercase hex characters, as pyramid_session_redis stores it. */
const CSRF_KEY = "_csrft_"

const flashKey = (queue: string | undefined) => FLASH_PREFIX + (queue ?? "")

const isObject = (value: unknown): boolean => typeof value === "object" && value !== null

/** @internal */
export interface DataOptions {
  readonly serializer: Serializer
  /** Values handed out may be mutated in place: compare fingerprints to see it. */
  readonly detectChanges: boolean
}

/**
 * Invariant: `changed` is true iff the values differ from what was loaded or
 * last saved, as far as the options let us see. Writes through this class
 * mark it directly; in-place mutations of handed-out objects are seen by
 * fingerprinting the values when the first object is handed out.
 *
 * @internal
 */
export class SessionData {
  #values: Data
  #dirty = false
  /** Fingerprint of the values when the first mutable value was handed out, or at the last save since. */
  #baseline: string | undefined
  #exposed = false

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
    if (this.#dirty) return true
    return this.#baseline !== undefined && fingerprint(this.options.serializer, this.#values) !== this.#baseline
  }

  /** The values were written: changes count from here. */
  saved(): void {
    this.#dirty = false
    this.#baseline = this.#exposed ? fingerprint(this.options.serializer, this.#values) : undefined
  }

  /** Marks the session as changed, for in-place mutations that change detection does not see. */
  markChanged(): void {
    this.#dirty = true
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#values, key)
  }

  /** The value under `key` (undefined when absent: ask `has`). The caller may mutate it. */
  get(key: string): unknown {
    return this.has(key) ? this.#expose(this.#values[key]) : undefined
  }

  keys(): ReadonlyArray<string> {
    return Object.keys(this.#values)
  }

  entries(): ReadonlyArray<readonly [string, unknown]> {
    return Object.entries(this.#values).map(([key, value]) => [key, this.#expose(value)] as const)
  }

  set(key: string, value: unknown): void {
    // defineProperty: a key like "__proto__" is data, never the object's prototype.
    Object.defineProperty(this.#values, key, { value, writable: true, enumerable: true, configurable: true })
    this.#dirty = true
  }

  /** Removes a key; true when it was there. */
  delete(key: string): boolean {
    if (!this.has(key)) return false
    delete this.#values[key]
    this.#dirty = true
    return true
  }

  clear(): void {
    if (!this.isEmpty) this.#dirty = true
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

  /** The first mutable value handed out fixes the baseline its mutations are compared with. */
  #expose<A>(value: A): A {
    if (this.options.detectChanges && !this.#exposed && isObject(value)) {
      this.#exposed = true
      if (!this.#dirty) this.#baseline = fingerprint(this.options.serializer, this.#values)
    }
    return value
  }
}
