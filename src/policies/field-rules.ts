/**
 * What the config's field rules are, without their schemas (fields.ts): the methods a route
 * may list, a field name and value as they may be sent, and the fields a header rule may not
 * touch. A worker imports these; the schemas only the config loader does.
 */
import type { HeaderRules } from '../kernel/header-rules.ts'

/** Methods a route may list. TRACE and CONNECT are never proxied (RFC 9110 §9.3.8: TRACE echoes credentials). */
export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

export type RouteMethod = (typeof ROUTE_METHODS)[number]

/** A field name as RFC 9110 §5.1 spells it: a token. */
export const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

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

/** Fields a header rule may not touch: framing and hop-by-hop fields (RFC 9110 §7.6.1). */
const RULE_FORBIDDEN: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection'])

/** The rules' fields that are the gateway's to set (`identity`: the consumer headers, for request rules), as `op: problem` lines. */
export function headerRuleProblems(rules: HeaderRules, identity: ReadonlySet<string> = new Set()): string[] {
  const named = [...Object.keys(rules.add).map((n) => ['add', n]), ...Object.keys(rules.set).map((n) => ['set', n]), ...rules.remove.map((n) => ['remove', n])]
  return named.filter(([, name]) => RULE_FORBIDDEN.has(name!) || identity.has(name!)).map(([op, name]) => `${op}: ${name} is the gateway's to set`)
}
