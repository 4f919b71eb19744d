import { describe, expect, test } from 'bun:test'
import { createLogger } from '../log.ts'
import { createFailureLog } from './failure-log.ts'
import { createTarget } from './target.ts'

describe('createFailureLog', () => {
  const lines: Record<string, unknown>[] = []
  let now = 0
  const log = createLogger({}, (line) => lines.push(JSON.parse(line)))
  const failed = createFailureLog('users', log, { intervalMs: 10_000, now: () => now })
  const a = createTarget('http://10.0.0.5:3000/api')
  const b = createTarget('https://backend.internal')

  test('one line per target and code per interval; the next one counts what was left out', () => {
    failed(a, 'connect_refused', 'api', 'r1')
    now = 5
    failed(a, 'connect_refused', 'api', 'r2')
    failed(a, 'connect_refused', 'other', 'r3')
    // Another code, another target: lines of their own.
    failed(a, 'headers_timeout', 'api', 'r4')
    failed(b, 'connect_refused', 'api', 'r5')
    now = 9_999
    failed(a, 'connect_refused', 'api', 'r6')
    expect(lines.map((l) => [l.target, l.error, l.requestId, l.suppressed])).toEqual([
      ['10.0.0.5:3000', 'connect_refused', 'r1', undefined],
      ['10.0.0.5:3000', 'headers_timeout', 'r4', undefined],
      ['backend.internal:443', 'connect_refused', 'r5', undefined],
    ])
    now = 10_000
    failed(a, 'connect_refused', 'api', 'r7')
    expect(lines.at(-1)).toMatchObject({ level: 'warn', event: 'upstream_failure', upstream: 'users', target: '10.0.0.5:3000', error: 'connect_refused', route: 'api', requestId: 'r7', suppressed: 3 })
    // A quiet spell: the count starts again.
    now = 30_000
    failed(a, 'connect_refused', 'api', 'r8')
    expect(lines.at(-1)).toMatchObject({ requestId: 'r8' })
    expect(lines.at(-1)).not.toHaveProperty('suppressed')
  })

  test('an interval of 0 writes every failure', () => {
    const every: unknown[] = []
    const each = createFailureLog('users', createLogger({}, (line) => every.push(line)), { intervalMs: 0, now: () => 1 })
    for (let i = 0; i < 3; i++) each(a, 'reset', 'api', `r${i}`)
    expect(every).toHaveLength(3)
  })
})
