// The quick mutation run (`npm run mutate:core`): the pure modules (the decisions, the codecs, the
// signer) against the in-process test files only (vitest.mutation-core.config.ts). Everything else
// is stryker.config.json's.
import { readFileSync } from "node:fs"

const base = JSON.parse(readFileSync(new URL("./stryker.config.json", import.meta.url), "utf8"))

export default {
  ...base,
  mutate: [
    "src/internal/commit.ts",
    "src/internal/expiry.ts",
    "src/internal/payload.ts",
    "src/internal/sessionData.ts",
    "src/internal/sessionState.ts",
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
