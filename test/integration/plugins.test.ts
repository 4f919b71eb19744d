/**
 * Plugins through the real start path: a module of the user's from a temp directory (named
 * relative to the config file), a Hono middleware from config (basic-auth), placement around
 * the cache, a throwing plugin, a bad plugin config and a failing build (exit 2), a SIGHUP
 * that picks up an edited plugin (and rejects a broken one), the three examples, and the
 * route's response headers and CORS on the gateway's own refusals.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'
import { events, expectCleanOutput, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

const EXAMPLES = join(import.meta.dir, '..', '..', 'examples', 'plugins')

/** A plugin module in `dir`: plain objects, no import needed (definePlugin only adds types). */
const MODULES = {
  'count.ts': `export default {
    build(config, context) {
      const seen = context.metrics.counter(config.counter, 'requests the plugin saw')
      return function count(exchange, next) { seen(); return next(exchange) }
    },
  }`,
  'throws.ts': `export default {
    build: () => function throws() { throw new Error('boom at /secret/path 10.0.0.9') },
  }`,
  'not-a-response.ts': `export default { build: () => () => 'hello' }`,
  'build-fails.ts': `export default { build() { throw new Error('cannot start') } }`,
  // The version comes from a module the plugin imports: a reload must see an edit there too.
  'versioned.ts': `import { VERSION } from './version-value.ts'
  export default { build: () => async (exchange, next) => { const res = await next(exchange); res.headers.set('x-plugin-version', VERSION); return res } }`,
  'version-value.ts': `export const VERSION = '1'`,
  'worker-only-fail.ts': `export default { build: (config, context) => { if (context.stores.rateLimits) throw new Error('fails only in a worker'); return (e, n) => n(e) } }`,
  'bad-counter.ts': `export default { build: (config, context) => { context.metrics.counter('Bad-Name', 'x'); return (e, n) => n(e) } }`,
}

let origin: CacheOrigin
let dir: string

beforeAll(() => {
  origin = startCacheOrigin()
  dir = mkdtempSync(join(tmpdir(), 'gw-plugins-'))
  for (const [name, text] of Object.entries(MODULES)) writeFileSync(join(dir, name), text)
})

afterAll(() => origin.stop())

const JWT_SECRET = 'a-secret-of-thirty-two-bytes-or-more!!'
const bearer = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET))

describe('plugins on a running gateway', () => {
  let gw: GatewayProcess

  beforeAll(async () => {
    gw = await startGateway(
      {
        upstreams: { origin: { targets: [origin.origin] } },
        plugins: {
          before: { module: './count.ts', config: { counter: 'before' }, phase: 'beforeCache' },
          after: { module: './count.ts', config: { counter: 'after' }, phase: 'afterCache' },
          throws: { module: './throws.ts' },
          weird: { module: './not-a-response.ts' },
          versioned: { module: './versioned.ts' },
          login: { hono: { module: 'hono/basic-auth', export: 'basicAuth', options: { username: 'admin', password: 'open-sesame' } } },
          stamp: { module: join(EXAMPLES, 'header-injector.ts'), config: { request: { 'x-env': 'test' }, response: { 'x-served-by': 'gw' } } },
          office: { module: join(EXAMPLES, 'ip-allow-list.ts'), config: { allow: ['127.0.0.0/8'] } },
          elsewhere: { module: join(EXAMPLES, 'ip-allow-list.ts'), config: { allow: ['192.0.2.0/24'] } },
          tenant: { module: join(EXAMPLES, 'tenant-from-jwt.ts'), config: { claim: 'org' } },
        },
        routes: [
          { path: '/cached', upstream: 'origin', cache: { enabled: true }, plugins: ['before', 'after'] },
          { path: '/throws', upstream: 'origin', plugins: ['throws'] },
          { path: '/weird', upstream: 'origin', plugins: ['weird'] },
          { path: '/versioned', upstream: 'origin', plugins: ['versioned'] },
          { path: '/login', upstream: 'origin', plugins: ['login'] },
          { path: '/stamped', upstream: 'origin', plugins: ['stamp', 'office'] },
          { path: '/elsewhere', upstream: 'origin', plugins: ['elsewhere'] },
          { path: '/tenant', upstream: 'origin', auth: { jwt: { algorithms: ['HS256'], secret: JWT_SECRET } }, plugins: ['tenant'] },
        ],
      },
      {},
      { dir }
    )
  })

  afterAll(async () => {
    expect(await gw.stop()).toBe(0)
  })

  test('a plugin before the cache sees every request; one after it sees the misses only', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await fetch(gw.url('/cached/x?cc=max-age%3D600'))
      await res.arrayBuffer()
      expect(res.headers.get('x-cache-status')).toBe(i === 0 ? 'MISS' : 'HIT')
    }
    const metrics = await scrape(gw.adminPort)
    expect(sumOf(metrics, 'gateway_plugin_before_total', { route: '/cached' })).toBe(4)
    expect(sumOf(metrics, 'gateway_plugin_after_total', { route: '/cached' })).toBe(1)
    expect(origin.count('/cached/x')).toBe(1)
  })

  test('a throwing plugin gives a 500 plugin_error with the request id, nothing of its message, and one log line per 10 s', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(gw.url('/throws/x'))
      const text = await res.text()
      expect(res.status).toBe(500)
      expect(JSON.parse(text)).toEqual({ error: 'plugin_error', status: 500, requestId: res.headers.get('x-request-id') })
      expect(text).not.toMatch(/boom|secret|10\.0\.0\.9/)
    }
    await waitFor(() => events(gw.output(), 'plugin_error').length > 0, 5000, 'the plugin_error line')
    const lines = events(gw.output(), 'plugin_error').filter((e) => e.plugin === 'throws')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 'error', plugin: 'throws', error: 'Error' })
    expect(gw.output()).not.toContain('boom')
    expect(origin.count('/throws/x')).toBe(0)
  })

  test('a plugin answering something other than a Response is a plugin_error too', async () => {
    const res = await fetch(gw.url('/weird/x'))
    expect(res.status).toBe(500)
    expect(((await res.json()) as { error: string }).error).toBe('plugin_error')
  })

  test("hono's basic-auth from config: 401 with its challenge, then through with the credentials", async () => {
    const refused = await fetch(gw.url('/login/x'))
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('Basic')
    const ok = await fetch(gw.url('/login/x'), { headers: { authorization: `Basic ${btoa('admin:open-sesame')}` } })
    expect(ok.status).toBe(200)
    expect(origin.requests.at(-1)!.path).toBe('/login/x')
  })

  test('examples: the header injector stamps both ways; the allow-list lets loopback in and keeps others out', async () => {
    const res = await fetch(gw.url('/stamped/x'))
    await res.arrayBuffer()
    expect(res.status).toBe(200)
    expect(res.headers.get('x-served-by')).toBe('gw')
    expect(origin.requests.at(-1)!.headers['x-env']).toBe('test')
    const before = origin.requests.length
    const refused = await fetch(gw.url('/elsewhere/x'))
    expect(refused.status).toBe(403)
    expect(origin.requests.length).toBe(before)
    expect(sumOf(await scrape(gw.adminPort), 'gateway_plugin_ip_allow_list_refused_total', { route: '/elsewhere' })).toBe(1)
  })

  test('example: the tenant comes from a verified JWT claim, into the path and a header; no claim is a 403', async () => {
    const res = await fetch(gw.url('/tenant/orders'), { headers: { authorization: `Bearer ${await bearer({ org: 'acme' })}` } })
    await res.arrayBuffer()
    expect(res.status).toBe(200)
    const seen = origin.requests.at(-1)!
    expect(seen.path).toBe('/acme/tenant/orders')
    expect(seen.headers['x-tenant']).toBe('acme')
    expect((await fetch(gw.url('/tenant/orders'), { headers: { authorization: `Bearer ${await bearer({})}` } })).status).toBe(403)
    // Auth runs first: no token is the JWT's 401, before the plugin.
    expect((await fetch(gw.url('/tenant/orders'))).status).toBe(401)
  })

  test('SIGHUP imports an edited plugin afresh; an edit whose build fails is rejected and the old one keeps serving', async () => {
    const version = async () => {
      const res = await fetch(gw.url('/versioned/x'))
      await res.arrayBuffer()
      return res.headers.get('x-plugin-version')
    }
    expect(await version()).toBe('1')
    writeFileSync(join(dir, 'version-value.ts'), `export const VERSION = '2'`)
    gw.proc.kill('SIGHUP')
    await waitFor(async () => (await version()) === '2', 15_000, 'the edited plugin')
    writeFileSync(join(dir, 'versioned.ts'), `export default { build() { throw new Error('broken edit') } }`)
    gw.proc.kill('SIGHUP')
    await waitFor(() => events(gw.output(), 'reload_rejected').length === 1, 15_000, 'the rejected reload')
    expect(JSON.stringify(events(gw.output(), 'reload_rejected')[0]!.errors)).toContain('plugins.versioned: build failed')
    expect(await version()).toBe('2')
  }, 40_000)
})

describe('a plugin that cannot start stops the start', () => {
  const start = async (config: Record<string, unknown>) => {
    const { proc, output } = spawnMain(['--config', writeConfig({ upstreams: { origin: { targets: ['http://127.0.0.1:1'] } }, ...config }, 'gateway.json', dir)])
    const code = await proc.exited
    await output.ended
    return { code, text: output() }
  }

  test('a route naming a plugin that is not declared exits 2 before anything listens', async () => {
    const { code, text } = await start({
      plugins: {
        stamp: { module: join(EXAMPLES, 'header-injector.ts'), config: { request: { 'bad header': 'x' }, extra: 1 } },
        office: { module: join(EXAMPLES, 'ip-allow-list.ts'), config: { allow: ['10.0.0.0/33'] } },
      },
      routes: [{ path: '/', upstream: 'origin', plugins: ['stamp', 'missing'] }],
    })
    expect(code).toBe(2)
    expect(text).toContain('routes[0].plugins[1]: no plugin named "missing"')
    expect(code).toBe(2)
    expect(text).not.toContain('"event":"listening"')
  })

  test('wrong fields of plugin configs exit 2 naming the plugin and the field, every one at once', async () => {
    const { code, text } = await start({
      plugins: {
        stamp: { module: join(EXAMPLES, 'header-injector.ts'), config: { request: { 'bad header': 'x' }, extra: 1 } },
        office: { module: join(EXAMPLES, 'ip-allow-list.ts'), config: { allow: ['10.0.0.0/33'] } },
      },
      routes: [{ path: '/', upstream: 'origin', plugins: ['stamp', 'office'] }],
    })
    expect(code).toBe(2)
    expect(text).toContain('plugins.stamp.config.request.bad header: Invalid key in record')
    expect(text).toContain('plugins.stamp.config: Unrecognized key: "extra"')
    expect(text).toContain('plugins.office.config.allow[0]: must be an IP address or a CIDR range')
  })

  test('a counter name the metrics would refuse, and a Hono factory named without options, exit 2', async () => {
    const counter = await start({ plugins: { bad: { module: './bad-counter.ts' } }, routes: [{ path: '/', upstream: 'origin', plugins: ['bad'] }] })
    expect(counter.code).toBe(2)
    expect(counter.text).toContain('plugins.bad: build failed for route / (Error: counter name "Bad-Name" must be lower-case')
    const factory = await start({ plugins: { login: { hono: { module: 'hono/basic-auth', export: 'basicAuth' } } }, routes: [{ path: '/', upstream: 'origin', plugins: ['login'] }] })
    expect(factory.code).toBe(2)
    expect(factory.text).toContain('plugins.login.hono.export: takes 1 argument(s)')
  })

  test('a build that fails only in a worker: the worker says which plugin, and the start gives up', async () => {
    const { code, text } = await start({ server: { workers: 1, port: 0 }, admin: { port: 0 }, plugins: { picky: { module: './worker-only-fail.ts' } }, routes: [{ path: '/', upstream: 'origin', plugins: ['picky'] }] })
    expect(code).toBe(1)
    expect(events(text, 'worker_start_failed')[0]).toMatchObject({ error: 'plugin_build_failed', reason: 'plugins.picky: build failed for route / (Error: fails only in a worker)' })
    expect(text).not.toContain('"event":"listening"')
  }, 30_000)

  test('a module that is not there, and a build that throws, exit 2', async () => {
    const missing = await start({ plugins: { gone: { module: './nope.ts' } }, routes: [{ path: '/', upstream: 'origin', plugins: ['gone'] }] })
    expect(missing.code).toBe(2)
    expect(missing.text).toContain('plugins.gone.module: cannot find ./nope.ts')
    const failing = await start({ plugins: { bad: { module: './build-fails.ts' } }, routes: [{ path: '/', upstream: 'origin', plugins: ['bad'] }] })
    expect(failing.code).toBe(2)
    expect(failing.text).toContain('plugins.bad: build failed for route / (Error: cannot start)')
  })
})

describe("the route's response headers and CORS on the gateway's own refusals", () => {
  let gw: GatewayProcess

  beforeAll(async () => {
    gw = await startGateway({
      upstreams: { origin: { targets: [origin.origin] } },
      routes: [
        {
          path: '/strict',
          upstream: 'origin',
          methods: ['GET'],
          auth: { apiKey: {}, failureLimit: 0 },
          rateLimit: { requestsPerSecond: 1, burst: 1 },
          cors: { origin: ['https://app.example'] },
          responseHeaders: { set: { 'strict-transport-security': 'max-age=63072000' } },
        },
      ],
      consumers: [{ name: 'app', apiKeys: ['a-key-of-sixteen-bytes-or-more'] }],
    })
  })

  afterAll(async () => {
    expect(await gw.stop()).toBe(0)
    expectCleanOutput(gw.output())
  })

  test('405, 401 and 429 carry Strict-Transport-Security and the CORS fields', async () => {
    const headers = { origin: 'https://app.example' }
    const key = { ...headers, 'x-api-key': 'a-key-of-sixteen-bytes-or-more' }
    const statuses: number[] = []
    for (const [method, sent] of [['POST', key], ['GET', headers], ['GET', key], ['GET', key]] as const) {
      const res = await fetch(gw.url('/strict/x'), { method, headers: sent })
      await res.arrayBuffer()
      statuses.push(res.status)
      expect(res.headers.get('strict-transport-security')).toBe('max-age=63072000')
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    }
    expect(statuses).toEqual([405, 401, 200, 429])
  })
})
