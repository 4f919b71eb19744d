import { describe, expect, test } from 'bun:test'
import { createCrashPolicy } from './crash-policy.ts'

describe('createCrashPolicy', () => {
  test('backs off exponentially with jitter, then gives up at maxCrashes within the window', () => {
    const policy = createCrashPolicy({ maxCrashes: 4, windowSeconds: 60, baseDelayMs: 100, random: () => 1 })
    expect(policy.onCrash(0)).toEqual({ action: 'respawn', delayMs: 100, recent: 1 })
    expect(policy.onCrash(1000)).toEqual({ action: 'respawn', delayMs: 200, recent: 2 })
    expect(policy.onCrash(2000)).toEqual({ action: 'respawn', delayMs: 400, recent: 3 })
    expect(policy.onCrash(3000)).toEqual({ action: 'give_up', recent: 4 })
  })

  test('crashes older than the window are forgotten', () => {
    const policy = createCrashPolicy({ maxCrashes: 2, windowSeconds: 10, random: () => 0 })
    expect(policy.onCrash(0).action).toBe('respawn')
    expect(policy.onCrash(10_001)).toEqual({ action: 'respawn', delayMs: 50, recent: 1 })
  })

  test('the delay is capped', () => {
    const policy = createCrashPolicy({ maxCrashes: 100, windowSeconds: 60, maxDelayMs: 1000, random: () => 1 })
    let last = policy.onCrash(0)
    for (let i = 1; i < 20; i++) last = policy.onCrash(i)
    expect(last).toMatchObject({ action: 'respawn', delayMs: 1000 })
  })
})
