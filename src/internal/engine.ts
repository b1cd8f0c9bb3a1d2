/**
 * One request's session: lazy load, in-memory edits, and the single commit
 * that decides persistence and cookie together.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash, randomBytes } from "node:crypto"
import * as InvalidSession from "../InvalidSession.js"
import type { RedisClientShape } from "../RedisClient.js"
import type { SessionStoreError } from "../RedisClient.js"
import type { FlashOptions, SessionError, SessionShape } from "../Session.js"
import type { SessionPolicyShape } from "../SessionPolicy.js"
import * as Payload from "./payload.js"

/** @internal */
export interface RequestSession {
  readonly service: SessionShape
  /** Writes what the request changed and sets or expires the cookie. Never fails: a store error becomes a 503. */
  readonly commit: (
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse,
    failed: boolean
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  /** The deferred TTL refresh, run after the response is sent. Never fails. */
  readonly afterResponse: Effect.Effect<void>
}

const FLASH_PREFIX = "_f_"
const CSRF_KEY = "_csrft_"
const CREATE_ATTEMPTS = 3

/** A short, irreversible tag for logs: session ids are never logged raw. */
export const redactId = (id: string): string => createHash("sha256").update(id).digest("hex").slice(0, 12)

const nowSeconds = Effect.map(Clock.currentTimeMillis, Payload.epochSeconds)

const isObject = (value: unknown): boolean => typeof value === "object" && value !== null

const toSeconds = (input: Duration.DurationInput): number => Math.max(0, Math.round(Duration.toSeconds(input)))

const appendVary = (response: HttpServerResponse.HttpServerResponse) => {
  const vary = response.headers["vary"]
  if (vary === undefined || vary.trim() === "") return HttpServerResponse.setHeader(response, "vary", "Cookie")
  const parts = vary.split(",").map((part) => part.trim().toLowerCase())
  if (parts.includes("cookie") || parts.includes("*")) return response
  return HttpServerResponse.setHeader(response, "vary", `${vary}, Cookie`)
}

/** @internal */
export const make = (
  policy: SessionPolicyShape,
  redis: RedisClientShape,
  request: HttpServerRequest.HttpServerRequest
): RequestSession => {
  const rawCookie: string | undefined = request.cookies[policy.cookie.name]
  let cookieIdMemo: Option.Option<string> | undefined
  const cookieId = (): Option.Option<string> =>
    cookieIdMemo ??= rawCookie === undefined ? Option.none() : policy.signer.verify(rawCookie)

  // --- state --------------------------------------------------------------
  let loaded = false
  let loading: Deferred.Deferred<void, SessionError> | undefined
  let touched = false
  /** The request read the stored session: the response depends on the cookie. */
  let readStore = false
  let id: string | undefined
  /** The key exists in Redis (loaded, or created by this request). */
  let stored = false
  let createdHere = false
  let isNew = true
  let data: Payload.SessionData = {}
  let created = 0
  let timeout = policy.timeout
  let expiresAt: number | undefined
  let expiresPinned = false
  let baseline: string | undefined
  let exposed = false
  let dirty = false
  /** The payload expiry must be rewritten even without data changes. */
  let refreshPayload = false
  /** Seconds for a TTL-only refresh after the response. */
  let ttlRefresh: number | undefined
  let wantId = false
  let recookie = false
  let cookieMaxAge = policy.cookie.maxAge
  let cookieExpires = policy.cookie.expires
  let expireClientCookie = false
  const deleteIds = new Set<string>()
  let committed = false

  const report = (cause: InvalidSession.InvalidSession) =>
    Effect.zipRight(
      InvalidSession.count(cause),
      policy.onInvalid === undefined ? Effect.void : Effect.catchAllCause(
        policy.onInvalid(request, cause),
        (failure) => Effect.logWarning("session onInvalid hook failed", failure)
      )
    )

  const startFresh = (now: number) => {
    id = undefined
    stored = false
    createdHere = false
    isNew = true
    data = {}
    created = now
    timeout = policy.timeout
    expiresAt = undefined
    expiresPinned = false
    baseline = undefined
    exposed = false
    dirty = false
    refreshPayload = false
    ttlRefresh = undefined
    wantId = false
  }

  /** The command that reads a session: it also slides the Redis TTL when that is where the timeout lives. */
  const slidesOnRead = policy.redisTtl && policy.timeoutTrigger === undefined && policy.timeout !== undefined
  const readCommand = (sessionId: string) =>
    slidesOnRead && policy.timeout !== undefined ? redis.getEx(sessionId, policy.timeout) : redis.get(sessionId)

  const adopt = (sessionId: string, payload: Payload.Payload, now: number) => {
    id = sessionId
    stored = true
    isNew = false
    data = payload.m
    created = payload.c
    // A stored timeout of 0 would be an invalid EX: treat it as absent.
    timeout = payload.t !== undefined && payload.t > 0 ? payload.t : policy.timeout
    expiresAt = payload.x
    if (policy.payloadExpiry && timeout !== undefined) {
      refreshPayload = policy.timeoutTrigger !== undefined
        ? expiresAt === undefined || now >= expiresAt - policy.timeoutTrigger
        : expiresAt !== now + timeout
    } else if (expiresAt !== undefined) {
      // An `x` written under another policy (e.g. by the seed) would end an active session: drop it once.
      refreshPayload = true
    }
    // GETEX slid the TTL to the policy's timeout; a per-session timeout is restored after the response.
    if (slidesOnRead && timeout !== undefined && timeout !== policy.timeout) ttlRefresh = timeout
  }

  const load: Effect.Effect<void, SessionError> = Effect.gen(function*() {
    const now = yield* nowSeconds
    startFresh(now)
    if (rawCookie === undefined) return yield* report(new InvalidSession.NoSessionCookie())
    const sessionId = cookieId()
    if (Option.isNone(sessionId)) return yield* report(new InvalidSession.InvalidCookie())
    readStore = true
    const raw = yield* readCommand(sessionId.value)
    if (Option.isNone(raw)) return yield* report(new InvalidSession.NotInBackend())
    const decoded = Payload.decode(policy.serializer, raw.value)
    switch (decoded._tag) {
      case "Undecodable": {
        if (!policy.deserializationFailsNew) {
          return yield* new InvalidSession.SessionDeserializationError({ reason: decoded.reason })
        }
        return yield* report(new InvalidSession.DeserializationError({ reason: decoded.reason }))
      }
      case "Legacy":
        return yield* report(new InvalidSession.PayloadLegacy(decoded.version === undefined ? {} : { version: decoded.version }))
      case "Valid": {
        const x = decoded.payload.x
        if (x !== undefined && now > x) return yield* report(new InvalidSession.PayloadTimeout({ expiredAt: x }))
        adopt(sessionId.value, decoded.payload, now)
      }
    }
  }).pipe(Effect.withSpan("Session.load"))

  /** Loads once per request, however many operations race for it. */
  const ensureLoaded: Effect.Effect<void, SessionError> = Effect.suspend(() => {
    touched = true
    if (loaded) return Effect.void
    if (loading !== undefined) return Deferred.await(loading)
    return Effect.flatMap(Deferred.make<void, SessionError>(), (deferred) => {
      loading = deferred
      return Effect.onExit(load, (exit) => {
        loaded = exit._tag === "Success"
        loading = undefined
        return Deferred.done(deferred, exit)
      })
    })
  })

  const withData = <A>(f: () => A): Effect.Effect<A, SessionError> => Effect.as(ensureLoaded, undefined).pipe(Effect.map(f))

  /** Hands out a value the caller may mutate: fingerprint first so nested changes are seen. */
  const expose = <A>(value: A): A => {
    if (policy.detectChanges && !exposed && isObject(value)) {
      exposed = true
      if (!dirty && stored) baseline = Payload.fingerprint(policy.serializer, data)
    }
    return value
  }

  const write = (key: string, value: unknown) => {
    data[key] = value
    dirty = true
  }

  const remove = (key: string): boolean => {
    if (!(key in data)) return false
    delete data[key]
    dirty = true
    return true
  }

  const changedSinceLoad = () =>
    dirty || refreshPayload ||
    (exposed && baseline !== undefined && Payload.fingerprint(policy.serializer, data) !== baseline)

  const isEmpty = () => Object.keys(data).length === 0

  const payloadAt = (now: number): Payload.Payload => ({
    m: data,
    c: created,
    v: Payload.PAYLOAD_VERSION,
    t: timeout,
    x: expiresPinned ? expiresAt : policy.payloadExpiry && timeout !== undefined ? now + timeout : undefined
  })

  const ttlSeconds = () => policy.redisTtl ? timeout : undefined

  const markPersisted = (now: number) => {
    const payload = payloadAt(now)
    expiresAt = payload.x
    dirty = false
    refreshPayload = false
    ttlRefresh = undefined
    // Values handed out before this write may still be mutated: compare against what was written.
    baseline = exposed ? Payload.fingerprint(policy.serializer, data) : undefined
  }

  /** `SET id payload NX [EX t]`, with a new id if the first one is taken. */
  const create = (now: number): Effect.Effect<void, SessionStoreError> =>
    Effect.gen(function*() {
      const value = Payload.encode(policy.serializer, payloadAt(now))
      for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        const candidate = id ?? policy.generateId()
        const written = yield* redis.set(candidate, value, { condition: "NX", ttlSeconds: ttlSeconds() })
        if (written) {
          id = candidate
          stored = true
          createdHere = true
          markPersisted(now)
          return
        }
        yield* Effect.logWarning("session id collision; generating another", { session: redactId(candidate) })
        id = undefined
      }
      return yield* Effect.dieMessage("the session id generator keeps producing ids that already exist")
    })

  /** `SET id payload XX [EX t]`: never resurrects a session deleted meanwhile. */
  const update = (sessionId: string, now: number): Effect.Effect<boolean, SessionStoreError> =>
    Effect.tap(
      redis.set(sessionId, Payload.encode(policy.serializer, payloadAt(now)), {
        condition: "XX",
        ttlSeconds: ttlSeconds()
      }),
      (written) => {
        if (written) return Effect.sync(() => markPersisted(now))
        return Effect.sync(() => {
          stored = false
        }).pipe(Effect.zipRight(Effect.logInfo("session vanished before it could be written", { session: redactId(sessionId) })))
      }
    )

  const persist = (now: number): Effect.Effect<boolean, SessionStoreError> => {
    if (stored && id !== undefined) return update(id, now)
    return Effect.as(create(now), true)
  }

  const cookieOptions = (now: number) => {
    const c = policy.cookie
    const expires = cookieExpires instanceof Date
      ? cookieExpires
      : cookieExpires === undefined
      ? undefined
      : new Date((now + cookieExpires) * 1000)
    return {
      path: c.path,
      secure: c.secure,
      httpOnly: c.httpOnly,
      sameSite: c.sameSite,
      ...(c.domain === undefined ? {} : { domain: c.domain }),
      ...(c.partitioned ? { partitioned: true } : {}),
      ...(cookieMaxAge === undefined ? {} : { maxAge: Duration.seconds(cookieMaxAge) }),
      ...(expires === undefined ? {} : { expires })
    }
  }

  const decideCookie = Effect.fn("Session.commit")(function*(
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse,
    failed: boolean
  ) {
    const now = yield* nowSeconds
    const cookieAllowed = (!failed || policy.cookieOnException) &&
      (policy.responseAllowsCookie === undefined || policy.responseAllowsCookie(request, response))
    let cookie: "set" | "expire" | "none" = expireClientCookie ? "expire" : "none"

    for (const staleId of deleteIds) yield* redis.del(staleId)

    if (!stored) {
      if ((wantId || !isEmpty()) && cookieAllowed) yield* create(now)
    } else if (createdHere && !cookieAllowed) {
      // Created early by persistNow, but the client will never hold its cookie.
      if (id !== undefined) yield* redis.del(id)
      stored = false
      createdHere = false
    } else if (policy.invalidateEmptySession && isEmpty() && id !== undefined) {
      yield* redis.del(id)
      if (!createdHere) cookie = "expire"
      stored = false
      createdHere = false
    } else if (changedSinceLoad() && id !== undefined) {
      if (!(yield* update(id, now))) cookie = "expire"
    }

    if (createdHere) cookie = "set"
    else if (recookie && cookie === "none" && (stored || !loaded) && recookieId() !== undefined) cookie = "set"

    if (!cookieAllowed) cookie = "none"
    let out = response
    if (cookie !== "none") {
      const value = cookie === "set" ? policy.signer.sign(id ?? recookieId() ?? "") : ""
      const options = cookie === "set" ? cookieOptions(now) : { ...cookieOptions(now), maxAge: Duration.zero, expires: new Date(0) }
      out = yield* Effect.orDie(HttpServerResponse.setCookie(out, policy.cookie.name, value, options))
      if (out.headers["cache-control"] === undefined) out = HttpServerResponse.setHeader(out, "cache-control", "private")
    }
    return cookie !== "none" || readStore ? appendVary(out) : out
  })

  /** The id to re-send when the session was not loaded: the one the client already holds. */
  const recookieId = (): string | undefined => id ?? Option.getOrUndefined(cookieId())

  const commit: RequestSession["commit"] = (req, response, failed) =>
    Effect.suspend(() => {
      // Pre-response handlers can run twice (again on the error path): commit once.
      if (committed || !touched) return Effect.succeed(response)
      committed = true
      return decideCookie(req, response, failed).pipe(
        Effect.catchTag("SessionStoreError", (error) =>
          Effect.zipRight(Effect.logError("session commit failed", error), HttpServerRespondable.toResponse(error)))
      )
    })

  const afterResponse: Effect.Effect<void> = Effect.suspend(() => {
    if (ttlRefresh === undefined || !stored || id === undefined) return Effect.void
    return redis.expire(id, ttlRefresh).pipe(
      Effect.asVoid,
      Effect.catchAll((error) => Effect.logWarning("session TTL refresh failed", error)),
      Effect.withSpan("Session.refreshTtl")
    )
  })

  const flashKey = (queue: string | undefined) => FLASH_PREFIX + (queue ?? "")
  const sameMessage = (a: unknown, b: unknown) => policy.serializer.serialize(a) === policy.serializer.serialize(b)
  const queueOf = (queue: string | undefined): ReadonlyArray<unknown> => {
    const stored = data[flashKey(queue)]
    return Array.isArray(stored) ? stored : []
  }

  const newCsrfToken = withData(() => {
    const token = randomBytes(32).toString("hex")
    write(CSRF_KEY, token)
    return token
  })

  const ensureId = Effect.zipRight(
    ensureLoaded,
    Effect.sync(() => {
      if (id === undefined) {
        id = policy.generateId()
        wantId = true
      }
      return id
    })
  )

  const service: SessionShape = {
    get: (key) => withData(() => key in data ? Option.some(expose(data[key])) : Option.none()),
    set: (key, value) => withData(() => write(key, value)),
    delete: (key) => withData(() => remove(key)),
    has: (key) => withData(() => key in data),
    keys: withData(() => Object.keys(data)),
    entries: withData(() => Object.entries(data).map(([key, value]) => [key, expose(value)] as const)),
    update: (values) => withData(() => Object.entries(values).forEach(([key, value]) => write(key, value))),
    clear: withData(() => {
      if (!isEmpty()) dirty = true
      data = {}
    }),
    pop: (key) =>
      withData(() => {
        if (!(key in data)) return Option.none()
        const value = data[key]
        remove(key)
        return Option.some(value)
      }),
    changed: withData(() => {
      dirty = true
    }),
    invalidate: Effect.gen(function*() {
      touched = true
      const now = yield* nowSeconds
      const current = loaded ? (stored ? id : undefined) : Option.getOrUndefined(cookieId())
      if (current !== undefined) deleteIds.add(current)
      if (rawCookie !== undefined) expireClientCookie = true
      // A pending load would adopt the old session after this: wait for it first.
      if (loading !== undefined) yield* Effect.ignore(Deferred.await(loading))
      if (loaded && stored && id !== undefined) deleteIds.add(id)
      startFresh(now)
      loaded = true
    }),
    ensureId,
    idIfExists: Effect.flatMap(ensureLoaded, () => isEmpty() ? Effect.succeedNone : Effect.asSome(ensureId)),
    flash: (message, options?: FlashOptions) =>
      withData(() => {
        const queue = queueOf(options?.queue)
        if (options?.allowDuplicate === false && queue.some((m) => sameMessage(m, message))) return
        write(flashKey(options?.queue), [...queue, message])
      }),
    peekFlash: (queue) => withData(() => [...queueOf(queue)]),
    popFlash: (queue) =>
      withData(() => {
        const messages = queueOf(queue)
        remove(flashKey(queue))
        return messages
      }),
    newCsrfToken,
    getCsrfToken: Effect.flatMap(
      withData(() => data[CSRF_KEY]),
      (token) => typeof token === "string" ? Effect.succeed(token) : newCsrfToken
    ),
    adjustTimeout: (input) =>
      withData(() => {
        const seconds = toSeconds(input)
        timeout = seconds === 0 ? policy.timeout : seconds
        dirty = true
      }),
    adjustPayloadExpiry: (epochSeconds) =>
      withData(() => {
        expiresAt = Math.ceil(epochSeconds)
        expiresPinned = true
        dirty = true
      }),
    adjustCookieMaxAge: (maxAge) =>
      Effect.sync(() => {
        touched = true
        recookie = true
        cookieMaxAge = maxAge === undefined ? undefined : toSeconds(maxAge)
      }),
    adjustCookieExpires: (expires) =>
      Effect.sync(() => {
        touched = true
        recookie = true
        cookieExpires = expires === undefined || expires instanceof Date ? expires : toSeconds(expires)
      }),
    recookie: Effect.sync(() => {
      touched = true
      recookie = true
    }),
    persistNow: Effect.flatMap(ensureLoaded, () =>
      Effect.flatMap(nowSeconds, (now) =>
        stored || wantId || !isEmpty() ? Effect.asVoid(persist(now)) : Effect.void)),
    refreshNow: Effect.flatMap(ensureLoaded, () => {
      const ttl = ttlSeconds()
      if (!stored || id === undefined || ttl === undefined) return Effect.void
      ttlRefresh = undefined
      return Effect.asVoid(redis.expire(id, ttl))
    }),
    isNew: withData(() => isNew),
    created: withData(() => created),
    timeout: withData(() => Option.fromNullable(timeout)),
    expires: Effect.flatMap(ensureLoaded, () =>
      Effect.map(nowSeconds, (now) => {
        if (expiresPinned) return Option.fromNullable(expiresAt)
        if (timeout === undefined) return Option.none()
        const willWrite = !stored || changedSinceLoad()
        return Option.some(policy.payloadExpiry && !willWrite && expiresAt !== undefined ? expiresAt : now + timeout)
      }))
  }

  return { service, commit, afterResponse }
}
