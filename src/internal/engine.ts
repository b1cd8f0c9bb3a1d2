/**
 * One request's session: lazy load, in-memory edits, and the single commit
 * that decides persistence and cookie together.
 *
 * This runs on every request, so it is a class (methods on the prototype,
 * effects built only when used) rather than a bag of per-request closures.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { createHmac, randomBytes } from "node:crypto"
import * as InvalidSession from "../InvalidSession.js"
import type { RedisClientShape, SessionStoreError } from "../RedisClient.js"
import type { FlashOptions, SessionError, SessionShape } from "../Session.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import { cookieValue } from "./cookieHeader.js"
import * as Payload from "./payload.js"
import * as Tracing from "./tracing.js"

const FLASH_PREFIX = "_f_"
const CSRF_KEY = "_csrft_"
const CREATE_ATTEMPTS = 3

const redactKey = randomBytes(32)

/** A short tag for logs, keyed per process so that even guessable custom ids can't be recovered. */
export const redactId = (id: string): string => createHmac("sha256", redactKey).update(id).digest("hex").slice(0, 12)

const nowSeconds = Effect.map(Clock.currentTimeMillis, Payload.epochSeconds)

const isObject = (value: unknown): boolean => typeof value === "object" && value !== null

/** Whole seconds, rounded up like every time in the payload; an infinite duration is a defect. */
const toSeconds = (input: Duration.DurationInput): number => {
  const seconds = Duration.toSeconds(input)
  if (!Number.isFinite(seconds)) throw new RangeError("session durations must be finite")
  return Math.max(0, Math.ceil(seconds))
}

const flashKey = (queue: string | undefined) => FLASH_PREFIX + (queue ?? "")

const appendVary = (response: HttpServerResponse.HttpServerResponse) => {
  const vary = response.headers["vary"]
  if (vary === undefined || vary.trim() === "") return HttpServerResponse.setHeader(response, "vary", "Cookie")
  const parts = vary.split(",").map((part) => part.trim().toLowerCase())
  if (parts.includes("cookie") || parts.includes("*")) return response
  return HttpServerResponse.setHeader(response, "vary", `${vary}, Cookie`)
}

/** `Cache-Control` directives: split at commas outside quoted strings (`no-cache="a, b"` is one). */
const cacheDirectives = (value: string): Array<string> => {
  const directives: Array<string> = []
  let current = ""
  let quoted = false
  for (const char of value) {
    if (char === "\"") quoted = !quoted
    if (char === "," && !quoted) {
      directives.push(current.trim())
      current = ""
    } else {
      current += char
    }
  }
  directives.push(current.trim())
  return directives.filter((d) => d !== "")
}

const directiveName = (directive: string) => directive.split("=")[0]?.trim().toLowerCase() ?? ""

/** Keeps every shared cache away. A qualified `private="set-cookie"` does not: it only hides the listed headers. */
const forbidsSharedCaches = (directive: string) =>
  directive.toLowerCase() === "private" || directiveName(directive) === "no-store"

/**
 * `Cache-Control` for a response that sets or expires a cookie: no shared
 * cache may store it. A bare `private` is added unless it or `no-store` is
 * there, and `public`, `s-maxage` and a qualified `private` are dropped; the
 * rest (`max-age`, `no-cache`, …) stays, for the browser's own cache.
 */
export const privateCacheControl = (value: string | undefined): string => {
  const directives = cacheDirectives(value ?? "")
  const kept = directives.filter((d) => {
    const name = directiveName(d)
    return name !== "public" && name !== "s-maxage" && (name !== "private" || forbidsSharedCaches(d))
  })
  const isPrivate = kept.some(forbidsSharedCaches)
  if (isPrivate && kept.length === directives.length && value !== undefined) return value
  return (isPrivate ? kept : ["private", ...kept]).join(", ")
}

type CookieAction = "set" | "expire" | "none"

/** @internal */
export class RequestSession {
  readonly service: SessionShape
  private rawCookieMemo: { readonly value: string | undefined } | undefined
  private cookieIdMemo: Option.Option<string> | undefined

  private loaded = false
  private loading = false
  private waiters: Array<Deferred.Deferred<void, SessionError>> | undefined
  private touched = false
  /** The request read the stored session: the response depends on the cookie. */
  private readStore = false
  private id: string | undefined
  /** The key exists in Redis (loaded, or created by this request). */
  private stored = false
  private createdHere = false
  /** The session was deleted by another request while this one held it: never re-create it. */
  private vanished = false
  private isNew = true
  private data: Payload.SessionData = {}
  private created = 0
  private timeout: number | undefined
  private expiresAt: number | undefined
  private expiresPinned = false
  private baseline: string | undefined
  private exposed = false
  private dirty = false
  /** The payload expiry must be rewritten even without data changes. */
  private refreshPayload = false
  /** Seconds for a TTL-only refresh after the response. */
  private ttlRefresh: number | undefined
  private refreshScheduled = false
  private wantId = false
  private recookie = false
  private cookieMaxAge: number | undefined
  private cookieExpires: Date | number | undefined
  private expireClientCookie = false
  private deleteIds: Set<string> | undefined
  /** The commit has run (at least started) once. */
  private committed = false
  /** The handler failed (recorded by the middleware; at serve level and in HttpApi only a 5xx tells). */
  private failed = false
  /** What the commit decided, to apply again if the platform renders an error response after it. */
  private decided: { readonly action: CookieAction; readonly now: number } | undefined

  /**
   * The request and its scope, until the commit is decided (see `release`).
   * The scope is for the after-response TTL refresh.
   */
  private request: HttpServerRequest.HttpServerRequest | undefined
  private scope: Scope.Scope | undefined

  constructor(
    readonly policy: SessionPolicyShape,
    readonly redis: RedisClientShape,
    request: HttpServerRequest.HttpServerRequest,
    scope: Scope.Scope
  ) {
    this.request = request
    this.scope = scope
    this.timeout = policy.timeout
    this.cookieMaxAge = policy.cookie.maxAge
    this.cookieExpires = policy.cookie.expires
    this.service = new SessionService(this)
  }

  /**
   * Lets go of the request once the response is decided. A finished
   * request's pre-response handlers (and so this object) stay reachable for a
   * while; holding the request from here kept all of it alive too, and the
   * garbage collector paid for that on every request (measured over HTTP: a
   * request that never touched its session cost about 25 µs more CPU than
   * one without the middleware, about 10 µs after this). A session first
   * used after this (by a streaming body, or a fiber that outlived the
   * handler) still finds its cookie, since the header is kept; only the
   * `onInvalid` hook, which needs the request, is skipped then.
   */
  private release(): void {
    // A streaming body or a fiber that outlives the commit may still load the session: keep the header.
    if (this.rawCookieMemo === undefined && this.request !== undefined) this.cookieHeader = this.request.headers["cookie"]
    this.request = undefined
    this.scope = undefined
  }

  /** The `Cookie` header, kept when the request is released before the session was read. */
  private cookieHeader: string | undefined

  /** The request's session cookie; read only once the session is used, and only that one cookie. */
  private get rawCookie(): string | undefined {
    if (this.rawCookieMemo === undefined) {
      const header = this.request === undefined ? this.cookieHeader : this.request.headers["cookie"]
      this.rawCookieMemo = { value: header === undefined ? undefined : cookieValue(header, this.policy.cookie.name) }
    }
    return this.rawCookieMemo.value
  }

  private cookieId(): Option.Option<string> {
    if (this.cookieIdMemo !== undefined) return this.cookieIdMemo
    const raw = this.rawCookie
    return this.cookieIdMemo = raw === undefined ? Option.none() : this.policy.signer.verify(raw)
  }

  // --- loading -------------------------------------------------------------

  private report(cause: InvalidSession.InvalidSession): Effect.Effect<void> {
    const counted = InvalidSession.count(cause)
    const hook = this.policy.onInvalid
    const request = this.request
    if (hook === undefined || request === undefined) return counted
    return Effect.zipRight(
      counted,
      Effect.catchAllCause(hook(request, cause), (failure) => Effect.logWarning("session onInvalid hook failed", failure))
    )
  }

  private startFresh(now: number): void {
    this.id = undefined
    this.stored = false
    this.createdHere = false
    this.isNew = true
    this.data = {}
    this.created = now
    this.timeout = this.policy.timeout
    this.expiresAt = undefined
    this.expiresPinned = false
    this.baseline = undefined
    this.exposed = false
    this.dirty = false
    this.refreshPayload = false
    this.ttlRefresh = undefined
    this.wantId = false
  }

  /** Reads the session; the read also slides the Redis TTL when that is where the timeout lives. */
  private readCommand(sessionId: string): Effect.Effect<Option.Option<string>, SessionStoreError> {
    const { policy } = this
    return policy.redisTtl && policy.timeoutTrigger === undefined && policy.timeout !== undefined
      ? this.redis.getEx(sessionId, policy.timeout)
      : this.redis.get(sessionId)
  }

  private adopt(sessionId: string, payload: Payload.Payload, now: number): Effect.Effect<void> {
    const { policy } = this
    this.id = sessionId
    this.stored = true
    this.isNew = false
    this.data = payload.m
    this.created = payload.c
    // A stored timeout of 0 would be an invalid EX: treat it as absent.
    this.timeout = payload.t !== undefined && payload.t > 0 ? payload.t : policy.timeout
    this.expiresAt = payload.x
    const timeout = this.timeout
    if (policy.payloadExpiry && timeout !== undefined) {
      // A per-session timeout shorter than the trigger would refresh on every read: cap the trigger at half of it.
      this.refreshPayload = policy.timeoutTrigger !== undefined
        ? payload.x === undefined || now >= payload.x - Math.min(policy.timeoutTrigger, Math.floor(timeout / 2))
        : payload.x !== now + timeout
    } else if (payload.x !== undefined) {
      // An `x` written under another policy (e.g. by the seed) would end an active session: drop it once.
      this.refreshPayload = true
    }
    // GETEX slid the TTL to the policy's timeout; a per-session timeout is restored after the response.
    const slid = policy.redisTtl && policy.timeoutTrigger === undefined
    if (slid && timeout !== undefined && timeout !== policy.timeout) return this.scheduleTtlRefresh(timeout)
    return Effect.void
  }

  private scheduleTtlRefresh(seconds: number): Effect.Effect<void> {
    this.ttlRefresh = seconds
    if (this.refreshScheduled) return Effect.void
    // Loaded after the response (a streaming body): refresh right away.
    if (this.scope === undefined) return this.afterResponse()
    this.refreshScheduled = true
    return Scope.addFinalizer(this.scope, this.afterResponse())
  }

  private loadAt(now: number): Effect.Effect<void, SessionError> {
    this.startFresh(now)
    // Whatever the outcome, the response now depends on the Cookie header.
    this.readStore = true
    if (this.rawCookie === undefined) return this.report(new InvalidSession.NoSessionCookie())
    const sessionId = this.cookieId()
    if (Option.isNone(sessionId)) return this.report(new InvalidSession.InvalidCookie())
    return Effect.flatMap(this.readCommand(sessionId.value), (raw) => {
      if (Option.isNone(raw)) return this.report(new InvalidSession.NotInBackend())
      const decoded = Payload.decode(this.policy.serializer, raw.value)
      switch (decoded._tag) {
        case "Undecodable":
          return this.policy.deserializationFailsNew
            ? this.report(new InvalidSession.DeserializationError({ reason: decoded.reason }))
            : Effect.fail(new InvalidSession.SessionDeserializationError({ reason: decoded.reason }))
        case "Legacy":
          return this.report(
            new InvalidSession.PayloadLegacy(decoded.version === undefined ? {} : { version: decoded.version })
          )
        case "Valid": {
          const x = decoded.payload.x
          if (x !== undefined && now > x) {
            // Over for good: delete it (reads would keep sliding its TTL) and drop the client's cookie.
            ;(this.deleteIds ??= new Set()).add(sessionId.value)
            this.expireClientCookie = true
            return this.report(new InvalidSession.PayloadTimeout({ expiredAt: x }))
          }
          return this.adopt(sessionId.value, decoded.payload, now)
        }
      }
    })
  }

  /** Loads once per request, however many operations race for it. */
  ensureLoaded(): Effect.Effect<void, SessionError> {
    this.touched = true
    if (this.loaded) return Effect.void
    if (this.loading) return this.awaitLoad()
    this.loading = true
    // One look at the fiber's services gives both the clock and whether anyone traces.
    const load = Effect.withFiberRuntime<void, SessionError>((fiber) => {
      const services = fiber.currentDefaultServices
      const loadNow = this.loadAt(Payload.epochSeconds(Context.get(services, Clock.Clock).unsafeCurrentTimeMillis()))
      return Tracing.enabled(services) ? Tracing.span(loadNow, "Session.load") : loadNow
    })
    // onExit: an interrupted load (a timeout around a session operation) must not leave `loading` stuck.
    return Effect.onExit(load, (exit) => {
      this.loaded = exit._tag === "Success"
      this.loading = false
      const waiters = this.waiters
      this.waiters = undefined
      if (waiters === undefined) return Effect.void
      return Effect.forEach(waiters, (waiter) => Deferred.done(waiter, exit), { discard: true })
    })
  }

  /**
   * Waits for the load in progress; the Deferred is made only in this rare
   * case. Decided when run: the load may have ended since this was built.
   */
  private awaitLoad(): Effect.Effect<void, SessionError> {
    return Effect.suspend(() => {
      if (!this.loading) return this.ensureLoaded()
      return Effect.flatMap(Deferred.make<void, SessionError>(), (waiter) => {
        ;(this.waiters ??= []).push(waiter)
        return Deferred.await(waiter)
      })
    })
  }

  /** Runs `f` on the loaded session; decided when run, not when built. */
  withData<A>(f: (self: this) => A): Effect.Effect<A, SessionError> {
    return Effect.suspend(() => {
      if (this.loaded) {
        this.touched = true
        return Effect.succeed(f(this))
      }
      return Effect.map(this.ensureLoaded(), () => f(this))
    })
  }

  // --- data ------------------------------------------------------------------

  /** Hands out a value the caller may mutate: fingerprint first so nested changes are seen. */
  expose<A>(value: A): A {
    if (this.policy.detectChanges && !this.exposed && isObject(value)) {
      this.exposed = true
      if (!this.dirty && this.stored) this.baseline = Payload.fingerprint(this.policy.serializer, this.data)
    }
    return value
  }

  read(key: string): Option.Option<unknown> {
    return Object.hasOwn(this.data, key) ? Option.some(this.expose(this.data[key])) : Option.none()
  }

  has(key: string): boolean {
    return Object.hasOwn(this.data, key)
  }

  keys(): ReadonlyArray<string> {
    return Object.keys(this.data)
  }

  entries(): ReadonlyArray<readonly [string, unknown]> {
    return Object.entries(this.data).map(([key, value]) => [key, this.expose(value)] as const)
  }

  write(key: string, value: unknown): void {
    // defineProperty: a key like "__proto__" is data, never the object's prototype.
    Object.defineProperty(this.data, key, { value, writable: true, enumerable: true, configurable: true })
    this.dirty = true
  }

  remove(key: string): boolean {
    if (!Object.hasOwn(this.data, key)) return false
    delete this.data[key]
    this.dirty = true
    return true
  }

  pop(key: string): Option.Option<unknown> {
    if (!Object.hasOwn(this.data, key)) return Option.none()
    const value = this.data[key]
    this.remove(key)
    return Option.some(value)
  }

  clear(): void {
    if (!this.isEmpty()) this.dirty = true
    this.data = {}
  }

  markChanged(): void {
    this.dirty = true
  }

  isEmpty(): boolean {
    for (const _ in this.data) return false
    return true
  }

  queue(queue: string | undefined): ReadonlyArray<unknown> {
    const key = flashKey(queue)
    const messages = Object.hasOwn(this.data, key) ? this.data[key] : undefined
    return Array.isArray(messages) ? messages : []
  }

  flash(message: unknown, options: FlashOptions | undefined): void {
    const queue = this.queue(options?.queue)
    const serialize = this.policy.serializer.serialize
    if (options?.allowDuplicate === false && queue.some((m) => serialize(m) === serialize(message))) return
    this.write(flashKey(options?.queue), [...queue, message])
  }

  popFlash(queue: string | undefined): ReadonlyArray<unknown> {
    const messages = this.queue(queue)
    this.remove(flashKey(queue))
    return messages
  }

  newCsrfToken(): string {
    const token = randomBytes(32).toString("hex")
    this.write(CSRF_KEY, token)
    return token
  }

  csrfToken(): string {
    const token = Object.hasOwn(this.data, CSRF_KEY) ? this.data[CSRF_KEY] : undefined
    return typeof token === "string" ? token : this.newCsrfToken()
  }

  ensureId(): string {
    if (this.id === undefined) {
      this.id = this.policy.generateId()
      this.wantId = true
    }
    return this.id
  }

  /** Like the seed's `session_id_safecheck`: names the id a session with data has or will get, but forces nothing. */
  idIfExists(): Option.Option<string> {
    if (this.isEmpty()) return Option.none()
    // Fixed now, so the answer stays true; unlike `ensureId`, the session is still written only if it keeps data.
    this.id ??= this.policy.generateId()
    return Option.some(this.id)
  }

  adjustTimeout(input: Duration.DurationInput): void {
    const seconds = toSeconds(input)
    this.timeout = seconds === 0 ? this.policy.timeout : seconds
    this.dirty = true
  }

  adjustPayloadExpiry(epochSeconds: number): void {
    this.expiresAt = Math.ceil(epochSeconds)
    this.expiresPinned = true
    this.dirty = true
  }

  adjustCookie(change: { readonly maxAge: number | undefined } | { readonly expires: Date | number | undefined }): void {
    this.touched = true
    this.recookie = true
    if ("maxAge" in change) this.cookieMaxAge = change.maxAge
    else this.cookieExpires = change.expires
  }

  markRecookie(): void {
    this.touched = true
    this.recookie = true
  }

  info(now: number) {
    return {
      isNew: this.isNew,
      created: this.created,
      timeout: Option.fromNullable(this.timeout),
      expires: this.nextExpiry(now)
    }
  }

  /** When the session expires if left idle from now. */
  private nextExpiry(now: number): Option.Option<number> {
    if (this.expiresPinned) return Option.fromNullable(this.expiresAt)
    if (this.timeout === undefined) return Option.none()
    const willWrite = !this.stored || this.changedSinceLoad()
    const keepsX = this.policy.payloadExpiry && !willWrite && this.expiresAt !== undefined
    return Option.some(keepsX && this.expiresAt !== undefined ? this.expiresAt : now + this.timeout)
  }

  invalidate(): Effect.Effect<void> {
    this.touched = true
    const current = this.loaded ? (this.stored ? this.id : undefined) : Option.getOrUndefined(this.cookieId())
    if (current !== undefined) (this.deleteIds ??= new Set()).add(current)
    if (this.rawCookie !== undefined) this.expireClientCookie = true
    // A pending load would adopt the old session after this: let it finish first.
    const pending = this.loading ? Effect.ignore(this.awaitLoad()) : Effect.void
    return Effect.zipRight(
      pending,
      Effect.map(nowSeconds, (now) => {
        if (this.loaded && this.stored && this.id !== undefined) (this.deleteIds ??= new Set()).add(this.id)
        this.startFresh(now)
        this.loaded = true
      })
    )
  }

  // --- persistence -------------------------------------------------------------

  private changedSinceLoad(): boolean {
    return this.dirty || this.refreshPayload ||
      (this.exposed && this.baseline !== undefined &&
        Payload.fingerprint(this.policy.serializer, this.data) !== this.baseline)
  }

  private payloadAt(now: number): Payload.Payload {
    const timeout = this.timeout
    return {
      m: this.data,
      c: this.created,
      v: Payload.PAYLOAD_VERSION,
      t: timeout,
      x: this.expiresPinned
        ? this.expiresAt
        : this.policy.payloadExpiry && timeout !== undefined
        ? now + timeout
        : undefined
    }
  }

  private ttlSeconds(): number | undefined {
    return this.policy.redisTtl ? this.timeout : undefined
  }

  private markPersisted(payload: Payload.Payload): void {
    this.expiresAt = payload.x
    this.dirty = false
    this.refreshPayload = false
    this.ttlRefresh = undefined
    // Values handed out before this write may still be mutated: compare against what was written.
    this.baseline = this.exposed ? Payload.fingerprint(this.policy.serializer, this.data) : undefined
  }

  /** `SET id payload NX [EX t]`, with a new id if the first one is taken. */
  private create(now: number, attempt = 1): Effect.Effect<void, SessionStoreError> {
    const payload = this.payloadAt(now)
    const candidate = this.id ?? this.policy.generateId()
    const written = this.redis.set(candidate, Payload.encode(this.policy.serializer, payload), {
      condition: "NX",
      ttlSeconds: this.ttlSeconds()
    })
    return Effect.flatMap(written, (ok) => {
      if (ok) {
        this.id = candidate
        this.stored = true
        this.createdHere = true
        this.markPersisted(payload)
        return Effect.void
      }
      this.id = undefined
      if (attempt >= CREATE_ATTEMPTS) {
        return Effect.dieMessage("the session id generator keeps producing ids that already exist")
      }
      return Effect.zipRight(
        Effect.logWarning("session id collision; generating another", { session: redactId(candidate) }),
        this.create(now, attempt + 1)
      )
    })
  }

  /** `SET id payload XX [EX t]`: never resurrects a session deleted meanwhile. */
  private update(sessionId: string, now: number): Effect.Effect<boolean, SessionStoreError> {
    const payload = this.payloadAt(now)
    const written = this.redis.set(sessionId, Payload.encode(this.policy.serializer, payload), {
      condition: "XX",
      ttlSeconds: this.ttlSeconds()
    })
    return Effect.tap(written, (ok) => {
      if (ok) {
        this.markPersisted(payload)
        return Effect.void
      }
      // Deleted meanwhile (a logout elsewhere): the session is over for this request too.
      this.stored = false
      this.vanished = true
      this.id = undefined
      this.expireClientCookie = true
      return Effect.logInfo("session vanished before it could be written", { session: redactId(sessionId) })
    })
  }

  /** Made by the first `persistNow`: writes that overlap would create two keys for one new session. */
  private writeLock: Effect.Semaphore | undefined

  private serialised<A, E>(write: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return this.writeLock === undefined ? write : this.writeLock.withPermits(1)(write)
  }

  persistNow(): Effect.Effect<void, SessionError> {
    this.writeLock ??= Effect.unsafeMakeSemaphore(1)
    // Built inside the lock: what to write is decided once the previous write is done.
    return this.serialised(Effect.suspend(() =>
      Effect.flatMap(this.ensureLoaded(), () => {
        if (this.vanished) return Effect.void
        if (this.stored && this.id !== undefined) {
          const id = this.id
          return Effect.flatMap(nowSeconds, (now) => Effect.asVoid(this.update(id, now)))
        }
        if (!this.wantId && this.isEmpty()) return Effect.void
        if (this.request === undefined) {
          // Released: the response has gone without a cookie for it, so a key now would be an orphan.
          return Effect.logWarning("persistNow after the response: a new session cannot be created any more")
        }
        return Effect.flatMap(nowSeconds, (now) => this.create(now))
      })
    ))
  }

  refreshNow(): Effect.Effect<void, SessionError> {
    return Effect.flatMap(this.ensureLoaded(), () => {
      const ttl = this.ttlSeconds()
      if (!this.stored || this.id === undefined || ttl === undefined) return Effect.void
      this.ttlRefresh = undefined
      return Effect.asVoid(this.redis.expire(this.id, ttl))
    })
  }

  // --- commit --------------------------------------------------------------------

  /** The id to re-send when the session was not loaded: the one the client already holds. */
  private recookieId(): string | undefined {
    return this.id ?? Option.getOrUndefined(this.cookieId())
  }

  private cookieOptions(now: number) {
    const c = this.policy.cookie
    const cookieExpires = this.cookieExpires
    const expires = cookieExpires instanceof Date || cookieExpires === undefined
      ? cookieExpires
      : new Date((now + cookieExpires) * 1000)
    return {
      path: c.path,
      secure: c.secure,
      httpOnly: c.httpOnly,
      sameSite: c.sameSite,
      ...(c.domain === undefined ? {} : { domain: c.domain }),
      ...(c.partitioned ? { partitioned: true } : {}),
      ...(this.cookieMaxAge === undefined ? {} : { maxAge: Duration.seconds(this.cookieMaxAge) }),
      ...(expires === undefined ? {} : { expires })
    }
  }

  /** The common read-only request: no write, no cookie; only `Vary` to add. */
  private nothingToCommit(): boolean {
    if (this.deleteIds !== undefined || this.expireClientCookie || this.recookie) return false
    if (!this.stored) return !this.wantId && this.isEmpty()
    return !this.createdHere && !(this.policy.invalidateEmptySession && this.isEmpty()) && !this.changedSinceLoad()
  }

  /** The one write of the request, if any; succeeds with what to do with the cookie. */
  private persistChanges(now: number, cookieAllowed: boolean): Effect.Effect<CookieAction, SessionStoreError> {
    const initial: CookieAction = this.expireClientCookie ? "expire" : "none"
    const id = this.id
    if (this.vanished) return Effect.succeed<CookieAction>("expire")
    if (!this.stored) {
      return (this.wantId || !this.isEmpty()) && cookieAllowed ? Effect.as(this.create(now), initial) : Effect.succeed(initial)
    }
    if (id === undefined) return Effect.succeed(initial)
    if (this.createdHere && !cookieAllowed) {
      // Created early by persistNow, but the client will never hold its cookie.
      this.stored = false
      this.createdHere = false
      return Effect.as(this.redis.del(id), initial)
    }
    if (this.policy.invalidateEmptySession && this.isEmpty()) {
      const action: CookieAction = this.createdHere ? initial : "expire"
      this.stored = false
      this.createdHere = false
      return Effect.as(this.redis.del(id), action)
    }
    if (this.changedSinceLoad()) return Effect.map(this.update(id, now), (ok) => ok ? initial : "expire")
    return Effect.succeed(initial)
  }

  private deleteStale(): Effect.Effect<void, SessionStoreError> {
    if (this.deleteIds === undefined) return Effect.void
    return Effect.forEach(this.deleteIds, (staleId) => this.redis.del(staleId), { discard: true })
  }

  private finish(
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse,
    failed: boolean,
    now: number
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, SessionStoreError> {
    const { policy } = this
    // 499: the client went away; it will never hold a cookie, so nothing may be created for it.
    const cookieAllowed = response.status !== 499 && (!failed || policy.cookieOnException) &&
      (policy.responseAllowsCookie === undefined || policy.responseAllowsCookie(request, response))
    const writes = Effect.suspend(() => Effect.zipRight(this.deleteStale(), this.persistChanges(now, cookieAllowed)))
    return this.serialised(writes).pipe(
      Effect.map((persisted) => {
        let action = persisted
        if (this.createdHere) action = "set"
        else if (this.recookie && action === "none" && (this.stored || !this.loaded) && this.recookieId() !== undefined) {
          action = "set"
        }
        if (!cookieAllowed) action = "none"
        this.decided = { action, now }
        const decorated = this.decorate(response, action, now)
        this.release()
        return decorated
      })
    )
  }

  private decorate(
    response: HttpServerResponse.HttpServerResponse,
    action: CookieAction,
    now: number
  ): HttpServerResponse.HttpServerResponse {
    if (action === "none") return this.readStore ? appendVary(response) : response
    const name = this.policy.cookie.name
    const options = this.cookieOptions(now)
    // Name and attributes were validated with the policy; the value is the signer's output.
    let out = action === "set"
      ? HttpServerResponse.unsafeSetCookie(response, name, this.policy.signer.sign(this.recookieId() ?? ""), options)
      : HttpServerResponse.unsafeSetCookie(response, name, "", { ...options, maxAge: Duration.zero, expires: new Date(0) })
    const cacheControl = privateCacheControl(out.headers["cache-control"])
    if (cacheControl !== out.headers["cache-control"]) out = HttpServerResponse.setHeader(out, "cache-control", cacheControl)
    return appendVary(out)
  }

  /** Records that the handler failed, for `cookieOnException`. */
  markFailed(): void {
    this.failed = true
  }

  /** The commit has run at least once: the response of this session's request is under way. */
  get commitStarted(): boolean {
    return this.committed
  }

  /** Writes what the request changed and sets or expires the cookie. Never fails: a store error becomes a 503. */
  commit(
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    // Pre-response handlers run again on the error path when a later one fails: commit once, but
    // give the error response the same cookie, since the write has happened.
    if (this.decided !== undefined) return Effect.succeed(this.decorate(response, this.decided.action, this.decided.now))
    const again = this.committed
    this.committed = true
    if (again || !this.touched) {
      this.release()
      return Effect.succeed(response)
    }
    if (this.nothingToCommit()) {
      this.decided = { action: "none", now: 0 }
      this.release()
      return Effect.succeed(this.decorate(response, "none", 0))
    }
    const failed = this.failed || response.status >= 500
    return Effect.flatMap(nowSeconds, (now) => this.finish(request, response, failed, now)).pipe(
      Tracing.withSpan("Session.commit"),
      Effect.catchTag("SessionStoreError", (error) => {
        this.release()
        return Effect.zipRight(Effect.logError("session commit failed", error), HttpServerRespondable.toResponse(error))
      })
    )
  }

  /** The deferred TTL refresh, run after the response is sent. Never fails. */
  private afterResponse(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ttlRefresh === undefined || !this.stored || this.id === undefined) return Effect.void
      return this.redis.expire(this.id, this.ttlRefresh).pipe(
        Effect.asVoid,
        Effect.catchAll((error) => Effect.logWarning("session TTL refresh failed", error)),
        Tracing.withSpan("Session.refreshTtl")
      )
    })
  }
}

/**
 * The `Session` a handler sees: thin Effects over the request's state.
 * Members are getters, so nothing is built for operations a request never
 * uses, and destructuring (`const { get } = session`) still works.
 */
class SessionService implements SessionShape {
  readonly #s: RequestSession
  constructor(state: RequestSession) {
    this.#s = state
  }
  get get() {
    return (key: string) => this.#s.withData((s) => s.read(key))
  }
  get set() {
    return (key: string, value: unknown) => this.#s.withData((s) => s.write(key, value))
  }
  get delete() {
    return (key: string) => this.#s.withData((s) => s.remove(key))
  }
  get has() {
    return (key: string) => this.#s.withData((s) => s.has(key))
  }
  get keys() {
    return this.#s.withData((s) => s.keys())
  }
  get entries() {
    return this.#s.withData((s) => s.entries())
  }
  get update() {
    return (values: Readonly<Record<string, unknown>>) =>
      this.#s.withData((s) => {
        for (const [key, value] of Object.entries(values)) s.write(key, value)
      })
  }
  get clear() {
    return this.#s.withData((s) => s.clear())
  }
  get pop() {
    return (key: string) => this.#s.withData((s) => s.pop(key))
  }
  get changed() {
    return this.#s.withData((s) => s.markChanged())
  }
  get invalidate() {
    return Effect.suspend(() => this.#s.invalidate())
  }
  get ensureId() {
    return this.#s.withData((s) => s.ensureId())
  }
  get idIfExists() {
    return this.#s.withData((s) => s.idIfExists())
  }
  get flash() {
    return (message: unknown, options?: FlashOptions) => this.#s.withData((s) => s.flash(message, options))
  }
  get peekFlash() {
    return (queue?: string) => this.#s.withData((s) => [...s.queue(queue)])
  }
  get popFlash() {
    return (queue?: string) => this.#s.withData((s) => s.popFlash(queue))
  }
  get newCsrfToken() {
    return this.#s.withData((s) => s.newCsrfToken())
  }
  get getCsrfToken() {
    return this.#s.withData((s) => s.csrfToken())
  }
  get adjustTimeout() {
    return (timeout: Duration.DurationInput) => this.#s.withData((s) => s.adjustTimeout(timeout))
  }
  get adjustPayloadExpiry() {
    return (expiresAt: number) => this.#s.withData((s) => s.adjustPayloadExpiry(expiresAt))
  }
  get adjustCookieMaxAge() {
    return (maxAge: Duration.DurationInput | undefined) =>
      Effect.sync(() => this.#s.adjustCookie({ maxAge: maxAge === undefined ? undefined : toSeconds(maxAge) }))
  }
  get adjustCookieExpires() {
    return (expires: Date | Duration.DurationInput | undefined) =>
      Effect.sync(() =>
        this.#s.adjustCookie({
          expires: expires === undefined || expires instanceof Date ? expires : toSeconds(expires)
        })
      )
  }
  get recookie() {
    return Effect.sync(() => this.#s.markRecookie())
  }
  get persistNow() {
    return Effect.suspend(() => this.#s.persistNow())
  }
  get refreshNow() {
    return Effect.suspend(() => this.#s.refreshNow())
  }
  get isNew() {
    return Effect.map(this.#info, (info) => info.isNew)
  }
  get created() {
    return Effect.map(this.#info, (info) => info.created)
  }
  get timeout() {
    return Effect.map(this.#info, (info) => info.timeout)
  }
  get expires() {
    return Effect.map(this.#info, (info) => info.expires)
  }
  get #info() {
    return Effect.flatMap(this.#s.withData(() => undefined), () => Effect.map(nowSeconds, (now) => this.#s.info(now)))
  }
}

/** @internal */
export const make = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  request: HttpServerRequest.HttpServerRequest,
  scope: Scope.Scope
): RequestSession => new RequestSession(policy, redis, request, scope)
