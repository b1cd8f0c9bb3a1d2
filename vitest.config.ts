import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    // redis-server processes are per test file; two cores, so keep parallelism modest
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000
  }
})
