/**
 * The test run Stryker uses (`npm run mutate`): the normal suite minus the
 * files whose outcome depends on wall-clock timing or on load, which a mutant
 * run on a busy machine would turn into false timeouts, and the 10,000-request
 * fuzz run, which would be repeated for every mutant it covers.
 */
import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.js"

export default mergeConfig(
  base,
  defineConfig({
    test: {
      // each mutant re-runs its covering test files; re-importing Effect for every file dominates otherwise
      isolate: false,
      exclude: [
        "**/node_modules/**",
        // a stalled redis-server (SIGSTOP, DEBUG SLEEP) against 300 ms command timeouts
        "test/RedisClient.stall.test.ts",
        // Redis killed, restarted, unreachable: reconnection timing
        "test/RedisClient.failure.test.ts",
        // raw sockets hanging up mid-commit, waited for on the wall clock
        "test/disconnect.test.ts",
        // 10,000 requests per run
        "test/fuzz.test.ts"
      ]
    }
  })
)
