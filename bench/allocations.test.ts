/**
 * What a request leaves on the heap, counted exactly (bench/recorded.ts, allocationsPerRequest):
 * a closure, promise or scope object added to the hot path shows here as a count over its
 * budget, on any machine, however loaded. Not a timing: the cells are counted, not timed.
 * Each row includes the harness's own (a Request, a body read, a promise or two; the recorded
 * upstream's socket one closure). A Bun upgrade may move them: then read the new counts with
 * `bun bench/ledger.ts --allocations` and set the budgets on purpose.
 */
import { describe, expect, test } from 'bun:test'
import { fixtureApp } from './fixture-app.ts'
import { allocationsPerRequest, LOOPBACK_SERVER } from './recorded.ts'

const { app } = fixtureApp()
const serve = (req: Request) => app.fetch(req, LOOPBACK_SERVER)
const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0)
const count = (counts: Map<string, number>, type: string) => counts.get(type) ?? 0

/**
 * Budgets as counted on Bun 1.4.5, in this file's order (the JIT's allocation sinking depends
 * on what ran before, so a path's count can differ by a cell or two in another order): heap
 * cells in all, and the closures, scope objects and promises among them.
 */
const BUDGETS = {
  '/health': { total: 15, Function: 0, JSLexicalEnvironment: 0, Promise: 1 },
  '/cached/small': { total: 31, Function: 1, JSLexicalEnvironment: 3, Promise: 1 },
  '/api/small': { total: 86, Function: 6, JSLexicalEnvironment: 7, Promise: 4 },
}
/** A count of 1.002 is one cell in the 500 requests (a timer's): not one per request. */
const ONE_OFF = 0.05

describe('heap cells a request leaves', () => {
  for (const [path, budget] of Object.entries(BUDGETS)) {
    test(`GET ${path} stays within its budget`, async () => {
      const counts = await allocationsPerRequest(serve, path)
      const seen = { total: total(counts), Function: count(counts, 'Function'), JSLexicalEnvironment: count(counts, 'JSLexicalEnvironment'), Promise: count(counts, 'Promise') }
      const over = Object.entries(budget).filter(([key, most]) => seen[key as keyof typeof seen] > most + ONE_OFF)
      expect(over.map(([key]) => `${key}: ${seen[key as keyof typeof seen].toFixed(2)} > ${budget[key as keyof typeof budget]}`)).toEqual([])
    }, 30_000)
  }

  test('the request checks make nothing per header field but its strings', async () => {
    // A browser sends 10-20 fields; the 431 count once made two scope objects per field.
    const many: Record<string, string> = {}
    for (let i = 0; i < 20; i++) many[`x-field-${i}`] = `value ${i}`
    const few = await allocationsPerRequest(serve, '/health')
    const lots = await allocationsPerRequest(serve, '/health', { headers: many })
    const withoutStrings = (counts: Map<string, number>) => total(counts) - count(counts, 'string')
    expect(count(lots, 'JSLexicalEnvironment')).toBe(count(few, 'JSLexicalEnvironment'))
    expect(withoutStrings(lots) - withoutStrings(few)).toBeLessThan(2)
  }, 30_000)
})
