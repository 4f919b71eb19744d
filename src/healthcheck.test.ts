import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminReadyUrl } from './healthcheck.ts'

function configFile(text: string, name = 'gateway.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-probe-')), name)
  writeFileSync(path, text)
  return path
}

describe('adminReadyUrl', () => {
  test("is admin.port's default on loopback without a config", async () => {
    expect(await adminReadyUrl({ configPath: undefined, overrides: {} })).toBe('http://127.0.0.1:9090/ready')
  })

  test("follows the config file's admin section, a wildcard host reached on loopback", async () => {
    const path = configFile('server: { port: 8443 }\nadmin:\n  host: 0.0.0.0\n  port: 9100\n')
    expect(await adminReadyUrl({ configPath: path, overrides: {} })).toBe('http://127.0.0.1:9100/ready')
    expect(await adminReadyUrl({ configPath: configFile('{"admin": {"host": "::1", "port": 9101}}', 'g.json'), overrides: {} })).toBe('http://[::1]:9101/ready')
  })

  test('GATEWAY_ADMIN_PORT wins over the file, as it does for start', async () => {
    const path = configFile('admin: { port: 9100 }\n')
    expect(await adminReadyUrl({ configPath: path, overrides: { GATEWAY_ADMIN_PORT: '9200' } })).toBe('http://127.0.0.1:9200/ready')
  })

  test('an unreadable file or a bad admin section falls back to the defaults', async () => {
    expect(await adminReadyUrl({ configPath: '/nonexistent/gateway.yaml', overrides: {} })).toBe('http://127.0.0.1:9090/ready')
    expect(await adminReadyUrl({ configPath: configFile('admin: { port: nope }\n'), overrides: {} })).toBe('http://127.0.0.1:9090/ready')
  })
})
