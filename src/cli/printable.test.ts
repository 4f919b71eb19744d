/** `validate --print` shows every default and no secret, and what it prints loads again. */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { validateConfig } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { keyDigest } from '../files/secrets.ts'
import { formatConfig, REDACTED } from './printable.ts'

const ROOT = join(import.meta.dir, '..', '..')

const SECRETS = {
  admin: 'admin-token-0123456789abcdef',
  metrics: 'admin-token-0123456789abcdef',
  redisPassword: 'redis-password-from-env-0123',
  urlPassword: 'url-password-zzz',
  bus: 'bus-secret-0123456789abcdef0123456789',
  jwt: 'jwt-secret-0123456789abcdef0123456789',
  header: 'Bearer upstream-credential-xyz',
  pluginPassword: 'hono-basic-auth-password',
  apiKey: 'consumer-key-0123456789',
}

function load(raw: unknown): GatewayConfig {
  const result = validateConfig(raw, {}, ROOT)
  if (!result.ok) throw new Error(result.errors.join('\n'))
  return result.config
}

const base = {
  upstreams: { a: { targets: ['http://127.0.0.1:1'] } },
  routes: [{ path: '/a', upstream: 'a', requestHeaders: { set: { authorization: SECRETS.header, 'x-team': 'blue' } } }],
}

describe('formatConfig', () => {
  test('no secret reaches the output, from the file or from env:', () => {
    process.env.PRINTABLE_TEST_REDIS_PASSWORD = SECRETS.redisPassword
    const config = load({
      ...base,
      admin: { bearerToken: SECRETS.admin },
      metrics: { bearerToken: SECRETS.metrics },
      redis: { url: `redis://:${SECRETS.urlPassword}@127.0.0.1:6379`, busSecret: SECRETS.bus },
      routes: [...base.routes, { path: '/j', upstream: 'a', auth: { jwt: { algorithms: ['HS256'], secret: SECRETS.jwt } } }],
      consumers: [{ name: 'c', apiKeys: [SECRETS.apiKey] }],
      plugins: { login: { hono: { module: 'hono/basic-auth', export: 'basicAuth', options: { username: 'u', password: SECRETS.pluginPassword } } } },
    })
    const envConfig = load({ ...base, redis: { url: 'redis://127.0.0.1:6379', password: 'env:PRINTABLE_TEST_REDIS_PASSWORD' } })
    for (const format of ['yaml', 'json'] as const) {
      const text = formatConfig(config, format) + formatConfig(envConfig, format)
      for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret)
      expect(text).toContain(REDACTED)
    }
    const printed = JSON.parse(formatConfig(config, 'json'))
    expect(printed.admin.bearerToken).toBe(REDACTED)
    expect(printed.redis.url).toBe(`redis://:${REDACTED}@127.0.0.1:6379`)
    expect(printed.redis.busSecret).toBe(REDACTED)
    expect(printed.routes[1].auth.jwt.secret).toBe(REDACTED)
    expect(printed.routes[0].requestHeaders.set).toEqual({ authorization: REDACTED, 'x-team': 'blue' })
    expect(printed.plugins.login.hono.options).toEqual({ username: 'u', password: REDACTED })
    expect(printed.consumers[0].apiKeys).toEqual([`sha256:${keyDigest(SECRETS.apiKey)}`])
    expect(JSON.parse(formatConfig(envConfig, 'json')).redis.password).toBe(REDACTED)
  })

  test('every default is filled in, and the printed config loads back to the same config', () => {
    const config = load({ ...base, consumers: [{ name: 'c', apiKeys: [SECRETS.apiKey] }], routes: [{ path: '/a', upstream: 'a', auth: { apiKey: {} } }] })
    for (const format of ['yaml', 'json'] as const) {
      const text = formatConfig(config, format)
      const printed = Bun.YAML.parse(text) as any
      expect(printed.server.port).toBe(8080)
      expect(printed.upstreams.a.targets).toEqual([{ url: 'http://127.0.0.1:1', weight: 1 }])
      expect(printed.routes[0].auth.failureLimit).toBe(30)
      expect(JSON.parse(JSON.stringify(load(printed)))).toEqual(JSON.parse(JSON.stringify(config)))
    }
  })
})
