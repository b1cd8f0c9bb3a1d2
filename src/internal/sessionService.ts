/**
 * The `Session` a handler sees: thin Effects over the request's state.
 * Members are getters, so nothing is built for operations a request never
 * uses, and destructuring (`const { get } = session`) still works.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { FlashOptions, SessionShape } from "../Session.js"
import * as SessionDuration from "../SessionDuration.js"
import * as Payload from "./payload.js"
import type { RequestSession } from "./requestSession.js"
import { handleOf } from "./userIndex.js"

/** The duration rule at run time: a duration that breaks it is a bug in the caller, so a defect. */
const seconds = <A, E>(
  name: string,
  input: unknown,
  f: (seconds: number) => Effect.Effect<A, E>
): Effect.Effect<A, E> => {
  const parsed = SessionDuration.toSeconds(name, input)
  return Either.isLeft(parsed) ? Effect.die(parsed.left) : f(parsed.right)
}

const optionalSeconds = (name: string, input: unknown, f: (seconds: number | undefined) => void) =>
  input === undefined ? Effect.sync(() => f(undefined)) : seconds(name, input, (s) => Effect.sync(() => f(s)))

/** @internal */
export class SessionService implements SessionShape {
  readonly #s: RequestSession
  constructor(session: RequestSession) {
    this.#s = session
  }
  get get() {
    return (key: string) => this.#s.withLoaded(({ data }) => data.has(key) ? Option.some(data.get(key)) : Option.none())
  }
  get set() {
    return (key: string, value: unknown) => this.#s.withLoaded(({ data }) => data.set(key, value))
  }
  get delete() {
    return (key: string) => this.#s.withLoaded(({ data }) => data.delete(key))
  }
  get has() {
    return (key: string) => this.#s.withLoaded(({ data }) => data.has(key))
  }
  get keys() {
    return this.#s.withLoaded(({ data }) => data.keys())
  }
  get entries() {
    return this.#s.withLoaded(({ data }) => data.entries())
  }
  get update() {
    return (values: Readonly<Record<string, unknown>>) =>
      this.#s.withLoaded(({ data }) => {
        for (const [key, value] of Object.entries(values)) data.set(key, value)
      })
  }
  get clear() {
    return this.#s.withLoaded(({ data }) => data.clear())
  }
  get pop() {
    return (key: string) =>
      this.#s.withLoaded(({ data }) => {
        if (!data.has(key)) return Option.none()
        const value = data.get(key)
        data.delete(key)
        return Option.some(value)
      })
  }
  get changed() {
    return this.#s.withLoaded(({ data }) => data.markChanged())
  }
  get regenerate() {
    return this.#s.withLoaded((state) => state.regenerate())
  }
  get require() {
    return Effect.suspend(() => this.#s.require())
  }
  get lifetimeEnds() {
    return this.#s.withLoaded((state) => Option.fromNullable(state.lifetimeEnds))
  }
  get bindUser() {
    return (userId: string, options?: { readonly label?: string | undefined }) =>
      this.#s.withLoaded((state) => state.bindUser(userId, options?.label))
  }
  get unbindUser() {
    return this.#s.withLoaded((state) => state.unbindUser())
  }
  get boundUser() {
    return this.#s.withLoaded((state) => Option.fromNullable(state.binding?.id))
  }
  get handle() {
    return this.#s.withLoaded((state) =>
      state.backing._tag === "Stored"
        ? Option.some(handleOf(this.#s.policy.storageKey(state.backing.id)))
        : Option.none()
    )
  }
  get invalidate() {
    return Effect.suspend(() => this.#s.invalidate())
  }
  get ensureId() {
    return this.#s.withLoaded((state) => state.ensureId())
  }
  get idIfExists() {
    return this.#s.withLoaded((state) => Option.fromNullable(state.idIfExists()))
  }
  get flash() {
    return (message: unknown, options?: FlashOptions) =>
      this.#s.withLoaded(({ data }) => data.flash(message, options?.queue, options?.allowDuplicate ?? true))
  }
  get peekFlash() {
    return (queue?: string) => this.#s.withLoaded(({ data }) => [...data.peekFlash(queue)])
  }
  get popFlash() {
    return (queue?: string) => this.#s.withLoaded(({ data }) => data.popFlash(queue))
  }
  get newCsrfToken() {
    return this.#s.withLoaded(({ data }) => data.newCsrfToken())
  }
  get getCsrfToken() {
    return this.#s.withLoaded(({ data }) => data.csrfToken())
  }
  get adjustTimeout() {
    return (timeout: SessionDuration.SessionDuration) =>
      seconds("adjustTimeout", timeout, (s) => this.#s.withLoaded((state) => state.adjustTimeout(s)))
  }
  get adjustPayloadExpiry() {
    return (expiresAt: number) => this.#s.withLoaded((state) => state.adjustPayloadExpiry(expiresAt))
  }
  get adjustCookieMaxAge() {
    return (maxAge: SessionDuration.SessionDuration | undefined) =>
      optionalSeconds("adjustCookieMaxAge", maxAge, (s) => this.#s.adjustCookie({ maxAge: s }))
  }
  get adjustCookieExpires() {
    return (expires: Date | SessionDuration.SessionDuration | undefined) =>
      expires instanceof Date
        ? Effect.sync(() => this.#s.adjustCookie({ expires }))
        : optionalSeconds("adjustCookieExpires", expires, (s) => this.#s.adjustCookie({ expires: s }))
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
    return this.#s.withLoaded((state) => state.isNew)
  }
  get created() {
    return this.#s.withLoaded((state) => state.times.created)
  }
  get timeout() {
    return this.#s.withLoaded((state) => Option.fromNullable(state.times.timeout))
  }
  get storeAvailable() {
    return Effect.map(this.#s.withLoaded(() => undefined), () => !this.#s.storeUnavailable)
  }
  get expires() {
    return Effect.flatMap(
      this.#s.withLoaded((state) => state),
      (state) =>
        Effect.map(
          Clock.currentTimeMillis,
          (millis) => Option.fromNullable(state.expiresAt(Payload.epochSeconds(millis)))
        )
    )
  }
}
