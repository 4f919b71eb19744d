/**
 * `bun bench/shared-write.ts`: what the shared cache tier's write of one entry costs, in
 * process: the real store (src/policies/cache/shared-store.ts) given `--batch` new entries
 * each turn of the event loop, as a worker under unique-URL misses is (~15 a turn on 2
 * workers in `bun run bench --scenario cache-miss`). `--writers 2` runs two processes on one
 * file, as two workers do, taking its write lock in turn. Each writer reports the CPU of its
 * own process per entry: the head's JSON, the copy into the ring, the index.
 *
 *   bun bench/shared-write.ts [--entries 60000] [--batch 15] [--writers 1] [--prefill 100000]
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createExclusive, makePrivateDir } from '../src/files/private.ts'
import { parseCacheControl } from '../src/policies/cache/directives.ts'
import { primaryKey } from '../src/policies/cache/key.ts'
import { openSharedStore, prepareSharedCache } from '../src/policies/cache/shared-store.ts'
import { entrySize, type CacheEntry } from '../src/policies/cache/store.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    entries: { type: 'string', default: '60000' },
    batch: { type: 'string', default: '15' },
    writers: { type: 'string', default: '1' },
    prefill: { type: 'string', default: '100000' },
    // Internal: a writer process, on this file, with this name in its keys.
    path: { type: 'string' },
    name: { type: 'string' },
  },
})
const ENTRIES = Number(values.entries)
const BATCH = Number(values.batch)
const BODY = new Uint8Array(52).fill(65)
const DIRECTIVES = parseCacheControl('public, max-age=600')

/** An entry as the response cache makes one for the bench's /cached answers. */
function entry(path: string): CacheEntry {
  const primary = primaryKey('http', '127.0.0.1:8080', path, '')
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'public, max-age=600', date: new Date().toUTCString(), 'content-length': '52' })
  const now = Date.now()
  return { primary, key: primary, status: 200, headers, body: BODY, directives: DIRECTIVES, lifetime: 600, clock: { requestTime: now, responseTime: now, dateValue: now, ageValue: 0 }, varyNames: [], size: entrySize(primary, headers, BODY) }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A writer: `count` new entries, `batch` a turn; the CPU of this process per entry, in µs. */
async function write(path: string, name: string, count: number, batch: number): Promise<number> {
  const store = openSharedStore({ path, maxObjectBytes: 1 << 20 })
  // Made before the clock starts: the entries' own making is the response cache's, not the tier's.
  const entries = Array.from({ length: count }, (_, i) => entry(`/cached/${name}-${i}-${Math.random().toString(36).slice(2)}`))
  const before = process.cpuUsage()
  for (let i = 0; i < count; i += batch) {
    for (let j = i; j < Math.min(count, i + batch); j++) store.put(entries[j]!)
    await nextTurn()
  }
  store.close()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}

if (values.path !== undefined) {
  const us = await write(values.path, values.name!, ENTRIES, BATCH)
  process.stdout.write(`${JSON.stringify({ us })}\n`)
  process.exit(0)
}

const dir = makePrivateDir(tmpdir(), 'shared-write-')
const path = join(dir, 'cache.ring')
try {
  createExclusive(path)
  prepareSharedCache(path, 1 << 30)
  // A tier that holds something already: its index is not empty.
  if (Number(values.prefill) > 0) await write(path, 'prefill', Number(values.prefill), 1000)
  const writers = Array.from({ length: Number(values.writers) }, (_, w) =>
    Bun.spawn([process.execPath, import.meta.path, '--path', path, '--name', `w${w}`, '--entries', String(ENTRIES), '--batch', String(BATCH)], { stdout: 'pipe', stderr: 'inherit' })
  )
  const results = await Promise.all(writers.map(async (proc) => JSON.parse(await new Response(proc.stdout).text()) as { us: number }))
  console.log(`shared tier write, ${values.writers} writer(s), ${BATCH} entries a turn: CPU µs per entry ${results.map((r) => r.us.toFixed(2)).join(', ')}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
