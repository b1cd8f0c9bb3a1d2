/**
 * What a request does when its session store cannot be reached: fail closed
 * (the default: `503` with `Retry-After`), or carry on with an anonymous
 * session that is never written. The policy gives the default; a route
 * overrides it for the effects it wraps (a `FiberRef`, read when the
 * session is first loaded, so it costs nothing on requests that never load).
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import type { SessionStoreError } from "../RedisClient.js"
import type { StoreOutageMode as Mode } from "../SessionPolicy.js"

/** The route's choice; `undefined`: the policy's `onStoreUnavailable`. */
export const currentMode: FiberRef.FiberRef<Mode | undefined> = FiberRef.unsafeMake<Mode | undefined>(undefined)

/**
 * Whether a store failure becomes an anonymous session. Only an unreachable
 * store does (`Connection`, `Timeout`): a `Reply` error is Redis answering,
 * a misconfiguration (ACL, a key of the wrong type, no memory left) that an
 * anonymous stand-in would hide while logging every visitor out.
 */
export const tolerates = (mode: Mode, reason: SessionStoreError["reason"]): boolean =>
  mode === "anonymous" && (reason === "Connection" || reason === "Timeout")

/** @internal */
export const counter = Metric.counter("session_store_unavailable_total", {
  description: "Requests served with an anonymous, unwritten session because the session store was unreachable",
  incremental: true
})

/** Counts the request and logs it, by command and reason: never a key or an id. */
export const report = (error: SessionStoreError, stage: "load" | "commit"): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(counter, "reason", error.reason)),
    Effect.logWarning("session store unavailable: the request goes on with an anonymous session, never written", {
      stage,
      command: error.command,
      reason: error.reason
    })
  )
