// `npm run mutate`, group "api": the policy, the middleware, user sessions and the errors against the
// same specs as the session group (vitest.mutation-session.config.ts). See stryker.groups.mjs.
import { api, strykerGroup } from "./stryker.groups.mjs"

export default strykerGroup("api", api, "session")
