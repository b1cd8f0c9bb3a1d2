// The groups of `npm run mutate` (scripts/mutate.mjs). Each mutates its part of src/ against the tests
// that specify that part (vitest.mutation-<group>.config.ts); "api" is whatever the others leave,
// so together they mutate every file of src/ exactly once.
import { readFileSync } from "node:fs"

const base = JSON.parse(readFileSync(new URL("./stryker.config.json", import.meta.url), "utf8"))

/** The pure decisions pinned by their own tables and properties. */
export const core = [
  "src/internal/commit.ts",
  "src/internal/payload.ts",
  "src/internal/responseHeaders.ts",
  "src/internal/cookieHeader.ts",
  "src/internal/policyRules.ts",
  "src/internal/policyChecks.ts",
  "src/CookieSigner.ts",
  "src/SessionDuration.ts",
  "src/internal/expiry.ts"
]

/** The RedisClient service, its memory and ioredis backends, the merge script, replica acks, topologies, Config layers. */
export const store = [
  "src/RedisClient.ts",
  "src/internal/ioredisClient.ts",
  "src/internal/ioredisCluster.ts",
  "src/internal/ioredisTopology.ts",
  "src/internal/redisConfig.ts",
  "src/internal/memoryStore.ts",
  "src/internal/payloadMerge.ts",
  "src/internal/replicaAcks.ts"
]

/** The session model and the request engine. */
export const session = [
  "src/Session.ts",
  "src/internal/requestSession.ts",
  "src/internal/sessionState.ts",
  "src/internal/sessionData.ts",
  "src/internal/persist.ts",
  "src/internal/store.ts",
  "src/internal/clientCookie.ts",
  "src/internal/responseCookie.ts",
  "src/internal/once.ts",
  "src/internal/storeOutage.ts",
  "src/internal/tracing.ts"
]

/** What users configure and call around the engine: the policy, the middleware, user sessions, the errors. The rest. */
export const api = ["src/**/*.ts", ...[...core, ...store, ...session].map((file) => `!${file}`)]

/** Stryker's options for one group, its tests in vitest.mutation-<tests>.config.ts. */
export const strykerGroup = (name, mutate, tests = name) => ({
  ...base,
  mutate,
  vitest: { configFile: `vitest.mutation-${tests}.config.ts` },
  htmlReporter: { fileName: `reports/mutation-${name}/mutation.html` },
  jsonReporter: { fileName: `reports/mutation-${name}/mutation.json` },
  incrementalFile: `reports/stryker-incremental-${name}.json`
})
