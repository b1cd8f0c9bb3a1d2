// The quick mutation run (`npm run mutate:core`): the pure modules that have tables of their own (the
// commit decision, the response headers, the cookie header, the payload codec, the policy rules and
// checks, the signer, the duration rule) against those tables and properties only
// (vitest.mutation-core.config.ts). sessionData, sessionState and expiry are pinned through the
// session's behaviour tests: `npm run mutate` covers them. Everything else is stryker.config.json's.
import { readFileSync } from "node:fs"

const base = JSON.parse(readFileSync(new URL("./stryker.config.json", import.meta.url), "utf8"))

export default {
  ...base,
  mutate: [
    "src/internal/commit.ts",
    "src/internal/payload.ts",
    "src/internal/responseHeaders.ts",
    "src/internal/cookieHeader.ts",
    "src/internal/policyRules.ts",
    "src/internal/policyChecks.ts",
    "src/CookieSigner.ts",
    "src/SessionDuration.ts"
  ],
  vitest: { configFile: "vitest.mutation-core.config.ts" },
  htmlReporter: { fileName: "reports/mutation-core/mutation.html" },
  jsonReporter: { fileName: "reports/mutation-core/mutation.json" },
  incrementalFile: "reports/stryker-incremental-core.json"
}
