import { describe, expect, test } from 'bun:test'
import { startDeadline } from './deadline.ts'

describe('startDeadline', () => {
  test('aborts with timedOut once the time passes', async () => {
    const deadline = startDeadline(20, new AbortController().signal)
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve))
    expect(deadline.timedOut).toBe(true)
  })

  test('a client abort aborts it, without counting as a timeout', () => {
    const client = new AbortController()
    const deadline = startDeadline(10_000, client.signal)
    client.abort()
    expect(deadline.signal.aborted).toBe(true)
    expect(deadline.timedOut).toBe(false)
    deadline.clear()
  })

  test('an already-aborted client aborts it at once', () => {
    const deadline = startDeadline(10_000, AbortSignal.abort())
    expect(deadline.signal.aborted).toBe(true)
    deadline.clear()
  })

  test('clear() stops both the timer and the client link', async () => {
    const client = new AbortController()
    const deadline = startDeadline(20, client.signal)
    deadline.clear()
    client.abort()
    await Bun.sleep(40)
    expect(deadline.signal.aborted).toBe(false)
    expect(deadline.timedOut).toBe(false)
  })
})
