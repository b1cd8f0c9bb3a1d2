// `npm run mutate`, group "store": the RedisClient backends against the store's contract, driver and
// topology tests and the session's command counts (vitest.mutation-store.config.ts). See stryker.groups.mjs.
import { store, strykerGroup } from "./stryker.groups.mjs"

export default strykerGroup("store", store)
