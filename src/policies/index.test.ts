/**
 * Every built-in policy through the one interface: `build(config, context)` from the
 * registry, its stage run on one-line Exchanges. Each file of a policy's folder tests its
 * details; this says the policy is what the registry and the chain expect.
 */
import { describe, expect, test } from 'bun:test'
import { testExchange } from '../../test/fixtures/exchange.ts'
import { policyContext } from '../../test/fixtures/policy.ts'
import { refusalOf } from '../kernel/errors.ts'
import { PHASES } from '../kernel/policy.ts'
import type { Handler } from '../kernel/stage.ts'
import type { BuiltinPolicy } from './builtin.ts'
import { createResponseCache } from './cache/response-cache.ts'
import { createCacheStore } from './cache/store.ts'
import { BUILTIN_POLICIES, routePolicyShape } from './index.ts'
import { localStore } from './rate-limit/buckets.ts'
import { brotliDecompressSync } from 'node:zlib'

const byName = Object.fromEntries(BUILTIN_POLICIES.map((policy) => [policy.name, policy as BuiltinPolicy]))
const ok: Handler = () => new Response('ok', { headers: { 'cache-control': 'max-age=60', 'content-length': '2' } })
const config = (name: string, value: unknown) => byName[name]!.schema!()!.parse(value)

test('the registry lists each built-in once, in phase order, and the route keys are theirs', () => {
  expect(BUILTIN_POLICIES.map((p) => p.name)).toEqual(['responseHeaders', 'cors', 'limits', 'auth', 'rateLimit', 'rewrite', 'redirect', 'split', 'mirror', 'cache', 'compression'])
  const phases = BUILTIN_POLICIES.map((p) => PHASES.indexOf(p.phase))
  expect(phases).toEqual([...phases].sort((a, b) => a - b))
  expect(Object.keys(routePolicyShape()).sort()).toEqual(['auth', 'cache', 'compression', 'cors', 'mirror', 'rateLimit', 'redirect', 'responseHeaders', 'rewrite', 'split'])
})

test('a policy the route does not configure builds nothing', () => {
  for (const name of ['responseHeaders', 'cors', 'auth', 'rateLimit', 'rewrite', 'redirect', 'split', 'mirror']) expect(byName[name]!.build(undefined as never, policyContext())).toBeUndefined()
  // The cache's key has defaults: enabled false.
  expect(byName.cache!.build(config('cache', {}) as never, policyContext({ stores: { responseCache: undefined } }))).toBeUndefined()
  // Compression is off by default, off for a route that says false, and never on the gateway's own routes.
  const compressing = { settings: { compression: { enabled: true } } }
  expect(byName.compression!.build(undefined as never, policyContext())).toBeUndefined()
  expect(byName.compression!.build(false as never, policyContext(compressing))).toBeUndefined()
  const own = policyContext(compressing)
  expect(byName.compression!.build(undefined as never, { ...own, route: { ...own.route, config: undefined } })).toBeUndefined()
  expect(byName.compression!.build(undefined as never, policyContext(compressing))).toBeDefined()
})

describe('each built-in through build(config, context)', () => {
  test('responseHeaders sets its fields on whatever comes back', async () => {
    const stage = byName.responseHeaders!.build(config('responseHeaders', { set: { 'strict-transport-security': 'max-age=1' } }) as never, policyContext())!
    const res = await stage(testExchange('/'), ok)
    expect(res.headers.get('strict-transport-security')).toBe('max-age=1')
  })

  test('cors answers a preflight itself and decorates other answers', async () => {
    const context = policyContext({ route: { methods: ['GET'] } })
    const stage = byName.cors!.build(config('cors', { origin: ['https://app.example'] }) as never, context)!
    const preflight = await stage(testExchange('/', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } }), () => {
      throw new Error('a preflight is not forwarded')
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD')
    const answer = await stage(testExchange('/', { headers: { origin: 'https://app.example' } }), ok)
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example')
  })

  test('limits refuses an unlisted method with 405 and Allow, as an answer', async () => {
    const stage = byName.limits!.build(undefined as never, policyContext({ route: { methods: ['GET'] } }))!
    const res = (await stage(testExchange('/', { method: 'DELETE' }), ok)) as Response
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    expect(refusalOf(res)?.code).toBe('method_not_allowed')
    expect((await stage(testExchange('/'), ok)).status).toBe(200)
  })

  test('auth admits a known key, sets the identity, refuses others with 401 and counts them', async () => {
    const counted: string[] = []
    const settings = { consumers: [{ name: 'alice', apiKeys: ['sha256:' + Bun.SHA256.hash('a-key-of-sixteen-bytes', 'hex')] }] }
    const context = policyContext({ settings, counted })
    // The loader resolves keys to digests (checkSettings): here they are digests already.
    expect(byName.auth!.checkSettings!(context.settings)).toEqual([])
    const stage = byName.auth!.build(config('auth', { apiKey: {} }) as never, context)!
    const exchange = testExchange('/', { headers: { 'x-api-key': 'a-key-of-sixteen-bytes' } })
    expect((await stage(exchange, ok)).status).toBe(200)
    expect(exchange.identity?.consumer).toBe('alice')
    const refused = await stage(testExchange('/', { headers: { 'x-api-key': 'another-key-of-sixteen' } }), ok)
    expect(refused.status).toBe(401)
    expect(counted).toEqual(['auth:unknown'])
  })

  test('rateLimit refuses past the burst with 429, from the store in the context', async () => {
    const counted: string[] = []
    const stage = byName.rateLimit!.build(config('rateLimit', { requestsPerSecond: 1, burst: 2, key: 'ip' }) as never, policyContext({ stores: { rateLimits: localStore() }, counted }))!
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await stage(testExchange('/', { peer: '192.0.2.1' }), ok)).status)
    expect(statuses).toEqual([200, 200, 429])
    expect(counted).toEqual(['rateLimited'])
  })

  test('compression encodes what comes back with the negotiated coding and counts it', async () => {
    const counted: string[] = []
    const stage = byName.compression!.build(config('compression', { enabled: true }) as never, policyContext({ counted }))!
    const text = 'compressible text '.repeat(200)
    const res = await stage(testExchange('/', { headers: { 'accept-encoding': 'gzip, br' } }), () => new Response(text, { headers: { 'content-type': 'text/plain', 'content-length': String(text.length) } }))
    expect(res.headers.get('content-encoding')).toBe('br')
    expect(res.headers.get('vary')).toBe('Accept-Encoding')
    expect(new TextDecoder().decode(brotliDecompressSync(await res.bytes()))).toBe(text)
    expect(counted).toEqual(['compressed:br'])
  })

  test('cache calls next on a miss and answers the next request itself', async () => {
    const responseCache = createResponseCache({ store: createCacheStore({ maxEntries: 10, maxBytes: 1 << 20, maxObjectBytes: 1 << 16 }), maxObjectBytes: 1 << 16 })
    const stage = byName.cache!.build(config('cache', { enabled: true }) as never, policyContext({ stores: { responseCache } }))!
    let calls = 0
    const origin: Handler = (exchange) => {
      calls++
      return ok(exchange)
    }
    const first = await stage(testExchange('/a', { headers: { host: 'gw.example' } }), origin)
    const second = await stage(testExchange('/a', { headers: { host: 'gw.example' } }), origin)
    expect([first.headers.get('x-cache-status'), second.headers.get('x-cache-status')]).toEqual(['MISS', 'HIT'])
    expect(await second.text()).toBe('ok')
    expect(calls).toBe(1)
  })
})
