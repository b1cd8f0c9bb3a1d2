/**
 * `npm run mutate`, group "store": the RedisClient backends against the
 * contract they share (memory, ioredis 5 and 6, on private redis-servers),
 * the driver's error mapping, the topologies and replica acknowledgements,
 * and the session's exact command counts.
 */
import { mutationConfig } from "./vitest.mutation.config.js"

export default mutationConfig([
  "test/RedisClient.*.test.ts",
  "test/replicaAcks.test.ts",
  "test/payloadMerge.test.ts",
  "test/Session.commands.test.ts",
  "test/storeOutage.test.ts",
  "test/demo.topology.test.ts",
  "test/failover.test.ts"
])
