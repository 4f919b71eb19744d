/**
 * The loaded config as `validate --print` shows it: every default filled in, and no secret
 * the load resolved (from `env:`/`file:` or written in the file). Output goes to terminals
 * and CI logs, so the admin token, Redis credentials, the bus secret and JWT secrets become
 * "<redacted>"; consumer keys are already digests and print as `sha256:<hex>`, which the
 * gateway reads back. What the gateway cannot know the meaning of (a plugin's config, a Hono
 * middleware's options, a header a route sets upstream) is judged by name, as the access log
 * judges query parameters: a value under a name like password, token, secret or key is hidden.
 */
import { SECRET_NAME } from '../access-log/redact.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { PrintFormat } from './args.ts'

export const REDACTED = '<redacted>'

/** A plain, unfrozen copy of `config` with its secrets replaced. */
export function printableConfig(config: GatewayConfig): Record<string, any> {
  // Through JSON: a deep copy, and keys set to undefined (an absent token) disappear.
  const copy = JSON.parse(JSON.stringify(config))
  if (copy.admin.bearerToken !== undefined) copy.admin.bearerToken = REDACTED
  if (copy.metrics.bearerToken !== undefined) copy.metrics.bearerToken = REDACTED
  if (copy.redis) {
    for (const field of ['password', 'busSecret']) if (copy.redis[field] !== undefined) copy.redis[field] = REDACTED
    copy.redis.url = redactUrlPassword(copy.redis.url)
  }
  for (const route of copy.routes) {
    if (route.auth?.jwt?.secret !== undefined) route.auth.jwt.secret = REDACTED
    // A static upstream credential (Authorization, Cookie, X-Api-Key) set by the route.
    for (const op of ['add', 'set']) if (route.requestHeaders) route.requestHeaders[op] = redactByName(route.requestHeaders[op], /cookie/i)
  }
  for (const consumer of copy.consumers) consumer.apiKeys = consumer.apiKeys.map((digest: string) => `sha256:${digest}`)
  for (const plugin of Object.values<any>(copy.plugins)) {
    if (plugin.config !== undefined) plugin.config = redactByName(plugin.config)
    if (plugin.hono?.options !== undefined) plugin.hono.options = redactByName(plugin.hono.options)
  }
  return copy
}

/** `value` with every scalar under a secret-looking key (at any depth) replaced. */
function redactByName(value: unknown, also?: RegExp, hidden = false): any {
  if (Array.isArray(value)) return value.map((item) => redactByName(item, also, hidden))
  if (typeof value !== 'object' || value === null) return hidden ? REDACTED : value
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, redactByName(child, also, hidden || SECRET_NAME.test(key) || also?.test(key))]))
}

/** `redis://user:secret@host` → `redis://user:<redacted>@host`. */
function redactUrlPassword(url: string): string {
  const parsed = URL.parse(url)
  if (!parsed?.password) return url
  return `${parsed.protocol}//${parsed.username}:${REDACTED}@${parsed.host}${parsed.pathname}${parsed.search}`
}

export function formatConfig(config: GatewayConfig, format: PrintFormat): string {
  const printable = printableConfig(config)
  return format === 'json' ? `${JSON.stringify(printable, null, 2)}\n` : `${Bun.YAML.stringify(printable, null, 2)}\n`
}
