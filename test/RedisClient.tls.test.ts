/**
 * `layer` over TLS (`rediss://`) to a redis-server with a certificate for
 * 127.0.0.1 from a throwaway CA, and a password: with that CA a value
 * round-trips; a server the client cannot verify fails the layer's build
 * with `CONNECT` / `Connection`, within `connectTimeout`, naming why.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { randomUUID } from "node:crypto"
import type { ConnectionOptions } from "node:tls"
import * as RedisClient from "../src/RedisClient.js"
import {
  buildFailure,
  expectConnectFailure,
  expectNoSecrets,
  expectRoundTrip,
  roundTrip
} from "./support/connectChecks.js"
import { startTlsRedisServer, type TlsRedisServer } from "./support/tls.js"

const password = `tls-pw-${randomUUID()}`

class TlsServer extends Context.Tag("test/TlsServer")<TlsServer, TlsRedisServer>() {}

const layerTlsServer = Layer.scoped(
  TlsServer,
  Effect.acquireRelease(
    Effect.promise(() => startTlsRedisServer({ args: ["--requirepass", password], password })),
    (tls) => Effect.promise(() => tls.stop())
  )
)

const connectTimeout = Duration.seconds(1)

/** Node's codes for a chain it cannot verify (which one depends on what the server sends). */
const untrusted = /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE): /

/** `layer` on the TLS port, with the password in the URL and these TLS options. */
const overTls = (tls: TlsRedisServer, options: ConnectionOptions | undefined) =>
  RedisClient.layer({
    url: `rediss://:${password}@127.0.0.1:${tls.tlsPort}`,
    redis: options === undefined ? {} : { tls: options },
    connectTimeout
  })

// A real server runs on real time: no TestClock here.
describe("layer over TLS", () => {
  layer(layerTlsServer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("with the CA that signed the server's certificate, a value round-trips", () =>
      Effect.gen(function*() {
        const tls = yield* TlsServer
        const result = yield* roundTrip(overTls(tls, { ca: tls.ca }))
        expectRoundTrip(result)
        expect(yield* Effect.promise(() => tls.server.keys())).toContain(result.key)
      }))

    it.effect("layerConfig: REDIS_URL names the TLS server, `redis.tls` brings its CA", () =>
      Effect.gen(function*() {
        const tls = yield* TlsServer
        const url = `rediss://:${password}@127.0.0.1:${tls.tlsPort}`
        const result = yield* roundTrip(
          RedisClient.layerConfig({ redis: { tls: { ca: tls.ca } } }).pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", url]]))))
          )
        )
        expectRoundTrip(result)
        expect(yield* Effect.promise(() => tls.server.keys())).toContain(result.key)
      }))

    it.effect.each([
      {
        name: "a CA that did not sign the server's certificate",
        tls: (t: TlsRedisServer) => ({ ca: t.otherCa }),
        detail: untrusted
      },
      { name: "no CA (the system's trust store only)", tls: () => undefined, detail: untrusted },
      // the chain is trusted, but the certificate is not for the name asked for
      {
        name: "a certificate for another name",
        tls: (t: TlsRedisServer) => ({ ca: t.ca, servername: "sessions.example" }),
        detail: /ERR_TLS_CERT_ALTNAME_INVALID/
      }
    ])(
      "$name: the layer fails to build with CONNECT within connectTimeout, naming why",
      ({ detail, tls: options }) =>
        Effect.gen(function*() {
          const tls = yield* TlsServer
          const [elapsed, failure] = yield* Effect.timed(buildFailure(overTls(tls, options(tls))))
          expect(expectConnectFailure(failure.error).detail).toMatch(detail)
          expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(connectTimeout, Duration.millis(250)))).toBe(true)
          expectNoSecrets(failure, [password])
        })
    )
  })
})
