/**
 * `routes[].match`: what a request must carry besides its path and host for a route to take
 * it (docs/proxying.md, Matchers). Values are compared exactly (case-sensitive); `true` asks
 * only that the header or query parameter be present. Routes may share a path and host when
 * their matchers differ; the route table tries the one with more matchers first.
 */
import { z } from 'zod'
import { FIELD_NAME } from '../policies/field-rules.ts'


/** A matcher's value: the exact value, or `true` for "present, any value". */
const matchValue = z.union([z.string().max(1000), z.literal(true)], { error: 'must be a string (the exact value) or true (present)' })

export const matchSchema = z.strictObject({
  /** Only the path itself (with or without one trailing "/"), not its subpaths. */
  exact: z.boolean().default(false),
  /** Request headers that must be present with these exact values (names case-insensitive). */
  headers: z.record(z.string().regex(FIELD_NAME, { error: 'must be a header name' }), matchValue).default({}),
  /** Query parameters (first occurrence, percent-decoded) that must be present with these exact values. */
  query: z.record(z.string().min(1).max(200), matchValue).default({}),
})

export type MatchConfig = z.output<typeof matchSchema>
