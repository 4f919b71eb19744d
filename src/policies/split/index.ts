/**
 * `routes[].split`: a route's requests over several upstreams (canaries, blue/green, A/B).
 * Entries with `match` are tried in order and the first whose headers, cookies and query
 * parameters all match wins (APISIX traffic-split's `match`); what none matched is shared by
 * weight among the entries without `match` (Traefik's weighted service, Envoy's weighted
 * clusters): at random per request, or by a hash of `splitStickyOn` (a header or cookie), so
 * one user stays on one upstream while the weights stay put.
 *
 * The choice is a stage before the cache, not the forwarder: the cache keeps each upstream's
 * answers apart (the choice is part of the variant key, policies/cache/), and the forwarder
 * the route ends in sends to `exchange.upstream` (app.ts). Choosing costs a few header
 * lookups and no allocation beyond a cookie or query scan when the route matches on them.
 */
import type { Exchange } from '../../kernel/exchange.ts'
import { defineBuiltin } from '../builtin.ts'
import type { SplitConfig, SplitEntry } from './schema.ts'

/** The exchange's value of `name` in a `;`-separated Cookie header (RFC 6265 §5.4), or undefined. */
export function cookieValue(exchange: Exchange, name: string): string | undefined {
  const cookies = exchange.raw.headers.get('cookie')
  if (!cookies) return undefined
  let start = 0
  while (start < cookies.length) {
    let end = cookies.indexOf(';', start)
    if (end === -1) end = cookies.length
    while (cookies.charCodeAt(start) === 32) start++
    if (cookies.startsWith(name, start) && cookies.charCodeAt(start + name.length) === 61 /* = */) return cookies.slice(start + name.length + 1, end).trim()
    start = end + 1
  }
  return undefined
}

/** The percent-decoded value of query parameter `name` in `query` ("?a=1&b=2"), or undefined. */
export function queryValue(query: string, name: string): string | undefined {
  if (query.length < 2) return undefined
  for (const pair of query.slice(1).split('&')) {
    const eq = pair.indexOf('=')
    const key = eq === -1 ? pair : pair.slice(0, eq)
    if (decode(key) !== name) continue
    return eq === -1 ? '' : decode(pair.slice(eq + 1))
  }
  return undefined
}

const decode = (part: string) => {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '))
  } catch {
    return part
  }
}

/** FNV-1a over the UTF-16 units of `value`, unsigned 32 bits: stable across workers and restarts. */
export function fnv1a(value: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193)
  return hash >>> 0
}

type Matcher = (exchange: Exchange) => boolean

/** All of an entry's fields must match. */
function matcherOf(match: NonNullable<SplitEntry['match']>): Matcher {
  const tests: Matcher[] = []
  for (const [name, value] of Object.entries(match.headers ?? {})) tests.push((exchange) => exchange.raw.headers.get(name) === value)
  for (const [name, value] of Object.entries(match.cookies ?? {})) tests.push((exchange) => cookieValue(exchange, name) === value)
  for (const [name, value] of Object.entries(match.query ?? {})) tests.push((exchange) => queryValue(exchange.query, name) === value)
  return (exchange) => {
    for (const test of tests) if (!test(exchange)) return false
    return true
  }
}

/** What `splitStickyOn` hashes for an exchange; undefined leaves the choice to chance. */
function stickyKey(stickyOn: string | undefined): ((exchange: Exchange) => string | undefined) | undefined {
  if (stickyOn === undefined) return undefined
  const colon = stickyOn.indexOf(':')
  const name = stickyOn.slice(colon + 1)
  if (stickyOn.startsWith('header:')) {
    const header = name.toLowerCase()
    return (exchange) => exchange.raw.headers.get(header) ?? undefined
  }
  return (exchange) => cookieValue(exchange, name)
}

/**
 * The chooser of a split: the upstream name for an exchange. `random` is [0, 1) (tests pass
 * their own); the load-time check guarantees at least one entry without `match`.
 */
export function createChooser(split: SplitConfig, stickyOn: string | undefined, random: () => number = Math.random): (exchange: Exchange) => string {
  const matched = split.filter((entry) => entry.match).map((entry) => ({ test: matcherOf(entry.match!), upstream: entry.upstream }))
  const weighted = split.filter((entry) => !entry.match)
  const names = weighted.map((entry) => entry.upstream)
  // Cumulative weights: the first bound above the draw names the upstream.
  const bounds: number[] = []
  let total = 0
  for (const entry of weighted) bounds.push((total += entry.weight ?? 1))
  const key = stickyKey(stickyOn)
  const only = names.length === 1 ? names[0]! : undefined
  return function chooseUpstream(exchange) {
    for (const entry of matched) if (entry.test(exchange)) return entry.upstream
    if (only !== undefined) return only
    const sticky = key?.(exchange)
    // 2^32 buckets spread over the weights: a share moves by at most its weight's change.
    const draw = (sticky === undefined ? random() : fnv1a(sticky) / 0x1_0000_0000) * total
    for (let i = 0; i < bounds.length; i++) if (draw < bounds[i]!) return names[i]!
    return names[names.length - 1]!
  }
}

export const splitPolicy = defineBuiltin({
  name: 'split',
  phase: 'beforeCache',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).splitSchema.optional(),
  check(entries, { settings }) {
    if (!entries) return []
    const problems: string[] = []
    entries.forEach((entry, i) => {
      if (!Object.hasOwn(settings.upstreams, entry.upstream)) problems.push(`[${i}].upstream: no upstream named "${entry.upstream}"`)
      if (entry.match && entry.weight !== undefined) problems.push(`[${i}].weight: only entries without match share by weight`)
    })
    if (entries.every((entry) => entry.match)) problems.push(`[${entries.length - 1}]: needs an entry without match for the requests no entry matches (the default)`)
    return problems
  },
  build(entries, context) {
    if (!entries) return undefined
    const choose = createChooser(entries, context.route.config?.splitStickyOn)
    return function split(exchange, next) {
      exchange.upstream = choose(exchange)
      return next(exchange)
    }
  },
})
