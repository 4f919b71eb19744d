import { z } from 'zod'

/** `routes[].rewrite`: the path sent upstream, made from the received one by a linear-time pattern. */
export const rewriteSchema = z.strictObject({
  /** A path pattern (not a regex): literal segments, one "*" per segment, a last segment "**"; each wildcard a capture. */
  pattern: z.string().min(1).max(1000),
  /** The new path: starts with "/", may use $1-$9 (the captures) and $path; the query is forwarded as received. */
  to: z.string().min(1).max(2000),
})

export type RewriteConfig = z.output<typeof rewriteSchema>
