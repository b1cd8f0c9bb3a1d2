/**
 * What a failover run measured, from its request records (pure).
 *
 * Writes lost: each client's requests are sequential, so its counter must
 * never go back. A `200` from `/api/incr` acknowledges `n` (the store holds
 * `n`); a `200` from `/api/read` shows what the store holds (`null`: no
 * session, 0). Whenever a client sees less than it was last acknowledged,
 * the difference is acknowledged increments that are gone.
 */
import type { RequestRecord } from "./failoverLoad.js"

export interface FailoverFigures {
  readonly requests: number
  /** Requests that did not answer 200, by status (0: socket error, -1: no answer within the hang bound). */
  readonly failedByStatus: Readonly<Record<string, number>>
  readonly failed: number
  /** Failed requests that are not a 503 with `Retry-After`. */
  readonly untyped: number
  readonly maxLatencyMs: number
  readonly maxFailedLatencyMs: number
  /** From the kill to the end of the first 200 of a request issued after it. */
  readonly firstSuccessMs: number | undefined
  /** From the kill to the end of the last failed request (every later request succeeded). */
  readonly lastFailureMs: number | undefined
  readonly writesLost: number
  /** Clients that saw their counter go back at least once. */
  readonly clientsWithLoss: number
  /** Clients whose session was gone altogether (their counter back to 0). */
  readonly sessionsLost: number
  readonly p50BeforeMs: number
  readonly p99BeforeMs: number
  /** Over the requests issued after the last failure. */
  readonly p50AfterMs: number
  readonly p99AfterMs: number
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

export const analyse = (records: ReadonlyArray<RequestRecord>, killedAt: number): FailoverFigures => {
  const failed = records.filter((r) => r.status !== 200)
  const failedByStatus: Record<string, number> = {}
  for (const r of failed) failedByStatus[String(r.status)] = (failedByStatus[String(r.status)] ?? 0) + 1
  const latency = (r: RequestRecord) => r.end - r.start
  const afterKill = failed.filter((r) => r.end >= killedAt)
  const lastFailure = afterKill.length === 0 ? undefined : Math.max(...afterKill.map((r) => r.end))
  const firstSuccess = records.filter((r) => r.status === 200 && r.start >= killedAt).reduce<number | undefined>(
    (first, r) => first === undefined || r.end < first ? r.end : first,
    undefined
  )

  let writesLost = 0
  let sessionsLost = 0
  const clientsWithLoss = new Set<number>()
  const acknowledged = new Map<number, number>()
  for (const r of [...records].sort((a, b) => a.start - b.start)) {
    if (r.status !== 200 || r.n === undefined) continue
    const stored = r.incr ? (r.n ?? 1) - 1 : r.n ?? 0
    const before = acknowledged.get(r.client)
    if (before !== undefined && stored < before) {
      writesLost += before - stored
      clientsWithLoss.add(r.client)
      if (stored === 0) sessionsLost++
    }
    acknowledged.set(r.client, r.incr ? r.n ?? 1 : stored)
  }

  const before = records.filter((r) => r.end < killedAt).map(latency)
  const after = records.filter((r) => r.start > (lastFailure ?? killedAt)).map(latency)
  return {
    requests: records.length,
    failedByStatus,
    failed: failed.length,
    untyped: failed.filter((r) => r.status !== 503 || r.retryAfter === undefined).length,
    maxLatencyMs: Math.max(0, ...records.map(latency)),
    maxFailedLatencyMs: Math.max(0, ...failed.map(latency)),
    firstSuccessMs: firstSuccess === undefined ? undefined : firstSuccess - killedAt,
    lastFailureMs: lastFailure === undefined ? undefined : lastFailure - killedAt,
    writesLost,
    clientsWithLoss: clientsWithLoss.size,
    sessionsLost,
    p50BeforeMs: percentile(before, 50),
    p99BeforeMs: percentile(before, 99),
    p50AfterMs: percentile(after, 50),
    p99AfterMs: percentile(after, 99)
  }
}
