/**
 * The shared tier's files are private (issue: a local user could poison the node-wide cache).
 * Another user (nobody, through setpriv) plants valid databases holding a poisoned entry under
 * every name the gateway could pick in a world-writable temp dir (the old default was
 * `<TMPDIR>/bun-gateway-<pid>-cache.sqlite`), and a leftover directory of theirs; the gateway
 * must serve the upstream's answer, keep its own files 0600 in a 0700 directory of its own,
 * sweep its own dead leftovers but not theirs, and remove its directory at shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createExclusive } from '../../src/files/private.ts'
import { NO_DIRECTIVES } from '../../src/policies/cache/directives.ts'
import { primaryKey } from '../../src/policies/cache/key.ts'
import { openSharedStore, prepareSharedCache } from '../../src/policies/cache/shared-store.ts'
import { entrySize } from '../../src/policies/cache/store.ts'
import { events, expectCleanOutput, spawnMain, startGateway, writeConfig, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startCacheOrigin, type CacheOrigin } from '../fixtures/cache-origin.ts'

const NOBODY = 65534
const canRun = process.getuid?.() === 0 && Bun.which('setpriv') !== null
const POISON = 'POISONED BY ANOTHER USER'
const HOST = 'poison.example'
const DEAD = 99_999_999

/** Runs `script` with Bun as nobody, as an unprivileged local user would. */
function asNobody(script: string): void {
  const run = Bun.spawnSync(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', script], { cwd: '/' })
  if (run.exitCode !== 0) throw new Error(`as nobody: ${run.stderr.toString()}`)
}

/** A valid shared-tier file holding a fresh entry for GET http://poison.example/p. */
async function poisonedDatabase(dir: string): Promise<string> {
  const path = join(dir, 'poison.ring')
  createExclusive(path)
  prepareSharedCache(path, 1 << 20)
  const store = openSharedStore({ path, maxObjectBytes: 1 << 16 })
  const body = new TextEncoder().encode(POISON)
  const headers = new Headers({ 'content-length': String(body.byteLength), 'content-type': 'text/plain' })
  const key = primaryKey('http', HOST, '/p', '')
  const now = Date.now()
  store.put({
    primary: key,
    key,
    status: 200,
    headers,
    body,
    directives: { ...NO_DIRECTIVES, maxAge: 86_400 },
    lifetime: 86_400,
    clock: { requestTime: now, responseTime: now, dateValue: now, ageValue: 0 },
    varyNames: [],
    size: entrySize(key, headers, body),
  })
  await new Promise((resolve) => setImmediate(resolve))
  store.close()
  return path
}

describe.skipIf(!canRun)('the shared tier against another local user', () => {
  let tmp: string
  let origin: CacheOrigin
  let gw: GatewayProcess
  let created: string

  beforeAll(async () => {
    origin = startCacheOrigin()
    // A temp dir like /tmp: world-writable and sticky.
    tmp = mkdtempSync(join(tmpdir(), 'gw-tmpdir-'))
    chmodSync(tmp, 0o1777)
    const stage = mkdtempSync(join(tmpdir(), 'gw-stage-'))
    chmodSync(stage, 0o755)
    const poison = await poisonedDatabase(stage)
    chmodSync(poison, 0o644)
    // Hard links of one planted database cover every pid the primary may get next (made in
    // one process, so planting uses up no pids).
    asNobody(`
      const fs = require('node:fs')
      const last = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'))
      fs.copyFileSync('${poison}', '${tmp}/planted.sqlite')
      for (let pid = last; pid < last + 2000; pid++) fs.linkSync('${tmp}/planted.sqlite', '${tmp}/bun-gateway-' + pid + '-cache.sqlite')
      fs.mkdirSync('${tmp}/bun-gateway-${DEAD}-theirs')
    `)
    // A leftover of a killed gateway of ours (dead pid): swept at start.
    mkdirSync(join(tmp, `bun-gateway-${DEAD}-ours`), { mode: 0o700 })
    writeFileSync(join(tmp, `bun-gateway-${DEAD}-ours`, 'cache.ring'), 'old')
    gw = await startGateway(
      { cache: { shared: { enabled: true } }, upstreams: { origin: { targets: [origin.origin] } }, routes: [{ path: '/', upstream: 'origin', cache: { enabled: true } }] },
      { TMPDIR: tmp }
    )
    created = events(gw.output(), 'shared_cache_created')[0]?.path
  })

  afterAll(async () => {
    if (gw) {
      expect(await gw.stop()).toBe(0)
      expectCleanOutput(gw.output())
    }
    origin?.stop()
  })

  test('a planted file is never opened: the upstream answers', async () => {
    expect(events(gw.output(), 'shared_cache_opened')).toEqual([])
    const res = await fetch(gw.url('/p'), { headers: { host: HOST } })
    expect(await res.text()).not.toContain(POISON)
    expect(origin.count('/p')).toBe(1)
  })

  test('the tier lives in a new 0700 directory of ours, every file in it ours and 0600', async () => {
    expect(created).toStartWith(join(tmp, `bun-gateway-${gw.proc.pid}-`))
    const dir = dirname(created)
    expect(statSync(dir).mode & 0o7777).toBe(0o700)
    expect(statSync(dir).uid).toBe(process.getuid!())
    // Fill and hit: the workers write the tier's one file, and make no other.
    for (let i = 0; i < 3; i++) await (await fetch(gw.url('/c?cc=max-age%3D600'), { headers: { host: HOST } })).arrayBuffer()
    expect(readdirSync(dir)).toEqual(['cache.ring'])
    for (const name of readdirSync(dir)) {
      const stats = statSync(join(dir, name))
      expect({ name, mode: stats.mode & 0o777, uid: stats.uid }).toEqual({ name, mode: 0o600, uid: process.getuid!() })
    }
  })

  test("our dead primary's leftovers are swept, another user's are not", () => {
    expect(existsSync(join(tmp, `bun-gateway-${DEAD}-ours`))).toBe(false)
    expect(existsSync(join(tmp, `bun-gateway-${DEAD}-theirs`))).toBe(true)
    expect(existsSync(join(tmp, 'planted.sqlite'))).toBe(true)
  })

  test('the directory is removed at shutdown', async () => {
    expect(await gw.stop()).toBe(0)
    expect(existsSync(dirname(created))).toBe(false)
  })
})

describe.skipIf(!canRun)('a configured cache.shared.path', () => {
  const configWith = (path: string) => writeConfig({ cache: { shared: { enabled: true, path } }, upstreams: { u: { targets: ['http://127.0.0.1:1'] } }, routes: [{ path: '/', upstream: 'u', cache: { enabled: true } }] })

  test('in a world-writable directory, or owned by another user, exits 2 before listening and names the field', async () => {
    const open = mkdtempSync(join(tmpdir(), 'gw-open-'))
    chmodSync(open, 0o1777)
    const theirs = join(mkdtempSync(join(tmpdir(), 'gw-theirs-')), 'cache.ring')
    writeFileSync(theirs, '')
    chownSync(theirs, NOBODY, NOBODY)
    for (const path of [join(open, 'cache.ring'), theirs]) {
      const { proc, output } = spawnMain(['--config', configWith(path)])
      expect(await proc.exited).toBe(2)
      expect(output()).toContain('cache.shared.path')
      expect(output()).not.toContain('"event":"listening"')
    }
  })
})
