/** `routes[].cache` and the top-level `cache` (the stores): docs/caching.md. */
import { z } from 'zod'

export const routeCacheSchema = z.strictObject({
  /** Cache GET and HEAD responses of this route (RFC 9111; see docs/caching.md). */
  enabled: z.boolean().default(false),
  /**
   * "standard": follow the upstream's Cache-Control/Expires (RFC 9111). "override": cache
   * every storable status for ttlSeconds whatever the upstream says (Kong's cache_control:
   * false), but never private, no-store, Set-Cookie or Authorization responses.
   */
  mode: z.enum(['standard', 'override']).default('standard'),
  /** Seconds: the cap on heuristic freshness (Last-Modified), and the lifetime in override mode. */
  ttlSeconds: z.int().min(1).max(31_536_000).default(300),
  /** Requests carrying Cookie: "bypass" the cache, "ignore" the cookies, or make them part of the "key". */
  cookies: z.enum(['bypass', 'ignore', 'key']).default('bypass'),
  /** Responses with Set-Cookie: "bypass" (not stored), or "strip" (stored without Set-Cookie). */
  setCookie: z.enum(['bypass', 'strip']).default('bypass'),
  /**
   * Statuses override mode stores for ttlSeconds (nginx's proxy_cache_valid). Any other
   * status is stored only as the upstream's own Cache-Control/Expires allow.
   */
  statuses: z.array(z.int().min(200).max(599)).min(1).default([200, 203, 301, 308]),
  /**
   * Request Cache-Control/Pragma that would force an upstream fetch (no-cache, max-age=0,
   * no-store): "honour" them (RFC 9111), or "ignore" them (nginx's default) to shield the upstream.
   */
  clientNoCache: z.enum(['honour', 'ignore']).default('honour'),
  /** Milliseconds concurrent misses for one URL wait for the first one's answer before going upstream themselves. */
  lockTimeoutMs: z.int().min(0).max(60_000).default(5000),
  /**
   * Seconds past freshness a stored response may still be served while the upstream cannot be
   * reached (refused, reset, timed out, breaker open): RFC 9111 §4.2.4's "disconnected", like
   * nginx's proxy_cache_use_stale error timeout. must-revalidate, proxy-revalidate, s-maxage
   * and no-cache forbid it; 0 turns it off (stale-if-error still applies).
   */
  staleIfUnreachableSeconds: z.int().min(0).max(31_536_000).default(60),
})

export const cacheStoreSchema = z.strictObject({
  /** Most stored responses per worker. */
  maxEntries: z.int().min(1).max(10_000_000).default(10_000),
  /** Most bytes of stored responses per worker (bodies, headers and bookkeeping). */
  maxBytes: z.int().min(1024).default(256 * 1024 * 1024),
  /** Largest body stored; larger responses stream through uncached, never fully buffered. */
  maxObjectBytes: z.int().min(1).default(1024 * 1024),
  /**
   * Targets this cache belongs to, in order (RFC 9213): `cdn` honours CDN-Cache-Control,
   * `gateway` Gateway-Cache-Control, `surrogate` Surrogate-Control. The first present one
   * replaces Cache-Control and Expires here, and they are not passed downstream.
   */
  targets: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'must be a lower-case target name (cdn, gateway, surrogate, ...)' })).default([]),
  /** The node's shared tier under each worker's store (a ring of entries in one file; docs/caching.md). */
  shared: z
    .strictObject({
      /** Default: on when the node runs more than one worker. */
      enabled: z.boolean().optional(),
      /** The tier's file (its index mapped into every worker's memory); default a file under the OS temp dir named by the primary's pid, removed at shutdown. */
      path: z.string().min(1).optional(),
      /** Most bytes of stored responses in the shared tier (bodies, headers and bookkeeping); its index adds 12.5-25%. */
      // At most 3 GiB: Bun.mmap stops short of 4 GiB, and a larger tier's index would near it.
      maxBytes: z.int().min(1024).max(3 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
    })
    .prefault({}),
})

export type RouteCacheConfig = z.output<typeof routeCacheSchema>
export type CacheStoreConfig = z.output<typeof cacheStoreSchema>
