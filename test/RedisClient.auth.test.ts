/**
 * The ioredis layers against Redis that requires a password: a standalone
 * server (`requirepass`), a Sentinel deployment (a password on the data nodes
 * and another on the sentinels) and a Cluster (`requirepass` on every node).
 * With the right passwords a value round-trips; with a missing or wrong one
 * the layer fails to build with `CONNECT` / `Connection` and says why
 * (`NOAUTH`, `WRONGPASS`), and no password ever reaches the error or a log.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { randomUUID } from "node:crypto"
import * as net from "node:net"
import * as RedisClient from "../src/RedisClient.js"
import {
  buildFailure,
  expectConnectFailure,
  expectNoSecrets,
  expectRoundTrip,
  roundTrip,
  withEnv
} from "./support/connectChecks.js"
import {
  type ClusterHarness,
  layerRedisCluster,
  layerRedisSentinel,
  RedisCluster,
  RedisSentinel,
  type SentinelHarness
} from "./support/redisCluster.js"
import { layerRedisServerWith, RedisServer, type RedisServerHarness } from "./support/redisServer.js"

// Unique per run, so finding one in a text cannot be a coincidence.
const password = `data-pw-${randomUUID()}`
const sentinelPassword = `sentinel-pw-${randomUUID()}`
const wrong = `wrong-pw-${randomUUID()}`
const allSecrets = [password, sentinelPassword, wrong]

const noauth = /^NOAUTH Authentication required\.$/
const wrongpass = /^WRONGPASS invalid username-password pair/

/** `redis://:<password>@127.0.0.1:<port>` */
const urlWith = (server: RedisServerHarness, pass: string) =>
  `redis://:${encodeURIComponent(pass)}@127.0.0.1:${server.port}`

// Short, so the failures that do wait for it (a refused sentinel) stay quick.
const connectTimeout = Duration.millis(500)

/** A server that refuses every command with `-ERR <say>` (no Redis names a password; a proxy might). */
const refusingServer = (say: string) =>
  Effect.acquireRelease(
    Effect.async<net.Server & { readonly port: number }>((resume) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.on("data", () => socket.write(`-ERR ${say}\r\n`))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(Object.assign(server, { port: typeof address === "object" ? address?.port ?? 0 : 0 })))
      })
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

// Real servers run on real time: no TestClock here.
const live = { excludeTestServices: true, timeout: "60 seconds" } as const

describe("a standalone server with requirepass", () => {
  layer(layerRedisServerWith({ args: ["--requirepass", password], password }), live)((it) => {
    it.effect.each([
      {
        name: "layer, the password in the URL",
        make: (s: RedisServerHarness) => RedisClient.layer({ url: urlWith(s, password) })
      },
      {
        name: "layer, redis.password",
        make: (s: RedisServerHarness) => RedisClient.layer({ url: s.url, redis: { password } })
      },
      {
        name: "layerConfig, the password in REDIS_URL",
        make: (s: RedisServerHarness) =>
          RedisClient.layerConfig().pipe(Layer.provide(withEnv({ REDIS_URL: urlWith(s, password) })))
      }
    ])("$name: a value round-trips", ({ make }) =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const result = yield* roundTrip(make(server))
        expectRoundTrip(result)
        expect(yield* Effect.promise(() => server.keys())).toContain(result.key)
      }))

    it.effect.each([
      {
        name: "layer without a password",
        detail: noauth,
        make: (s: RedisServerHarness) => RedisClient.layer({ url: s.url })
      },
      {
        name: "layer, a wrong password in the URL",
        detail: wrongpass,
        make: (s: RedisServerHarness) => RedisClient.layer({ url: urlWith(s, wrong) })
      },
      {
        name: "layer, a wrong redis.password",
        detail: wrongpass,
        make: (s: RedisServerHarness) => RedisClient.layer({ url: s.url, redis: { password: wrong } })
      },
      {
        name: "layerConfig, a wrong password in REDIS_URL",
        detail: wrongpass,
        make: (s: RedisServerHarness) =>
          RedisClient.layerConfig().pipe(Layer.provide(withEnv({ REDIS_URL: urlWith(s, wrong) })))
      }
    ])(
      "$name fails to build with CONNECT, naming the refusal, never a password",
      ({ detail, make }) =>
        Effect.gen(function*() {
          const failure = yield* buildFailure(make(yield* RedisServer))
          expect(expectConnectFailure(failure.error).detail).toMatch(detail)
          // the refusal is logged at Debug too: the check below is not vacuous
          expect(failure.lines.join("\n")).toMatch(/Redis connection error/)
          expectNoSecrets(failure, allSecrets)
        })
    )
  })
})

describe("whatever a server or the driver says, no password", () => {
  layer(Layer.empty, live)((it) => {
    // Details are cut at 200 characters: the second refusal's cut falls inside the password.
    it.scoped.each([
      { name: "a refusal that names the password", say: `bad password ${password}` },
      { name: "a long refusal that names the password", say: `${"x".repeat(177)} ${password}` }
    ])("$name: the error and the logs show it redacted", ({ say }) =>
      Effect.gen(function*() {
        const server = yield* refusingServer(say)
        const failure = yield* buildFailure(
          RedisClient.layer({ url: `redis://127.0.0.1:${server.port}`, redis: { password }, connectTimeout })
        )
        expect(expectConnectFailure(failure.error).detail).toMatch(/^ERR .*<redacted>$/)
        expect(failure.lines.join("\n")).toMatch(/<redacted>/)
        expectNoSecrets(failure, [password, password.slice(0, 16)])
      }))

    it.scoped("a Cluster node's refusal that names the password: the error and the logs show it redacted", () =>
      Effect.gen(function*() {
        const server = yield* refusingServer(`bad password ${password}`)
        const failure = yield* buildFailure(
          RedisClient.layerCluster({ nodes: [{ host: "127.0.0.1", port: server.port }], password, connectTimeout })
        )
        expect(expectConnectFailure(failure.error).detail).toContain("<redacted>")
        expectNoSecrets(failure, [password])
      }))

    it.effect.each([
      { name: "layer", make: () => RedisClient.layer({ url: `redis://:${password}@[bad:1` }) },
      {
        name: "layerConfig",
        make: () => RedisClient.layerConfig().pipe(Layer.provide(withEnv({ REDIS_URL: `redis://:${password}@[bad:1` })))
      }
    ])(
      "$name: a malformed URL fails to build with CONNECT (no defect carrying the URL)",
      ({ make }) =>
        Effect.gen(function*() {
          const failure = yield* buildFailure(make())
          expect(expectConnectFailure(failure.error).detail).toBe("invalid connection options: Invalid URL")
          expectNoSecrets(failure, [password])
        })
    )
  })
})

describe("Sentinel: data nodes with requirepass/masterauth, sentinels with requirepass", () => {
  const base = (s: SentinelHarness) => ({ sentinels: s.sentinelAddresses, masterName: s.masterName, connectTimeout })
  const sentinelEnv = (s: SentinelHarness, env: Record<string, string>) =>
    withEnv({ REDIS_SENTINELS: s.sentinelsVariable, REDIS_SENTINEL_MASTER: s.masterName, ...env })

  layer(layerRedisSentinel({ password, sentinelPassword }), live)((it) => {
    it.effect.each([
      {
        name: "layerSentinel",
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), password, sentinelPassword })
      },
      {
        name: "layerSentinel, the passwords given in ioredis's own options",
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), redis: { password, sentinelPassword } })
      },
      {
        name: "layerSentinelConfig (REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD)",
        make: (s: SentinelHarness) =>
          RedisClient.layerSentinelConfig().pipe(
            Layer.provide(sentinelEnv(s, { REDIS_PASSWORD: password, REDIS_SENTINEL_PASSWORD: sentinelPassword }))
          )
      }
    ])("$name: a value round-trips on the master", ({ make }) =>
      Effect.gen(function*() {
        const sentinel = yield* RedisSentinel
        const result = yield* roundTrip(make(sentinel))
        expectRoundTrip(result)
        expect(yield* Effect.promise(() => sentinel.keys())).toContain(result.key)
      }))

    it.effect.each([
      {
        name: "no data password",
        detail: noauth,
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), sentinelPassword })
      },
      {
        name: "a wrong data password",
        detail: wrongpass,
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), password: wrong, sentinelPassword })
      },
      // the client keeps asking the sentinels until connectTimeout, then names their refusal
      {
        name: "no sentinel password",
        detail: /^not connected within 500ms: .*NOAUTH Authentication required/,
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), password })
      },
      {
        name: "a wrong sentinel password",
        detail: /^not connected within 500ms: .*WRONGPASS/,
        make: (s: SentinelHarness) => RedisClient.layerSentinel({ ...base(s), password, sentinelPassword: wrong })
      },
      {
        name: "layerSentinelConfig, a wrong REDIS_SENTINEL_PASSWORD",
        detail: /^not connected within 500ms: .*WRONGPASS/,
        make: (s: SentinelHarness) =>
          RedisClient.layerSentinelConfig({ connectTimeout: Config.succeed(connectTimeout) }).pipe(
            Layer.provide(sentinelEnv(s, { REDIS_PASSWORD: password, REDIS_SENTINEL_PASSWORD: wrong }))
          )
      }
    ])(
      "$name: fails to build with CONNECT, naming the refusal, never a password",
      ({ detail, make }) =>
        Effect.gen(function*() {
          const failure = yield* buildFailure(make(yield* RedisSentinel))
          expect(expectConnectFailure(failure.error).detail).toMatch(detail)
          expectNoSecrets(failure, allSecrets)
        })
    )
  })
})

describe("Cluster: requirepass and masterauth on every node", () => {
  layer(layerRedisCluster({ password }), live)((it) => {
    it.effect.each([
      { name: "layerCluster", make: (c: ClusterHarness) => RedisClient.layerCluster({ nodes: c.addresses, password }) },
      {
        name: "layerCluster, the password given in ioredis's own options",
        make: (c: ClusterHarness) => RedisClient.layerCluster({ nodes: c.addresses, redis: { password } })
      },
      {
        name: "layerClusterConfig (REDIS_PASSWORD)",
        make: (c: ClusterHarness) =>
          RedisClient.layerClusterConfig().pipe(
            Layer.provide(withEnv({ REDIS_CLUSTER_NODES: c.nodesVariable, REDIS_PASSWORD: password }))
          )
      }
    ])("$name: a value round-trips", ({ make }) =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster
        const result = yield* roundTrip(make(cluster))
        expectRoundTrip(result)
        expect(yield* Effect.promise(() => cluster.keys())).toContain(result.key)
      }))

    it.effect.each([
      {
        name: "layerCluster without a password",
        detail: noauth,
        make: (c: ClusterHarness) => RedisClient.layerCluster({ nodes: c.addresses })
      },
      {
        name: "layerCluster, a wrong password",
        detail: wrongpass,
        make: (c: ClusterHarness) => RedisClient.layerCluster({ nodes: c.addresses, password: wrong })
      },
      {
        name: "layerClusterConfig, a wrong REDIS_PASSWORD",
        detail: wrongpass,
        make: (c: ClusterHarness) =>
          RedisClient.layerClusterConfig().pipe(
            Layer.provide(withEnv({ REDIS_CLUSTER_NODES: c.nodesVariable, REDIS_PASSWORD: wrong }))
          )
      }
    ])(
      "$name fails to build with CONNECT, naming the refusal, never a password",
      ({ detail, make }) =>
        Effect.gen(function*() {
          const failure = yield* buildFailure(make(yield* RedisCluster))
          expect(expectConnectFailure(failure.error).detail).toMatch(detail)
          expectNoSecrets(failure, allSecrets)
        })
    )
  })
})
