/**
 * One request's session, the effectful shell around `SessionState`: loads
 * it lazily and once, sends its writes through `RedisClient`, and commits it
 * before the response is sent. The commit takes a snapshot of the state,
 * asks the pure decision in `commit.ts` what to write and what to do with
 * the cookie, and applies that plan.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as InvalidSession from "../InvalidSession.js"
import { type RedisClientShape, SessionStoreError } from "../RedisClient.js"
import type { SessionError, SessionShape, SessionTooLarge } from "../Session.js"
import type { SessionPolicyShape, StoreOutageMode } from "../SessionPolicy.js"
import { ClientCookie } from "./clientCookie.js"
import * as Commit from "./commit.js"
import { Once } from "./once.js"
import * as Payload from "./payload.js"
import * as Persist from "./persist.js"
import * as ResponseCookie from "./responseCookie.js"
import { SessionService } from "./sessionService.js"
import { SessionState } from "./sessionState.js"
import * as Store from "./store.js"
import * as StoreOutage from "./storeOutage.js"
import * as Tracing from "./tracing.js"

const epochSeconds = (clock: Clock.Clock): number => Payload.epochSeconds(clock.unsafeCurrentTimeMillis())
const nowSeconds = Effect.clockWith((clock) => Effect.succeed(epochSeconds(clock)))

/** `Decided` keeps the cookie, to re-apply if the platform renders another response after the commit. */
type CommitState =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Done" }
  | { readonly _tag: "Decided"; readonly cookie: Commit.CookieAction; readonly now: number }

const open: CommitState = { _tag: "Open" }
const done: CommitState = { _tag: "Done" }
const noIds: ReadonlyArray<string> = []

/** A failed load reaches the handler as a typed error; the log keeps the command and the driver's words. */
const logLoadFailure = (cause: Cause.Cause<SessionError>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning("session load failed", cause)

/** @internal */
export class RequestSession {
  readonly service: SessionShape = new SessionService(this)
  /** Made when first needed: most requests never touch their session. */
  #state: SessionState | undefined

  readonly #load = new Once<SessionError>(logLoadFailure)
  readonly #cookie: ClientCookie
  /** The request's scope, until the commit: for the TTL refresh after the response. */
  #scope: Scope.Scope | undefined
  /** A session operation ran: the commit has something to look at. */
  // Stryker disable next-line BooleanLiteral: equivalent, an untouched session plans no write and keeps the cookie; the flag skips that work
  #touched = false
  #recookie = false
  #cookieMaxAge: number | undefined
  #cookieExpires: Date | number | undefined
  /** Why the request's cookie named no usable session, once loaded. */
  #invalid: InvalidSession.InvalidSession | undefined
  /** The load found the session the cookie named. */
  #adopted = false
  /** The handler failed (recorded by the middleware; where it can't see, a 5xx status counts). */
  #failed = false
  /** A write's store failure in this request (a load's is kept by `#load`): for `Retry-After`. */
  #storeError: SessionStoreError | undefined
  #commit: CommitState = open
  /** Made by the first `persistNow`: overlapping writes would create two keys for one new session. */
  #writeLock: Effect.Semaphore | undefined
  /** What a store outage does to this request: the route's choice when the session was first loaded. */
  #outageMode: StoreOutageMode
  /** The load found the store unreachable and an anonymous session stands in (`#outageMode` anonymous). */
  #unavailable: SessionStoreError | undefined

  constructor(
    readonly policy: SessionPolicyShape,
    readonly redis: RedisClientShape,
    request: HttpServerRequest.HttpServerRequest,
    scope: Scope.Scope
  ) {
    this.#cookie = new ClientCookie(request, policy)
    this.#scope = scope
    this.#cookieMaxAge = policy.cookie.maxAge
    this.#cookieExpires = policy.cookie.expires
    this.#outageMode = policy.onStoreUnavailable
  }

  get state(): SessionState {
    return this.#state ??= new SessionState(this.policy)
  }

  /** Lets go of the request once the response is decided. */
  #release(): void {
    this.#cookie.release()
    this.#scope = undefined
  }

  // --- loading ----------------------------------------------------------------

  /** Loads once per request, however many operations race for it. */
  ensureLoaded(): Effect.Effect<void, SessionError> {
    this.#touched = true
    return this.#load.run(() =>
      Effect.flatMap(FiberRef.get(StoreOutage.currentMode), (mode) => {
        if (mode !== undefined) this.#outageMode = mode
        return Effect.clockWith((clock) => this.#loadAt(epochSeconds(clock)))
      }).pipe(Tracing.withSpan("Session.load"))
    )
  }

  #loadAt(now: number): Effect.Effect<void, SessionError> {
    const state = this.state
    state.startFresh(now)
    const raw = this.#cookie.raw
    if (raw === undefined) return this.#report(new InvalidSession.NoSessionCookie())
    const id = this.#cookie.id
    if (Option.isNone(id)) return this.#report(new InvalidSession.InvalidCookie())
    return Effect.flatMap(this.#read(id.value, now), (loaded) => {
      if (loaded === undefined) return Effect.void
      if (loaded._tag === "Invalid") {
        if (loaded.stale) state.expired(id.value)
        return this.#report(loaded.cause)
      }
      state.adopt(id.value, loaded.payload, now)
      this.#adopted = true
      // Verified only by a previous secret: this response re-sends it signed with the current one.
      if (this.policy.signer.isStale?.(raw) === true) this.#recookie = true
      // Stryker disable next-line ConditionalExpression: equivalent, the refresh checks again when it runs; this saves a finalizer
      return state.ttlRefresh === undefined ? Effect.void : this.#scheduleTtlRefresh()
    })
  }

  /** The stored session; `undefined` when an unreachable store leaves an anonymous stand-in in its place. */
  #read(id: string, now: number): Effect.Effect<Store.Loaded | undefined, SessionError> {
    return Effect.catchIf(
      Store.load(this.policy, this.redis, id, now),
      (error): error is SessionStoreError =>
        error instanceof SessionStoreError && StoreOutage.tolerates(this.#outageMode, error.reason),
      (error) => {
        this.#unavailable = error
        this.state.unavailable(now)
        return Effect.as(StoreOutage.report(error, "load"), undefined)
      }
    )
  }

  /** This request's session stands in for one the store could not deliver. */
  get storeUnavailable(): boolean {
    return this.#unavailable !== undefined
  }

  #report(cause: InvalidSession.InvalidSession): Effect.Effect<void> {
    this.#invalid = cause
    const counted = InvalidSession.count(cause)
    const hook = this.policy.onInvalid
    const request = this.#cookie.request
    if (hook === undefined || request === undefined) return counted
    return Effect.zipRight(
      counted,
      Effect.catchAllCause(
        hook(request, cause),
        (failure) => Effect.logWarning("session onInvalid hook failed", failure)
      )
    )
  }

  /** The store failure of this request, if any: a write's, or the load's. */
  #storeFailure(): SessionStoreError | undefined {
    if (this.#storeError !== undefined) return this.#storeError
    if (this.#unavailable !== undefined) return this.#unavailable
    const failure = this.#load.failure
    const error = failure === undefined ? undefined : Option.getOrUndefined(Cause.failureOption(failure))
    return error instanceof SessionStoreError ? error : undefined
  }

  /** A store write of this session: its failure is remembered for `Retry-After`. */
  #store<A, E>(command: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.tapError(command, (error) =>
      Effect.sync(() => {
        if (error instanceof SessionStoreError) this.#storeError = error
      }))
  }

  // --- operations that need no load -------------------------------------------

  /** Runs `f` on the loaded session; decided when run, not when built. */
  withLoaded<A>(f: (state: SessionState) => A): Effect.Effect<A, SessionError> {
    return Effect.suspend(() => {
      // Stryker disable next-line ConditionalExpression: equivalent, a finished load is not run again; this skips the Once
      if (!this.#load.done) return Effect.map(this.ensureLoaded(), () => f(this.state))
      this.#touched = true
      return Effect.succeed(f(this.state))
    })
  }

  /** Fails with the reason the request brought no valid session (the load's cause). */
  require(): Effect.Effect<void, SessionError | InvalidSession.InvalidSession> {
    return Effect.flatMap(
      this.ensureLoaded(),
      (): Effect.Effect<void, SessionError | InvalidSession.InvalidSession> => {
        if (this.#adopted) return Effect.void
        // Whether the client's session is valid is unknown: a 401 would tell it that it is not.
        if (this.#unavailable !== undefined) return Effect.fail(this.#unavailable)
        return Effect.fail(this.#invalid ?? new InvalidSession.NotInBackend())
      }
    )
  }

  adjustCookie(
    change: { readonly maxAge: number | undefined } | { readonly expires: Date | number | undefined }
  ): void {
    this.markRecookie()
    if ("maxAge" in change) this.#cookieMaxAge = change.maxAge
    else this.#cookieExpires = change.expires
  }

  markRecookie(): void {
    this.#touched = true
    this.#recookie = true
  }

  /** For the middleware's `Effect.tapErrorCause` around the handler. */
  readonly markFailed = (): Effect.Effect<void> =>
    Effect.sync(() => {
      this.#failed = true
    })

  invalidate(): Effect.Effect<void, SessionStoreError> {
    this.#touched = true
    // Not loaded: the cookie's session is deleted without reading it.
    if (!this.#load.done) Option.map(this.#cookie.id, (id) => this.state.stale(id))
    // A load in progress would adopt the old session after this: let it finish first.
    return Effect.zipRight(
      this.#load.settled(),
      Effect.suspend(() => {
        // The store is unreachable: the client's session cannot be ended, and saying it was would leave it alive.
        if (this.#unavailable !== undefined) return Effect.fail(this.#unavailable)
        if (this.#cookie.raw !== undefined) this.state.expireClientCookie = true
        return Effect.map(nowSeconds, (now) => {
          this.state.invalidate(now)
          this.#load.complete()
        })
      })
    )
  }

  // --- persistence ------------------------------------------------------------

  persistNow(): Effect.Effect<void, SessionError | SessionTooLarge> {
    // Decided inside the lock, once the previous write is done.
    return (this.#writeLock ??= Effect.unsafeMakeSemaphore(1)).withPermits(1)(
      Effect.suspend(() =>
        Effect.flatMap(this.ensureLoaded(), () => {
          const backing = this.state.backing
          switch (backing._tag) {
            case "Gone":
            case "Unavailable":
              return Effect.void
            case "Stored":
            case "Moving": {
              // A move itself waits for the commit, which knows whether the new cookie can be sent.
              const id = backing._tag === "Stored" ? backing.id : backing.from
              return Effect.flatMap(
                nowSeconds,
                (now) => this.#persist(Commit.updateOf(this.policy, this.state.mergeable, id), now)
              )
            }
            case "New":
              if (!backing.idRequested && this.state.data.isEmpty) return Effect.void
              if (this.#commit._tag !== "Open") {
                // The response has gone without a cookie for it: a key now would be an orphan.
                return Effect.logWarning("persistNow after the response: a new session cannot be created any more")
              }
              return Effect.flatMap(nowSeconds, (now) => this.#persist({ _tag: "Create", id: backing.id }, now))
          }
        })
      )
    )
  }

  #persist(write: Commit.Write, now: number): Effect.Effect<void, SessionStoreError | SessionTooLarge> {
    return Effect.asVoid(this.#store(Persist.write(this.policy, this.redis, this.state, write, now)))
  }

  refreshNow(): Effect.Effect<void, SessionError> {
    return Effect.flatMap(this.ensureLoaded(), () =>
      Effect.clockWith((clock) => {
        const { backing } = this.state
        const ttl = this.state.ttlSeconds(epochSeconds(clock))
        if (backing._tag !== "Stored" || ttl === undefined) return Effect.void
        this.state.ttlRefresh = undefined
        return Effect.asVoid(this.#store(this.redis.expire(this.policy.storageKey(backing.id), ttl)))
      }))
  }

  /** A session loads once, so this runs at most once per request. */
  #scheduleTtlRefresh(): Effect.Effect<void> {
    // Loaded after the response (a streaming body): refresh right away.
    const refresh = Persist.refreshTtl(this.policy, this.redis, this.state)
    return this.#scope === undefined ? refresh : Scope.addFinalizer(this.#scope, refresh)
  }

  // --- the commit -------------------------------------------------------------

  #snapshot(
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Commit.Snapshot {
    const state = this.state
    const check = this.policy.responseAllowsCookie
    const loaded = this.#load.done
    return {
      backing: state.backing,
      loaded,
      empty: state.data.isEmpty,
      changed: state.changed,
      // Only a merge policy reads it (`Commit.updateOf`): replace writes never pay for the per-key scan.
      // Stryker disable next-line ConditionalExpression: equivalent in behaviour, as just said; it saves the scan
      mergeable: this.policy.writeMode === "merge" && state.mergeable,
      staleIds: state.staleIds === undefined ? noIds : [...state.staleIds],
      expireClientCookie: state.expireClientCookie,
      recookie: this.#recookie,
      // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, the plan reads clientId only for a recookie before any load; this saves verifying the cookie
      clientId: this.#recookie && !loaded ? Option.getOrUndefined(this.#cookie.id) : undefined,
      response: {
        status: response.status,
        failed: this.#failed,
        checkPassed: check === undefined || check(request, response)
      }
    }
  }

  /**
   * The pre-response handler: writes what the request changed, then sets or
   * expires the cookie. Never fails: a store error becomes its 503.
   */
  readonly commit = (
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
    // The platform runs pre-response handlers again on its error path when a later one fails:
    // commit once, and give that response the cookie already decided.
    const state = this.#commit
    if (state._tag === "Decided") return Effect.succeed(this.#decorate(response, state.cookie, state.now))
    this.#commit = done
    if (state._tag === "Done" || !this.#touched) {
      this.#release()
      return Effect.succeed(response)
    }
    // Without `persistNow` nothing else writes; with it, decide once its write is done.
    return this.#writeLock === undefined
      ? this.#decide(request, response)
      : this.#writeLock.withPermits(1)(Effect.suspend(() => this.#decide(request, response)))
  }

  #decide(
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    const snapshot = this.#snapshot(request, response)
    const plan = Commit.planWrites(this.policy, snapshot)
    // Nothing to write (the common read): no span, and no clock unless a cookie goes out.
    if (!Commit.hasWrites(plan)) {
      const cookie = Commit.planCookie(this.policy, snapshot)
      // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, a kept cookie reads no time; this saves reading the clock
      return cookie._tag === "Keep"
        ? Effect.succeed(this.#finish(response, cookie, 0))
        : Effect.clockWith((clock) => Effect.succeed(this.#finish(response, cookie, epochSeconds(clock))))
    }
    return Effect.clockWith((clock) => {
      const now = epochSeconds(clock)
      return Effect.map(
        this.#store(Persist.apply(this.policy, this.redis, this.state, plan, now)),
        (outcome) => this.#finish(response, Commit.planCookie(this.policy, snapshot, outcome), now)
      )
    }).pipe(
      Tracing.withSpan("Session.commit"),
      Effect.catchAll((error) => {
        if (this.#toleratedAtCommit(error, plan)) {
          return Effect.zipRight(
            Effect.zipRight(
              StoreOutage.report(error, "commit"),
              Persist.dropCreated(this.policy, this.redis, this.state)
            ),
            Effect.sync(() => this.#finish(response, Commit.keep, 0))
          )
        }
        // A failed commit sends no cookie: a key `persistNow` created in this request would be orphaned.
        this.#release()
        const logged = error._tag === "SessionTooLarge"
          ? Effect.logWarning("session not written: its payload is over maxPayloadBytes", { bytes: error.bytes })
          : Effect.logError("session commit failed", error)
        return logged.pipe(
          Effect.zipRight(Persist.dropCreated(this.policy, this.redis, this.state)),
          Effect.zipRight(ResponseCookie.failure(response, error))
        )
      })
    )
  }

  /**
   * An unreachable store at the commit, on a route that tolerates it: the response goes out as the
   * handler made it, without a cookie, and the client keeps the session it had. Never for a plan
   * that deletes: a logout that could not happen must not look done.
   */
  #toleratedAtCommit(error: SessionStoreError | SessionTooLarge, plan: Commit.WritePlan): error is SessionStoreError {
    // Stryker disable next-line ConditionalExpression: equivalent, a SessionTooLarge has no reason `tolerates` accepts (the check narrows the type)
    if (error._tag !== "SessionStoreError") return false
    return StoreOutage.tolerates(this.#outageMode, error.reason) && plan.deletes.length === 0 &&
      plan.write._tag !== "Delete"
  }

  #finish(
    response: HttpServerResponse.HttpServerResponse,
    cookie: Commit.CookieAction,
    now: number
  ): HttpServerResponse.HttpServerResponse {
    this.#commit = { _tag: "Decided", cookie, now }
    this.#release()
    return this.#decorate(response, cookie, now)
  }

  #decorate(
    response: HttpServerResponse.HttpServerResponse,
    cookie: Commit.CookieAction,
    now: number
  ): HttpServerResponse.HttpServerResponse {
    return ResponseCookie.decorate(response, cookie, {
      policy: this.policy,
      maxAge: this.#cookieMaxAge,
      expires: this.#cookieExpires,
      now,
      storeRetryAfter: this.#storeFailure()?.retryAfterSeconds,
      cookieRead: this.#cookie.read
    })
  }
}
