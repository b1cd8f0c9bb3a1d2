// `npm run mutate:core`, the quick run: the pure modules that have tables of their own against those
// tables and properties only (vitest.mutation-core.config.ts). See stryker.groups.mjs.
import { core, strykerGroup } from "./stryker.groups.mjs"

export default strykerGroup("core", core)
