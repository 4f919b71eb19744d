/**
 * `bun run cache-tests`: the HTTP WG cache tests (https://github.com/http-tests/cache-tests)
 * against the gateway. Starts the suite's origin server (Node), the gateway in front of it
 * with one cache-enabled route, runs the suite's command-line client through the gateway,
 * and scores the results with the suite's own rules (lib/results.mjs: dependencies honoured,
 * required and optimal tests counted apart). The published results in the suite's results/
 * directory are scored the same way, so the numbers compare.
 *
 *   bun run cache-tests [-- --suite DIR | --suite npm] [--workers 1] [--id test-id] [--json FILE]
 *
 * --suite: a checkout of the repository (the newest tests), or `npm` for the http-cache-tests
 * package (fetched into .tmp/). Default: .tmp/cache-tests. Needs node and npm on PATH.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from '../test/fixtures/services.ts'
import { startAndWait, startListening } from './listening.ts'

const ROOT = join(import.meta.dir, '..')
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    suite: { type: 'string', default: join(ROOT, '.tmp', 'cache-tests') },
    workers: { type: 'string', default: '1' },
    id: { type: 'string', default: '' },
    json: { type: 'string' },
  },
})

function run(cmd: string[], cwd: string): void {
  const done = Bun.spawnSync(cmd, { cwd, stdout: 'inherit', stderr: 'inherit' })
  if (done.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed (${done.exitCode})`)
}

/** The suite's directory, fetched from npm when asked, with its dependencies installed. */
function suiteDir(): string {
  let dir = resolve(values.suite!)
  if (values.suite === 'npm') {
    const into = join(ROOT, '.tmp', 'http-cache-tests-npm')
    dir = join(into, 'node_modules', 'http-cache-tests')
    if (!existsSync(dir)) {
      mkdirSync(into, { recursive: true })
      run(['npm', 'install', '--no-audit', '--no-fund', '--prefix', into, 'http-cache-tests@latest'], into)
    }
  }
  if (!existsSync(join(dir, 'tests', 'index.mjs'))) throw new Error(`${dir} is not a cache-tests checkout (git clone https://github.com/http-tests/cache-tests ${dir})`)
  if (!existsSync(join(dir, 'node_modules'))) run(['npm', 'install', '--omit=dev', '--no-audit', '--no-fund'], dir)
  return dir
}


type Results = Record<string, unknown>
interface Score {
  required: [number, number]
  optimal: [number, number]
  failedRequired: string[]
  failedOptimal: string[]
}

/** Scores `results` with the suite's determineTestResult (dependencies honoured). */
async function score(dir: string, results: Results): Promise<Score> {
  const suites = (await import(join(dir, 'tests', 'index.mjs'))).default as { tests: { id: string; kind?: string }[] }[]
  // The npm package (0.4.x) has the same rules inside a browser module: take them from a checkout then.
  let rules = engine(dir, 'lib/results.mjs')
  if (!existsSync(rules)) rules = engine(join(ROOT, '.tmp', 'cache-tests'), 'lib/results.mjs')
  if (!existsSync(rules)) throw new Error('scoring needs lib/results.mjs from a cache-tests checkout in .tmp/cache-tests')
  const { determineTestResult, resultTypes } = await import(rules)
  const out: Score = { required: [0, 0], optimal: [0, 0], failedRequired: [], failedOptimal: [] }
  for (const suite of suites) {
    for (const test of suite.tests) {
      const kind = test.kind ?? 'required'
      if (kind === 'check') continue
      const result = determineTestResult(suites, test.id, results)
      const passed = result === resultTypes.pass
      const bucket = kind === 'required' ? out.required : out.optimal
      bucket[1]++
      if (passed) bucket[0]++
      else (kind === 'required' ? out.failedRequired : out.failedOptimal).push(test.id)
    }
  }
  return out
}

/** A file of the suite's engine: under test-engine/ in the repository, at the top in the npm package. */
function engine(dir: string, file: string): string {
  const inRepository = join(dir, 'test-engine', file)
  return existsSync(inRepository) ? inRepository : join(dir, file)
}

const dir = suiteDir()
const originPort = freePort()
const origin = await startAndWait(['node', engine(dir, 'server/server.mjs')], {
  cwd: dir,
  env: { ...process.env, npm_config_port: String(originPort), npm_config_protocol: 'http', npm_config_pidfile: join(ROOT, '.tmp', 'cache-tests-server.pid') },
  ready: (line) => line.startsWith('Listening on'),
})
const configPath = join(ROOT, '.tmp', 'cache-tests-gateway.json')
await Bun.write(
  configPath,
  JSON.stringify({
    server: { host: '127.0.0.1', port: 0, workers: Number(values.workers) },
    admin: { port: 0 },
    // The suite tests a reverse proxy as a CDN: its CDN-Cache-Control tests are for us here.
    cache: { targets: ['cdn'] },
    upstreams: { origin: { targets: [`http://127.0.0.1:${originPort}`] } },
    routes: [{ path: '/', upstream: 'origin', cache: { enabled: true } }],
  })
)
const gateway = await startListening(['src/main.ts', '--config', configPath])
try {
  // Through npm, as the suite documents: its package.json config supplies the defaults (an empty id runs all).
  const cli = Bun.spawn(['npm', 'run', '--silent', 'cli', `--base=http://127.0.0.1:${gateway.port}`, ...(values.id ? [`--id=${values.id}`] : [])], {
    cwd: dir,
    env: process.env,
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const text = await new Response(cli.stdout).text()
  if ((await cli.exited) !== 0) throw new Error('the cache-tests client failed')
  if (values.id) {
    console.log(text)
  } else {
    const results = JSON.parse(text) as Results
    if (values.json) await Bun.write(values.json, `${JSON.stringify(results, null, 2)}\n`)
    const ours = await score(dir, results)
    console.log(`bun-gateway: required ${ours.required[0]}/${ours.required[1]}, optimal ${ours.optimal[0]}/${ours.optimal[1]}`)
    console.log(`  required failed: ${ours.failedRequired.join(' ') || 'none'}`)
    console.log(`  optimal failed: ${ours.failedOptimal.join(' ') || 'none'}`)
    const published = existsSync(join(dir, 'results')) ? readdirSync(join(dir, 'results')).filter((f) => f.endsWith('.json')) : []
    for (const file of published) {
      const theirs = await score(dir, (await Bun.file(join(dir, 'results', file)).json()) as Results)
      console.log(`${file.replace('.json', '').padEnd(14)} required ${theirs.required[0]}/${theirs.required[1]}, optimal ${theirs.optimal[0]}/${theirs.optimal[1]}`)
    }
  }
} finally {
  gateway.proc.kill('SIGTERM')
  origin.proc.kill('SIGTERM')
  await gateway.proc.exited
}
