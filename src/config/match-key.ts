/**
 * A route's match (match.ts) in words: the key the duplicate check compares, and the name of a
 * route the config leaves unnamed. Kept apart from the schema, which only the config loader
 * loads: a worker names its routes with it.
 */

type MatchLike = { exact?: unknown; headers?: unknown; query?: unknown } | undefined

/** `{name: value}` pairs, sorted, with header names lower-cased; values not string/true are left out (the schema names them). */
function pairs(record: unknown, lower: boolean): [string, string | true][] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return []
  return Object.entries(record as Record<string, unknown>)
    .filter((entry): entry is [string, string | true] => typeof entry[1] === 'string' || entry[1] === true)
    .map(([name, value]): [string, string | true] => [lower ? name.toLowerCase() : name, value])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** The match's parts in a canonical order: `exact`, `header:name=value` (or `header:name`), `query:...`. */
function parts(match: MatchLike): string[] {
  if (match === undefined || match === null || typeof match !== 'object') return []
  const out: string[] = match.exact === true ? ['exact'] : []
  for (const [name, value] of pairs(match.headers, true)) out.push(value === true ? `header:${name}` : `header:${name}=${value}`)
  for (const [name, value] of pairs(match.query, false)) out.push(value === true ? `query:${name}` : `query:${name}=${value}`)
  return out
}

/** What identifies a route's match for the duplicate check (the same for equal matches, whatever their key order). */
export function matchKey(match: MatchLike): string {
  return JSON.stringify(parts(match))
}

/**
 * A route's name when the config gives none: the path, then its match in brackets when it
 * has one (`/api [exact header:x-canary=1]`), so routes sharing a path get names of their own.
 */
export function derivedRouteName(path: string, match: MatchLike): string {
  const described = parts(match)
  return described.length === 0 ? path : `${path} [${described.join(' ')}]`
}
