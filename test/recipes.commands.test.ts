/**
 * A recipe of docs/recipes.md ("Testing: counting Redis commands"), which
 * prints the code below this comment verbatim (test/docs.test.ts checks it).
 */
import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { RedisClient, Session, SessionMiddleware, SessionPolicy } from "effect-session-redis"

/** The memory store, recording the name of each command in `log`. */
const layerCounting = (log: Array<string>) =>
  Layer.effect(
    RedisClient.RedisClient,
    Effect.map(RedisClient.makeMemory, (redis): RedisClient.RedisClientShape => {
      const count = <A extends ReadonlyArray<unknown>, B>(
        name: string,
        command: (...args: A) => Effect.Effect<B, RedisClient.SessionStoreError>
      ) =>
      (...args: A) => Effect.zipRight(Effect.sync(() => log.push(name)), command(...args))
      return {
        get: count("GET", redis.get),
        getEx: count("GETEX", redis.getEx),
        set: count("SET", redis.set),
        expire: count("EXPIRE", redis.expire),
        del: count("DEL", redis.del),
        ttl: count("TTL", redis.ttl),
        move: count("MOVE", redis.move),
        getMany: count("MGET", redis.getMany),
        indexAdd: count("INDEXADD", redis.indexAdd),
        indexMembers: count("ZRANGE", redis.indexMembers),
        indexRemove: count("ZREM", redis.indexRemove),
        mergePayload: count("MERGE", redis.mergePayload)
      }
    })
  )

const Theme = Session.key("theme", Schema.String)

const app = SessionMiddleware.middleware(HttpRouter.empty.pipe(
  HttpRouter.get("/health", Effect.succeed(HttpServerResponse.text("ok"))),
  HttpRouter.get("/theme", Effect.map(Session.get(Theme), (theme) => HttpServerResponse.text(String(theme)))),
  HttpRouter.get("/dark", Effect.as(Session.set(Theme, "dark"), HttpServerResponse.text("saved")))
))

it.effect("an untouched request costs nothing, a read one GETEX, a write one command more", () => {
  const log: Array<string> = []
  return Effect.gen(function*() {
    const runtime = yield* Effect.runtime<RedisClient.RedisClient | SessionPolicy.SessionPolicy>()
    const handler = HttpApp.toWebHandlerRuntime(runtime)(app)
    const commands = (path: string, cookie?: string) =>
      Effect.promise(async () => {
        log.length = 0
        const response = await handler(new Request(`http://localhost${path}`, cookie ? { headers: { cookie } } : {}))
        return { commands: [...log], cookie: response.headers.getSetCookie()[0]?.split(";")[0] }
      })

    const created = yield* commands("/dark")
    expect(created.commands).toEqual(["SET"]) // no cookie: nothing to read, one SET NX EX
    expect((yield* commands("/health", created.cookie)).commands).toEqual([])
    expect((yield* commands("/theme", created.cookie)).commands).toEqual(["GETEX"])
    expect((yield* commands("/dark", created.cookie)).commands).toEqual(["GETEX", "SET"]) // SET XX EX
  }).pipe(
    Effect.provide(Layer.merge(
      layerCounting(log),
      SessionPolicy.layer({ secret: Redacted.make("test-secret-test-secret-test-secret!") })
    ))
  )
})
