/**
 * Purges requested on the admin port, applied to one worker's store: one URL (every
 * variant), or every URL under a path prefix, optionally on one host.
 */
import { primaryKey } from './key.ts'

export type PurgeSelector = { url: string } | { prefix: string; host?: string }

/** Parses the admin query (`?url=` or `?prefix=[&host=]`); undefined when neither is valid. */
export function parsePurgeSelector(params: URLSearchParams): PurgeSelector | undefined {
  const url = params.get('url')
  if (url !== null) {
    try {
      const parsed = new URL(url)
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return { url: parsed.href }
    } catch {
      return undefined
    }
    return undefined
  }
  const prefix = params.get('prefix')
  if (prefix === null || !prefix.startsWith('/')) return undefined
  const host = params.get('host')
  return host ? { prefix, host: host.toLowerCase() } : { prefix }
}

type PrimaryParts = { scheme: string; host: string; target: string }

/** A store purges are applied to: a worker's (its count at once) or the shared tier (in slices). */
interface Purgeable<Count> {
  delete(primary: string): number
  purgeWhere(match: (parts: PrimaryParts) => boolean): Count
}

/** Removes what `selector` names from `store`; returns how many entries went. */
export function purge<Count extends number | Promise<number>>(store: Purgeable<Count>, selector: PurgeSelector): number | Count {
  if ('url' in selector) {
    const url = new URL(selector.url)
    return store.delete(primaryKey(url.protocol.slice(0, -1), url.host, url.pathname, url.search))
  }
  const { prefix, host } = selector
  return store.purgeWhere((parts) => parts.target.startsWith(prefix) && (host === undefined || parts.host === host))
}
