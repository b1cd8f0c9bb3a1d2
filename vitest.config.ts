import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // tests can import the package by its name, as the documentation's examples do (see tsconfig.json paths)
    alias: [{ find: /^effect-session-redis$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }]
  },
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    // redis-server processes are per test file; two cores, so keep parallelism modest
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000
  }
})
