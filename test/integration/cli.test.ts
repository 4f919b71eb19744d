/**
 * The package as a user gets it: `bun pm pack`, then `bun add <tarball>` in an empty folder
 * (dependencies from the npm registry), and the `bun-gateway` command run from there with
 * `bunx`: --version, validate (good, bad, --print), schema, and start with two workers and a
 * plugin of the user's that imports `bun-gateway/plugin`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events } from '../fixtures/gateway.ts'
import { scrape } from '../fixtures/metrics.ts'
import { collect, waitFor } from '../fixtures/process.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'
import pkg from '../../package.json' with { type: 'json' }

const ROOT = join(import.meta.dir, '..', '..')

// The children see no GATEWAY_CONFIG or env overrides of the test's environment.
const ENV: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'production' }
for (const name of ['GATEWAY_CONFIG', 'PORT', 'GATEWAY_WORKERS', 'GATEWAY_ADMIN_PORT', 'REDIS_URL', 'REDIS_BUS_SECRET']) delete ENV[name]

let dir: string
let upstream: RecordingUpstream

async function run(command: string[], cwd: string) {
  const proc = Bun.spawn(command, { cwd, env: ENV, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, stdout, stderr }
}

/** `bunx bun-gateway ...args` in the user's folder. */
const bunx = (...args: string[]) => run([process.execPath, 'x', 'bun-gateway', ...args], dir)

beforeAll(async () => {
  const packDir = mkdtempSync(join(tmpdir(), 'gw-pack-'))
  const packed = await run([process.execPath, 'pm', 'pack', '--destination', packDir], ROOT)
  expect(packed.code).toBe(0)
  const tarball = join(packDir, readdirSync(packDir).find((name) => name.endsWith('.tgz'))!)
  dir = mkdtempSync(join(tmpdir(), 'gw-user-'))
  const added = await run([process.execPath, 'add', tarball], dir)
  expect(added.code, added.stderr).toBe(0)
  rmSync(packDir, { recursive: true })
  upstream = startRecordingUpstream()
  // A plugin of the user's, typed and built with the package's plugin API.
  writeFileSync(
    join(dir, 'stamp.ts'),
    `import { definePlugin } from 'bun-gateway/plugin'
export default definePlugin({
  build: () => async function stamp(exchange, next) {
    const answer = await next(exchange)
    answer.headers.set('x-stamped', 'by the package')
    return answer
  },
})
`
  )
  writeFileSync(
    join(dir, 'gateway.yaml'),
    `server: { host: 127.0.0.1, port: 0, workers: 2 }
admin: { port: 0 }
upstreams:
  api: { targets: ["${upstream.origin}"] }
routes:
  - { path: /api, upstream: api, plugins: [stamp] }
plugins:
  stamp: { module: ./stamp.ts }
`
  )
  writeFileSync(
    join(dir, 'bad.yaml'),
    `server:
  prot: 8080
routes:
  - { path: /api, upstream: nope }
plugins:
  gone: { module: ./no-such-plugin.ts }
`
  )
}, 120_000)

afterAll(() => {
  upstream?.stop()
  if (dir) rmSync(dir, { recursive: true })
})

describe('the installed package', () => {
  test('--version reports package.json\'s version', async () => {
    const { code, stdout } = await bunx('--version')
    expect(code).toBe(0)
    expect(stdout).toBe(`bun-gateway ${pkg.version} (bun ${Bun.version})\n`)
  })

  test('validate: a good file (its plugin loaded through bun-gateway/plugin) is ok, exit 0', async () => {
    const { code, stdout, stderr } = await bunx('validate', 'gateway.yaml')
    expect(stderr).toBe('')
    expect(stdout).toBe('gateway.yaml: ok\n')
    expect(code).toBe(0)
  }, 20_000)

  test('validate: a bad file exits 2 with every error, in the lines the start prints', async () => {
    const { code, stdout, stderr } = await bunx('validate', 'bad.yaml', 'gateway.yaml')
    expect(code).toBe(2)
    expect(stderr).toContain('invalid config (bad.yaml):\n')
    expect(stderr).toContain('  server.prot: unknown key "prot" — did you mean "port"?\n')
    expect(stderr).toContain('  routes[0].upstream: no upstream named "nope"\n')
    // In the same run: a schema error does not hide the plugin's.
    expect(stderr).toContain('  plugins.gone.module: cannot find ./no-such-plugin.ts\n')
    // The good file after it is still checked.
    expect(stdout).toBe('gateway.yaml: ok\n')
    // What `bun-gateway start` prints for the same file, named the same way.
    const start = await bunx('start', '--config', 'bad.yaml')
    expect(start.code).toBe(2)
    expect(stderr).toBe(start.stderr)
  }, 20_000)

  test('validate --print shows the defaults filled in', async () => {
    const { code, stdout, stderr } = await bunx('validate', '--print', 'gateway.yaml')
    expect(code).toBe(0)
    expect(stderr).toBe('gateway.yaml: ok\n')
    const printed = Bun.YAML.parse(stdout) as any
    expect(printed.server.maxBodyBytes).toBe(10 * 1024 * 1024)
    expect(printed.upstreams.api.targets).toEqual([{ url: upstream.origin, weight: 1 }])
    expect(printed.plugins.stamp.module).toBe(join(dir, 'stamp.ts'))
  }, 20_000)

  test('schema prints JSON equal to the committed schema/gateway.schema.json', async () => {
    const { code, stdout } = await bunx('schema')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual(await Bun.file(join(dir, 'node_modules', 'bun-gateway', 'schema', 'gateway.schema.json')).json())
    expect(stdout).toBe(await Bun.file(join(ROOT, 'schema', 'gateway.schema.json')).text())
  })

  /** `bunx bun-gateway start --config gateway.yaml ...args` until it listens; `check` runs on the listening line, then SIGTERM. */
  async function started(args: string[], check: (listening: Record<string, any>) => Promise<void>) {
    const proc = Bun.spawn([process.execPath, 'x', 'bun-gateway', 'start', '--config', 'gateway.yaml', ...args], { cwd: dir, env: ENV, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
    const output = collect(proc)
    try {
      await waitFor(() => {
        if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}:\n${output()}`)
        return events(output(), 'listening').length > 0
      }, 15_000, 'the listening line')
      const listening = events(output(), 'listening')[0]!
      expect(listening.version).toBe(pkg.version)
      expect(listening.config).toBe('gateway.yaml')
      await check(listening)
    } finally {
      proc.kill('SIGTERM')
    }
    expect(await proc.exited).toBe(0)
    await output.ended
    expect(events(output(), 'shutdown_complete')).toHaveLength(1)
  }

  test('start: two workers from the installed command, the version in the listening line and /metrics, SIGTERM drains', async () => {
    await started([], async (listening) => {
      expect(listening.workers).toBe(2)
      const health = await fetch(`http://127.0.0.1:${listening.port}/health`)
      expect(health.status).toBe(200)
      const proxied = await fetch(`http://127.0.0.1:${listening.port}/api/hello`)
      expect(proxied.status).toBe(200)
      expect(proxied.headers.get('x-stamped')).toBe('by the package')
      await proxied.arrayBuffer()
      expect(upstream.requests.at(-1)?.path).toBe('/api/hello')
      const metrics = await scrape(listening.adminPort)
      expect(metrics).toContain(`gateway_build_info{version="${pkg.version}",bun="${Bun.version}"} 1`)
    })
  }, 30_000)

  test('start --single-process: the version in its listening line too', async () => {
    await started(['--single-process'], async (listening) => {
      expect(listening.mode).toBe('single-process')
      expect((await fetch(`http://127.0.0.1:${listening.port}/health`)).status).toBe(200)
    })
  }, 30_000)
})
