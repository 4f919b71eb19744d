/**
 * Config fields several policies (and the route's base keys) share: method lists, header
 * names, header rules. Policies' own schemas live in their folders; config/ assembles them.
 */
import { z } from 'zod'

/** Methods a route may list. TRACE and CONNECT are never proxied (RFC 9110 §9.3.8: TRACE echoes credentials). */
export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** A field name as RFC 9110 §5.1 spells it: a token. */
export const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** A lower-case field name (RFC 9110 §5.1 token). */
export const fieldName = z
  .string()
  .regex(FIELD_NAME, { error: 'must be a header field name' })
  .transform((name) => name.toLowerCase())

// RFC 9110 §5.5: a field value has no control character but HTAB.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/
// A value goes out as bytes, one a character (obs-text reaches 0xFF): a wider one would be cut to its low byte.
const NOT_LATIN1 = /[^\x00-\xff]/

/**
 * Why `value` cannot be sent as a field value, or undefined. Said without the value (it may
 * be a secret). Checked at load: Bun's Headers refuse such a value on every request (a 500),
 * and the native client would send a wide character's low byte.
 */
export function fieldValueProblem(value: string): string | undefined {
  if (CONTROL.test(value)) return 'must not contain control characters'
  if (NOT_LATIN1.test(value)) return 'must be Latin-1 text (a character above U+00FF is not a byte)'
  return undefined
}

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

export type RouteMethod = (typeof ROUTE_METHODS)[number]

/** Fields a header rule may not touch: framing and hop-by-hop fields (RFC 9110 §7.6.1). */
const RULE_FORBIDDEN: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection'])

/** The rules' fields that are the gateway's to set (`identity`: the consumer headers, for request rules), as `op: problem` lines. */
export function headerRuleProblems(rules: z.output<typeof headerRulesSchema>, identity: ReadonlySet<string> = new Set()): string[] {
  const named = [...Object.keys(rules.add).map((n) => ['add', n]), ...Object.keys(rules.set).map((n) => ['set', n]), ...rules.remove.map((n) => ['remove', n])]
  return named.filter(([, name]) => RULE_FORBIDDEN.has(name!) || identity.has(name!)).map(([op, name]) => `${op}: ${name} is the gateway's to set`)
}
