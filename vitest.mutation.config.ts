/**
 * The test run Stryker uses (`npm run mutate`): the normal suite minus the
 * files whose outcome depends on wall-clock timing or on load, which a mutant
 * run on a busy machine would turn into false timeouts, and the 10,000-request
 * fuzz run, which would be repeated for every mutant it covers, and the
 * suites that pin the demo page, the docs and the benchmarks rather than src/.
 */
import { defineConfig, type ViteUserConfig } from "vitest/config"
import base from "./vitest.config.js"

const excluded = [
  "**/node_modules/**",
  // a stalled redis-server (SIGSTOP, DEBUG SLEEP) against 300 ms command timeouts
  "test/RedisClient.stall.test.ts",
  // Redis killed, restarted, unreachable: reconnection timing
  "test/RedisClient.failure.test.ts",
  // raw sockets hanging up mid-commit, waited for on the wall clock
  "test/disconnect.test.ts",
  // 10,000 requests per run
  "test/fuzz.test.ts",
  // the demo page in Chromium, the documentation's type check and the peers' benchmark apps: they
  // pin the demo, the docs and bench/, and reach src/ only through paths the suites above cover
  "test/browser.test.ts",
  "test/docs.test.ts",
  "test/peers.test.ts"
]

/** It replaces `node:crypto` with `vi.mock`, which needs the modules under test imported afresh for that file. */
const needsIsolation = ["test/CookieSigner.test.ts"]

/**
 * The mutation run over `include`. Each mutant re-runs the test files that
 * cover it: in one project they share their imports (`isolate: false`), as
 * importing Effect again for every file and every mutant would dominate the
 * run; files that mock modules get a project of their own, isolated.
 */
export const mutationConfig = (include: ReadonlyArray<string>): ViteUserConfig =>
  defineConfig({
    ...base,
    test: {
      ...base.test,
      // credits code a file's hooks run (Layers built in `beforeAll`) to the file's tests: see the file
      setupFiles: ["./test/setup.ts", "./test/support/mutationCoverage.ts"],
      // projects extending this config would add its `include` to their own
      include: [],
      projects: [
        {
          extends: true,
          test: { name: "shared", include: [...include], exclude: [...excluded, ...needsIsolation], isolate: false }
        },
        {
          extends: true,
          test: {
            name: "isolated",
            include: needsIsolation.filter((file) => include.includes(file) || include.includes("test/**/*.test.ts")),
            exclude: excluded
          }
        }
      ]
    }
  })

export default mutationConfig(["test/**/*.test.ts"])
