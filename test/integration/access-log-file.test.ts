/**
 * `log.access.file` on a real gateway with two workers: a private file, lines trimmed to
 * `fields`, and logrotate's move + SIGUSR1 under traffic: every line after the reopen lands
 * in the new file, and no line is lost or written twice. A bad file or field exits 2.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, renameSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { events, expectCleanOutput, spawnMain, startGateway, waitFor, writeConfig, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const FIELDS = ['requestId', 'status', 'route']
let up: RecordingUpstream
let gw: GatewayProcess
let dir: string
let file: string
/** Requests sent so far, by id: each must have exactly one line. */
const sent: string[] = []

beforeAll(async () => {
  up = startRecordingUpstream()
  dir = mkdtempSync(join(tmpdir(), 'gw-access-file-'))
  file = join(dir, 'logs', 'access.log')
  gw = await startGateway({
    server: { workers: 2 },
    log: { access: { file, fields: FIELDS } },
    upstreams: { rec: { targets: [up.origin] } },
    routes: [{ name: 'api', path: '/', upstream: 'rec' }],
  })
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  up.stop()
  expectCleanOutput(gw.output())
})

const linesOf = (path: string): Record<string, any>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))

test('lines go to a file made 0600 (its directory 0700), trimmed to the listed fields, none on stdout', async () => {
  const res = await fetch(gw.url('/first'))
  await res.text()
  const id = res.headers.get('x-request-id')
  sent.push(id!)
  await waitFor(() => linesOf(file).some((l) => l.requestId === id), 5000, 'the line in the file')
  expect(statSync(file).mode & 0o777).toBe(0o600)
  expect(statSync(join(dir, 'logs')).mode & 0o777).toBe(0o700)
  const line = linesOf(file).find((l) => l.requestId === id)!
  expect(Object.keys(line)).toEqual(['event', 'requestId', 'route', 'status'])
  expect(line).toEqual({ event: 'access', requestId: id, status: 200, route: 'api' })
  expect(gw.output()).not.toContain(id!)
})

test('moved away and SIGUSR1: every worker reopens, later lines go to the new file, none lost or doubled', async () => {
  /** Ids of requests sent once both workers had reopened. */
  const afterReopen: string[] = []
  let reopened = false
  let running = true
  const loop = async () => {
    while (running) {
      const started = reopened
      const res = await fetch(gw.url('/rotating'))
      await res.text()
      const id = res.headers.get('x-request-id')!
      sent.push(id)
      if (started) afterReopen.push(id)
    }
  }
  const traffic = [loop(), loop(), loop()]
  const rotated = `${file}.1`
  try {
    await waitFor(() => sent.length >= 31, 10_000, 'traffic before the move')
    renameSync(file, rotated)
    const before = events(gw.output(), 'access_log_reopened').length
    process.kill(gw.proc.pid, 'SIGUSR1')
    await waitFor(() => events(gw.output(), 'access_log_reopened').length >= before + 2, 5000, 'both workers to reopen')
    reopened = true
    await waitFor(() => afterReopen.length >= 30, 10_000, 'traffic after the reopen')
  } finally {
    running = false
    await Promise.all(traffic)
  }
  const count = () => linesOf(rotated).length + linesOf(file).length
  // Everything sent is written, in one file or the other (the last writes are asynchronous).
  await waitFor(() => count() >= sent.length, 5000, 'every line written')
  const old = linesOf(rotated).map((l) => l.requestId)
  const fresh = linesOf(file).map((l) => l.requestId)
  expect(old.length).toBeGreaterThan(30)
  expect(fresh.length).toBeGreaterThanOrEqual(30)
  const written = [...old, ...fresh]
  expect(new Set(written).size).toBe(written.length)
  expect(new Set(written)).toEqual(new Set(sent))
  const inNew = new Set(fresh)
  expect(afterReopen.filter((id) => !inNew.has(id))).toEqual([])
  expect(statSync(file).mode & 0o777).toBe(0o600)
})

describe('a bad access log setting exits 2 before anything listens', () => {
  const run = async (access: Record<string, unknown>) => {
    const { proc, output } = spawnMain(['--config', writeConfig({ log: { access }, upstreams: { rec: { targets: ['http://127.0.0.1:1'] } }, routes: [{ path: '/', upstream: 'rec' }] })])
    const code = await proc.exited
    await output.ended
    return { code, text: output() }
  }

  test('an unknown field, named with the one meant', async () => {
    const { code, text } = await run({ fields: ['status', 'upstreamStatuss'] })
    expect(code).toBe(2)
    expect(text).toContain('log.access.fields[1]: expected one of')
    expect(text).toContain('got "upstreamStatuss" — did you mean "upstreamStatus"?')
  })

  test('a file in a directory every user can write to', async () => {
    const { code, text } = await run({ file: join(tmpdir(), 'gw-access.log') })
    expect(code).toBe(2)
    expect(text).toContain(`log.access.file: directory ${tmpdir()} is writable by every user`)
  })
})
