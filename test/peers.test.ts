/**
 * The servers of `npm run bench:peers` (bench/peerApps.ts) answer the
 * benchmark's routes alike, so the benchmark cannot measure a broken server:
 * the same JSON from this library, express-session and @fastify/session, a
 * session cookie on the first write and not on /api/noop, the data in the
 * private redis-server, a new session id on login; and the same JSON without
 * sessions, with no cookie and nothing in Redis.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { COOKIE_NAME, frameworks, type RunningServer, startServer } from "../bench/peerApps.js"
import { type RedisServerHarness, startRedisServer } from "./support/redisServer.js"

let redis: RedisServerHarness
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis.stop()
})

interface Reply {
  readonly status: number
  readonly body: unknown
  /** `session=<value>` when the response set the session cookie. */
  readonly cookie: string | undefined
}

const get = async (server: RunningServer, path: string, cookie?: string): Promise<Reply> => {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    headers: cookie === undefined ? {} : { cookie }
  })
  const text = await response.text()
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE_NAME}=`))
  return {
    status: response.status,
    body: response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
    cookie: setCookie?.split(";")[0]
  }
}

describe.each(frameworks)("%s", (framework) => {
  describe("with sessions", () => {
    let server: RunningServer
    beforeAll(async () => {
      server = await startServer({ framework, sessions: true, redisUrl: redis.url })
    })
    afterAll(() => server.close())
    beforeEach(() => redis.flushall())

    it("answers /api/noop with ok and no cookie, storing nothing", async () => {
      expect(await get(server, "/api/noop")).toEqual({ status: 200, body: "ok", cookie: undefined })
      expect(await redis.keys()).toEqual([])
    })

    it("answers /api/read with n: null for a new client, storing nothing", async () => {
      expect(await get(server, "/api/read")).toEqual({ status: 200, body: { n: null }, cookie: undefined })
      expect(await redis.keys()).toEqual([])
    })

    it("counts per client in Redis: a cookie on the first incr, then read and incr follow it", async () => {
      const first = await get(server, "/api/incr")
      expect(first).toMatchObject({ status: 200, body: { n: 1 } })
      expect(first.cookie).toMatch(new RegExp(`^${COOKIE_NAME}=.+`))
      expect(await redis.keys()).toHaveLength(1)
      const cookie = first.cookie ?? ""
      expect((await get(server, "/api/incr", cookie)).body).toEqual({ n: 2 })
      expect((await get(server, "/api/read", cookie)).body).toEqual({ n: 2 })
      expect(await get(server, "/api/noop", cookie)).toMatchObject({ status: 200, body: "ok" })
      // another client has its own count
      expect((await get(server, "/api/read")).body).toEqual({ n: null })
    })

    it("gives a new session id on login, resets n, and forgets the old id", async () => {
      const cookie = (await get(server, "/api/incr")).cookie ?? ""
      const login = await get(server, "/api/login?user=alice", cookie)
      expect(login).toMatchObject({ status: 200, body: { user: "alice" } })
      expect(login.cookie).toBeDefined()
      expect(login.cookie).not.toEqual(cookie)
      expect((await get(server, "/api/read", login.cookie)).body).toEqual({ n: 0 })
      expect((await get(server, "/api/read", cookie)).body).toEqual({ n: null })
    })

    it("refuses a bad user name with 400", async () => {
      expect((await get(server, "/api/login?user=")).status).toBe(400)
    })
  })

  describe("without sessions", () => {
    let server: RunningServer
    beforeAll(async () => {
      await redis.flushall()
      server = await startServer({ framework, sessions: false })
    })
    afterAll(() => server.close())

    it("answers the same JSON from one process-wide state, with no cookie and nothing in Redis", async () => {
      const replies = [
        await get(server, "/api/noop"),
        await get(server, "/api/read"),
        await get(server, "/api/incr"),
        await get(server, "/api/incr"),
        await get(server, "/api/read"),
        await get(server, "/api/login?user=bob"),
        await get(server, "/api/read")
      ]
      expect(replies.map((r) => [r.status, r.body])).toEqual([
        [200, "ok"],
        [200, { n: null }],
        [200, { n: 1 }],
        [200, { n: 2 }],
        [200, { n: 2 }],
        [200, { user: "bob" }],
        [200, { n: 0 }]
      ])
      expect(replies.map((r) => r.cookie)).toEqual(replies.map(() => undefined))
      expect(await redis.keys()).toEqual([])
    })
  })
})
