/** `routes[].split` and `routes[].splitStickyOn`: a route's traffic over several upstreams. */
import { z } from 'zod'
import { fieldName } from '../fields.ts'

const values = z.record(z.string().min(1), z.string())

/** What a request must carry for an entry to take it: every listed field, with exactly this value. */
const splitMatchSchema = z
  .strictObject({
    /** Request headers (names case-insensitive), value compared exactly. */
    headers: z.record(fieldName, z.string()).optional(),
    /** Cookies by name (case-sensitive), value compared exactly. */
    cookies: values.optional(),
    /** Query parameters by name, percent-decoded value compared exactly. */
    query: values.optional(),
  })
  .refine((m) => Object.keys({ ...m.headers, ...m.cookies, ...m.query }).length > 0, { error: 'needs at least one of headers, cookies or query' })

const splitEntrySchema = z.strictObject({
  /** Name of an entry under `upstreams`. */
  upstream: z.string().min(1),
  /** Share of the unmatched requests, relative to the other entries without `match`; default 1. */
  weight: z.number().positive().optional(),
  /** Takes the requests that carry these fields; entries are tried in order, the first match wins. */
  match: splitMatchSchema.optional(),
})

/**
 * Instead of `upstream`: entries with `match` are tried in order (the first whose fields all
 * match wins); the rest, the entries without `match`, share what no entry matched by weight.
 */
export const splitSchema = z.array(splitEntrySchema).min(1)

/** `header:<name>` or `cookie:<name>`: the split's weighted choice is a hash of it (absent: random). */
export const splitStickyOnSchema = z.string().regex(/^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/, {
  error: 'must be "header:<name>" or "cookie:<name>"',
})

export type SplitConfig = z.output<typeof splitSchema>
export type SplitEntry = SplitConfig[number]
