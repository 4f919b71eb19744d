import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyEnvOverrides, configSyntaxError, formatPath, parseConfigText, validateConfig } from './load.ts'
import { readEnv } from './env.ts'
import { makeCertificate, makeExpiredCertificate } from '../../test/fixtures/certs.ts'

const minimal = () => ({
  upstreams: { users: { targets: ['http://10.0.0.5:3000'] } },
  routes: [{ path: '/users', upstream: 'users' }],
})

function errorsOf(raw: unknown, overrides = {}): string[] {
  const result = validateConfig(raw, overrides)
  if (result.ok) throw new Error('expected the config to be refused')
  return result.errors
}

describe('validateConfig', () => {
  test('fills every default from the schema', () => {
    const result = validateConfig(minimal())
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const { server, admin, upstreams, routes } = result.config
    expect(server).toMatchObject({ host: '0.0.0.0', port: 8080, workers: 'auto', idleTimeoutSeconds: 5, maxBodyBytes: 10485760, trustedProxies: [] })
    expect(admin).toEqual({ host: '127.0.0.1', port: 9090, allowedHosts: [] })
    expect(upstreams.users).toMatchObject({ timeoutMs: 30000, keepAlive: { maxIdleSockets: 64, idleTimeoutSeconds: 4 }, preserveHost: false })
    expect(routes[0]).toMatchObject({ stripPrefix: false, cache: { enabled: false } })
  })

  test('metrics.bearerToken is still accepted as the admin token; two different tokens are an error', () => {
    const token = 'x'.repeat(16)
    const result = validateConfig({ ...minimal(), metrics: { bearerToken: token } })
    expect(result.ok && result.config.admin.bearerToken).toBe(token)
    const both = validateConfig({ ...minimal(), metrics: { bearerToken: token }, admin: { bearerToken: 'y'.repeat(16) } })
    expect(both.ok).toBe(false)
    if (!both.ok) expect(both.errors).toContain('metrics.bearerToken: differs from admin.bearerToken; set only admin.bearerToken')
  })

  test('an empty file is a valid config with no routes', () => {
    expect(validateConfig({}).ok).toBe(true)
  })

  test('admin.bearerToken may come from the environment (a Kubernetes Secret); it is checked once resolved', () => {
    process.env.TEST_ADMIN_TOKEN = 't'.repeat(20)
    const result = validateConfig({ ...minimal(), admin: { bearerToken: 'env:TEST_ADMIN_TOKEN' } })
    expect(result.ok && result.config.admin.bearerToken).toBe('t'.repeat(20))
    process.env.TEST_ADMIN_TOKEN = 'short'
    expect(errorsOf({ ...minimal(), admin: { bearerToken: 'env:TEST_ADMIN_TOKEN' } })).toEqual(['admin.bearerToken: must be at least 16 characters'])
    delete process.env.TEST_ADMIN_TOKEN
    expect(errorsOf({ ...minimal(), admin: { bearerToken: 'env:TEST_ADMIN_TOKEN' } })).toEqual(['admin.bearerToken: environment variable TEST_ADMIN_TOKEN is not set'])
    expect(errorsOf({ ...minimal(), admin: { bearerToken: 'too-short' } })).toEqual(['admin.bearerToken: must be at least 16 characters'])
  })

  test('the result is deeply frozen', () => {
    const result = validateConfig(minimal())
    if (!result.ok) throw new Error('invalid')
    expect(Object.isFrozen(result.config.upstreams.users!.targets)).toBe(true)
    expect(Object.isFrozen(result.config.routes[0])).toBe(true)
  })

  test.each([
    [{ server: { prot: 1 } }, 'server.prot: unknown key'],
    [{ nonsense: true }, 'nonsense: unknown key'],
    [{ server: { port: '80' } }, 'server.port: expected a whole number from 0 to 65535, got "80" (a string)'],
    [{ server: { port: 70000 } }, 'server.port: expected a whole number from 0 to 65535, got 70000'],
    [{ server: { workers: 'many' } }, 'server.workers: must be "auto" or a whole number from 1 to 256'],
    [{ server: { idleTimeoutSeconds: 300 } }, 'server.idleTimeoutSeconds: expected a whole number from 1 to 255, got 300'],
    [{ server: { trustedProxies: ['10.0.0.0/33'] } }, 'server.trustedProxies[0]: must be an IP address or CIDR range'],
    [{ server: { trustedProxies: ['lb.internal'] } }, 'server.trustedProxies[0]: must be an IP address or CIDR range'],
    [{ server: { port: 9000 }, admin: { port: 9000 } }, 'admin.port: must differ from server.port (9000)'],
    [{ upstreams: { u: { targets: [] } } }, 'upstreams.u.targets: needs at least one target'],
    [{ upstreams: { u: { targets: ['10.0.0.5:3000'] } } }, 'upstreams.u.targets[0]: must start with http:// or https://'],
    [{ upstreams: { u: { targets: ['http://exa mple'] } } }, 'upstreams.u.targets[0]: not a URL: "http://exa mple"'],
    [{ upstreams: { u: { targets: ['http://h/x?y=1'] } } }, 'upstreams.u.targets[0]: must not have a query or fragment'],
    [{ upstreams: { u: { targets: ['http://user:pw@h'] } } }, 'upstreams.u.targets[0]: must not carry credentials'],
    [{ upstreams: { u: { targets: ['http://h'], keepAlive: { max: 1 } } } }, 'upstreams.u.keepAlive.max: unknown key'],
    [{ routes: [{ path: 'users', upstream: 'u' }] }, 'routes[0].path: must start with "/"'],
    [{ routes: [{ path: '/a?b', upstream: 'u' }] }, 'routes[0].path: must be a plain path'],
    [{ routes: [{ path: '/users/:id', upstream: 'u' }] }, 'routes[0].path: must not contain'],
    [{ routes: [{ path: '/files/*', upstream: 'u' }] }, 'routes[0].path: must not contain'],
    [{ routes: [{ path: '/a', upstream: 'missing' }] }, 'routes[0].upstream: no upstream named "missing"'],
    [{ routes: [{ path: '/a', upstream: 'constructor' }] }, 'routes[0].upstream: no upstream named "constructor"'],
    [{ upstreams: { users: { targets: ['http://h'] } }, routes: [{ path: '/a', upstream: 'user' }] }, 'routes[0].upstream: no upstream named "user" — did you mean "users"?'],
    [{ routes: [{ path: '/a', upstream: 'u', methods: ['TRACE'] }] }, 'routes[0].methods[0]: expected one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", got "TRACE"'],
    [{ routes: [{ path: '/a', upstream: 'u', host: 'a.example:80' }] }, 'routes[0].host: must be a host name without port'],
    [{ routes: [{ path: '/a', upstream: 'u', cache: { enabled: 'yes' } }] }, 'routes[0].cache.enabled: expected true or false, got "yes" (a string)'],
    [{ cache: { shared: { maxBytes: 4 * 1024 ** 3 } } }, 'cache.shared.maxBytes:'],
  ])('%j → %s', (raw, message) => {
    const errors = errorsOf({ upstreams: { u: { targets: ['http://h'] } }, ...raw })
    expect(errors.some((e) => e.startsWith(message))).toBe(true)
  })

  test('duplicate routes are refused: same host and path, trailing slash ignored', () => {
    const errors = errorsOf({
      upstreams: { u: { targets: ['http://h'] } },
      routes: [
        { path: '/a', upstream: 'u' },
        { path: '/a/', upstream: 'u', name: 'second' },
        { path: '/a', upstream: 'u', host: 'x.example', name: 'third' },
      ],
    })
    expect(errors).toEqual(['routes[1].path: duplicate of routes[0] (same host and path)'])
  })

  test('duplicate route names are refused', () => {
    const errors = errorsOf({
      upstreams: { u: { targets: ['http://h'] } },
      routes: [
        { path: '/a', upstream: 'u', name: 'api' },
        { path: '/b', upstream: 'u', name: 'api' },
      ],
    })
    expect(errors).toEqual(['routes[1].name: "api" is already used by routes[0]'])
  })

  test('every bad field is reported at once', () => {
    const errors = errorsOf({
      server: { prot: 1, port: -1 },
      upstreams: { u: { targets: ['ftp://x'] } },
      routes: [{ path: '/a', upstream: 'nope' }],
    })
    expect(errors).toHaveLength(4)
  })
})

describe('env overrides', () => {
  test('readEnv takes only the documented variables', () => {
    const env = readEnv({ PORT: '8081', GATEWAY_WORKERS: '4', GATEWAY_ADMIN_PORT: '', GATEWAY_CONFIG: 'g.yaml', HOME: '/root' })
    expect(env).toEqual({ configPath: 'g.yaml', overrides: { PORT: '8081', GATEWAY_WORKERS: '4' } })
  })

  test('overrides win over the file and are validated like it', () => {
    const raw = applyEnvOverrides({ ...minimal(), server: { port: 1 } }, { PORT: '8081', GATEWAY_WORKERS: 'auto' })
    const result = validateConfig(raw)
    expect(result.ok && result.config.server).toMatchObject({ port: 8081, workers: 'auto' })
  })

  test('REDIS_URL configures redis, with the defaults; a global limit without it is named', () => {
    const raw = applyEnvOverrides(minimal(), { REDIS_URL: 'redis://10.0.0.9:6379/2' })
    const result = validateConfig(raw)
    expect(result.ok && result.config.redis).toEqual({ url: 'redis://10.0.0.9:6379/2', keyPrefix: 'gateway:', connectTimeoutMs: 1000, commandTimeoutMs: 100 })
    const global = { ...minimal(), routes: [{ path: '/users', upstream: 'users', rateLimit: { requestsPerSecond: 5, scope: 'global' } }] }
    expect(errorsOf(global)).toEqual(['routes[0].rateLimit.scope: global needs redis.url (or REDIS_URL)'])
    expect(validateConfig({ ...global, redis: { url: 'redis://r:6379' } }).ok).toBe(true)
    expect(errorsOf({ ...minimal(), redis: { url: 'http://r:6379' } })).toEqual(['redis.url: must be a redis:// or rediss:// URL, got "http://r:6379"'])
  })

  test('redis credentials and busSecret resolve from env: and file: at load; each bad one is named, never shown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-load-'))
    writeFileSync(join(dir, 'password'), 's3cret-password\n')
    writeFileSync(join(dir, 'ca.pem'), 'not a certificate')
    process.env.TEST_LOAD_REDIS_USER = 'gateway'
    process.env.TEST_LOAD_BUS_SECRET = 'b'.repeat(32)
    try {
      const redis = { url: 'rediss://r:6380', username: 'env:TEST_LOAD_REDIS_USER', password: `file:${join(dir, 'password')}`, busSecret: 'env:TEST_LOAD_BUS_SECRET', tls: { serverName: 'redis.internal' } }
      const result = validateConfig({ ...minimal(), redis })
      expect(result.ok && result.config.redis).toMatchObject({ username: 'gateway', password: 's3cret-password', busSecret: 'b'.repeat(32), tls: { serverName: 'redis.internal', insecureSkipVerify: false } })
      const bad = { url: 'redis://:inline@r:6379', password: 'env:TEST_LOAD_UNSET', busSecret: 'short', tls: { caFile: join(dir, 'ca.pem') } }
      expect(errorsOf({ ...minimal(), redis: bad }).sort()).toEqual([
        'redis.busSecret: must be at least 32 bytes',
        'redis.password: environment variable TEST_LOAD_UNSET is not set',
        'redis.password: the url carries credentials too; keep them in redis.username/redis.password only',
        `redis.tls.caFile: ${join(dir, 'ca.pem')} holds no PEM certificate`,
        'redis.tls: needs a rediss:// url',
      ])
      // REDIS_BUS_SECRET stays a string, even all digits.
      const digits = '1'.repeat(40)
      const fromEnv = validateConfig(applyEnvOverrides(minimal(), { REDIS_URL: 'redis://r:6379', REDIS_BUS_SECRET: digits }))
      expect(fromEnv.ok && fromEnv.config.redis?.busSecret).toBe(digits)
    } finally {
      delete process.env.TEST_LOAD_REDIS_USER
      delete process.env.TEST_LOAD_BUS_SECRET
    }
  })

  test('a bad override names the variable', () => {
    const overrides = { GATEWAY_WORKERS: 'lots' }
    const errors = errorsOf(applyEnvOverrides(minimal(), overrides), overrides)
    expect(errors[0]).toStartWith('server.workers (from GATEWAY_WORKERS): must be')
  })
})

describe('tracing', () => {
  test('defaults; exporter headers resolve from env: and file: at load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-load-'))
    writeFileSync(join(dir, 'key'), 'file-key\n')
    process.env.TEST_LOAD_OTLP_KEY = 'env-key'
    try {
      const result = validateConfig({ ...minimal(), tracing: { endpoint: 'http://collector:4318/v1/traces', headers: { 'x-api-key': 'env:TEST_LOAD_OTLP_KEY', authorization: `file:${join(dir, 'key')}` } } })
      expect(result.ok && result.config.tracing).toEqual({
        endpoint: 'http://collector:4318/v1/traces',
        sampleRatio: 1,
        trustIncoming: false,
        serviceName: 'bun-gateway',
        headers: { 'x-api-key': 'env-key', authorization: 'file-key' },
        resourceAttributes: {},
        queueSize: 2048,
        batchSize: 512,
        intervalMs: 5000,
        exportTimeoutMs: 10_000,
      })
    } finally {
      delete process.env.TEST_LOAD_OTLP_KEY
    }
  })

  test('every bad key is named', () => {
    const tracing = { endpoint: 'grpc://collector:4317', sampleRatio: 1.5, trustIncoming: ['10.0.0.0/33'], headers: { 'bad name': 'x', 'x-key': 'env:TEST_LOAD_UNSET' }, queueSize: 10, batchSize: 20 }
    expect(errorsOf({ ...minimal(), tracing }).sort()).toEqual([
      'tracing.batchSize: must not exceed tracing.queueSize (10)',
      'tracing.endpoint: must be an http:// or https:// URL, got "grpc://collector:4317"',
      "tracing.headers.bad name: not a valid name: expected one matching /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/",
      'tracing.headers.x-key: environment variable TEST_LOAD_UNSET is not set',
      'tracing.sampleRatio: expected a number from 0 to 1, got 1.5',
      'tracing.trustIncoming[0]: must be an IP address or CIDR range, got "10.0.0.0/33"',
    ])
  })
})

test('tracing header values: a control character or one above U+00FF is refused, without the value in the message', () => {
  const tracing = { endpoint: 'http://collector:4318/v1/traces', headers: { 'x-a': 'key\r\nx-injected: 1', 'x-b': 'clé-€', 'x-c': 'clé' } }
  expect(errorsOf({ ...minimal(), tracing }).sort()).toEqual([
    'tracing.headers.x-a: must not contain control characters',
    'tracing.headers.x-b: must be Latin-1 text (a character above U+00FF is not a byte)',
  ])
})

test('route header rule values: a control character or one above U+00FF is refused at load, not on every request, and the value is not shown', () => {
  const base = minimal()
  const route = base.routes[0]!
  const routes = [
    { ...route, path: '/a', requestHeaders: { set: { 'x-a': 'key\r\nx-injected: 1' }, add: { 'x-ok': 'clé\tlatin-1' } } },
    { ...route, path: '/b', responseHeaders: { add: { 'x-b': 'a\nb' }, set: { 'x-c': '€uro' } } },
  ]
  expect(errorsOf({ ...base, routes }).sort()).toEqual([
    'routes[0].requestHeaders.set.x-a: must not contain control characters',
    'routes[1].responseHeaders.add.x-b: must not contain control characters',
    'routes[1].responseHeaders.set.x-c: must be Latin-1 text (a character above U+00FF is not a byte)',
  ])
})

describe('parsing', () => {
  test('YAML and JSON files', () => {
    expect(parseConfigText('server:\n  port: 81\n', 'g.yaml')).toEqual({ server: { port: 81 } })
    expect(parseConfigText('{"server":{"port":81}}', 'g.json')).toEqual({ server: { port: 81 } })
    expect(parseConfigText('', 'g.yaml')).toEqual({})
  })

  test('paths are printed the way operators write them', () => {
    expect(formatPath(['routes', 0, 'upstream'])).toBe('routes[0].upstream')
    expect(formatPath(['upstreams', 'users', 'targets', 1])).toBe('upstreams.users.targets[1]')
  })
})

describe('consumers and their keys', () => {
  const base = { upstreams: { a: { targets: ['http://127.0.0.1:1'] } }, routes: [{ path: '/', upstream: 'a', auth: { apiKey: {} } }] }

  test('each key form resolves to a digest; nothing is kept in clear', () => {
    const result = validateConfig({ ...base, consumers: [{ name: 'x', apiKeys: ['plain-key-0123456', `sha256:${'AB'.repeat(32)}`] }] })
    if (!result.ok) throw new Error(result.errors.join('; '))
    expect(result.config.consumers[0]!.apiKeys).toEqual([Bun.SHA256.hash('plain-key-0123456', 'hex'), 'ab'.repeat(32)])
  })

  test('every bad key is named: unset env, unreadable file, short digest, a key two consumers share, a route with no keys', () => {
    const result = validateConfig({
      ...base,
      consumers: [
        { name: 'x', apiKeys: ['env:GW_SURELY_UNSET_VARIABLE', 'file:/nonexistent/key', 'sha256:abc', 'shared-key-0123456'] },
        { name: 'y', apiKeys: ['shared-key-0123456'] },
        { name: 'y', apiKeys: ['other-key-0123456'] },
      ],
    })
    expect(result.ok ? [] : result.errors).toEqual([
      'consumers[0].apiKeys[0]: environment variable GW_SURELY_UNSET_VARIABLE is not set',
      'consumers[0].apiKeys[1]: file /nonexistent/key cannot be read',
      'consumers[0].apiKeys[2]: sha256: needs 64 hex digits',
      'consumers[1].apiKeys[0]: the same key as one of consumers[0]',
      'consumers[2].name: "y" is already used by consumers[1]',
    ])
    const none = validateConfig(base)
    expect(none.ok ? [] : none.errors).toEqual(['routes[0].auth.apiKey: no consumer has an API key'])
    const both = validateConfig({ ...base, routes: [{ path: '/', upstream: 'a', auth: { apiKey: { header: 'x-k', query: 'k' } } }] })
    expect(both.ok ? [] : both.errors).toEqual(['routes[0].auth.apiKey: give header or query, not both'])
  })

  test('a key under 16 bytes is refused once resolved (literal, env:, file:); a sha256: digest is exempt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'))
    writeFileSync(join(dir, 'short.key'), 'fifteen-bytes!!\n')
    process.env.GW_TEST_SHORT_KEY = 'short'
    try {
      const result = validateConfig({
        ...base,
        // 15 bytes, then 16 (accepted); "é" is two bytes, so 8 of them are 16 bytes.
        consumers: [{ name: 'x', apiKeys: ['7', 'env:GW_TEST_SHORT_KEY', `file:${join(dir, 'short.key')}`, 'fifteen-bytes!!', 'sixteen-bytes!!!', 'éééééééé', `sha256:${'ab'.repeat(32)}`] }],
      })
      expect(result.ok ? [] : result.errors).toEqual([
        'consumers[0].apiKeys[0]: must be at least 16 bytes',
        'consumers[0].apiKeys[1]: must be at least 16 bytes',
        'consumers[0].apiKeys[2]: must be at least 16 bytes',
        'consumers[0].apiKeys[3]: must be at least 16 bytes',
      ])
    } finally {
      delete process.env.GW_TEST_SHORT_KEY
    }
  })
})

/** The message for a file that does not parse, as the start path prints it. */
function syntaxErrorOf(text: string, fileName: string): string {
  try {
    parseConfigText(text, fileName)
  } catch (err) {
    return configSyntaxError(fileName, text, err)
  }
  throw new Error('expected a syntax error')
}

describe('syntax errors say FILE:LINE:COL and show the line', () => {
  test('a line indented one space too far', () => {
    expect(syntaxErrorOf('server:\n  port: 80\n   host: x\n', 'gateway.yaml')).toBe(
      ['gateway.yaml:3:8: not valid YAML: unexpected token', '    3 |    host: x', '      |        ^'].join('\n')
    )
  })

  test('an unclosed bracket: the line and column where it opens', () => {
    expect(syntaxErrorOf('server: [unclosed', 'g.yaml')).toBe(['g.yaml:1:9: not valid YAML: unexpected token', '    1 | server: [unclosed', '      |         ^'].join('\n'))
    const open = 'upstreams:\n  users:\n    targets: [\n      "http://a",\n      "http://b"\n    timeoutMs: 5\n'
    expect(syntaxErrorOf(open, 'g.yaml')).toStartWith('g.yaml:3:14: not valid YAML: unexpected token\n    3 |     targets: [\n')
  })

  test('an unterminated quote, and a tab used as indentation (the caret keeps the tab)', () => {
    expect(syntaxErrorOf('a: 1\nb: "unterminated\nc: 2\n', 'g.yaml')).toStartWith('g.yaml:2:4: not valid YAML: unexpected character\n')
    expect(syntaxErrorOf('a: 1\n\tb: 2\n', 'g.yaml')).toBe(['g.yaml:2:2: not valid YAML: tab characters cannot be used as indentation', '    2 | \tb: 2', '      | \t^'].join('\n'))
  })

  test('JSON: the offset where the text stops being JSON', () => {
    expect(syntaxErrorOf('{"server": {"port": 80,}}', 'g.json')).toBe(['g.json:1:24: not valid JSON: property name must be a string literal', '    1 | {"server": {"port": 80,}}', '      |                        ^'].join('\n'))
    expect(syntaxErrorOf('{\n  "a": 1\n  "b": 2\n}', 'g.json')).toStartWith("g.json:3:3: not valid JSON: expected '}'\n    3 |   \"b\": 2\n")
  })
})

describe('unknown keys name the key they probably are', () => {
  const base = { upstreams: { users: { targets: ['http://h'] } } }

  test.each([
    [{ ...base, routes: [{ path: '/a', upsteam: 'users' }] }, 'routes[0].upsteam: unknown key "upsteam" — did you mean "upstream"?'],
    [{ server: { prot: 1 } }, 'server.prot: unknown key "prot" — did you mean "port"?'],
    [{ upstreams: { users: { targets: ['http://h'], timeout: 5 } } }, 'upstreams.users.timeout: unknown key "timeout" — did you mean "timeoutMs"?'],
    [{ nonsense: true }, 'nonsense: unknown key "nonsense" — expected one of server, redis, admin, cache, compression, metrics, log, tracing, dns, upstreams, routes, consumers, plugins'],
  ])('%j', (raw, message) => {
    expect(errorsOf(raw)).toContain(message)
  })

  test('a key dedented to the top level says where it belongs, and which entry it probably left', () => {
    const raw = Bun.YAML.parse('upstreams:\n  users:\n    targets: ["http://h"]\ntimeoutMs: 5000\n')
    expect(errorsOf(raw)).toEqual(['timeoutMs: unknown key "timeoutMs" — not a top-level key; it belongs under upstreams.<name> or upstreams.<name>.healthCheck (indent it under upstreams.users?)'])
    expect(errorsOf({ port: 8080 })).toEqual(['port: unknown key "port" — not a top-level key; it belongs under server or admin'])
  })

  test('a key at the wrong level below the top says so too', () => {
    const raw = Bun.YAML.parse('upstreams:\n  users:\n    targets: ["http://h"]\n    healthCheck:\n      path: /ping\n    intervalSeconds: 5\n')
    expect(errorsOf(raw)).toEqual(['upstreams.users.intervalSeconds: unknown key "intervalSeconds" — not a key of upstreams.<name>; it belongs under upstreams.<name>.healthCheck (indent it under upstreams.users.healthCheck?)'])
    expect(errorsOf({ ...base, routes: [{ path: '/a', upstream: 'users', timeoutMs: 5 }] })).toEqual([
      'routes[0].timeoutMs: unknown key "timeoutMs" — not a key of routes[]; it belongs under upstreams.<name> or upstreams.<name>.healthCheck',
    ])
  })

  test('a misspelled key at the wrong level: the near key where it lives', () => {
    expect(errorsOf({ timoutMs: 5 })).toEqual(['timoutMs: unknown key "timoutMs" — did you mean upstreams.<name>.timeoutMs?'])
  })
})

describe('type errors show the value received and what is expected', () => {
  test.each([
    [{ server: { port: 'eighty' } }, 'server.port: expected a whole number from 0 to 65535, got "eighty" (a string)'],
    [{ server: { port: null } }, 'server.port: expected a whole number from 0 to 65535, got nothing (an empty value)'],
    [{ server: { maxBodyBytes: -1 } }, 'server.maxBodyBytes: expected a whole number of at least 0, got -1'],
    [{ log: { sampleRate: 2 } }, 'log.sampleRate: expected a number from 0 to 1, got 2'],
    [{ log: { access: 'yes' } }, 'log.access: expected true, false or a mapping (enabled, file, fields), got "yes"'],
    [{ log: { access: { feilds: ['status'] } } }, 'log.access.feilds: unknown key "feilds" — did you mean "fields"?'],
    [{ server: { escapedSlashes: 'rejct' } }, 'server.escapedSlashes: expected one of "reject", "decode", "keep", got "rejct" — did you mean "reject"?'],
    [{ server: { host: 80 } }, 'server.host: expected a non-empty string such as "0.0.0.0", got 80 (a number); write it in quotes'],
    [{ upstreams: { 'user service': { targets: ['http://h'] } } }, 'upstreams.user service: not a valid name: expected one matching /^[A-Za-z0-9_-]+$/'],
    [{ server: { trustedProxies: '10.0.0.1' } }, 'server.trustedProxies: expected a list, each a string, got "10.0.0.1" (a string)'],
    [{ server: { workers: 'many' } }, 'server.workers: must be "auto" or a whole number from 1 to 256, got "many"'],
    [{ upstreams: { u: { targets: ['ftp://x'] } } }, 'upstreams.u.targets[0]: must start with http:// or https://, got "ftp://x"'],
    [{ upstreams: { u: { targets: [{ url: 'http://h', weight: 'x' }] } } }, 'upstreams.u.targets[0].weight: expected a number, got "x" (a string)'],
    [{ upstreams: { u: { targets: ['http://h'] } }, routes: [{ path: '/a' }] }, 'routes[0].upstream: required (or split, or redirect)'],
  ])('%j', (raw, message) => {
    expect(errorsOf(raw)).toEqual([message])
  })

  test('an access log field that does not exist is named, with the one meant', () => {
    const [message, ...more] = errorsOf({ log: { access: { fields: ['status', 'reqestId'] } } })
    expect(more).toEqual([])
    expect(message).toStartWith('log.access.fields[1]: expected one of "time", "requestId",')
    expect(message).toEndWith('got "reqestId" — did you mean "requestId"?')
  })

  test('a secret is never repeated: a token, a password, the credentials in a URL', () => {
    expect(errorsOf({ admin: { bearerToken: 1234567890123456 } })).toEqual(['admin.bearerToken: expected a non-empty string, got a number; write it in quotes'])
    expect(errorsOf({ redis: { url: 'http://:hunter2@r:6379' } })).toEqual(['redis.url: must be a redis:// or rediss:// URL, got "http://***@r:6379"'])
    expect(errorsOf({ metrics: { bearerToken: 'short-token' } })).toEqual(['metrics.bearerToken: must be at least 16 characters'])
  })
})

describe('one pass names every problem, schema and semantic together', () => {
  test('a type error, a wrong reference, bad header rules, a policy check and an unset key, in four sections', () => {
    const errors = errorsOf({
      server: { port: 'eighty' },
      admin: { bearerToken: 'short' },
      upstreams: { users: { targets: ['http://h'] } },
      routes: [
        { path: '/a', upstream: 'users', methods: ['TRACE'], rateLimit: { requestsPerSecond: 1, scope: 'global' } },
        { path: '/b', upstream: 'nope', requestHeaders: { set: { 'content-length': '1' } } },
      ],
      consumers: [{ name: 'x', apiKeys: ['env:GW_SURELY_UNSET_VARIABLE'] }],
    })
    expect(errors.sort()).toEqual([
      'admin.bearerToken: must be at least 16 characters',
      'consumers[0].apiKeys[0]: environment variable GW_SURELY_UNSET_VARIABLE is not set',
      'routes[0].methods[0]: expected one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", got "TRACE"',
      'routes[0].rateLimit.scope: global needs redis.url (or REDIS_URL)',
      'routes[1].requestHeaders.set: content-length is the gateway\'s to set',
      'routes[1].upstream: no upstream named "nope"',
      'server.port: expected a whole number from 0 to 65535, got "eighty" (a string)',
    ])
  })

  test('a check that reads a section with a schema error skips rather than report a follow-on', () => {
    // redis is there but broken: "global needs redis.url" would be wrong.
    const errors = errorsOf({ redis: { url: 'http://r' }, upstreams: { u: { targets: ['http://h'] } }, routes: [{ path: '/a', upstream: 'u', rateLimit: { requestsPerSecond: 1, scope: 'global' } }] })
    expect(errors).toEqual(['redis.url: must be a redis:// or rediss:// URL, got "http://r"'])
  })
})

describe('TLS material is parsed at load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-load-tls-'))
  const good = makeCertificate(dir, 'good')
  const other = makeCertificate(dir, 'other', 'other.test')
  const expired = makeExpiredCertificate(dir, 'expired')
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not PEM at all\n')
  const withTls = (tls: Record<string, string>) => ({ server: { tls } })

  test('a good pair (and a CA bundle of certificates) passes', () => {
    expect(validateConfig(withTls({ certFile: good.cert, keyFile: good.key, caFile: other.cert })).ok).toBe(true)
  })

  test('a swapped pair names both files', () => {
    expect(errorsOf(withTls({ certFile: good.key, keyFile: good.cert }))).toEqual([
      `server.tls.certFile: ${good.key} holds a private key, not a certificate (certFile and keyFile swapped?)`,
      `server.tls.keyFile: ${good.cert} holds a certificate, not a private key (certFile and keyFile swapped?)`,
    ])
  })

  test("a key of another certificate, an expired certificate, a file that is not PEM, a CA file that holds a key", () => {
    expect(errorsOf(withTls({ certFile: good.cert, keyFile: other.key }))).toEqual([`server.tls.keyFile: ${other.key} is not the key of the certificate in ${good.cert}`])
    expect(errorsOf(withTls({ certFile: expired.cert, keyFile: expired.key }))).toEqual([`server.tls.certFile: ${expired.cert} expired on 2020-02-01T00:00:00.000Z (CN=expired.test)`])
    expect(errorsOf(withTls({ certFile: garbage, keyFile: garbage }))).toEqual([`server.tls.certFile: ${garbage} holds no PEM certificate`, `server.tls.keyFile: ${garbage} holds no PEM private key`])
    expect(errorsOf(withTls({ certFile: good.cert, keyFile: good.key, caFile: good.key }))).toEqual([`server.tls.caFile: ${good.key} holds a private key, not a certificate`])
    expect(errorsOf(withTls({ certFile: join(dir, 'missing.pem'), keyFile: good.key }))).toEqual([`server.tls.certFile: ${join(dir, 'missing.pem')} cannot be read (ENOENT)`])
  })

  test('checked even when another section has a schema error', () => {
    expect(errorsOf({ server: { port: 'eighty', tls: { certFile: good.key, keyFile: good.cert } } })).toHaveLength(3)
  })
  test('server.http2 needs tls and server.h2c a port without it: each alone says which key to use', () => {
    const tls = { certFile: good.cert, keyFile: good.key }
    expect(validateConfig({ server: { tls, http2: true } }).ok).toBe(true)
    expect(validateConfig({ server: { h2c: true } }).ok).toBe(true)
    expect(errorsOf({ server: { http2: true } })).toEqual(['server.http2: needs server.tls (HTTP/2 is negotiated by TLS ALPN); for cleartext HTTP/2 with prior knowledge set server.h2c: true'])
    expect(errorsOf({ server: { tls, h2c: true } })).toEqual(['server.h2c: is cleartext HTTP/2, for a port without server.tls; with TLS set server.http2: true'])
  })

  const base = { certFile: good.cert, keyFile: good.key }
  test('certificates by SNI: each pair parsed and named by its index; names valid and given once across certificates', () => {
    const sni = (certificates: unknown[], extra = {}) => ({ server: { tls: { ...base, certificates, ...extra } } })
    expect(validateConfig(sni([{ certFile: other.cert, keyFile: other.key, serverNames: ['other.test', '*.other.test'] }])).ok).toBe(true)
    expect(errorsOf(sni([{ certFile: good.cert, keyFile: good.key, serverNames: ['a.test'] }, { certFile: good.cert, keyFile: other.key, serverNames: ['b.test'] }]))).toEqual([
      `server.tls.certificates[1].keyFile: ${other.key} is not the key of the certificate in ${good.cert}`,
    ])
    expect(errorsOf(sni([{ certFile: expired.cert, keyFile: expired.key, serverNames: ['old.test'] }]))).toEqual([
      `server.tls.certificates[0].certFile: ${expired.cert} expired on 2020-02-01T00:00:00.000Z (CN=expired.test)`,
    ])
    // Bun compares names case-insensitively and without a trailing dot, and keeps the last entry of a name silently.
    expect(errorsOf(sni([{ ...base, serverNames: ['a.test'] }, { ...base, serverNames: ['b.test', 'A.TEST.'] }]))).toEqual([
      'server.tls.certificates[1].serverNames[1]: "A.TEST." is already named by server.tls.certificates[0].serverNames[0]',
    ])
    for (const bad of ['a b.test', '*', 'a.*.test', '-a.test', 'https://a.test', 'a..test']) {
      expect(errorsOf(sni([{ ...base, serverNames: [bad] }]))).toEqual([`server.tls.certificates[0].serverNames[0]: must be a host name, or *. and a host name, got ${JSON.stringify(bad)}`])
    }
    expect(errorsOf(sni([{ ...base, serverNames: [] }]))[0]).toStartWith('server.tls.certificates[0].serverNames:')
  })

  test('clientAuth: the CA file parsed; only require; not with caFile', () => {
    const auth = (clientAuth: unknown, extra = {}) => ({ server: { tls: { ...base, clientAuth, ...extra } } })
    expect(validateConfig(auth({ caFile: other.cert })).ok).toBe(true)
    expect(validateConfig(auth({ mode: 'require', caFile: other.cert })).ok).toBe(true)
    expect(errorsOf(auth({ caFile: good.key }))).toEqual([`server.tls.clientAuth.caFile: ${good.key} holds a private key, not a certificate`])
    expect(errorsOf(auth({ mode: 'optional', caFile: other.cert }))).toEqual([
      'server.tls.clientAuth.mode: only "require" is supported: "optional" needs the client certificate of each request, which Bun.serve does not expose (oven-sh/bun#14097)',
    ])
    expect(errorsOf(auth({ caFile: other.cert }, { caFile: other.cert }))).toEqual([
      'server.tls.caFile: cannot be used with clientAuth (Bun has one CA list, and it then verifies clients); append the intermediates to certFile instead',
    ])
  })
})
