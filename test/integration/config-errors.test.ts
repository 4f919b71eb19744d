import { describe, expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCertificate, makeExpiredCertificate } from '../fixtures/certs.ts'
import { spawnMain, writeConfig } from '../fixtures/gateway.ts'

/** True when something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('connect', () => (socket.destroy(), resolve(true)))
    socket.on('error', () => resolve(false))
  })
}

async function run(args: string[], env: Record<string, string> = {}) {
  const { proc, output } = spawnMain(args, env)
  const code = await proc.exited
  // The exit can be seen before the last lines are read from the pipes.
  await output.ended
  return { code, text: output() }
}

const PORT = 18000 + Math.floor(Math.random() * 1000)

describe('a bad config exits 2 before anything listens', () => {
  test('every bad field is named by its path, schema and semantic problems in one run', async () => {
    const path = writeConfig(
      [
        'server:',
        `  port: ${PORT}`,
        '  prot: 1',
        '  workers: many',
        'admin:',
        '  bearerToken: short',
        'upstreams:',
        '  users:',
        '    targets: ["ftp://10.0.0.5"]',
        '    timeoutMs: fast',
        'routes:',
        '  - path: /users',
        '    upstream: missing',
        '    rateLimit: { requestsPerSecond: 5, scope: global }',
        '  - path: /users/',
        '    upsteam: users',
        '    methods: [GET, TRACE]',
      ].join('\n'),
      'gateway.yaml'
    )
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain('server.prot: unknown key "prot" — did you mean "port"?')
    expect(text).toContain('server.workers: must be "auto" or a whole number from 1 to 256, got "many"')
    expect(text).toContain('admin.bearerToken: must be at least 16 characters')
    expect(text).toContain('upstreams.users.targets[0]: must start with http:// or https://, got "ftp://10.0.0.5"')
    expect(text).toContain('upstreams.users.timeoutMs: expected a whole number from 1 to 3600000, got "fast" (a string)')
    expect(text).toContain('routes[0].upstream: no upstream named "missing"')
    expect(text).toContain('routes[1].path: duplicate of routes[0]')
    expect(text).toContain('routes[1].upsteam: unknown key "upsteam" — did you mean "upstream"?')
    expect(text).toContain('routes[1].methods[1]: expected one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", got "TRACE"')
    expect(text).toContain('routes[0].rateLimit.scope: global needs redis.url (or REDIS_URL)')
    expect(text).toContain('routes[1].upstream: required (or split, or redirect)')
    expect(text).not.toMatch(/^\s+at /m)
    expect(await listening(PORT)).toBe(false)
  })

  test('a key dedented to the top level says where it belongs', async () => {
    const path = writeConfig(['upstreams:', '  users:', '    targets: ["http://10.0.0.5"]', 'timeoutMs: 5000'].join('\n'), 'gateway.yaml')
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain('timeoutMs: unknown key "timeoutMs" — not a top-level key; it belongs under upstreams.<name> or upstreams.<name>.healthCheck (indent it under upstreams.users?)')
  })

  test('a key given twice is an error, named with its line, beside the other problems; nothing listens', async () => {
    const path = writeConfig(
      [
        'server:',
        `  port: ${PORT}`,
        'upstreams:',
        '  users: { targets: ["http://127.0.0.1:1"] }',
        'routes:',
        '  - { path: /users, upstream: users }',
        'routes:',
        '  - { path: /orders, upstream: orders }',
      ].join('\n'),
      'gateway.yaml'
    )
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain([`${path}:7:1: "routes" is given twice in one mapping: only the last would count (the first repeated key; there may be more)`, '    7 | routes:', '      | ^'].join('\n'))
    // The last one is what Bun's parser kept, and it is checked too.
    expect(text).toContain('routes[0].upstream: no upstream named "orders"')
    expect(await listening(PORT)).toBe(false)
  })

  test('a member given twice in a JSON config is refused as well', async () => {
    const path = writeConfig(JSON.stringify({ upstreams: { a: { targets: ['http://127.0.0.1:1'] } }, routes: [] }).replace('"routes"', '"upstreams": {}, "routes"'), 'gateway.json')
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain('"upstreams" is given twice in one mapping')
  })

  test('a YAML syntax error names the file, the line and the column, and shows the line', async () => {
    const path = writeConfig(['server:', `  port: ${PORT}`, '   host: 127.0.0.1'].join('\n'), 'broken.yaml')
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain([`${path}:3:8: not valid YAML: unexpected token`, '    3 |    host: 127.0.0.1', '      |        ^'].join('\n'))
    expect(await listening(PORT)).toBe(false)
  })

  test('a JSON syntax error too', async () => {
    const path = writeConfig(`{\n  "server": { "port": ${PORT}, }\n}\n`, 'broken.json')
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain(`${path}:2:${`  "server": { "port": ${PORT}, `.length + 1}: not valid JSON: property name must be a string literal`)
  })

  test('a swapped TLS certificate and key exit 2 naming both files, before any worker starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-swap-'))
    const { cert, key } = makeCertificate(dir, 'site')
    const path = writeConfig({ server: { port: PORT, workers: 1, tls: { certFile: key, keyFile: cert } } }, 'gateway.json', dir)
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain(`server.tls.certFile: ${key} holds a private key, not a certificate (certFile and keyFile swapped?)`)
    expect(text).toContain(`server.tls.keyFile: ${cert} holds a certificate, not a private key (certFile and keyFile swapped?)`)
    expect(text).not.toContain('ERR_OSSL')
    expect(text).not.toContain('worker_spawn')
    expect(await listening(PORT)).toBe(false)
  })

  test('an expired certificate and a key of another certificate exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-bad-'))
    const expired = makeExpiredCertificate(dir, 'old')
    const other = makeCertificate(dir, 'other')
    const path = writeConfig({ server: { port: PORT, tls: { certFile: expired.cert, keyFile: other.key } } }, 'gateway.json', dir)
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain(`server.tls.certFile: ${expired.cert} expired on 2020-02-01T00:00:00.000Z (CN=expired.test)`)
    expect(text).toContain(`server.tls.keyFile: ${other.key} is not the key of the certificate in ${expired.cert}`)
  })

  test('server.tls.certificates: a bad pair and a name given twice exit 2 naming each field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-sni-'))
    const site = makeCertificate(dir, 'site')
    const other = makeCertificate(dir, 'other')
    const certificates = [
      { certFile: site.cert, keyFile: other.key, serverNames: ['a.test'] },
      { certFile: other.cert, keyFile: other.key, serverNames: ['A.test'] },
    ]
    const path = writeConfig({ server: { port: PORT, workers: 1, tls: { certFile: site.cert, keyFile: site.key, certificates } } }, 'gateway.json', dir)
    const { code, text } = await run(['--config', path])
    expect(code).toBe(2)
    expect(text).toContain(`server.tls.certificates[0].keyFile: ${other.key} is not the key of the certificate in ${site.cert}`)
    expect(text).toContain('server.tls.certificates[1].serverNames[0]: "A.test" is already named by server.tls.certificates[0].serverNames[0]')
    expect(await listening(PORT)).toBe(false)
  })

  test('a missing file is reported, via GATEWAY_CONFIG too', async () => {
    const { code, text } = await run([], { GATEWAY_CONFIG: '/nonexistent/gateway.yaml' })
    expect(code).toBe(2)
    expect(text).toContain('/nonexistent/gateway.yaml: file not found')
  })

  test('a bad env override names the variable', async () => {
    const { code, text } = await run([], { PORT: 'eighty', GATEWAY_ADMIN_PORT: '70000' })
    expect(code).toBe(2)
    expect(text).toContain('server.port (from PORT):')
    expect(text).toContain('admin.port (from GATEWAY_ADMIN_PORT):')
  })

  test('an unknown argument is refused with the usage line', async () => {
    const { code, text } = await run(['--confg', 'x'])
    expect(code).toBe(2)
    expect(text).toContain('usage: bun run start')
  })
})
