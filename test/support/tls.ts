/**
 * A redis-server that speaks TLS, for a test file: a throwaway CA and a
 * certificate for 127.0.0.1 made with `openssl` in a temporary directory,
 * and a second CA that signed nothing of the server's. The server keeps a
 * plain port for the harness's own commands and listens for TLS on another.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { freePort, type RedisServerHarness, startRedisServer } from "./redisServer.js"

export interface TlsRedisServer {
  /** The server; its `port` is the plain one, for the harness. */
  readonly server: RedisServerHarness
  /** Where it listens for TLS. */
  readonly tlsPort: number
  /** The PEM of the CA that signed the server's certificate. */
  readonly ca: string
  /** The PEM of a CA that signed nothing of the server's. */
  readonly otherCa: string
  /** Stops the server and removes the certificates. */
  readonly stop: () => Promise<void>
}

const openssl = (args: ReadonlyArray<string>, cwd: string): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd, timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve()
      else {
        reject(
          "code" in error && error.code === "ENOENT"
            ? new Error("openssl not found on PATH: install it (Debian/Ubuntu: apt-get install openssl)")
            : new Error(`openssl ${args.join(" ")} failed: ${error.message}\n${stderr}`)
        )
      }
    })
  })

/** P-256 keys: quick to make. */
const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const makeCa = (dir: string, name: string) =>
  openssl([
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign"
  ], dir)

/** A CA, a server certificate it signs for IP 127.0.0.1, and another CA. */
const makeCertificates = async (dir: string): Promise<void> => {
  await makeCa(dir, "ca")
  await makeCa(dir, "other-ca")
  await openssl(["req", ...newKey, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir)
  writeFileSync(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "server.ext",
    "-out",
    "server.crt"
  ], dir)
}

/**
 * Starts a redis-server with TLS on a free port (`--tls-port`, no client
 * certificates asked for) and `args` appended. Fails, saying so, when this
 * redis-server cannot do TLS: a test that needs it must not pass without it.
 */
export const startTlsRedisServer = async (
  options: { readonly args?: ReadonlyArray<string>; readonly password?: string } = {}
): Promise<TlsRedisServer> => {
  const dir = mkdtempSync(path.join(tmpdir(), "redis-tls-"))
  try {
    await makeCertificates(dir)
    const tlsPort = await freePort()
    const server = await startRedisServer({
      args: [
        "--tls-port",
        String(tlsPort),
        "--tls-cert-file",
        path.join(dir, "server.crt"),
        "--tls-key-file",
        path.join(dir, "server.key"),
        "--tls-ca-cert-file",
        path.join(dir, "ca.crt"),
        "--tls-auth-clients",
        "no",
        ...(options.args ?? [])
      ],
      ...(options.password === undefined ? {} : { password: options.password })
    }).catch((error: unknown) => {
      throw new Error(
        `redis-server did not start with TLS: it needs a build with TLS support (BUILD_TLS=yes; Debian's has it):\n${
          String(error)
        }`
      )
    })
    return {
      server,
      tlsPort,
      ca: readFileSync(path.join(dir, "ca.crt"), "utf8"),
      otherCa: readFileSync(path.join(dir, "other-ca.crt"), "utf8"),
      stop: async () => {
        await server.stop()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
