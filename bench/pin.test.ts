import { expect, test } from 'bun:test'
import { allowedCpus, parseCpuList, pinPlan, pinTree } from './pin.ts'

test('the plan puts the servers on the last core allowed and everything else on the others', () => {
  expect(pinPlan([0, 1], true)).toEqual({ load: '0', servers: '1' })
  expect(pinPlan(parseCpuList('0-2,5'), true)).toEqual({ load: '0,1,2', servers: '5' })
  expect(pinPlan([3], true)).toBe('--pin needs 2 cores or more, this process may use 1')
  expect(pinPlan([0, 1, 2, 3], false)).toBe('--pin needs taskset (util-linux)')
  expect(parseCpuList('4')).toEqual([4])
})

const allowed = parseCpuList(allowedCpus(process.pid))

test.skipIf(allowed.length < 2 || !Bun.which('taskset'))('a pinned tree: the process and its child run on the core given, and a child started later inherits it', async () => {
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
    const last = String(allowed.at(-1))
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
