/**
 * The quick mutation run (`npm run mutate:core`): the pure decision modules
 * against the tests that call them directly, their tables and properties,
 * with no HTTP, no redis-server and no socket. Decisions are meant to be
 * pinned by their tables, so a survivor here is a missing row. Every mutant
 * these files kill the whole suite kills too: the score is a lower bound of
 * the full run's on those modules, at a fraction of its cost.
 */
import { mutationConfig } from "./vitest.mutation.config.js"

export default mutationConfig([
  "test/commit.test.ts",
  "test/expiry.test.ts",
  "test/responseHeaders.test.ts",
  "test/cookieHeader.test.ts",
  "test/payload.test.ts",
  "test/properties.test.ts",
  "test/CookieSigner.test.ts",
  "test/SessionDuration.test.ts",
  "test/SessionDuration.reasons.test.ts",
  "test/SessionPolicy.test.ts",
  "test/SessionPolicy.reasons.test.ts"
])
