// `npm run mutate`, group "session": the session model and the request engine against the session's
// behaviour specs (vitest.mutation-session.config.ts). See stryker.groups.mjs.
import { session, strykerGroup } from "./stryker.groups.mjs"

export default strykerGroup("session", session)
