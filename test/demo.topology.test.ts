/**
 * The demo (docs/examples/store.ts) on Redis Cluster and on Sentinel, chosen
 * by the environment alone: a session written over HTTP is read back, and
 * its key is where the deployment keeps it.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { makeApp, SessionsLive, StoreInfo, StoreLive } from "../docs/examples/app.js"
import { CookieSigner } from "../src/index.js"
import {
  announceSkip,
  clusterUnsupported,
  type Deployment,
  layerRedisCluster,
  layerRedisSentinel,
  RedisCluster,
  RedisSentinel
} from "./support/redisCluster.js"

const secret = "demo-test-secret-0123456789abcdef0123456789"
const signer = CookieSigner.make(Redacted.make(secret))

const withEnv = (env: ReadonlyArray<readonly [string, string]>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(env)))

/** The demo app on a real socket, configured only by `env`; its StoreInfo alongside. */
const demoServer = (env: ReadonlyArray<readonly [string, string]>) =>
  HttpServer.serve(makeApp({ sessions: true })).pipe(
    Layer.provideMerge(SessionsLive),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(withEnv([...env, ["SESSION_SECRET", secret]]))
  )

const get = (path: string, cookie?: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const request = cookie === undefined
      ? HttpClientRequest.get(path)
      : HttpClientRequest.setHeader(HttpClientRequest.get(path), "cookie", cookie)
    const response = yield* client.execute(request)
    const raw: unknown = response.headers["set-cookie"]
    const setCookie = Array.isArray(raw) ? raw.join("\n") : typeof raw === "string" ? raw : ""
    const value = /(?:^|\n)session=([^;]*)/.exec(setCookie)?.[1]
    return { json: (yield* response.json) as unknown, cookie: value === undefined ? undefined : `session=${value}` }
  })

/** Writes a session, reads it back with its cookie, and finds its key in the deployment. */
const writeThenRead = (deployment: Deployment) =>
  Effect.gen(function*() {
    const first = yield* get("/api/incr")
    expect(first.json).toEqual({ n: 1 })
    const cookie = first.cookie
    if (cookie === undefined) throw new Error("no session cookie")
    expect((yield* get("/api/incr", cookie)).json).toEqual({ n: 2 })
    expect((yield* get("/api/read", cookie)).json).toEqual({ n: 2 })
    const id = Option.getOrThrow(signer.verify(cookie.slice("session=".length)))
    expect(yield* Effect.promise(() => deployment.keys())).toContain(id)
  })

const clusterSkip = await clusterUnsupported()
if (clusterSkip !== undefined) announceSkip("the demo on Redis Cluster", clusterSkip)

describe.skipIf(clusterSkip !== undefined)("demo on Redis Cluster (REDIS_CLUSTER_NODES)", () => {
  const live = Layer.unwrapEffect(
    Effect.map(RedisCluster, (cluster) => demoServer([["REDIS_CLUSTER_NODES", cluster.nodesVariable]]))
  ).pipe(Layer.provideMerge(layerRedisCluster()))

  layer(live, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("StoreInfo says cluster and names the nodes", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster
        const info = yield* StoreInfo
        expect(info.kind).toBe("cluster")
        expect(info.description).toContain(cluster.nodesVariable)
      }))

    it.effect("a session is written and read back", () => Effect.flatMap(RedisCluster, writeThenRead))
  })
})

describe("demo on Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER)", () => {
  const live = Layer.unwrapEffect(
    Effect.map(RedisSentinel, (sentinel) =>
      demoServer([
        ["REDIS_SENTINELS", sentinel.sentinelsVariable],
        ["REDIS_SENTINEL_MASTER", sentinel.masterName],
        // a REDIS_URL is ignored when sentinels are given
        ["REDIS_URL", "redis://127.0.0.1:1"]
      ]))
  ).pipe(Layer.provideMerge(layerRedisSentinel()))

  layer(live, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("StoreInfo says sentinel and names the master", () =>
      Effect.gen(function*() {
        const sentinel = yield* RedisSentinel
        const info = yield* StoreInfo
        expect(info.kind).toBe("sentinel")
        expect(info.description).toContain(`"${sentinel.masterName}"`)
      }))

    it.effect("a session is written and read back", () => Effect.flatMap(RedisSentinel, writeThenRead))
  })
})

describe("demo store configuration errors name the variable", () => {
  it.each(
    [
      { env: [["REDIS_CLUSTER_NODES", "127.0.0.1"]], variable: "REDIS_CLUSTER_NODES" },
      { env: [["REDIS_SENTINELS", "127.0.0.1:26379"]], variable: "REDIS_SENTINEL_MASTER" },
      { env: [["REDIS_SENTINELS", "127.0.0.1:99999"], ["REDIS_SENTINEL_MASTER", "m"]], variable: "REDIS_SENTINELS" }
    ] as const
  )("$variable", ({ env, variable }) =>
    Effect.runPromise(
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(StoreLive).pipe(Effect.scoped, Effect.provide(withEnv(env))))
        expect(String(error)).toContain(variable)
      })
    ))
})
