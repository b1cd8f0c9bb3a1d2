/**
 * The benchmark's baseline: the demo's routes with a stand-in `Session`
 * that has no sessions at all (see `makeBaselineSession`).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomBytes } from "node:crypto"
import { Session } from "../../src/index.js"

/**
 * A `Session` without sessions, for the benchmark's baseline: ONE process-wide
 * `Map` shared by every client ("keyed by nothing"), no cookie, no store, no
 * middleware. Every route works; nothing is per client. `/api/read` is a Map
 * lookup and `/api/incr` a Map update, so the benchmark's ratio measures what
 * the session middleware plus a Redis round trip cost on top of the same
 * handler code.
 */
export const makeBaselineSession = (): Session.SessionShape => {
  const data = new Map<string, unknown>()
  const created = Math.floor(Date.now() / 1000)
  const popFlash = (queue = "") =>
    Effect.sync(() => {
      const messages = data.get(`_f_${queue}`)
      data.delete(`_f_${queue}`)
      return Array.isArray(messages) ? messages : []
    })
  const csrf = Effect.sync(() => {
    const token = randomBytes(32).toString("hex")
    data.set("_csrft_", token)
    return token
  })
  return Session.Session.of({
    get: (key) => Effect.sync(() => data.has(key) ? Option.some(data.get(key)) : Option.none()),
    set: (key, value) => Effect.sync(() => void data.set(key, value)),
    delete: (key) => Effect.sync(() => data.delete(key)),
    has: (key) => Effect.sync(() => data.has(key)),
    keys: Effect.sync(() => [...data.keys()]),
    entries: Effect.sync(() => [...data.entries()]),
    update: (values) => Effect.sync(() => Object.entries(values).forEach(([k, v]) => data.set(k, v))),
    clear: Effect.sync(() => data.clear()),
    pop: (key) =>
      Effect.sync(() => {
        const found = data.has(key) ? Option.some(data.get(key)) : Option.none()
        data.delete(key)
        return found
      }),
    changed: Effect.void,
    invalidate: Effect.sync(() => data.clear()),
    regenerate: Effect.void,
    require: Effect.void,
    lifetimeEnds: Effect.succeedNone,
    bindUser: () => Effect.void,
    unbindUser: Effect.void,
    boundUser: Effect.succeedNone,
    handle: Effect.succeedNone,
    ensureId: Effect.succeed("baseline"),
    idIfExists: Effect.sync(() => data.size === 0 ? Option.none() : Option.some("baseline")),
    flash: (message, options) =>
      Effect.sync(() => {
        const key = `_f_${options?.queue ?? ""}`
        const queue = data.get(key)
        const messages: Array<unknown> = Array.isArray(queue) ? queue : []
        if (options?.allowDuplicate === false && messages.includes(message)) return
        data.set(key, [...messages, message])
      }),
    peekFlash: (queue = "") =>
      Effect.sync(() => {
        const messages = data.get(`_f_${queue}`)
        return Array.isArray(messages) ? [...messages] : []
      }),
    popFlash,
    newCsrfToken: csrf,
    getCsrfToken: Effect.suspend(() => {
      const token = data.get("_csrft_")
      return typeof token === "string" ? Effect.succeed(token) : csrf
    }),
    adjustTimeout: () => Effect.void,
    adjustPayloadExpiry: () => Effect.void,
    adjustCookieMaxAge: () => Effect.void,
    adjustCookieExpires: () => Effect.void,
    recookie: Effect.void,
    persistNow: Effect.void,
    refreshNow: Effect.void,
    isNew: Effect.succeed(false),
    created: Effect.succeed(created),
    timeout: Effect.succeedNone,
    expires: Effect.succeedNone,
    storeAvailable: Effect.succeed(true)
  })
}
