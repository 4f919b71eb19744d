/**
 * Tenant routing from a JWT claim: after the route's JWT auth has verified the token, its
 * `claim` (default `tenant`) names the tenant; the request goes upstream under
 * `/<tenant>` (so one upstream serves every tenant at its own path) with the tenant in a
 * header too. A token without the claim, or with one that is not a plain name, gets 403.
 * The token is read only after auth verified it: the phase is afterAuth.
 *
 *   routes:
 *     - { path: /api, upstream: app, auth: { jwt: {...} }, plugins: [tenant] }
 *   plugins:
 *     tenant:
 *       module: ./examples/plugins/tenant-from-jwt.ts
 *       config: { claim: org, header: x-tenant }
 */
import { definePlugin } from 'bun-gateway/plugin'
import { z } from 'zod'

/** A tenant goes into a path segment and a header: a plain name only. */
const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i

export default definePlugin({
  name: 'tenant-from-jwt',
  phase: 'afterAuth',
  schema: z.strictObject({
    /** The claim naming the tenant. */
    claim: z.string().min(1).default('tenant'),
    /** The header the upstream is told the tenant in. */
    header: z.string().regex(/^[a-z0-9-]+$/).default('x-tenant'),
    /** Put the tenant in front of the path sent upstream. */
    prefixPath: z.boolean().default(true),
  }),
  build(config) {
    const forbidden = () =>
      new Response(JSON.stringify({ error: 'forbidden', status: 403 }), { status: 403, headers: { 'content-type': 'application/json' } })
    return function tenantFromJwt(exchange, next) {
      // No identity: the route has no auth before this plugin, and a token is not to be trusted.
      if (!exchange.identity) return forbidden()
      const token = BEARER.exec(exchange.request.headers.get('authorization') ?? '')?.[1]
      const tenant = token === undefined ? undefined : claimOf(token, config.claim)
      if (typeof tenant !== 'string' || !TENANT.test(tenant)) return forbidden()
      exchange.request.headers.set(config.header, tenant)
      if (config.prefixPath) exchange.path = `/${tenant}${exchange.path}`
      return next(exchange)
    }
  },
})

/** A claim of a JWT the route's auth already verified (the payload is only decoded here). */
function claimOf(token: string, claim: string): unknown {
  const payload = token.split('.')[1]
  if (payload === undefined) return undefined
  try {
    return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>)[claim]
  } catch {
    return undefined
  }
}
