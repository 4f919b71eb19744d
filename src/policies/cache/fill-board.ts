/**
 * The shared tier's board: a small file beside the database that every worker of the node
 * maps into memory (Bun.mmap, shared), holding what each cache miss asks the node and used
 * to ask SQLite with a query or a write of its own (~8 µs a read, ~12 µs a write, mostly
 * WAL locking):
 *
 * - **Fill locks**: a slot per hash of the primary key holding the lock's expiry (ms since
 *   the epoch), taken with a compare-and-swap, so one worker of the node fills a key while
 *   the others wait for its entry. Two keys that share a slot share the lock: the second
 *   waits for the first's fill, then fills itself (a delay, never a wrong answer).
 * - **Presence bits**: a bit per hash of the primary key, set when an entry is queued and
 *   never cleared, so a key no worker ever stored is a miss without a query. A stale bit
 *   (an entry since evicted or purged) costs one query, as before.
 * - **Byte total** of the database's entries, changed by each write transaction as it
 *   writes (and changed back when it rolls back), so a commit does not also rewrite a row
 *   (a 4 KiB WAL page) holding it. Set from SUM(size) whenever a store is opened, under the
 *   write lock (only stores read it): a process killed inside a transaction leaves it off only
 *   until it is respawned.
 *
 * The primary makes the file (0600, in the cache's private directory) before any worker
 * starts, and sets the bits of the entries a kept database already holds.
 */
import { closeSync, ftruncateSync, openSync } from 'node:fs'
export { FILL_BOARD_SUFFIX } from '../../files/private.ts'

const LOCK_SLOTS = 1 << 16
const PRESENCE_BITS = 1 << 23
const LOCK_BYTES = LOCK_SLOTS * 8
export const FILL_BOARD_BYTES = LOCK_BYTES + PRESENCE_BITS / 8 + 8

const slotOf = (hash: number) => hash & (LOCK_SLOTS - 1)
const bitOf = (hash: number) => hash >>> 9

export interface FillBoard {
  /** False when no worker stored an entry under `primary`: no need to look. */
  mayHold(primary: string): boolean
  /** An entry under `primary` is on its way to the database. */
  markStored(primary: string): void
  /** Claims the fill of `primary` until `expires` (ms since the epoch); false while another holds it. */
  lock(primary: string, now: number, expires: number): boolean
  /** Whether a fill of `primary` (or of a key sharing its slot) is under way. */
  locked(primary: string, now: number): boolean
  /** Releases a lock this worker took with `lock(primary, _, expires)`, unless it expired and was taken since. */
  release(primary: string, expires: number): void
  /** The byte total of the database's entries (see above). */
  bytes(): number
  /** Adds `delta` (negative to remove) to the byte total. */
  addBytes(delta: number): void
  /** Sets the byte total: only under the database's write lock, from SUM(size). */
  setBytes(total: number): void
}

/** Makes the board at `path` (the primary, before any worker): a new file of zeros, then `stored` marked. */
export function createFillBoard(path: string, stored: Iterable<string>): void {
  // Exclusive: anything planted at the path (removed just before by the caller) fails here.
  const fd = openSync(path, 'wx', 0o600)
  try {
    ftruncateSync(fd, FILL_BOARD_BYTES)
  } finally {
    closeSync(fd)
  }
  const board = openFillBoard(path)
  for (const primary of stored) board.markStored(primary)
}

/** Maps the board at `path`; throws when it is missing or not a board. */
export function openFillBoard(path: string): FillBoard {
  const map = Bun.mmap(path, { shared: true })
  if (map.byteLength !== FILL_BOARD_BYTES) throw Object.assign(new Error('not a fill board'), { code: 'SQLITE_CORRUPT' })
  const locks = new BigInt64Array(map.buffer, map.byteOffset, LOCK_SLOTS)
  const presence = new Uint8Array(map.buffer, map.byteOffset + LOCK_BYTES, PRESENCE_BITS / 8)
  const total = new BigInt64Array(map.buffer, map.byteOffset + LOCK_BYTES + PRESENCE_BITS / 8, 1)
  const hashOf = (primary: string) => Bun.hash.crc32(primary)
  return {
    mayHold(primary) {
      const bit = bitOf(hashOf(primary))
      return (presence[bit >>> 3]! & (1 << (bit & 7))) !== 0
    },
    markStored(primary) {
      const bit = bitOf(hashOf(primary))
      // Atomic: two workers setting bits of one byte must not lose either.
      Atomics.or(presence, bit >>> 3, 1 << (bit & 7))
    },
    lock(primary, now, expires) {
      const slot = slotOf(hashOf(primary))
      const held = Atomics.load(locks, slot)
      if (held > BigInt(now)) return false
      return Atomics.compareExchange(locks, slot, held, BigInt(expires)) === held
    },
    locked(primary, now) {
      return Atomics.load(locks, slotOf(hashOf(primary))) > BigInt(now)
    },
    release(primary, expires) {
      Atomics.compareExchange(locks, slotOf(hashOf(primary)), BigInt(expires), 0n)
    },
    bytes() {
      return Number(Atomics.load(total, 0))
    },
    addBytes(delta) {
      if (delta !== 0) Atomics.add(total, 0, BigInt(delta))
    },
    setBytes(bytes) {
      Atomics.store(total, 0, BigInt(bytes))
    },
  }
}
