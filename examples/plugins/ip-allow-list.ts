/**
 * An IP allow-list: only clients whose address (the TCP peer, or from a trusted proxy the
 * X-Forwarded-For hop it vouches for) is in one of the ranges reach the route; others get
 * 403. Addresses and ranges are checked at load; a request costs one BlockList lookup.
 *
 *   plugins:
 *     office-only:
 *       module: ./examples/plugins/ip-allow-list.ts
 *       phase: beforeAuth
 *       config: { allow: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32"] }
 */
import { BlockList, isIP } from 'node:net'
import { definePlugin } from 'bun-gateway/plugin'
import { z } from 'zod'

/** `a.b.c.d`, `a.b.c.d/n`, or the IPv6 equivalents. */
const range = z.string().refine(
  (value) => {
    const [address, bits, ...rest] = value.split('/')
    const family = isIP(address ?? '')
    if (family === 0 || rest.length > 0) return false
    if (bits === undefined) return true
    const n = Number(bits)
    return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
  },
  { error: 'must be an IP address or a CIDR range' }
)

export default definePlugin({
  name: 'ip-allow-list',
  phase: 'beforeAuth',
  schema: z.strictObject({ allow: z.array(range).min(1) }),
  build(config, context) {
    const allowed = new BlockList()
    for (const entry of config.allow) {
      const [address, bits] = entry.split('/') as [string, string | undefined]
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6'
      if (bits === undefined) allowed.addAddress(address, family)
      else allowed.addSubnet(address, Number(bits), family)
    }
    const refused = context.metrics.counter('ip_allow_list_refused', 'Requests refused by the IP allow-list')
    const forbidden = JSON.stringify({ error: 'forbidden', status: 403 })
    return function ipAllowList(exchange, next) {
      const address = exchange.clientAddress
      const family = address === undefined ? 0 : isIP(address)
      if (family !== 0 && allowed.check(address!, family === 4 ? 'ipv4' : 'ipv6')) return next(exchange)
      refused()
      return new Response(forbidden, { status: 403, headers: { 'content-type': 'application/json' } })
    }
  },
})
