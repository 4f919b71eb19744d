import { expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRingFile, entryLength, keyHash, openRing, ringGeometry } from './ring.ts'

function ring() {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-ring-')), 'cache.ring')
  createRingFile(path, ringGeometry(1 << 16))
  return { ring: openRing(path), words: new Int32Array(Bun.mmap(path, { shared: true }).buffer, 0, 4) }
}
const bytes = (text: string) => new TextEncoder().encode(text)
const entry = (key: string) => ({ key: bytes(key), primaryBytes: key.length, keyHash: keyHash(key), names: bytes(''), head: bytes('{}'), body: bytes('body') })

test('a writer that lost its lock (stopped past its expiry, taken over) never commits, nor frees the new holder\'s lock', () => {
  const { ring: a, words } = ring()
  expect(a.lock()).toBe(true)
  // Another process took the lock over after it expired.
  words[2] = Math.floor(Date.now() / 1000) + 100
  const taken = words[2]
  const pos = a.append(entry('k'))
  expect(pos).toBeUndefined()
  expect(a.partsAt(8, entryLength(entry('k')))).toBeUndefined()
  a.unlock()
  expect(words[2]).toBe(taken)
})

test('an entry written under the lock is whole, checked, and gone once the ring comes round', () => {
  const { ring: a } = ring()
  expect(a.lock()).toBe(true)
  const pos = a.append(entry('k'))!
  a.unlock()
  const length = entryLength(entry('k'))
  const parts = a.partsAt(pos, length)!
  expect(parts.key).toBe('k')
  expect(a.read(parts)).toEqual({ head: '{}', body: bytes('body') })
  expect(a.lock()).toBe(true)
  // A ring's length of other entries.
  while (a.head() - pos <= a.capacity) a.append(entry('other'))
  a.unlock()
  expect(a.partsAt(pos, length)).toBeUndefined()
})
