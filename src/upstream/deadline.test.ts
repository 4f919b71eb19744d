import { afterEach, describe, expect, test } from 'bun:test'
import { createDeadlineWheel, type DeadlineWheel } from './deadline.ts'

const aborted = (signal: AbortSignal) => new Promise((resolve) => signal.addEventListener('abort', resolve))
let wheel: DeadlineWheel

afterEach(() => wheel.close())

describe('createDeadlineWheel', () => {
  test('aborts with timedOut once the time passes, within a tick', async () => {
    wheel = createDeadlineWheel({ tickMs: 10 })
    const started = performance.now()
    const deadline = wheel.start(30, { signal: new AbortController().signal })
    await aborted(deadline.signal)
    expect(deadline.timedOut).toBe(true)
    expect(performance.now() - started).toBeGreaterThanOrEqual(29)
    expect(wheel.pending).toBe(0)
  })

  test('a client abort aborts it at the next tick, without counting as a timeout', async () => {
    wheel = createDeadlineWheel({ tickMs: 10 })
    const client = new AbortController()
    const deadline = wheel.start(10_000, client)
    client.abort()
    await aborted(deadline.signal)
    expect(deadline.timedOut).toBe(false)
  })

  test("the client's signal is read at a tick, never at the start: an exchange over within a tick never makes one", async () => {
    wheel = createDeadlineWheel({ tickMs: 10 })
    let reads = 0
    const gone = { get signal() {
      reads++
      return AbortSignal.abort()
    } }
    wheel.start(10_000, gone).clear()
    const deadline = wheel.start(10_000, gone)
    expect(reads).toBe(0)
    await aborted(deadline.signal)
    expect(reads).toBe(1)
    expect(deadline.timedOut).toBe(false)
    expect(wheel.pending).toBe(0)
  })

  test('clear() ends the watch: neither the time nor the client abort it afterwards', async () => {
    wheel = createDeadlineWheel({ tickMs: 5 })
    const client = new AbortController()
    const deadline = wheel.start(10, client)
    deadline.clear()
    expect(wheel.pending).toBe(0)
    client.abort()
    await Bun.sleep(40)
    expect(deadline.signal.aborted).toBe(false)
    expect(deadline.timedOut).toBe(false)
  })

  test('onAbort: the direct listener hears the deadline once, and a signal made afterwards is already aborted', async () => {
    wheel = createDeadlineWheel({ tickMs: 5 })
    const deadline = wheel.start(10, { signal: new AbortController().signal })
    const heard: unknown[] = []
    deadline.onAbort({ abortedBy: (reason) => heard.push(reason) })
    const until = performance.now() + 2000
    while (!deadline.aborted && performance.now() < until) await Bun.sleep(5)
    await Bun.sleep(20)
    expect(heard).toHaveLength(1)
    expect((heard[0] as DOMException).name).toBe('TimeoutError')
    expect(deadline.signal.aborted).toBe(true)
    expect(deadline.signal.reason).toBe(heard[0])
  })

  test('onAbort(undefined) and clear() silence the listener', async () => {
    wheel = createDeadlineWheel({ tickMs: 5 })
    const client = new AbortController()
    const deadline = wheel.start(10_000, client)
    let heard = 0
    deadline.onAbort({ abortedBy: () => heard++ })
    deadline.onAbort(undefined)
    client.abort()
    const until = performance.now() + 2000
    while (!deadline.aborted && performance.now() < until) await Bun.sleep(5)
    expect(deadline.aborted).toBe(true)
    expect(heard).toBe(0)
  })

  test('its timer runs only while something is watched: set by start, stopped by the first tick with nothing left', async () => {
    wheel = createDeadlineWheel({ tickMs: 5 })
    expect(wheel.ticking).toBe(false)
    const first = wheel.start(10_000, { signal: new AbortController().signal })
    expect(wheel.ticking).toBe(true)
    first.clear()
    const until = performance.now() + 2000
    while (wheel.ticking && performance.now() < until) await Bun.sleep(5)
    expect(wheel.ticking).toBe(false)
    // Watched again: the timer is set again and still aborts on time.
    const second = wheel.start(10, { signal: new AbortController().signal })
    expect(wheel.ticking).toBe(true)
    await aborted(second.signal)
    expect(second.timedOut).toBe(true)
  })

  test('ten thousand finished exchanges leave nothing pending', () => {
    wheel = createDeadlineWheel()
    const client = { signal: new AbortController().signal }
    for (let i = 0; i < 10_000; i++) wheel.start(30_000, client).clear()
    expect(wheel.pending).toBe(0)
  })
})
