/**
 * When to respawn a crashed worker, and when to give up: exponential backoff with jitter,
 * and a crash loop (maxCrashes within windowSeconds) ends the gateway instead of spinning.
 */

export interface CrashPolicyOptions {
  maxCrashes: number
  windowSeconds: number
  /** First delay in ms; doubles per recent crash. */
  baseDelayMs?: number
  maxDelayMs?: number
  random?: () => number
}

export type CrashDecision = { action: 'respawn'; delayMs: number; recent: number } | { action: 'give_up'; recent: number }

export function createCrashPolicy(options: CrashPolicyOptions) {
  const { maxCrashes, windowSeconds, baseDelayMs = 100, maxDelayMs = 10_000, random = Math.random } = options
  const crashes: number[] = []
  return {
    /** Records a crash at `now` (ms) and says what to do. */
    onCrash(now: number): CrashDecision {
      crashes.push(now)
      while (crashes.length > 0 && crashes[0]! <= now - windowSeconds * 1000) crashes.shift()
      const recent = crashes.length
      if (recent >= maxCrashes) return { action: 'give_up', recent }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (recent - 1))
      // "Equal jitter": half fixed, half random, so restarts of several workers spread out.
      return { action: 'respawn', delayMs: Math.round(ceiling / 2 + (random() * ceiling) / 2), recent }
    },
  }
}
