/**
 * What a request leaves on the heap, counted exactly (bench/allocations.ts, in a process of
 * its own): a closure, promise or scope object added to the hot path shows here as a count
 * over its budget, on any machine, however loaded. Not a timing: the cells are counted, not
 * timed. Each row includes the harness's own (a Request, a body read, a promise or two; the
 * recorded upstream's socket one closure). A Bun upgrade may move them: then read the new
 * counts with `BUN_JSC_useConcurrentJIT=0 bun bench/allocations.ts` and set the budgets on
 * purpose.
 */
import { beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'

type Counts = Record<string, number>
let counts: Record<string, Counts> = {}

beforeAll(async () => {
  // The JIT compiles on this thread, when a function's count says so: which tier runs (and so
  // what its allocation sinking removes) then follows the requests served, not the machine's
  // speed. Off FTL, a proxied request makes 13 scope objects, not 7.
  const env = { ...process.env, BUN_JSC_useConcurrentJIT: '0' }
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, 'allocations.ts')], { stdout: 'pipe', stderr: 'inherit', env })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error('bench/allocations.ts failed')
  counts = JSON.parse(out)
}, 60_000)

const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0)
const count = (c: Counts, type: string) => c[type] ?? 0

/**
 * Budgets as counted on Bun 1.4.5 (bench/allocations.ts's order, compiling synchronously: the
 * JIT's allocation sinking depends on what ran before and on the tier reached): heap cells in
 * all, and the closures, scope objects and promises among them.
 */
const BUDGETS = {
  '/health': { total: 15, Function: 0, JSLexicalEnvironment: 0, Promise: 1 },
  '/cached/small': { total: 29, Function: 1, JSLexicalEnvironment: 2, Promise: 1 },
  '/api/small': { total: 85, Function: 6, JSLexicalEnvironment: 7, Promise: 4 },
}
/** A count of 1.002 is one cell in the 500 requests (a timer's): not one per request. */
const ONE_OFF = 0.05

describe('heap cells a request leaves', () => {
  for (const [path, budget] of Object.entries(BUDGETS)) {
    test(`GET ${path} stays within its budget`, () => {
      const seen = counts[path]!
      const of = { total: total(seen), Function: count(seen, 'Function'), JSLexicalEnvironment: count(seen, 'JSLexicalEnvironment'), Promise: count(seen, 'Promise') }
      const keys = Object.keys(budget) as (keyof typeof budget)[]
      const over = keys.filter((key) => of[key] > budget[key] + ONE_OFF).map((key) => `${key}: ${of[key].toFixed(2)} > ${budget[key]}`)
      expect(over).toEqual([])
    })
  }

  test('the request checks make nothing per header field but its strings', () => {
    // A browser sends 10-20 fields; the 431 count once made two scope objects per field.
    const few = counts['/health']!
    const lots = counts['/health with 20 more fields']!
    const withoutStrings = (c: Counts) => total(c) - count(c, 'string')
    expect(count(lots, 'JSLexicalEnvironment')).toBe(count(few, 'JSLexicalEnvironment'))
    expect(withoutStrings(lots) - withoutStrings(few)).toBeLessThan(2)
  })
})
