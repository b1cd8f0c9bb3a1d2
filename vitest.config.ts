import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/**
 * Files that bound a duration on the wall clock (a stalled, killed or hung-up peer): each runs
 * after the rest of the suite and alone, so its bounds measure the client, not two cores shared
 * with test files that start Redis clusters.
 */
export const wallClock = [
  "test/RedisClient.stall.test.ts",
  "test/RedisClient.failure.test.ts",
  "test/disconnect.test.ts"
]

export default defineConfig({
  resolve: {
    // tests can import the package by its name, as the documentation's examples do (see tsconfig.json paths)
    alias: [{ find: /^effect-session-redis$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }]
  },
  test: {
    setupFiles: ["./test/setup.ts"],
    // redis-server processes are per test file; two cores, so keep parallelism modest
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: [...wallClock] } },
      ...wallClock.map((file, index) => ({
        extends: true as const,
        test: { name: file.replace(/^test\/|\.test\.ts$/g, ""), include: [file], sequence: { groupOrder: index + 1 } }
      }))
    ]
  }
})
