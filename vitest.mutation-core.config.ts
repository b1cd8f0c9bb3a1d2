/**
 * The quick mutation run (`npm run mutate:core`): the pure modules against
 * the test files that run in-process, with no redis-server and no socket.
 * Every mutant they kill the whole suite kills too, so its score is a lower
 * bound of the full run's for those modules, in minutes instead of hours.
 */
import { mutationConfig } from "./vitest.mutation.config.js"

export default mutationConfig([
  "test/commit.test.ts",
  "test/responseHeaders.test.ts",
  "test/cookieHeader.test.ts",
  "test/payload.test.ts",
  "test/properties.test.ts",
  "test/CookieSigner.test.ts",
  "test/SessionDuration.test.ts",
  "test/SessionPolicy.test.ts",
  "test/Session.behaviour.test.ts",
  "test/Session.vary.test.ts"
])
