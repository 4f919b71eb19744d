/**
 * The response cache against a counting origin, one worker, through the real start path.
 * Each test uses its own path, so counts are independent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectCleanOutput, startGateway, type GatewayProcess } from '../fixtures/gateway.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'

let origin: CacheOrigin
let gw: GatewayProcess

beforeAll(async () => {
  origin = startCacheOrigin()
  gw = await startGateway({
    upstreams: { origin: { targets: [origin.origin] } },
    routes: [
      { path: '/c', upstream: 'origin', cache: { enabled: true } },
      { path: '/cookie-key', upstream: 'origin', cache: { enabled: true, cookies: 'key' } },
      { path: '/strip', upstream: 'origin', cache: { enabled: true, setCookie: 'strip' } },
      { path: '/override', upstream: 'origin', cache: { enabled: true, mode: 'override', ttlSeconds: 60 } },
      { path: '/plain', upstream: 'origin' },
    ],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  origin.stop()
  expectCleanOutput(gw.output())
})

/** GET (or `init.method`) through the gateway; the body is read. */
async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(gw.url(path), { method, headers, decompress: false } as RequestInit)
  const body = await res.text()
  return { status: res.status, cache: res.headers.get('x-cache-status'), body, headers: res.headers }
}

const q = (params: Record<string, string>) => `?${new URLSearchParams(params)}`

describe('storing and hits', () => {
  test('MISS, then HIT from memory with an Age; the origin is asked once', async () => {
    const path = `/c/basic${q({ cc: 'max-age=60' })}`
    const first = await get(path)
    const second = await get(path)
    expect([first.cache, second.cache]).toEqual(['MISS', 'HIT'])
    expect(second.body).toBe(first.body)
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0)
    expect(second.headers.get('content-length')).toBe(String(first.body.length))
    expect(origin.count('/c/basic')).toBe(1)
  })

  test('the query is part of the key', async () => {
    await get(`/c/query${q({ cc: 'max-age=60', v: '1' })}`)
    expect((await get(`/c/query${q({ cc: 'max-age=60', v: '2' })}`)).cache).toBe('MISS')
  })

  test.each([
    ['no-store', { cc: 'no-store, max-age=60' }],
    ['private', { cc: 'private, max-age=60' }],
    ['Vary: *', { cc: 'max-age=60', vary: '*' }],
    ['no freshness information', {}],
    ['a 500 with only Last-Modified (no heuristic for it)', { status: '500', lm: String(Date.now() - 86_400_000) }],
    ['a 599 with must-understand (an unknown status)', { cc: 'max-age=60, must-understand', status: '599' }],
    ['Set-Cookie', { cc: 'max-age=60', setcookie: '1' }],
  ])('%s is never stored', async (name, params) => {
    const path = `/c/never-${name.replace(/\W/g, '')}${q(params as Record<string, string>)}`
    await get(path)
    expect((await get(path)).cache).toBe('MISS')
    expect(origin.count(path.split('?')[0]!)).toBe(2)
  })

  test('Expires without Cache-Control gives freshness', async () => {
    const path = `/c/expires${q({ expires: String(Date.now() + 60_000) })}`
    await get(path)
    expect((await get(path)).cache).toBe('HIT')
  })

  test('heuristic freshness from Last-Modified', async () => {
    const path = `/c/heuristic${q({ lm: String(Date.now() - 86_400_000) })}`
    await get(path)
    expect((await get(path)).cache).toBe('HIT')
  })

  test('any final status with explicit freshness is cached; an error never heuristically, unless public', async () => {
    for (const status of ['404', '302', '500']) {
      const cached = `/c/${status}-fresh${q({ cc: 'max-age=60', status })}`
      await get(cached)
      expect((await get(cached)).cache).toBe('HIT')
    }
    const heuristic = `/c/404-lm${q({ status: '404', lm: String(Date.now() - 86_400_000) })}`
    await get(heuristic)
    expect((await get(heuristic)).cache).toBe('MISS')
    const marked = `/c/404-public${q({ status: '404', cc: 'public', lm: String(Date.now() - 86_400_000) })}`
    await get(marked)
    expect((await get(marked)).cache).toBe('HIT')
  })

  test('encoded and identity variants stay apart, even without Vary from the origin', async () => {
    const path = `/c/gzip${q({ cc: 'max-age=60', gzip: '1' })}`
    const gz = await get(path, { 'accept-encoding': 'gzip' })
    const plain = await get(path, { 'accept-encoding': 'identity' })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(plain.cache).toBe('MISS')
    expect((await get(path, { 'accept-encoding': 'gzip' })).headers.get('content-encoding')).toBe('gzip')
    expect((await get(path, { 'accept-encoding': 'identity' })).cache).toBe('HIT')
  })

  test('Vary selects variants by the named request header', async () => {
    const path = `/c/vary${q({ cc: 'max-age=60', vary: 'Accept-Language' })}`
    await get(path, { 'accept-language': 'en' })
    expect((await get(path, { 'accept-language': 'fr' })).cache).toBe('MISS')
    expect((await get(path, { 'accept-language': 'en' })).cache).toBe('HIT')
    expect((await get(path, { 'accept-language': 'fr' })).cache).toBe('HIT')
  })
})

describe('requests', () => {
  test('Cache-Control: no-store bypasses', async () => {
    const path = `/c/req-no-store${q({ cc: 'max-age=60' })}`
    expect((await get(path, { 'cache-control': 'no-store' })).cache).toBe('BYPASS')
    expect((await get(path)).cache).toBe('MISS')
  })

  test('Cache-Control: no-cache and max-age=0 revalidate', async () => {
    const path = `/c/req-no-cache${q({ cc: 'max-age=60', etag: '"e1"' })}`
    await get(path)
    const revalidated = await get(path, { 'cache-control': 'no-cache' })
    expect(revalidated.cache).toBe('REVALIDATED')
    expect(origin.requests.at(-1)!.headers['if-none-match']).toBe('"e1"')
    expect((await get(path, { 'cache-control': 'max-age=0' })).cache).toBe('REVALIDATED')
    expect((await get(path, { pragma: 'no-cache' })).cache).toBe('REVALIDATED')
  })

  test('only-if-cached gets 504 on a miss and the stored answer on a hit', async () => {
    const path = `/c/only-if-cached${q({ cc: 'max-age=60' })}`
    const miss = await get(path, { 'cache-control': 'only-if-cached' })
    expect(miss.status).toBe(504)
    expect(JSON.parse(miss.body)).toMatchObject({ error: 'not_cached', status: 504 })
    expect(origin.count('/c/only-if-cached')).toBe(0)
    await get(path)
    expect((await get(path, { 'cache-control': 'only-if-cached' })).cache).toBe('HIT')
  })

  test('HEAD is answered from a stored GET; a HEAD miss stores nothing', async () => {
    const stored = `/c/head-after-get${q({ cc: 'max-age=60' })}`
    const body = (await get(stored)).body
    const head = await get(stored, {}, 'HEAD')
    expect(head).toMatchObject({ status: 200, cache: 'HIT', body: '' })
    expect(head.headers.get('content-length')).toBe(String(body.length))
    const fresh = `/c/head-first${q({ cc: 'max-age=60' })}`
    expect((await get(fresh, {}, 'HEAD')).cache).toBe('MISS')
    const after = await get(fresh)
    expect(after.cache).toBe('MISS')
    expect(after.body).not.toBe('')
  })

  test('If-None-Match (over If-Modified-Since) gets a 304 from a fresh entry', async () => {
    const path = `/c/conditional${q({ cc: 'max-age=60', etag: '"v7"', lm: String(Date.now() - 60_000) })}`
    await get(path)
    const hit = await get(path, { 'if-none-match': 'W/"v7"' })
    expect(hit.status).toBe(304)
    expect(hit.headers.get('etag')).toBe('"v7"')
    expect(hit.body).toBe('')
    const mismatch = await get(path, { 'if-none-match': '"other"', 'if-modified-since': new Date().toUTCString() })
    expect(mismatch.status).toBe(200)
    expect(origin.count('/c/conditional')).toBe(1)
  })

  test("a client's conditional miss still fills the cache, then gets its 304", async () => {
    const path = `/c/conditional-miss${q({ cc: 'max-age=60', etag: '"m1"' })}`
    const first = await get(path, { 'if-none-match': '"m1"' })
    expect(first).toMatchObject({ status: 304, cache: 'MISS' })
    expect(origin.requests.at(-1)!.headers['if-none-match']).toBeUndefined()
    expect((await get(path)).cache).toBe('HIT')
  })

  test('a Range request is answered from a fresh complete entry: 206, or 416 past the end', async () => {
    const path = `/c/range${q({ cc: 'max-age=60' })}`
    const full = (await get(path)).body
    const part = await get(path, { range: 'bytes=5-9' })
    expect(part).toMatchObject({ status: 206, cache: 'HIT', body: full.slice(5, 10) })
    expect(part.headers.get('content-range')).toBe(`bytes 5-9/${full.length}`)
    expect(part.headers.get('content-length')).toBe('5')
    expect((await get(path, { range: 'bytes=-3' })).body).toBe(full.slice(-3))
    const past = await get(path, { range: `bytes=${full.length}-` })
    expect(past.status).toBe(416)
    expect(past.headers.get('content-range')).toBe(`bytes */${full.length}`)
    expect(origin.count('/c/range')).toBe(1)
  })

  test('a Range request with no entry, several ranges or If-Range goes upstream and stores nothing', async () => {
    const path = `/c/range-miss${q({ cc: 'max-age=60' })}`
    expect((await get(path, { range: 'bytes=0-3' })).cache).toBe('BYPASS')
    expect((await get(path)).cache).toBe('MISS')
    expect((await get(path, { range: 'bytes=0-1,3-4' })).cache).toBe('BYPASS')
    expect((await get(path, { range: 'bytes=0-3', 'if-range': '"x"' })).cache).toBe('BYPASS')
  })
})

describe('revalidation', () => {
  test('a 200 to a HEAD with matching validators freshens the stored GET (RFC 9111 §4.3.5); a changed ETag does not', async () => {
    // Age equal to max-age: stale the moment it is stored.
    const path = `/c/head-freshen${q({ cc: 'max-age=5', age: '5', etag: '"h1"' })}`
    expect((await get(path)).cache).toBe('MISS')
    origin.set('/c/head-freshen', { cc: 'max-age=600', age: '0' })
    const head = await get(path, {}, 'HEAD')
    expect(head.cache).toBe('REVALIDATED')
    expect(origin.requests.at(-1)!.method).toBe('HEAD')
    const after = await get(path)
    expect(after.cache).toBe('HIT')
    expect(after.headers.get('cache-control')).toBe('max-age=600')
    expect(origin.count('/c/head-freshen')).toBe(2)

    const other = `/c/head-changed${q({ cc: 'max-age=5', age: '5', etag: '"c1"' })}`
    await get(other)
    origin.set('/c/head-changed', { cc: 'max-age=600', age: '0', etag: '"c2"' })
    expect((await get(other, {}, 'HEAD')).cache).toBe('EXPIRED')
    expect((await get(other)).cache).not.toBe('HIT')
  })

  test('a stale entry is revalidated with its ETag and updated from the 304', async () => {
    // Age equal to max-age: stale the moment it is stored.
    const path = `/c/stale-etag${q({ cc: 'max-age=5', age: '5', etag: '"s1"' })}`
    await get(path)
    origin.set('/c/stale-etag', { version: '2', age: '0', cc: 'max-age=60' })
    const revalidated = await get(path)
    expect(revalidated.cache).toBe('REVALIDATED')
    expect(origin.requests.at(-1)!.headers['if-none-match']).toBe('"s1"')
    // Headers merged from the 304, freshness renewed from its Cache-Control.
    expect(revalidated.headers.get('x-version')).toBe('2')
    const hit = await get(path)
    expect(hit.cache).toBe('HIT')
    expect(hit.headers.get('x-version')).toBe('2')
    expect(hit.body).toContain('#1')
  })

  test('a stale entry is revalidated with Last-Modified', async () => {
    const path = `/c/stale-lm${q({ cc: 'max-age=1', age: '1', lm: String(Date.now() - 60_000) })}`
    await get(path)
    expect((await get(path)).cache).toBe('REVALIDATED')
    expect(origin.requests.at(-1)!.headers['if-modified-since']).toBeDefined()
  })

  test('a stale entry the origin changed is replaced: EXPIRED, then HIT on the new body', async () => {
    const path = `/c/stale-changed${q({ cc: 'max-age=5', age: '5', etag: '"a"' })}`
    await get(path)
    origin.set('/c/stale-changed', { etag: '"b"', age: '0', cc: 'max-age=60' })
    const expired = await get(path)
    expect(expired.cache).toBe('EXPIRED')
    expect(expired.body).toContain('#2')
    expect((await get(path)).body).toContain('#2')
  })

  test('no-cache responses are stored but always revalidated', async () => {
    const path = `/c/no-cache-response${q({ cc: 'no-cache', etag: '"n"' })}`
    await get(path)
    expect((await get(path)).cache).toBe('REVALIDATED')
    expect(origin.count('/c/no-cache-response')).toBe(2)
  })

  test('stale-while-revalidate: the stale entry answers at once and is refreshed behind it', async () => {
    const path = `/c/swr${q({ cc: 'max-age=5, stale-while-revalidate=60', age: '6' })}`
    await get(path)
    origin.set('/c/swr', { version: '2', age: '0', cc: 'max-age=60' })
    const stale = await get(path)
    expect(stale.cache).toBe('STALE')
    expect(stale.headers.get('x-version')).toBe('1')
    let hit = await get(path)
    for (let i = 0; i < 50 && hit.headers.get('x-version') !== '2'; i++) hit = await get(path)
    expect(hit).toMatchObject({ cache: 'HIT' })
    expect(hit.headers.get('x-version')).toBe('2')
  })

  test('stale-if-error: a failing origin is covered by the stale entry', async () => {
    const path = `/c/sie${q({ cc: 'max-age=5, stale-if-error=600', age: '6', fail: '2' })}`
    expect((await get(path)).status).toBe(200)
    const covered = await get(path)
    expect(covered).toMatchObject({ status: 200, cache: 'STALE' })
    const path2 = `/c/no-sie${q({ cc: 'max-age=5', age: '6', fail: '2' })}`
    await get(path2)
    expect((await get(path2)).status).toBe(500)
  })
})

describe('never across users', () => {
  test('a response to a request with Authorization is stored only when public', async () => {
    const secret = `/c/auth-private${q({ cc: 'max-age=60' })}`
    await get(secret, { authorization: 'Bearer alice' })
    expect((await get(secret)).cache).toBe('MISS')
    const shared = `/c/auth-public${q({ cc: 'public, max-age=60' })}`
    await get(shared, { authorization: 'Bearer alice' })
    expect((await get(shared)).cache).toBe('HIT')
  })

  test('a request with Authorization is not answered from a non-public entry', async () => {
    const path = `/c/auth-reuse${q({ cc: 'max-age=60' })}`
    await get(path)
    expect((await get(path, { authorization: 'Bearer bob' })).cache).toBe('BYPASS')
  })

  test('requests with Cookie bypass by default; with cookies: key each cookie gets its own entry', async () => {
    const path = `/c/cookie${q({ cc: 'max-age=60' })}`
    await get(path)
    expect((await get(path, { cookie: 'session=alice' })).cache).toBe('BYPASS')
    const keyed = `/cookie-key/x${q({ cc: 'max-age=60' })}`
    const alice = await get(keyed, { cookie: 'session=alice' })
    expect((await get(keyed, { cookie: 'session=bob' })).cache).toBe('MISS')
    const again = await get(keyed, { cookie: 'session=alice' })
    expect(again.cache).toBe('HIT')
    expect(again.body).toBe(alice.body)
  })

  test('setCookie: strip stores the response without Set-Cookie; the first client still gets it', async () => {
    const path = `/strip/x${q({ cc: 'max-age=60', setcookie: '1' })}`
    const first = await get(path)
    expect(first.headers.get('set-cookie')).toStartWith('session=')
    const hit = await get(path)
    expect(hit.cache).toBe('HIT')
    expect(hit.headers.get('set-cookie')).toBeNull()
  })

  test('web cache deception: a private answer under a static-looking path is not stored', async () => {
    const path = `/c/account/profile.css${q({ cc: 'private' })}`
    await get(path, { authorization: 'Bearer alice' })
    expect((await get(path)).cache).toBe('MISS')
  })
})

describe('override mode', () => {
  test('caches for ttlSeconds whatever the origin says, but never Set-Cookie or Authorization', async () => {
    const path = `/override/x${q({ cc: 'max-age=0, must-revalidate' })}`
    await get(path)
    expect((await get(path)).cache).toBe('HIT')
    const cookie = `/override/cookie${q({ setcookie: '1' })}`
    await get(cookie)
    expect((await get(cookie)).cache).toBe('MISS')
    expect((await get(path, { authorization: 'Bearer x' })).cache).toBe('BYPASS')
  })
})

describe('integrity', () => {
  test('a truncated body is never stored, and the client gets a 502, not a short 200', async () => {
    const path = `/c/truncated${q({ truncate: '1' })}`
    expect((await get(path)).status).toBe(502)
    expect((await get(path)).status).toBe(502)
    expect(origin.count('/c/truncated')).toBe(2)
  })

  test('the routes without cache say nothing about caching', async () => {
    expect((await get(`/plain/x${q({ cc: 'max-age=60' })}`)).cache).toBeNull()
  })
})
