/**
 * One server of `npm run bench:peers`, as a child process of bench/peers.ts:
 * starts the server its argument describes (JSON `ServerOptions`), tells the
 * parent its port over IPC, and closes when told (`"close"`) or when the
 * parent goes away.
 */
import { type ServerOptions, startServer } from "./peerApps.js"

export type ServerMessage = { readonly port: number } | { readonly error: string }

const options = JSON.parse(process.argv[2] ?? "{}") as ServerOptions

startServer(options).then(
  (server) => {
    let closing = false
    const close = () => {
      if (closing) return
      closing = true
      void server.close().finally(() => process.exit(0))
      setTimeout(() => process.exit(0), 2000).unref()
    }
    process.on("message", (message) => message === "close" && close())
    process.on("disconnect", close)
    process.send?.({ port: server.port } satisfies ServerMessage)
  },
  (error: unknown) => {
    process.send?.({ error: String(error) } satisfies ServerMessage, () => process.exit(1))
  }
)
