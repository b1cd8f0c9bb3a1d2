/**
 * `npm run mutate`, group "session": the session model and the request engine
 * against the specs of the session's behaviour (on the memory store and a
 * private redis-server), its command counts, the integrations, the outage
 * policy, tracing and the recipes.
 */
import { mutationConfig } from "./vitest.mutation.config.js"

export default mutationConfig([
  "test/Session.*.test.ts",
  "test/sessionData.test.ts",
  "test/sessionState.test.ts",
  "test/store.test.ts",
  "test/persist.test.ts",
  "test/requestSession.test.ts",
  "test/sessionService.test.ts",
  "test/once.test.ts",
  "test/responseCookie.test.ts",
  "test/clientCookie.test.ts",
  "test/responseCheck.test.ts",
  "test/UserSessions.test.ts",
  "test/integrations.test.ts",
  "test/storeOutage.test.ts",
  "test/otel.test.ts",
  "test/recipes*.test.ts",
  "test/SessionPolicy.test.ts",
  "test/SessionPolicy.reasons.test.ts",
  "test/properties.test.ts",
  "test/publicSurface.test.ts"
])
