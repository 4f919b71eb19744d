/**
 * A route's header and query matchers (`routes[].match`, config/match.ts) as one test the
 * route table runs, built at boot: header names lower-cased, pairs in arrays. The query is
 * parsed only when a route with query matchers is tested, never for other routes.
 */
import type { MatchConfig } from '../config/match.ts'
import { queryOf } from '../kernel/target.ts'
import type { RouteTest } from './route-table.ts'

/** The route table's test for `match`, or undefined when it has no header or query matcher. */
export function compileMatcher(match: MatchConfig | undefined): { test: RouteTest; count: number } | undefined {
  if (match === undefined) return undefined
  const headers = Object.entries(match.headers).map(([name, value]): [string, string | true] => [name.toLowerCase(), value])
  const query = Object.entries(match.query)
  const count = headers.length + query.length
  if (count === 0) return undefined
  return {
    count,
    test: function routeMatches(request) {
      const received = request.headers
      for (let i = 0; i < headers.length; i++) {
        const [name, value] = headers[i]!
        const got = received.get(name)
        if (got === null || (value !== true && got !== value)) return false
      }
      if (query.length === 0) return true
      const params = new URLSearchParams(queryOf(request.url))
      for (let i = 0; i < query.length; i++) {
        const [name, value] = query[i]!
        const got = params.get(name)
        if (got === null || (value !== true && got !== value)) return false
      }
      return true
    },
  }
}
