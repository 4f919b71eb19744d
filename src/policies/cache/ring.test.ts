import { expect, test } from 'bun:test'
import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRingFile, encodeEntry, entryBound, keyHash, openRing, ringGeometry, type EntrySource, type Ring } from './ring.ts'

function ring() {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-ring-')), 'cache.ring')
  createRingFile(path, ringGeometry(1 << 16))
  return { path, ring: openRing(path), words: new Int32Array(Bun.mmap(path, { shared: true }).buffer, 0, 4) }
}
const bytes = (text: string) => new TextEncoder().encode(text)
const entry = (key: string, body = 'body'): EntrySource => ({ key, primary: key, keyHash: keyHash(key), names: '', head: '{}', body: bytes(body) })

/** Lays `entries` out as a store stages them and appends them in one batch; their positions and lengths. */
function appendAll(r: Ring, entries: EntrySource[]): { positions: number[]; lengths: number[] } | undefined {
  const into = Buffer.alloc(entries.reduce((sum, e) => sum + entryBound(e), 0))
  const lengths: number[] = []
  let end = 0
  for (const e of entries) {
    lengths.push(encodeEntry(into, end, e))
    end += lengths.at(-1)!
  }
  const positions: number[] = []
  return r.appendEntries(into, end, positions) ? { positions, lengths } : undefined
}

test('a writer that lost its lock (stopped past its expiry, taken over) never commits, nor frees the new holder\'s lock', () => {
  const { ring: a, words } = ring()
  expect(a.lock()).toBe(true)
  // Another process took the lock over after it expired.
  words[2] = Math.floor(Date.now() / 1000) + 100
  const taken = words[2]
  expect(appendAll(a, [entry('k')])).toBeUndefined()
  expect(a.partsAt(8, 56)).toBeUndefined()
  a.unlock()
  expect(words[2]).toBe(taken)
})

test('an entry written under the lock is whole, checked, and gone once the ring comes round', () => {
  const { ring: a } = ring()
  expect(a.lock()).toBe(true)
  const { positions: [pos], lengths: [length] } = appendAll(a, [entry('k')])!
  a.unlock()
  const parts = a.partsAt(pos!, length!)!
  expect(parts.key).toBe('k')
  expect(a.read(parts)).toEqual({ head: '{}', body: bytes('body') })
  expect(a.lock()).toBe(true)
  // A ring's length of other entries.
  while (a.head() - pos! <= a.capacity) appendAll(a, [entry('other')])
  a.unlock()
  expect(a.partsAt(pos!, length!)).toBeUndefined()
})

test("a batch across the ring's end is written in two runs, each entry whole, and the file keeps its size", () => {
  const { path, ring: a } = ring()
  const size = statSync(path).size
  expect(a.lock()).toBe(true)
  // 64-byte entries (a 48-byte header, key, head and body) from position 64 end exactly at the ring's end.
  appendAll(a, [entry('k', 'x'.repeat(5))])
  expect(a.head()).toBe(64)
  while ((a.head() % a.capacity) < a.capacity - 3 * 64) appendAll(a, [entry('k', 'x'.repeat(13))])
  const batch = Array.from({ length: 6 }, (_, i) => entry(`b${i}`, String(i).repeat(12)))
  const { positions, lengths } = appendAll(a, batch)!
  a.unlock()
  expect(lengths).toEqual([64, 64, 64, 64, 64, 64])
  expect(positions.filter((pos) => pos % a.capacity === 0)).toHaveLength(1)
  positions.forEach((pos, i) => {
    const parts = a.partsAt(pos, 64)!
    expect(parts.key).toBe(`b${i}`)
    expect(a.read(parts)).toEqual({ head: '{}', body: bytes(String(i).repeat(12)) })
  })
  expect(statSync(path).size).toBe(size)
  // And where an entry does not fit before the end, it starts the next lap.
  expect(a.lock()).toBe(true)
  while ((a.head() % a.capacity) < a.capacity - 100) appendAll(a, [entry('k', 'x'.repeat(13))])
  const next = appendAll(a, [entry('a', 'x'.repeat(13)), entry('big', 'y'.repeat(200)), entry('c', 'z')])!
  a.unlock()
  expect(next.positions[1]! % a.capacity).toBe(0)
  expect(a.read(a.partsAt(next.positions[1]!, next.lengths[1]!)!)).toEqual({ head: '{}', body: bytes('y'.repeat(200)) })
  expect(a.read(a.partsAt(next.positions[2]!, next.lengths[2]!)!)).toEqual({ head: '{}', body: bytes('z') })
  expect(statSync(path).size).toBe(size)
})
