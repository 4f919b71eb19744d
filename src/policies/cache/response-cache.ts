/**
 * The response cache of cache-enabled routes: an RFC 9111 shared cache as a stage of the
 * chain. Hits are served from memory without touching the upstream pool or parsing a
 * header; a miss or a revalidation calls the rest of the chain (`next`) and stores what
 * comes back, reading at most maxObjectBytes of it; misses for one URL are collapsed into
 * one upstream request; stale entries are revalidated with their validators; unsafe
 * methods invalidate what they changed. Every answer to a GET or HEAD says what happened in
 * X-Cache-Status.
 */
import { readAtMost } from '../../kernel/bytes.ts'
import { refuse, refusalOf } from '../../kernel/errors.ts'
import type { Exchange } from '../../kernel/exchange.ts'
import type { Handler } from '../../kernel/stage.ts'
import type { RouteCacheConfig } from './schema.ts'
import { notModified, NOT_MODIFIED_FIELDS } from './conditional.ts'
import { NO_DIRECTIVES, parseCacheControl, type CacheDirectives } from './directives.ts'
import { primaryKey, SPLIT_FIELD, variantKey, varyNames, type FieldValue } from './key.ts'
import {
  ageValue,
  currentAge,
  dateValue,
  freshnessLifetime,
  mayServeStaleDisconnected,
  mayServeStaleOnError,
  reusableWithAuthorization,
  reuseDecision,
  unstorableReason,
} from './policy.ts'
import { byteRange } from './range.ts'
import { VARIES_ON_CODING } from '../compression/index.ts'
import type { SharedStore } from './shared-store.ts'
import { consumedFields, targetedDirectives, targetedFields } from './targeted.ts'
import { entrySize, type CacheEntry, type CacheStore } from './store.ts'
import type { FieldReader, Fields } from '../../kernel/fields.ts'

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS' | 'EXPIRED' | 'STALE' | 'REVALIDATED'

export interface CachedRequest {
  exchange: Exchange
  /** The rest of the chain: the way upstream, for misses and revalidations. */
  next: Handler
  options: RouteCacheConfig
  /** The X-Forwarded-Proto sent upstream, lower-case: "http", or what a trusted proxy said. */
  scheme: string
  /** A request field as it is sent upstream (variants are keyed on these, RFC 9111 §4.1). */
  sent: FieldValue
  /** The Host header, normalised by the edge (empty for HTTP/1.0 without Host). */
  host: string
}

/** What the cache reads of an upstream answer's head. */
interface Head {
  readonly status: number
  readonly headers: Headers
}

/** Why an exchange with the upstream failed, when the gateway answered for it: the origin could not be reached (not the client leaving). */
const UNREACHABLE: ReadonlySet<string> = new Set(['bad_gateway', 'gateway_timeout', 'overloaded', 'upstream_unavailable'])

export interface ResponseCacheDeps {
  store: CacheStore
  /** The node's shared tier under `store`: looked up on a local miss, written on every store. */
  shared?: SharedStore
  maxObjectBytes: number
  /** Tells the other workers to drop these primary keys (unsafe-method invalidation). */
  broadcastInvalidation?: (primaryKeys: string[]) => void
  /**
   * Request fields every entry is keyed on besides the response's Vary: X-Forwarded-Host
   * when proxies are trusted, since a trusted proxy's value is forwarded and upstreams
   * build links from it.
   */
  implicitVary?: readonly string[]
  /** Reports what each GET/HEAD did, for metrics. */
  onResult?: (route: string, status: CacheStatus) => void
  /** `cache.targets` (RFC 9213): whose targeted Cache-Control fields this cache obeys and consumes. */
  targets?: readonly string[]
  now?: () => number
}

const CONDITIONALS = ['if-none-match', 'if-modified-since'] as const
/** Preconditions the cache does not evaluate itself: such requests go straight upstream. */
const UNHANDLED_PRECONDITIONS = ['if-match', 'if-unmodified-since', 'if-range'] as const
/** How often a worker waiting on another worker's fill looks for its entry. */
const SHARED_FILL_POLL_MS = 5
/** Fields a 304 must not change in a stored response (RFC 9111 §3.2). */
const KEEP_ON_UPDATE: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'content-range'])

export function createResponseCache(deps: ResponseCacheDeps) {
  const { store, maxObjectBytes } = deps
  const now = deps.now ?? Date.now
  /** In-flight fills by primary key and revalidations by variant key; they resolve to the stored entry, if any. */
  const pending = new Map<string, Promise<CacheEntry | undefined>>()
  const report = deps.onResult ?? (() => {})
  const implicitVary = deps.implicitVary ?? []
  const shared = deps.shared
  const targeted = targetedFields(deps.targets ?? [])
  /** Fields for this gateway alone are not for caches downstream. */
  const consumed = consumedFields(targeted)
  /** The fields every answer of the cache gets: its Age and status, and none of our targeted ones. */
  const stamp = (headers: Headers, age: string, status: CacheStatus) => {
    headers.set('age', age)
    headers.set('x-cache-status', status)
    for (const field of consumed) headers.delete(field)
  }

  /** The local entry, else the shared tier's, copied into the local store so the next hit stays local. */
  function lookup(primary: string, request: CachedRequest): CacheEntry | undefined {
    const local = store.lookup(primary, request.sent)
    if (local !== undefined || shared === undefined) return local
    const found = shared.lookup(primary, request.sent)
    if (found) store.put(found)
    return found
  }

  /** Stores in both tiers; true when either took it. */
  function put(entry: CacheEntry): boolean {
    const local = store.put(entry)
    return (shared?.put(entry) ?? false) || local
  }

  function remove(primary: string): void {
    store.delete(primary)
    shared?.remove(primary)
  }

  function mark(response: Response, status: CacheStatus, route: string): Response {
    // The gateway's own refusal (the upstream failed) says nothing of the cache.
    if (refusalOf(response)) return response
    response.headers.set('x-cache-status', status)
    for (const field of consumed) response.headers.delete(field)
    report(route, status)
    return response
  }

  /**
   * Answers from `entry`: a 304 when the client's validators match, else the stored response.
   * The Response copies the stored Headers (measured cheaper than a new Headers built from
   * them), then gets the per-answer fields (the request id is set where every answer ends). `ageSeconds` when the caller computed it.
   */
  function serve(entry: CacheEntry, request: CachedRequest, status: CacheStatus, ageSeconds?: number): Response {
    const raw = request.exchange.raw
    const age = String(Math.floor(ageSeconds ?? currentAge(entry.clock, now())))
    report(request.exchange.route.name, status)
    if (entry.status === 200 && notModified(request.exchange.requestFields, entry.headers)) {
      const headers = new Headers({ age, 'x-cache-status': status })
      for (const name of NOT_MODIFIED_FIELDS) {
        const value = entry.headers.get(name)
        if (value !== null) headers.set(name, value)
      }
      return new Response(null, { status: 304, headers })
    }
    const response = new Response(raw.method === 'HEAD' ? null : entry.body, { status: entry.status, headers: entry.headers })
    // The stored headers may lack Content-Length (a chunked original): the access log's bytes.
    request.exchange.responseBytes = entry.body.byteLength
    stamp(response.headers, age, status)
    return response
  }

  /**
   * A Range request answered from a fresh complete entry: 206 with the bytes, or 416 when the
   * range lies past the end. Undefined when this cache does not answer it (several ranges).
   */
  function servePartial(entry: CacheEntry, request: CachedRequest, range: string, ageSeconds: number): Response | undefined {
    if (entry.status !== 200) return undefined
    const length = entry.body.byteLength
    const selected = byteRange(range, length)
    if (selected === undefined) return undefined
    report(request.exchange.route.name, 'HIT')
    const age = String(Math.floor(ageSeconds))
    if (selected === 'unsatisfiable') {
      return new Response(null, { status: 416, headers: { 'content-range': `bytes */${length}`, age, 'x-cache-status': 'HIT' } })
    }
    const { start, end } = selected
    const response = new Response(entry.body.subarray(start, end + 1), { status: 206, headers: entry.headers })
    response.headers.set('content-range', `bytes ${start}-${end}/${length}`)
    response.headers.set('content-length', String(end - start + 1))
    stamp(response.headers, age, 'HIT')
    return response
  }

  /** Builds the entry for an upstream answer, or undefined when it must not be stored. */
  function toEntry(
    request: CachedRequest,
    up: Head,
    body: Uint8Array,
    primary: string,
    times: { requestTime: number; responseTime: number }
  ): CacheEntry | undefined {
    const { options } = request
    const raw = request.exchange.raw
    // RFC 9213 §2.1: our targeted field, when there is a valid one, replaces Cache-Control and Expires.
    const fromTarget = targeted.length > 0 ? targetedDirectives(up.headers, targeted) : undefined
    const parsed = fromTarget ?? parseCacheControl(up.headers.get('cache-control'))
    const lifetime = freshnessLifetime({
      targeted: fromTarget !== undefined,
      status: up.status,
      directives: parsed,
      headers: up.headers,
      responseTime: times.responseTime,
      mode: options.mode,
      ttlSeconds: options.ttlSeconds,
      overrideStatuses: options.statuses,
    })
    const reason = unstorableReason(
      {
        status: up.status,
        responseDirectives: parsed,
        responseHeaders: up.headers,
        requestHasAuthorization: request.exchange.requestFields.has('authorization'),
        mode: options.mode,
        overrideStatuses: options.statuses,
        setCookie: options.setCookie,
      },
      lifetime
    )
    if (reason !== undefined || body.byteLength > maxObjectBytes) return undefined
    const headers = new Headers(up.headers)
    headers.delete('set-cookie')
    headers.delete('age')
    // Each answer gets its own request id; the filling request's is not worth keeping.
    headers.delete('x-request-id')
    headers.set('content-length', String(body.byteLength))
    // Keyed by every name this URL's variants varied on so far, not only this response's:
    // an origin that sends Vary on some answers only must not let one variant shadow another.
    const names = [
      ...new Set([
        ...varyNames(up.headers),
        ...(store.namesOf(primary) ?? shared?.namesOf(primary) ?? []),
        ...(options.cookies === 'key' ? ['cookie'] : []),
        // Authenticated answers are kept per consumer (Kong's proxy-cache keys on the consumer too).
        ...(request.exchange.identity ? [request.exchange.identity.header] : []),
        ...(request.exchange.upstream !== undefined ? [SPLIT_FIELD] : []),
        ...implicitVary,
      ]),
    ].sort()
    const key = variantKey(primary, names, request.sent)
    return {
      primary,
      key,
      status: up.status,
      headers,
      body,
      // Override mode answers listed statuses for ttlSeconds whatever the upstream's directives say.
      directives: options.mode === 'override' && options.statuses.includes(up.status) ? NO_DIRECTIVES : parsed,
      lifetime: lifetime ?? 0,
      clock: { ...times, dateValue: dateValue(up.headers, times.responseTime), ageValue: ageValue(up.headers) },
      varyNames: names,
      size: entrySize(key, headers, body),
    }
  }

  /** The entry judged storable from the response head, completed with the body that followed. */
  function withBody(candidate: CacheEntry, body: Uint8Array): CacheEntry | undefined {
    if (body.byteLength > maxObjectBytes) return undefined
    // `candidate` was built for this answer alone: its headers are ours to complete.
    candidate.headers.set('content-length', String(body.byteLength))
    return { ...candidate, body, size: entrySize(candidate.key, candidate.headers, body) }
  }

  /** An entry updated from a 304 (RFC 9111 §4.3.4): headers merged, freshness renewed. */
  function refreshed(request: CachedRequest, entry: CacheEntry, notModifiedHeaders: Headers, times: { requestTime: number; responseTime: number }) {
    const merged = new Headers(entry.headers)
    for (const name of new Set(notModifiedHeaders.keys())) {
      if (KEEP_ON_UPDATE.has(name) || name === 'set-cookie' || name === 'age') continue
      merged.delete(name)
      for (const [key, value] of notModifiedHeaders) if (key === name) merged.append(name, value)
    }
    if (entry.headers.has('content-encoding')) keepEncodedFields(entry.headers, merged)
    const fresh = toEntry(request, { status: entry.status, headers: merged }, entry.body, entry.primary, times)
    // The 304 carried the origin's Age; keep it in the clock even though stored headers drop it.
    return fresh && { ...fresh, clock: { ...fresh.clock, ageValue: ageValue(notModifiedHeaders) } }
  }

  /**
   * RFC 9111 §4.3.5: a 200 to a HEAD whose validators (and Content-Length) match the stored
   * GET updates its headers and freshness as a 304 would; otherwise the entry stays stale.
   */
  async function freshenWithHead(request: CachedRequest, entry: CacheEntry): Promise<Response> {
    const requestTime = now()
    const res = await forward(request)
    if (res.status === 200 && headMatches(entry, res.headers)) {
      const updated = refreshed(request, entry, res.headers, { requestTime, responseTime: now() })
      // The client gets the updated stored fields, as a revalidated hit would.
      if (updated && put(updated)) {
        await res.body?.cancel()
        return serve(updated, request, 'REVALIDATED')
      }
    }
    return mark(res, 'EXPIRED', request.exchange.route.name)
  }

  /**
   * Sends the request on down the chain without the client's validators, with `adjust`
   * applied to the upstream request's headers; in the `background` (a revalidation nobody
   * waits for) on an exchange of its own that the client leaving does not abort.
   */
  async function send(request: CachedRequest, adjust: (headers: Fields) => void, background = false): Promise<Response> {
    const exchange = background ? request.exchange.fork() : request.exchange
    exchange.background = background
    exchange.adjustUpstreamHeaders = (headers) => {
      for (const name of CONDITIONALS) headers.delete(name)
      adjust(headers)
    }
    try {
      return await request.next(exchange)
    } finally {
      // A follower's own request on this exchange sends the client's validators.
      exchange.adjustUpstreamHeaders = undefined
    }
  }

  const forward = async (request: CachedRequest) => request.next(request.exchange)

  /** Whether `response` is the gateway's answer for an upstream it could not reach. */
  const unreachable = (response: Response) => {
    const code = refusalOf(response)?.code
    return code !== undefined && UNREACHABLE.has(code)
  }

  /**
   * Takes an upstream answer: stores it when allowed and small enough, and answers the
   * client. A body that fails to arrive whole is never stored; the client gets a 502.
   */
  async function storeAndAnswer(
    request: CachedRequest,
    up: Response,
    primary: string,
    times: { requestTime: number },
    status: CacheStatus
  ): Promise<{ response: Response; entry?: CacheEntry }> {
    // The gateway's own answer (the upstream failed) is never stored.
    if (refusalOf(up)) return { response: up }
    const candidate = toEntry(request, up, new Uint8Array(0), primary, { ...times, responseTime: now() })
    if (!candidate) {
      if (status === 'EXPIRED') remove(primary) // §4.4-like: a now-unstorable answer replaces what was stored
      return { response: mark(up, status, request.exchange.route.name) }
    }
    let collected: Uint8Array | Response
    try {
      collected = await readAtMost(up, maxObjectBytes)
    } catch {
      // The body did not arrive whole (counted by the forwarder): never stored, never served short.
      return { response: refuse(request.exchange.requestId, 'bad_gateway') }
    }
    if (collected instanceof Response) return { response: mark(collected, status, request.exchange.route.name) }
    const entry = withBody(candidate, collected)
    const stored = entry !== undefined && put(entry)
    // The client that caused the fetch still gets the Set-Cookie the stored copy lacks.
    if (stored && !up.headers.has('set-cookie')) return { response: serve(entry, request, status), entry }
    return { response: mark(new Response(collected, { status: up.status, headers: up.headers }), status, request.exchange.route.name), entry }
  }

  /** One upstream request for concurrent misses of `key`; followers wait up to lockTimeoutMs. */
  async function collapsed(
    key: string,
    request: CachedRequest,
    lead: () => Promise<{ response: Response; entry?: CacheEntry }>,
    follow: (entry: CacheEntry | undefined) => Promise<Response>
  ): Promise<Response> {
    const inFlight = pending.get(key)
    if (inFlight) {
      const timeout = Bun.sleep(request.options.lockTimeoutMs).then(() => undefined)
      return follow(await Promise.race([inFlight, timeout]))
    }
    let settle!: (entry: CacheEntry | undefined) => void
    pending.set(key, new Promise((resolve) => (settle = resolve)))
    try {
      const { response, entry } = await lead()
      settle(entry)
      return response
    } catch (err) {
      settle(undefined)
      throw err
    } finally {
      pending.delete(key)
    }
  }

  /** A follower may use the leader's entry only if it is the variant this request selects. */
  const usable = (entry: CacheEntry | undefined, request: CachedRequest): entry is CacheEntry =>
    entry !== undefined &&
    entry.key === variantKey(entry.primary, entry.varyNames, request.sent) &&
    (!request.exchange.requestFields.has('authorization') || reusableWithAuthorization(entry.directives, request.options.mode))

  /**
   * Another worker of the node holds the fill of `primary`: waits, up to lockTimeoutMs, for
   * its entry to reach the shared tier. Undefined when it did not store one this request
   * may use fresh (then this worker goes upstream itself).
   */
  async function filledElsewhere(primary: string, request: CachedRequest): Promise<CacheEntry | undefined> {
    const deadline = now() + request.options.lockTimeoutMs
    while (now() < deadline) {
      await Bun.sleep(SHARED_FILL_POLL_MS)
      let entry = lookup(primary, request)
      if (entry === undefined) {
        if (shared!.locked(primary)) continue
        // The fill may have committed and released its lock (in that order) since that miss:
        // one more look before going upstream. Only a wait pays for it, never a plain miss.
        entry = lookup(primary, request)
        if (entry === undefined) return undefined
      }
      const fresh = reuseDecision({ lifetime: entry.lifetime, age: currentAge(entry.clock, now()), response: entry.directives, request: wantsOf(request) }) === 'fresh'
      return fresh && usable(entry, request) ? entry : undefined
    }
    return undefined
  }

  function fill(request: CachedRequest, primary: string): Promise<Response> {
    return collapsed(
      `fill ${primary}`,
      request,
      async () => {
        // One fill per key for the whole node: the other workers wait for its entry.
        const held = shared === undefined || shared.lock(primary, request.options.lockTimeoutMs)
        if (!held) {
          const entry = await filledElsewhere(primary, request)
          if (entry) return { response: serve(entry, request, 'HIT'), entry }
        }
        try {
          const requestTime = now()
          const up = await send(request, () => {})
          return await storeAndAnswer(request, up, primary, { requestTime }, 'MISS')
        } finally {
          if (held) shared?.unlock(primary)
        }
      },
      // Followers served by the leader's answer never reached the upstream: a hit.
      async (entry) => (usable(entry, request) ? serve(entry, request, 'HIT') : mark(await forward(request), 'MISS', request.exchange.route.name))
    )
  }

  /** Asks the origin whether `entry` is still good (RFC 9111 §4.3.1), collapsed per variant. */
  function revalidate(request: CachedRequest, entry: CacheEntry, background = false): Promise<Response> {
    return collapsed(
      `revalidate ${entry.key}`,
      request,
      async () => {
        const requestTime = now()
        const etag = entry.headers.get('etag')
        const lastModified = entry.headers.get('last-modified')
        const up = await send(
          request,
          (headers) => {
            if (etag !== null) headers.set('if-none-match', etag)
            if (lastModified !== null) headers.set('if-modified-since', lastModified)
          },
          background
        )
        // The origin could not be reached: a stale entry may stand in (the client leaving is no such case).
        if (unreachable(up) && staleWhenUnreachable(entry, request)) return { response: serve(entry, request, 'STALE'), entry }
        if (refusalOf(up)) return { response: up }
        if (up.status === 304) {
          await up.body?.cancel()
          const updated = refreshed(request, entry, up.headers, { requestTime, responseTime: now() })
          if (updated && put(updated)) return { response: serve(updated, request, 'REVALIDATED'), entry: updated }
          return { response: serve(entry, request, 'REVALIDATED') }
        }
        if (up.status >= 500 && staleOnError(entry)) {
          await up.body?.cancel()
          return { response: serve(entry, request, 'STALE'), entry }
        }
        return storeAndAnswer(request, up, entry.primary, { requestTime }, 'EXPIRED')
      },
      async (updated) => (usable(updated, request) ? serve(updated, request, 'HIT') : mark(await forward(request), 'EXPIRED', request.exchange.route.name))
    )
  }

  const bypass = (request: CachedRequest) => forward(request).then((res) => mark(res, 'BYPASS', request.exchange.route.name))
  // A HEAD miss goes upstream as HEAD and is not stored: an empty body is no GET entry. (Not
  // inline in `handle`: its closure over the request would make a scope object on every hit.)
  const headMiss = (request: CachedRequest) => forward(request).then((res) => mark(res, 'MISS', request.exchange.route.name))

  const staleOnError = (entry: CacheEntry) => mayServeStaleOnError(entry.lifetime, currentAge(entry.clock, now()), entry.directives)
  const staleWhenUnreachable = (entry: CacheEntry, request: CachedRequest) =>
    mayServeStaleDisconnected(entry.lifetime, currentAge(entry.clock, now()), entry.directives, request.options.staleIfUnreachableSeconds)

  return {
    /** Answers a GET or HEAD on a cache-enabled route; a fresh hit synchronously. */
    handle(request: CachedRequest): Response | Promise<Response> {
      const raw = request.exchange.raw
      const headers = request.exchange.requestFields
      const { options } = request
      const wants = wantsOf(request)
      if (
        wants.noStore || // §5.2.1.5
        hasAny(headers, UNHANDLED_PRECONDITIONS) ||
        (options.cookies === 'bypass' && headers.has('cookie')) ||
        (options.mode === 'override' && headers.has('authorization'))
      ) {
        return bypass(request)
      }
      const primary = primaryKey(request.scheme, request.host, request.exchange.path, request.exchange.query)
      const entry = lookup(primary, request)
      // Range: answered from a fresh complete entry, else forwarded as is (and nothing stored).
      const range = raw.method === 'GET' ? headers.get('range') : null
      if (entry) {
        if (headers.has('authorization') && !reusableWithAuthorization(entry.directives, options.mode)) {
          return bypass(request) // §3.5
        }
        const age = currentAge(entry.clock, now())
        const decision = reuseDecision({ lifetime: entry.lifetime, age, response: entry.directives, request: wants })
        if (range !== null) return (decision === 'fresh' && servePartial(entry, request, range, age)) || bypass(request)
        if (decision === 'fresh') return serve(entry, request, 'HIT', age)
        if (decision === 'stale-while-revalidate' && raw.method === 'GET') {
          // Nobody reads the background answer: cancel its body so the upstream connection is freed.
          revalidate(request, entry, true).then((res) => res.body?.cancel(), () => {})
          return serve(entry, request, 'STALE')
        }
        if (wants.onlyIfCached) return refuse(request.exchange.requestId, 'not_cached')
        // A HEAD cannot replace a stored GET (its answer has no body), but its 200 can freshen it.
        if (raw.method === 'HEAD') return freshenWithHead(request, entry)
        return revalidate(request, entry)
      }
      if (wants.onlyIfCached) return refuse(request.exchange.requestId, 'not_cached') // §5.2.1.7
      if (range !== null) return bypass(request)
      if (raw.method === 'HEAD') return headMiss(request)
      return fill(request, primary)
    },

    /**
     * After an unsafe method got a 2xx or 3xx: drop the target URI and the same-host
     * Location / Content-Location from every worker's cache (RFC 9111 §4.4).
     */
    invalidate(request: CachedRequest, response: Response): void {
      if (response.status < 200 || response.status >= 400) return
      const keys = [primaryKey(request.scheme, request.host, request.exchange.path, request.exchange.query)]
      const base = `${request.scheme}://${request.host || 'unknown'}${request.exchange.path}`
      for (const name of ['location', 'content-location']) {
        const value = response.headers.get(name)
        if (value === null) continue
        try {
          const url = new URL(value, base)
          if (url.host.toLowerCase() === request.host.toLowerCase()) {
            keys.push(primaryKey(request.scheme, request.host, url.pathname, url.search))
          }
        } catch {
          // Not a URL: nothing to invalidate.
        }
      }
      // The shared tier once, here; the other workers drop their local copies.
      for (const key of keys) remove(key)
      deps.broadcastInvalidation?.(keys)
    },
  }
}

export type ResponseCache = ReturnType<typeof createResponseCache>

/**
 * A 304 does not change the stored bytes (RFC 9111 §3.2 keeps their Content-Encoding), so
 * the fields that describe an encoded body stay: its weak ETag when the 304 carries the strong
 * form of the same tag (the gateway compressed it: RFC 9110 §8.8.3), and Accept-Encoding in
 * its Vary when the 304's Vary dropped it.
 */
function keepEncodedFields(stored: Headers, merged: Headers): void {
  const etag = stored.get('etag')
  if (etag !== null && etag.startsWith('W/') && merged.get('etag') === etag.slice(2)) merged.set('etag', etag)
  const storedVary = stored.get('vary')
  const vary = merged.get('vary')
  if (storedVary !== null && VARIES_ON_CODING.test(storedVary) && vary !== null && !VARIES_ON_CODING.test(vary)) {
    merged.set('vary', `${vary}, Accept-Encoding`)
  }
}

/** Whether a HEAD response describes the stored GET: every validator it carries, and its length, agree. */
function headMatches(entry: CacheEntry, head: Headers): boolean {
  for (const name of ['etag', 'last-modified']) {
    const value = head.get(name)
    if (value !== null && value !== entry.headers.get(name)) return false
  }
  const length = head.get('content-length')
  return length === null || Number(length) === entry.body.byteLength
}

/** What the request asks of the cache, under the route's clientNoCache. */
function wantsOf(request: CachedRequest): CacheDirectives {
  const headers = request.exchange.requestFields
  return request.options.clientNoCache === 'ignore' ? ignoredDirectives(headers) : requestDirectives(headers)
}

function hasAny(headers: FieldReader, names: readonly string[]): boolean {
  for (const name of names) if (headers.has(name)) return true
  return false
}

const ONLY_IF_CACHED: CacheDirectives = { ...NO_DIRECTIVES, onlyIfCached: true }

/**
 * `clientNoCache: ignore`: like nginx, a client cannot force an upstream fetch (no-cache,
 * max-age=0, no-store, Pragma). only-if-cached still holds: it never reaches the upstream.
 */
function ignoredDirectives(headers: FieldReader): CacheDirectives {
  const cacheControl = headers.get('cache-control')
  return cacheControl !== null && parseCacheControl(cacheControl).onlyIfCached ? ONLY_IF_CACHED : NO_DIRECTIVES
}

/** Request directives, with HTTP/1.0's Pragma: no-cache when there is no Cache-Control (RFC 9111 §5.4). */
function requestDirectives(headers: FieldReader): CacheDirectives {
  const cacheControl = headers.get('cache-control')
  if (cacheControl !== null) return parseCacheControl(cacheControl)
  const pragma = headers.get('pragma')
  if (pragma !== null && pragma.toLowerCase().includes('no-cache')) return { ...NO_DIRECTIVES, noCache: true }
  return NO_DIRECTIVES
}
