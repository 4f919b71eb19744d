/** `routes[].rateLimit` (docs/policies.md). */
import { z } from 'zod'

export const rateLimitSchema = z.strictObject({
  /** The sustained rate, for the whole node (every worker draws on the same buckets). */
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests allowed at once after a quiet spell; default: one second's worth. */
  burst: z.int().min(1).max(10_000_000).optional(),
  /** What is counted: the consumer (else the client address), the client address, or `header:<name>`. */
  key: z
    .union([z.enum(['consumer', 'ip']), z.string().regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be consumer, ip or header:<name>' })])
    .default('consumer'),
  /** `node`: buckets in this node's primary. `global`: buckets in Redis, shared by every replica (needs `redis`). */
  scope: z.enum(['node', 'global']).default('node'),
  /** A global limit while Redis cannot be reached: `allow` falls back to the node limit, `deny` answers 503. */
  onStoreFailure: z.enum(['allow', 'deny']).default('allow'),
})

export type RateLimitConfig = z.output<typeof rateLimitSchema>
