/**
 * A user's sessions: bound at login, listed, revoked one, all, or all but
 * the current one, from a request or from a job outside any request. On the
 * memory Layer and on a real redis-server.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { handleOf as handleOfKey, indexKey } from "../src/internal/userIndex.js"
import * as RedisClient from "../src/RedisClient.js"
import * as SessionPolicy from "../src/SessionPolicy.js"
import * as UserSessions from "../src/UserSessions.js"
import { onBothStores, type SpecTest } from "./support/bothStores.js"
import { layerWith, layerWithStore, makeClient, recording, secret } from "./support/sessionApp.js"

/** The service, as a background job or an admin endpoint would use it. */
const service = Effect.map(
  Effect.all([SessionPolicy.SessionPolicy, RedisClient.RedisClient]),
  ([policy, redis]) => UserSessions.make(policy, redis)
)

const handleOf = (client: Effect.Effect.Success<typeof makeClient>) =>
  Effect.map(client.request("/handle"), (reply) => (reply.body as { handle: string }).handle)

const userSessionsSpec = (test: SpecTest) => {
  test("sessions bound at login are listed with their creation, last write and label, never their ids", () =>
    Effect.gen(function*() {
      const laptop = yield* makeClient
      const phone = yield* makeClient
      yield* laptop.request("/login-bind?user=alice&label=laptop")
      yield* phone.request("/login-bind?user=alice&label=phone")
      const sessions = yield* Effect.flatMap(service, (s) => s.list("alice"))
      // ordered by binding time, to the second: both logins fall in the same one here
      expect(sessions.map((s) => Option.getOrNull(s.label)).sort()).toEqual(["laptop", "phone"])
      expect(sessions.map((s) => s.handle).sort()).toEqual([yield* handleOf(laptop), yield* handleOf(phone)].sort())
      for (const s of sessions) {
        expect(Option.isSome(s.lastWrite)).toBe(true)
        expect(JSON.stringify(s)).not.toContain(laptop.cookie ?? "?")
      }
      expect(yield* Effect.flatMap(service, (s) => s.list("bob"))).toEqual([])
    }))

  test("revoking one session ends it: its next request finds no session", () =>
    Effect.gen(function*() {
      const laptop = yield* makeClient
      const phone = yield* makeClient
      yield* laptop.request("/login-bind?user=carol&label=laptop")
      yield* phone.request("/login-bind?user=carol&label=phone")
      expect(yield* Effect.flatMap(service, (s) => s.revoke("carol", "not-a-handle"))).toBe(false)
      const phoneHandle = yield* handleOf(phone)
      expect(yield* Effect.flatMap(service, (s) => s.revoke("carol", phoneHandle))).toBe(true)
      expect((yield* phone.request("/require")).body).toEqual({ refused: "NotInBackend" })
      expect((yield* laptop.request("/require")).body).toEqual({ ok: true })
      expect((yield* Effect.flatMap(service, (s) => s.list("carol"))).map((s) => Option.getOrNull(s.label))).toEqual([
        "laptop"
      ])
    }))

  test("revoking all but the current session keeps only that one", () =>
    Effect.gen(function*() {
      const clients = [yield* makeClient, yield* makeClient, yield* makeClient]
      for (const [i, client] of clients.entries()) yield* client.request(`/login-bind?user=dave&label=d${i}`)
      const current = yield* handleOf(clients[0]!)
      expect(yield* Effect.flatMap(service, (s) => s.revokeAll("dave", { except: current }))).toBe(2)
      expect((yield* clients[0]!.request("/require")).body).toEqual({ ok: true })
      expect((yield* clients[1]!.request("/require")).body).toEqual({ refused: "NotInBackend" })
      expect((yield* clients[2]!.request("/require")).body).toEqual({ refused: "NotInBackend" })
    }))

  test("revokeAll ends every session, and a logged-out or unbound session leaves the list", () =>
    Effect.gen(function*() {
      const [a, b, c] = [yield* makeClient, yield* makeClient, yield* makeClient]
      yield* a.request("/login-bind?user=erin&label=a")
      yield* b.request("/login-bind?user=erin&label=b")
      yield* c.request("/login-bind?user=erin&label=c")
      yield* b.request("/invalidate")
      yield* c.request("/unbind")
      expect((yield* Effect.flatMap(service, (s) => s.list("erin"))).map((s) => Option.getOrNull(s.label))).toEqual([
        "a"
      ])
      expect(yield* Effect.flatMap(service, (s) => s.revokeAll("erin"))).toBe(1)
      expect((yield* a.request("/require")).body).toEqual({ refused: "NotInBackend" })
      expect((yield* c.request("/require")).body).toEqual({ ok: true })
    }))

  test("a regenerated session stays listed under its new id", () =>
    Effect.gen(function*() {
      const client = yield* makeClient
      yield* client.request("/login-bind?user=fay&label=l")
      yield* client.request("/regenerate")
      const sessions = yield* Effect.flatMap(service, (s) => s.list("fay"))
      expect(sessions.map((s) => s.handle)).toEqual([yield* handleOf(client)])
    }))
}

describe("UserSessions", () => {
  onBothStores(userSessionsSpec)

  it.effect("binding costs one more store command, once; a request that neither binds nor unbinds costs none more", () =>
    Effect.gen(function*() {
      const { client: store, log } = recording(yield* RedisClient.makeMemory)
      yield* Effect.gen(function*() {
        const client = yield* makeClient
        yield* client.request("/incr")
        log.length = 0
        yield* client.request("/login-bind?user=gus&label=x")
        expect(log).toEqual(["getex", "move", "indexadd"])
        log.length = 0
        yield* client.request("/incr")
        expect(log).toEqual(["getex", "set"])
      }).pipe(Effect.provide(layerWithStore(store)))
    }))

  it.effect("the Layer provides the service", () =>
    Effect.gen(function*() {
      const sessions = yield* UserSessions.UserSessions
      expect(yield* sessions.list("nobody")).toEqual([])
    }).pipe(Effect.provide(UserSessions.layer.pipe(Layer.provideMerge(layerWith(RedisClient.layerMemory, {}))))))
})

describe("a user's index", () => {
  /** The policy, the memory store, and the service over them. */
  const setup = Effect.gen(function*() {
    const policy = yield* SessionPolicy.make({ secret, idPrefix: "app:" })
    const redis = yield* RedisClient.makeMemory
    return { policy, redis, sessions: UserSessions.make(policy, redis) }
  })
  const bound = (userId: string | undefined) =>
    JSON.stringify({ m: {}, c: 1, v: 1, ...(userId === undefined ? {} : { u: { id: userId } }) })

  it.effect("is keyed by the prefix and the SHA-256 of the user id, never the id itself", () =>
    Effect.gen(function*() {
      const { policy } = yield* setup
      expect(indexKey(policy, "alice")).toBe(`app:user:${createHash("sha256").update("alice").digest("base64url")}`)
    }))

  it("a session's handle is 22 characters, the same for the same key, and never the key", () => {
    const handle = handleOfKey("app:key-1")
    expect(handle).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(handleOfKey("app:key-1")).toBe(handle)
    expect(handleOfKey("app:key-2")).not.toBe(handle)
  })

  it.effect("a listing drops the members that are no longer this user's sessions: gone, unbound, bound to another", () =>
    Effect.gen(function*() {
      const { policy, redis, sessions } = yield* setup
      const index = indexKey(policy, "alice")
      yield* redis.set("app:mine", bound("alice"))
      yield* redis.set("app:unbound", bound(undefined))
      yield* redis.set("app:rebound", bound("bob"))
      for (const key of ["app:mine", "app:unbound", "app:rebound", "app:gone"]) {
        yield* redis.indexAdd(index, key, 1, undefined)
      }
      expect((yield* sessions.list("alice")).map((s) => s.handle)).toEqual([handleOfKey("app:mine")])
      expect(yield* redis.indexMembers(index)).toEqual(["app:mine"])
    }))

  it.effect("revoking sessions deletes them and takes them out of the index", () =>
    Effect.gen(function*() {
      const { policy, redis, sessions } = yield* setup
      const index = indexKey(policy, "alice")
      for (const key of ["app:a", "app:b"]) {
        yield* redis.set(key, bound("alice"))
        yield* redis.indexAdd(index, key, 1, undefined)
      }
      expect(yield* sessions.revokeAll("alice")).toBe(2)
      expect(yield* redis.indexMembers(index)).toEqual([])
      expect(yield* redis.getMany(["app:a", "app:b"])).toEqual([Option.none(), Option.none()])
    }))
})
