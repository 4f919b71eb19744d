/**
 * Config fields several policies (and the route's base keys) share, as schemas: header names
 * and header rules (what they may be: field-rules.ts). Policies' own schemas live in their
 * folders; config/ assembles them.
 */
import { z } from 'zod'
import { FIELD_NAME, fieldValueProblem } from './field-rules.ts'

/** A lower-case field name (RFC 9110 §5.1 token). */
export const fieldName = z
  .string()
  .regex(FIELD_NAME, { error: 'must be a header field name' })
  .transform((name) => name.toLowerCase())

/** A header value a rule sets or adds; the issue carries no input, so the message does not show the value. */
const fieldValue = z.string().check((ctx) => {
  const problem = fieldValueProblem(ctx.value)
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: undefined })
})

/** Header rules of one direction: names are matched case-insensitively. */
export const headerRulesSchema = z.strictObject({
  /** Appended (after any value already there). */
  add: z.record(fieldName, fieldValue).default({}),
  /** Replacing any value already there. */
  set: z.record(fieldName, fieldValue).default({}),
  /** Removed. */
  remove: z.array(fieldName).default([]),
})
