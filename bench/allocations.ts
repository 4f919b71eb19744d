/**
 * The heap cells a request leaves, for bench/allocations.test.ts: /health, a cache hit, a
 * proxied request, and /health with 20 more header fields, counted in this fresh process
 * (allocationsPerRequest, recorded.ts) in that order, so no other code's JIT profile moves
 * the counts. Prints one JSON object: path -> { cell type: count per request }.
 * `bun bench/ledger.ts --allocations` prints the same counts for people, for any scenario.
 *
 * bench/allocations.test.ts runs it with `BUN_JSC_useConcurrentJIT=0`, so the tier each
 * function has reached by then is the same on a slow machine as on a fast one.
 *
 *   BUN_JSC_useConcurrentJIT=0 bun bench/allocations.ts
 */
import { fixtureApp } from './fixture-app.ts'
import { allocationsPerRequest, LOOPBACK_SERVER } from './recorded.ts'

const { app } = fixtureApp()
const serve = (req: Request) => app.fetch(req, LOOPBACK_SERVER)
const MANY_FIELDS: Record<string, string> = {}
for (let i = 0; i < 20; i++) MANY_FIELDS[`x-field-${i}`] = `value ${i}`

const counts: Record<string, Record<string, number>> = {}
for (const path of ['/health', '/cached/small', '/api/small']) counts[path] = Object.fromEntries(await allocationsPerRequest(serve, path))
counts['/health with 20 more fields'] = Object.fromEntries(await allocationsPerRequest(serve, '/health', { headers: MANY_FIELDS }))
process.stdout.write(`${JSON.stringify(counts)}\n`)
