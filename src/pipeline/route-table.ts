/**
 * The route table: a trie over the segments of the normalised path, so finding a request's
 * route costs one map lookup per path segment, whatever the number of routes (Hono's router
 * with 10,000 prefix routes took 12.7 s to build and 31 µs a request; this takes
 * milliseconds and stays flat). Precedence (docs/proxying.md, Routing precedence):
 * 1. the longest prefix wins, on whole segments;
 * 2. at one path, an exact route (the path itself, not its subpaths) before a prefix route;
 * 3. then a route for the request's host before a host-less one;
 * 4. then routes with more header/query matchers first, then config order.
 * A node whose candidates all fail (another host, matchers that do not hold) hands the
 * request to the next shorter prefix. Matchers cost only at the nodes that have them: a
 * candidate without one is taken at once.
 */
import { hostForRouting } from '../kernel/target.ts'

/** Tests a request against a route's header/query matchers (pipeline/matchers.ts). */
export type RouteTest = (request: Request) => boolean

interface Candidate<T> {
  readonly value: T
  readonly test: RouteTest | undefined
}

/** The routes at one path for one host (or any host), in precedence order. */
type Slot<T> = Candidate<T>[]

interface Node<T> {
  /** Made with the first child: most nodes of a large table are leaves. */
  children: Map<string, Node<T>> | undefined
  /** Whether any slot below holds a route. */
  holds: boolean
  /** Exact routes at this path, per host, then host-less. */
  exactByHost: Map<string, Slot<T>> | undefined
  exactAny: Slot<T> | undefined
  /** Prefix routes at this path, per host, then host-less. */
  byHost: Map<string, Slot<T>> | undefined
  any: Slot<T> | undefined
}

export interface RouteTableEntry<T> {
  prefix: string
  host: string | undefined
  value: T
  /** Only the path itself (and with one trailing "/"), not its subpaths. */
  exact?: boolean
  /** The route's header/query matchers, and how many (more go first). */
  matcher?: { test: RouteTest; count: number }
}

export interface RouteTable<T> {
  /**
   * The entry for `path` (normalised, starting with "/"), the request's Host header value,
   * and the request itself (read only by routes with matchers).
   */
  match(path: string, host: string | null, request?: Request): T | undefined
}

const node = <T>(): Node<T> => ({ children: undefined, holds: false, exactByHost: undefined, exactAny: undefined, byHost: undefined, any: undefined })

/** `prefix`'s segments: "/" has none, "/a/b" has "a" and "b". */
function segments(prefix: string): string[] {
  return prefix === '/' ? [] : prefix.slice(1).split('/')
}

/** The first candidate whose matchers hold. */
function pick<T>(slot: Slot<T> | undefined, request: Request | undefined): T | undefined {
  if (slot === undefined) return undefined
  for (let i = 0; i < slot.length; i++) {
    const candidate = slot[i]!
    if (candidate.test === undefined) return candidate.value
    if (request !== undefined && candidate.test(request)) return candidate.value
  }
  return undefined
}

/** The first of a host's slot, then the host-less one. */
function pickHosted<T>(byHost: Map<string, Slot<T>> | undefined, any: Slot<T> | undefined, host: string | undefined, request: Request | undefined): T | undefined {
  const hosted = byHost !== undefined && host !== undefined ? pick(byHost.get(host), request) : undefined
  return hosted !== undefined ? hosted : pick(any, request)
}

/**
 * Builds the table. Entries with identical path, host, exactness and matchers are refused by
 * the config loader; here the first one would shadow the others.
 */
export function createRouteTable<T>(entries: readonly RouteTableEntry<T>[]): RouteTable<T> {
  const root = node<T>()
  // Config order within a slot, with more matchers first (a stable sort).
  const ordered = entries.map((entry, order) => ({ entry, order })).sort((a, b) => (b.entry.matcher?.count ?? 0) - (a.entry.matcher?.count ?? 0) || a.order - b.order)
  for (const { entry } of ordered) {
    let at = root
    for (const segment of segments(entry.prefix)) {
      at.children ??= new Map()
      let next = at.children.get(segment)
      if (!next) at.children.set(segment, (next = node()))
      at = next
    }
    at.holds = true
    const candidate: Candidate<T> = { value: entry.value, test: entry.matcher?.test }
    if (entry.host === undefined) {
      if (entry.exact) (at.exactAny ??= []).push(candidate)
      else (at.any ??= []).push(candidate)
    } else {
      const byHost = entry.exact ? (at.exactByHost ??= new Map()) : (at.byHost ??= new Map())
      let slot = byHost.get(entry.host)
      if (!slot) byHost.set(entry.host, (slot = []))
      slot.push(candidate)
    }
  }

  return {
    match(path, hostHeader, request) {
      // The nodes along the path that hold routes, shortest prefix first; at most one per segment.
      let found: Node<T>[] | undefined
      let deepest: Node<T> | undefined = root.holds ? root : undefined
      // Whether `deepest` is the whole path ("/a/b" or "/a/b/"), so its exact routes apply.
      let whole = path.length <= 1
      let at = root
      let start = 1
      while (start <= path.length && at.children !== undefined) {
        let end = path.indexOf('/', start)
        if (end === -1) end = path.length
        const next = at.children.get(path.slice(start, end))
        if (!next) break
        at = next
        if (next.holds) {
          if (deepest !== undefined) (found ??= []).push(deepest)
          deepest = next
          whole = end >= path.length - 1
        }
        start = end + 1
      }
      // Deepest first: its exact routes (when the path ends there), then its prefix routes, else a shorter prefix.
      let host: string | undefined | null = null
      for (let candidate = deepest; candidate !== undefined; candidate = found?.pop(), whole = false) {
        if (candidate.exactByHost !== undefined || candidate.byHost !== undefined) {
          if (host === null) host = hostForRouting(hostHeader)
        }
        if (whole && (candidate.exactAny !== undefined || candidate.exactByHost !== undefined)) {
          const exact = pickHosted(candidate.exactByHost, candidate.exactAny, host ?? undefined, request)
          if (exact !== undefined) return exact
        }
        const hit = pickHosted(candidate.byHost, candidate.any, host ?? undefined, request)
        if (hit !== undefined) return hit
      }
      return undefined
    },
  }
}
