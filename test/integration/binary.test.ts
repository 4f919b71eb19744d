/**
 * The compiled binary (`bun run build`: dist/bun-gateway), built once and run from a folder
 * outside the checkout: with no config it serves the demo; its workers are the binary itself
 * (`--worker`); a plugin module and a Hono middleware from the config's folder load, and the
 * plugin check (`--check-plugins`, in the binary too) refuses a bad plugin config with exit 2.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, waitFor, writeConfig } from '../fixtures/gateway.ts'
import { collect } from '../fixtures/process.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const ROOT = join(import.meta.dir, '..', '..')
const BINARY = join(ROOT, 'dist', 'bun-gateway')

/** A plugin with no run-time import (definePlugin only adds types). */
const STAMP = `export default {
  check: (config) => (typeof config?.value === 'string' ? [] : ['value: must be a string']),
  build: (config) => async (exchange, next) => {
    const answer = await next(exchange)
    answer.headers.set('x-stamp', config.value)
    return answer
  },
}`

let upstream: RecordingUpstream
let dir: string

beforeAll(async () => {
  const build = Bun.spawn([process.execPath, 'run', 'build'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  const output = collect(build)
  if ((await build.exited) !== 0) throw new Error(`bun run build failed:\n${output()}`)
  upstream = startRecordingUpstream()
  // Outside the checkout: the binary finds nothing of the repository's there.
  dir = mkdtempSync(join(tmpdir(), 'gw-binary-'))
  writeFileSync(join(dir, 'stamp.ts'), STAMP)
  // hono installed in the config's folder (the binary's own copy is bundled, not resolvable).
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
}, 60_000)

afterAll(() => upstream?.stop())

/** Runs the binary in `dir` with `args`; `listening` resolves with its ports. */
function runBinary(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BINARY, ...args], {
    cwd: dir,
    env: { ...process.env, GATEWAY_CONFIG: '', PORT: '0', GATEWAY_ADMIN_PORT: '0', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const output = collect(proc)
  const listening = async () => {
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`the binary exited ${proc.exitCode}:\n${output()}`)
      return events(output(), 'listening').length > 0
    }, 10_000, 'the binary to listen')
    return events(output(), 'listening')[0] as { port: number; adminPort: number }
  }
  return { proc, output, listening }
}

/** `bun-gateway --healthcheck`, finding the admin port in the config file GATEWAY_CONFIG names, as in the image. */
function healthcheck(adminPort: number) {
  const config = writeConfig({ admin: { host: '0.0.0.0', port: adminPort } }, 'probe.yaml', dir)
  const probe = Bun.spawnSync([BINARY, '--healthcheck'], { env: { ...process.env, GATEWAY_ADMIN_PORT: '', GATEWAY_CONFIG: config } })
  return { exitCode: probe.exitCode, stdout: probe.stdout.toString() }
}

describe('the compiled binary', () => {
  test('with no config it serves the demo, from workers that are the binary itself', async () => {
    const gw = runBinary([])
    let adminPort = 0
    try {
      const listening = await gw.listening()
      const port = listening.port
      adminPort = listening.adminPort
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
      const demo = await fetch(`http://127.0.0.1:${port}/demo/hello`)
      expect(demo.status).toBe(200)
      expect(((await demo.json()) as { path: string }).path).toBe('/hello')
      expect((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(200)
      for (const { pid } of events(gw.output(), 'worker_spawn')) {
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([BINARY, '--worker'])
      }
      // The image's HEALTHCHECK: the admin port's /ready.
      expect(healthcheck(adminPort)).toEqual({ exitCode: 0, stdout: `GET http://127.0.0.1:${adminPort}/ready: 200\n` })
    } finally {
      gw.proc.kill('SIGTERM')
      expect(await gw.proc.exited).toBe(0)
    }
    expect(healthcheck(adminPort)).toEqual({ exitCode: 1, stdout: `GET http://127.0.0.1:${adminPort}/ready: ECONNREFUSED\n` })
    expectCleanOutput(gw.output())
  }, 20_000)

  test("loads a plugin module and hono's basic-auth from the config's folder", async () => {
    const config = writeConfig(
      {
        server: { host: '127.0.0.1', port: 0, workers: 1 },
        admin: { port: 0 },
        upstreams: { app: { targets: [upstream.origin] } },
        plugins: {
          stamp: { module: './stamp.ts', config: { value: 'from-the-binary' } },
          login: { hono: { module: 'hono/basic-auth', export: 'basicAuth', options: { username: 'admin', password: 'open-sesame' } } },
        },
        routes: [
          { path: '/stamped', upstream: 'app', plugins: ['stamp'] },
          { path: '/login', upstream: 'app', plugins: ['login'] },
        ],
      },
      'gateway.json',
      dir
    )
    const gw = runBinary(['--config', config])
    try {
      const { port } = await gw.listening()
      const stamped = await fetch(`http://127.0.0.1:${port}/stamped`)
      expect(stamped.status).toBe(200)
      expect(stamped.headers.get('x-stamp')).toBe('from-the-binary')
      const refused = await fetch(`http://127.0.0.1:${port}/login`)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toContain('Basic')
      const through = await fetch(`http://127.0.0.1:${port}/login`, { headers: { authorization: `Basic ${btoa('admin:open-sesame')}` } })
      expect(through.status).toBe(200)
    } finally {
      gw.proc.kill('SIGTERM')
      expect(await gw.proc.exited).toBe(0)
    }
    expectCleanOutput(gw.output())
  }, 20_000)

  test('the plugin check runs in the binary: a bad plugin config exits 2 naming the field', async () => {
    const config = writeConfig(
      { upstreams: { app: { targets: [upstream.origin] } }, plugins: { stamp: { module: './stamp.ts', config: { value: 3 } } }, routes: [{ path: '/', upstream: 'app', plugins: ['stamp'] }] },
      'bad-plugin.json',
      dir
    )
    const gw = runBinary(['--config', config])
    expect(await gw.proc.exited).toBe(2)
    await gw.output.ended
    expect(gw.output()).toContain('plugins.stamp.config.value: must be a string')
  }, 20_000)
})
