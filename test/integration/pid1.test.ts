/**
 * `bun run start` as PID 1, as in a container (`unshare --pid --fork --mount-proc` gives it
 * a PID namespace of its own): it serves, a worker killed is reaped and replaced (no zombie
 * left), and SIGTERM to PID 1 drains an in-flight request, exits 0 and leaves no process behind.
 */
import { afterAll, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { events, waitFor, writeConfig } from '../fixtures/gateway.ts'

const ROOT = join(import.meta.dir, '..', '..')
// Needs CAP_SYS_ADMIN (root, as in CI) to make a PID namespace.
const canUnshare = Bun.which('unshare') !== null && Bun.spawnSync(['unshare', '--pid', '--fork', '--mount-proc', 'true']).exitCode === 0
if (!canUnshare) console.warn('pid1.test.ts: skipped, unshare --pid needs root (CAP_SYS_ADMIN)')

/** Every descendant of `pid`, from /proc (threads' children included). */
function descendants(pid: number): number[] {
  const out: number[] = []
  let tasks: string[] = []
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const task of tasks) {
    let children = ''
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
    } catch {
      continue
    }
    for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) out.push(child, ...descendants(child))
  }
  return out
}

const field = (pid: number, name: string) => readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))?.[1]
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let inFlight = 0
const upstream = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    inFlight++
    if (new URL(req.url).pathname === '/slow') await Bun.sleep(800)
    return new Response('done')
  },
})
afterAll(() => upstream.stop(true))

test.skipIf(!canUnshare)('as PID 1: serves, reaps and replaces a killed worker, drains on SIGTERM and exits 0 with nothing left', async () => {
  const config = writeConfig({
    server: { host: '127.0.0.1', port: 0, workers: 2 },
    admin: { port: 0 },
    upstreams: { app: { targets: [`http://127.0.0.1:${upstream.port}`] } },
    routes: [{ path: '/', upstream: 'app' }],
  })
  const proc = Bun.spawn(['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, 'run', 'start'], {
    cwd: ROOT,
    // `bun run` finds bun for the script on PATH.
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, GATEWAY_CONFIG: config },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let output = ''
  void (async () => {
    for await (const chunk of proc.stdout) output += new TextDecoder().decode(chunk)
  })()
  try {
    await waitFor(() => events(output, 'listening').length === 1, 15_000, 'the gateway to listen')
    const port = events(output, 'listening')[0]!.port as number
    const init = descendants(proc.pid)[0]!
    expect(field(init, 'NSpid')!.split(/\s+/).at(-1)).toBe('1')
    expect(cmdline(init)).toContain('run start')
    expect((await fetch(`http://127.0.0.1:${port}/x`)).status).toBe(200)

    const workers = () => descendants(init).filter((pid) => alive(pid) && cmdline(pid).includes('--worker'))
    const zombies = () => descendants(init).filter((pid) => alive(pid) && field(pid, 'State')?.startsWith('Z'))
    const [victim] = workers()
    process.kill(victim!, 'SIGKILL')
    await waitFor(() => !alive(victim!) && workers().length === 2 && zombies().length === 0, 10_000, 'the killed worker reaped and replaced')

    const tree = [init, ...descendants(init)]
    const before = inFlight
    const slow = fetch(`http://127.0.0.1:${port}/slow`)
    await waitFor(() => inFlight > before, 5000, 'the slow request to reach the upstream')
    process.kill(init, 'SIGTERM')
    const res = await slow
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('done')
    expect(await proc.exited).toBe(0)
    expect(events(output, 'shutdown_complete')[0]).toMatchObject({ exitStatus: 0 })
    expect(tree.filter(alive)).toEqual([])
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL')
  }
}, 40_000)
