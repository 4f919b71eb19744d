/**
 * The shared tier's file: one memory map (Bun.mmap, shared) that every process of the node
 * reads and writes, laid out as
 *
 *   header (4 KiB) | fill locks (fill-locks.ts) | index | ring of entries
 *
 * - **The ring** holds whole entries one after another; `head` is where the next one goes,
 *   counted in bytes since the file was made, so an entry is known by its position (`pos`)
 *   and lives at `pos % capacity` until the ring comes round: the oldest entry is overwritten
 *   first, and the file never holds more than `capacity` bytes of entries.
 * - **The index** is a hash table of buckets of 8 slots, each [key hash, pos, base]. A slot
 *   only points: every reader checks the entry it reaches (its own position, its key, its
 *   checksum), so a stale, torn or colliding slot is a miss, never a wrong answer.
 * - **Writers** take a lock word in the header (a compare-and-swap holding an expiry, so a
 *   process killed while writing holds it for at most LOCK_SECONDS). A writer moves `head`
 *   before it overwrites anything, and a reader looks at `head` again after copying an entry:
 *   an entry overwritten while it was read is a miss. Readers take no lock.
 */
import { closeSync, ftruncateSync, openSync } from 'node:fs'
import { FILL_LOCK_BYTES } from './fill-locks.ts'

const MAGIC = 0x31524742 // "BGR1"
/** Bumped when the layout changes: a file of another version is made anew. */
export const RING_VERSION = 5
const HEADER_BYTES = 4096
/** Bytes of an entry's own header: state, length, position, checksum, key hash, part lengths. */
export const ENTRY_HEADER = 48
const BUCKET = 8
const SLOT_LANES = 3
/** A write lock older than this is taken over: its holder died while writing. */
const LOCK_SECONDS = 2
/** Tries at a taken write lock before `lock` gives up (a write holds it for a few µs). */
const LOCK_SPINS = 2000
const COMMITTED = 1
/** The first position: 0 in a slot means empty. */
const FIRST = 8

/** The sizes a file is made with; a file of other sizes is made anew. */
export interface RingGeometry {
  capacity: number
  slots: number
}

/**
 * The geometry for `maxBytes` of entries: a slot per 128-256 bytes (at least 64, at most 16M),
 * so the index adds 9-19% and the ring fills before its buckets of small entries (a 50-byte
 * body's entry is ~350 bytes) overflow.
 */
export function ringGeometry(maxBytes: number): RingGeometry {
  const capacity = Math.floor(maxBytes / 8) * 8
  let slots = 64
  while (slots < capacity / 256 && slots < 1 << 24) slots *= 2
  return { capacity, slots }
}

const indexBytes = (slots: number) => Math.ceil((slots * SLOT_LANES * 8) / 4096) * 4096
const fileBytes = (g: RingGeometry) => HEADER_BYTES + FILL_LOCK_BYTES + indexBytes(g.slots) + g.capacity
/** The size of the file for `maxBytes` of entries (its header, fill locks and index added). */
export const ringFileBytes = (maxBytes: number) => fileBytes(ringGeometry(maxBytes))

/** Writes a new, empty file at `path` (exclusive: the caller removed what was there; 0600). */
export function createRingFile(path: string, g: RingGeometry): void {
  const fd = openSync(path, 'wx', 0o600)
  try {
    ftruncateSync(fd, fileBytes(g))
  } finally {
    closeSync(fd)
  }
  const map = Bun.mmap(path, { shared: true })
  const words = new Int32Array(map.buffer, map.byteOffset, 4)
  const numbers = new Float64Array(map.buffer, map.byteOffset, 4)
  words[1] = RING_VERSION
  words[3] = g.slots
  numbers[2] = g.capacity
  numbers[3] = FIRST
  // Last: a file cut short by a crash before this has no magic and is made anew.
  Atomics.store(words, 0, MAGIC)
}

/** Why the file at `path` is not a ring of geometry `g` (`format`, `layout`, `size`), or null when it is. */
export function ringProblem(path: string, g: RingGeometry): string | null {
  const file = Bun.file(path)
  if (file.size < HEADER_BYTES) return 'format'
  const map = Bun.mmap(path, { shared: true })
  const words = new Int32Array(map.buffer, map.byteOffset, 4)
  const numbers = new Float64Array(map.buffer, map.byteOffset, 4)
  if (words[0] !== MAGIC) return 'format'
  if (words[1] !== RING_VERSION) return 'layout'
  if (words[3] !== g.slots || numbers[2] !== g.capacity || file.size !== fileBytes(g)) return 'size'
  const head = numbers[3]!
  if (!Number.isSafeInteger(head) || head < FIRST || head % 8 !== 0) return 'format'
  return null
}

/** Where an entry's parts are, and what they hold, once its header checked out. */
export interface EntryParts {
  pos: number
  /** Offset of the entry in the map. */
  at: number
  length: number
  keyBytes: number
  primaryBytes: number
  namesBytes: number
  headBytes: number
  bodyBytes: number
}

/** What a writer puts in an entry: the key and the three parts as bytes. */
export interface EntryBytes {
  key: Uint8Array
  /** The primary key's length in bytes (a prefix of the key). */
  primaryBytes: number
  keyHash: number
  names: Uint8Array
  head: Uint8Array
  body: Uint8Array
}

/** The hash slots are keyed by (crc32 of the key's characters). */
export const keyHash = (key: string): number => Bun.hash.crc32(key)

/** Maps the ring file at `path`; throws when it is not one. */
export function openRing(path: string) {
  const mapped = Bun.mmap(path, { shared: true })
  // A view of the map's buffer, not the map itself: slice() on Bun.mmap's own array costs 5x.
  const map = new Uint8Array(mapped.buffer, mapped.byteOffset, mapped.byteLength)
  const words = new Int32Array(map.buffer, map.byteOffset, map.byteLength >>> 2)
  const numbers = new Float64Array(map.buffer, map.byteOffset, map.byteLength >>> 3)
  if (map.byteLength < HEADER_BYTES || words[0] !== MAGIC || words[1] !== RING_VERSION) {
    throw Object.assign(new Error('not a shared cache file'), { code: 'format' })
  }
  const slots = words[3]!
  const capacity = numbers[2]!
  const g = { slots, capacity }
  if (map.byteLength !== fileBytes(g)) throw Object.assign(new Error('not a shared cache file'), { code: 'size' })
  const locks = new BigInt64Array(map.buffer, map.byteOffset + HEADER_BYTES, FILL_LOCK_BYTES / 8)
  /** Slot i's lanes are index[3i] (hash), [3i+1] (pos), [3i+2] (base). */
  const index = new Float64Array(map.buffer, map.byteOffset + HEADER_BYTES + FILL_LOCK_BYTES, slots * SLOT_LANES)
  const ringStart = HEADER_BYTES + FILL_LOCK_BYTES + indexBytes(slots)
  const HEAD = 3 // numbers[3]
  const LOCK = 2 // words[2]

  const head = () => numbers[HEAD]!
  /** Whether the entry at `pos` has not been overwritten (yet), and is not past the head (a file the OS crashed under). */
  const intact = (pos: number) => pos >= FIRST && pos < head() && head() - pos <= capacity

  /** The entry at `pos` if its header says it is whole and there, else undefined. */
  const partsAt = (pos: number): EntryParts | undefined => {
    if (!intact(pos)) return undefined
    const at = ringStart + (pos % capacity)
    const w = at >>> 2
    if (Atomics.load(words, w) !== COMMITTED || numbers[(at >>> 3) + 1] !== pos) return undefined
    const length = words[w + 1]!
    const keyBytes = words[w + 6]!
    const namesBytes = words[w + 8]!
    const headBytes = words[w + 9]!
    const bodyBytes = words[w + 10]!
    if (length < ENTRY_HEADER || (pos % capacity) + length > capacity) return undefined
    if (keyBytes < 0 || namesBytes < 0 || headBytes < 0 || bodyBytes < 0) return undefined
    if (ENTRY_HEADER + keyBytes + namesBytes + headBytes + bodyBytes > length) return undefined
    const primaryBytes = words[w + 7]!
    if (primaryBytes < 0 || primaryBytes > keyBytes) return undefined
    return { pos, at, length, keyBytes, primaryBytes, namesBytes, headBytes, bodyBytes }
  }

  /** The lock word this process wrote when it took the lock (0: not held). */
  let mine = 0
  /** Takes the write lock; false when another process held it for `spins` tries. */
  const lock = (spins = LOCK_SPINS): boolean => {
    const now = Math.floor(Date.now() / 1000)
    const until = now + LOCK_SECONDS
    for (let i = 0; i < spins; i++) {
      const held = Atomics.load(words, LOCK)
      // Free, or its holder died writing: taken over.
      if ((held === 0 || held < now) && Atomics.compareExchange(words, LOCK, held, until) === held) {
        mine = until
        return true
      }
    }
    return false
  }
  /** Whether this process still holds the lock (it expires, and is taken over, after LOCK_SECONDS). */
  const holding = () => mine !== 0 && Atomics.load(words, LOCK) === mine
  /** Frees the lock, unless it expired and another process took it over. */
  const unlock = () => {
    if (mine !== 0) Atomics.compareExchange(words, LOCK, mine, 0)
    mine = 0
  }

  return {
    locks,
    capacity,
    slots,
    head,
    intact,
    partsAt,
    lock,
    holding,
    unlock,
    /**
     * What the primary does, before any worker, to a file a previous run left: frees the write
     * lock, and when an index slot points past the head (the OS crashed before the header's page
     * was written back) moves the head a whole ring past it, so no position is used twice.
     */
    reset(): void {
      Atomics.store(words, LOCK, 0)
      let last = 0
      for (let n = 0; n < slots; n++) last = Math.max(last, index[n * SLOT_LANES + 1]!)
      if (last >= head()) numbers[HEAD] = Math.ceil((last + capacity + 8) / 8) * 8
    },

    /** The `n`th slot's lanes. */
    slotHash: (n: number) => index[n * SLOT_LANES]!,
    slotPos: (n: number) => index[n * SLOT_LANES + 1]!,
    slotBase: (n: number) => index[n * SLOT_LANES + 2]!,
    /** Points slot `n` at `pos` (base first: a reader between the two sees the old pos). Under the write lock. */
    setSlot(n: number, hash: number, pos: number, base: number) {
      index[n * SLOT_LANES] = hash
      index[n * SLOT_LANES + 2] = base
      index[n * SLOT_LANES + 1] = pos
    },
    /** The first slot of `hash`'s bucket; its bucket is BUCKET slots from there. */
    bucketOf: (hash: number) => (hash & (slots - 1) & ~(BUCKET - 1)),
    BUCKET,

    /** The key of the entry `parts` (its bytes as they are now: check them with `copy`). */
    keyOf(parts: EntryParts): string {
      const from = parts.at + ENTRY_HEADER
      return decoder.decode(map.subarray(from, from + parts.keyBytes))
    },
    /** The primary key of the entry `parts` (a prefix of its key). */
    primaryOf(parts: EntryParts): string {
      const from = parts.at + ENTRY_HEADER
      return decoder.decode(map.subarray(from, from + parts.primaryBytes))
    },
    /** Whether the entry's key (or with `primary`, its primary key) is `key`'s bytes. */
    keyIs(parts: EntryParts, key: Uint8Array, primary: boolean): boolean {
      if ((primary ? parts.primaryBytes : parts.keyBytes) !== key.byteLength) return false
      const from = parts.at + ENTRY_HEADER
      for (let i = 0; i < key.byteLength; i++) if (map[from + i] !== key[i]) return false
      return true
    },
    /** The Vary names (JSON) the entry was stored under; '' without Vary. */
    namesOf(parts: EntryParts): string {
      if (parts.namesBytes === 0) return ''
      const from = parts.at + ENTRY_HEADER + parts.keyBytes
      return decoder.decode(map.subarray(from, from + parts.namesBytes))
    },
    keyHashOf: (parts: EntryParts) => words[(parts.at >>> 2) + 5]! >>> 0,

    /**
     * The entry's head (text) and a copy of its body, or `overwritten` when the ring came round
     * while they were read, or `damaged` when its checksum fails. Read straight from the map (a
     * subarray of a fresh copy costs JSC ~300 ns): the check of the head afterwards says the
     * bytes did not change between the checksum and the copy.
     */
    read(parts: EntryParts): { head: string; body: Uint8Array } | 'overwritten' | 'damaged' {
      const from = parts.at + ENTRY_HEADER
      const headAt = from + parts.keyBytes + parts.namesBytes
      const bodyAt = headAt + parts.headBytes
      const stored = words[(parts.at >>> 2) + 4]! >>> 0
      const sum = Bun.hash.crc32(map.subarray(from, bodyAt + parts.bodyBytes))
      const head = decoder.decode(map.subarray(headAt, bodyAt))
      const body = map.slice(bodyAt, bodyAt + parts.bodyBytes)
      // A fence: the head is read after the copies (x86-64 keeps loads in order; ARM does not).
      Atomics.load(words, 0)
      if (!intact(parts.pos)) return 'overwritten'
      if (sum !== stored) return 'damaged'
      return { head, body }
    },

    /** Appends an entry and returns its position; undefined when it is larger than the ring or the lock was lost. Under the write lock. */
    append(entry: EntryBytes): number | undefined {
      const bytes = ENTRY_HEADER + entry.key.byteLength + entry.names.byteLength + entry.head.byteLength + entry.body.byteLength
      const length = Math.ceil(bytes / 8) * 8
      if (length > capacity) return undefined
      let pos = head()
      // An entry never wraps: past the end of the ring, the next starts at its beginning.
      if ((pos % capacity) + length > capacity) pos += capacity - (pos % capacity)
      // Moved before anything is overwritten: readers check it after they copy.
      numbers[HEAD] = pos + length
      const at = ringStart + (pos % capacity)
      const w = at >>> 2
      Atomics.store(words, w, 0)
      words[w + 1] = length
      numbers[(at >>> 3) + 1] = pos
      words[w + 5] = entry.keyHash | 0
      words[w + 6] = entry.key.byteLength
      words[w + 7] = entry.primaryBytes
      words[w + 8] = entry.names.byteLength
      words[w + 9] = entry.head.byteLength
      words[w + 10] = entry.body.byteLength
      let p = at + ENTRY_HEADER
      map.set(entry.key, p)
      map.set(entry.names, (p += entry.key.byteLength))
      map.set(entry.head, (p += entry.names.byteLength))
      map.set(entry.body, p + entry.head.byteLength)
      // Of the bytes meant, not of the map: bytes a second writer mixed in fail it.
      const { crc32 } = Bun.hash
      words[w + 4] = crc32(entry.body, crc32(entry.head, crc32(entry.names, crc32(entry.key)))) | 0
      // Stopped past the lock's expiry, another writer may have taken over: never committed then.
      if (!holding()) return undefined
      Atomics.store(words, w, COMMITTED)
      return pos
    },

    /** Copies the entry `parts` to the head of the ring (a hit near its end: second chance). Under the write lock. */
    reappend(parts: EntryParts): number | undefined {
      let pos = head()
      if ((pos % capacity) + parts.length > capacity) pos += capacity - (pos % capacity)
      // The new copy may overlap the old one, only ever starting before it (the old one is over
      // 3/4 of the ring behind), and copyWithin moves as memmove does. A reader of the old one
      // sees the head past it once it has copied, and misses.
      numbers[HEAD] = pos + parts.length
      const at = ringStart + (pos % capacity)
      Atomics.store(words, at >>> 2, 0)
      map.copyWithin(at + 4, parts.at + 4, parts.at + parts.length)
      numbers[(at >>> 3) + 1] = pos
      if (!holding()) return undefined
      Atomics.store(words, at >>> 2, COMMITTED)
      return pos
    },
  }
}

const decoder = new TextDecoder()

export type Ring = ReturnType<typeof openRing>
