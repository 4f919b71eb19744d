import { expect, test } from 'bun:test'
import { expectCleanOutput, spawnMain, waitFor } from '../fixtures/gateway.ts'

test('with no config, the embedded default proxies /demo to the built-in demo upstream', async () => {
  const { proc, output } = spawnMain([], { PORT: '0', GATEWAY_ADMIN_PORT: '0' })
  try {
    await waitFor(() => output().includes('"event":"listening"'), 10_000, 'listening')
    const event = JSON.parse(output().split('\n').find((l) => l.includes('"event":"listening"'))!)
    expect(event.config).toContain('embedded default')
    expect(event.host).toBe('0.0.0.0')
    expect(event.adminHost).toBe('127.0.0.1')

    const res = await fetch(`http://127.0.0.1:${event.port}/demo/hello`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toContain('max-age=')
    const body = (await res.json()) as { path: string; requestId: string }
    expect(body.path).toBe('/hello')
    expect(body.requestId).toBe(res.headers.get('x-request-id')!)

    expect((await fetch(`http://127.0.0.1:${event.port}/health`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${event.adminPort}/health`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${event.adminPort}/ready`)).status).toBe(200)
    // Admin endpoints are not on the public port, and nothing else is proxied by default.
    expect((await fetch(`http://127.0.0.1:${event.port}/ready`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${event.port}/demo/x`, { method: 'POST' })).status).toBe(405)
  } finally {
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
  }
  expectCleanOutput(output())
})
