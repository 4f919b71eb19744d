import { expect, test } from 'bun:test'
import { availableParallelism } from 'node:os'
import { allowedCpus, pinPlan, pinTree } from './pin.ts'

test('the plan puts the servers on the last core and everything else on the others', () => {
  expect(pinPlan(2, true)).toEqual({ load: '0', servers: '1' })
  expect(pinPlan(8, true)).toEqual({ load: '0-6', servers: '7' })
  expect(pinPlan(1, true)).toBe('--pin needs 2 cores or more, this machine has 1')
  expect(pinPlan(4, false)).toBe('--pin needs taskset (util-linux)')
})

test.skipIf(availableParallelism() < 2 || !Bun.which('taskset'))('a pinned tree: the process and its child run on the core given, and a child started later inherits it', async () => {
  // A parent that starts one child now and prints its pid, and one more on SIGUSR2.
  const script = `
    const spawn = () => console.log(Bun.spawn([process.execPath, '-e', 'setInterval(() => {}, 1000)'], { stdout: 'ignore' }).pid)
    spawn()
    process.on('SIGUSR2', spawn)
    setInterval(() => {}, 1000)
  `
  const parent = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe' })
  const reader = parent.stdout.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const pids: number[] = []
  const nextPid = async (): Promise<number> => {
    while (!text.includes('\n')) text += decoder.decode((await reader.read()).value)
    const line = text.slice(0, text.indexOf('\n'))
    text = text.slice(line.length + 1)
    pids.push(Number(line))
    return Number(line)
  }
  try {
    const child = await nextPid()
    const last = String(availableParallelism() - 1)
    expect(allowedCpus(child)).not.toBe(last)
    pinTree(parent.pid, last)
    expect(allowedCpus(parent.pid)).toBe(last)
    expect(allowedCpus(child)).toBe(last)
    parent.kill('SIGUSR2')
    expect(allowedCpus(await nextPid())).toBe(last)
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    parent.kill('SIGKILL')
  }
})
