/**
 * The shared tier's file, which every process of the node reads and writes, laid out as
 *
 *   header (4 KiB) | fill locks (fill-locks.ts) | index | ring of entries
 *
 * The header, fill locks and index are mapped into memory (Bun.mmap, shared, updated with
 * atomic instructions); the entries are read with pread and written with pwrite, many at a
 * time (openRing says why).
 *
 * - **The ring** holds whole entries one after another; `head` is where the next one goes,
 *   counted in bytes since the file was made, so an entry is known by its position (`pos`)
 *   and lives at `pos % capacity` until the ring comes round: the oldest entry is overwritten
 *   first, and the file never holds more than `capacity` bytes of entries.
 * - **The index** is a hash table of buckets of 8 slots, each [key hash, pos, base, length]. A slot
 *   only points: every reader checks the entry it reaches (its own position, its key, its
 *   checksum), so a stale, torn or colliding slot is a miss, never a wrong answer. A primary
 *   key's slot has a base > 0 and a negative length when its entry has Vary; a variant's slot
 *   has base -1 - its primary key's hash. So the index alone says which entries a lookup
 *   could reach: they are counted without reading one (shared-store.ts).
 * - **Writers** take a lock word in the header (a compare-and-swap holding an expiry, so a
 *   process killed while writing holds it for at most LOCK_SECONDS). A writer moves `head`
 *   before it overwrites anything, and a reader looks at `head` again after reading an entry:
 *   an entry overwritten while it was read is a miss. Readers take no lock.
 */
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { FILL_LOCK_BYTES } from './fill-locks.ts'

const MAGIC = 0x31524742 // "BGR1"
/** Bumped when the layout changes: a file of another version is made anew. */
const RING_VERSION = 6
const HEADER_BYTES = 4096
/** Bytes of an entry's own header: state, length, position, checksum, key hash, part lengths. */
const ENTRY_HEADER = 48
const BUCKET = 8
const SLOT_LANES = 4
/** The first read of an entry: all of it up to this size, else its header, key and names at least. */
const PEEK_BYTES = 16 * 1024
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
 * The geometry for `maxBytes` of entries: a slot (32 bytes) per 128-256 bytes (at least 64, at
 * most 16M), so the index adds 12.5-25% and the ring fills before its buckets of small entries
 * (a 50-byte body's entry is ~350 bytes) overflow.
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

/** The file's header, mapped: words [magic, version, write lock, slots], numbers [-, -, capacity, head]. */
function mapHeader(path: string) {
  const map = Bun.mmap(path, { shared: true, size: HEADER_BYTES })
  return { words: new Int32Array(map.buffer, map.byteOffset, 4), numbers: new Float64Array(map.buffer, map.byteOffset, 4) }
}

/** Writes a new, empty file at `path` (exclusive: the caller removed what was there; 0600). */
export function createRingFile(path: string, g: RingGeometry): void {
  const fd = openSync(path, 'wx', 0o600)
  try {
    ftruncateSync(fd, fileBytes(g))
  } finally {
    closeSync(fd)
  }
  const { words, numbers } = mapHeader(path)
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
  const { words, numbers } = mapHeader(path)
  if (words[0] !== MAGIC) return 'format'
  if (words[1] !== RING_VERSION) return 'layout'
  if (words[3] !== g.slots || numbers[2] !== g.capacity || file.size !== fileBytes(g)) return 'size'
  const head = numbers[3]!
  if (!Number.isSafeInteger(head) || head < FIRST || head % 8 !== 0) return 'format'
  return null
}

/** An entry read from the ring, its header checked: its key and Vary names, and where its parts are. */
export interface EntryParts {
  pos: number
  length: number
  key: string
  primary: string
  /** The Vary names (JSON) the entry was stored under; '' without Vary. */
  names: string
  keyBytes: number
  namesBytes: number
  headBytes: number
  bodyBytes: number
  /** The CRC-32 its writer recorded. */
  sum: number
}

/** What a writer puts in an entry: its key (its primary key a prefix of it), Vary names, head and body. */
export interface EntrySource {
  key: string
  primary: string
  keyHash: number
  /** The Vary names as JSON; '' without Vary. */
  names: string
  head: string
  body: Uint8Array
}

/** The hash slots are keyed by (crc32 of the key's characters). */
export const keyHash = (key: string): number => Bun.hash.crc32(key)
/** A variant's slot base: its primary key's hash, below 0 (a primary key's slot base is a position). */
export const variantBase = (primaryHash: number) => -1 - primaryHash
/** At least the bytes `encodeEntry` writes for `entry` (UTF-8 takes at most 3 bytes per UTF-16 unit). */
export const entryBound = (entry: EntrySource) => ENTRY_HEADER + 3 * (entry.key.length + entry.names.length + entry.head.length) + entry.body.byteLength + 8

/**
 * Writes `entry` into `into` at `at` as the ring holds it (its header, then key, names, head and
 * body, rounded up to 8 bytes) and returns its length; `into` has `entryBound(entry)` bytes
 * there. Its position is filled in when it is appended (`appendEntries`).
 */
export function encodeEntry(into: Buffer, at: number, entry: EntrySource): number {
  let end = at + ENTRY_HEADER
  const keyBytes = into.write(entry.key, end)
  end += keyBytes
  const namesBytes = entry.names === '' ? 0 : into.write(entry.names, end)
  end += namesBytes
  const headBytes = into.write(entry.head, end)
  end += headBytes
  into.set(entry.body, end)
  end += entry.body.byteLength
  const length = Math.ceil((end - at) / 8) * 8
  const view = new DataView(into.buffer, into.byteOffset + at, ENTRY_HEADER)
  view.setInt32(0, COMMITTED, true)
  view.setInt32(4, length, true)
  // Of the bytes meant, not of the file: a write another writer mixed into fails it.
  view.setUint32(16, Bun.hash.crc32(into.subarray(at + ENTRY_HEADER, end)), true)
  view.setInt32(20, entry.keyHash | 0, true)
  view.setInt32(24, keyBytes, true)
  view.setInt32(28, entry.key === entry.primary ? keyBytes : Buffer.byteLength(entry.primary), true)
  view.setInt32(32, namesBytes, true)
  view.setInt32(36, headBytes, true)
  view.setInt32(40, entry.body.byteLength, true)
  return length
}

/**
 * Opens the ring file at `path`; throws when it is not one. Only the header, the fill locks and
 * the index are mapped: the entries are read and written with pread and pwrite. JSC counts a
 * mapped buffer as live heap, and lets garbage grow in proportion (a worker held ~150 MiB more
 * of its own memory under misses with a 256 MiB ring mapped whole).
 */
export function openRing(path: string) {
  const header = Bun.file(path).size >= HEADER_BYTES ? mapHeader(path) : undefined
  if (header === undefined || header.words[0] !== MAGIC || header.words[1] !== RING_VERSION) {
    throw Object.assign(new Error('not a shared cache file'), { code: 'format' })
  }
  const slots = header.words[3]!
  const capacity = header.numbers[2]!
  const g = { slots, capacity }
  if (Bun.file(path).size !== fileBytes(g)) throw Object.assign(new Error('not a shared cache file'), { code: 'size' })
  const ringStart = HEADER_BYTES + FILL_LOCK_BYTES + indexBytes(slots)
  const mapped = Bun.mmap(path, { shared: true, size: ringStart })
  const words = new Int32Array(mapped.buffer, mapped.byteOffset, HEADER_BYTES >>> 2)
  const numbers = new Float64Array(mapped.buffer, mapped.byteOffset, HEADER_BYTES >>> 3)
  const locks = new BigInt64Array(mapped.buffer, mapped.byteOffset + HEADER_BYTES, FILL_LOCK_BYTES / 8)
  /** Slot i's lanes are index[4i] (hash), [4i+1] (pos), [4i+2] (base), [4i+3] (the entry's length). */
  const index = new Float64Array(mapped.buffer, mapped.byteOffset + HEADER_BYTES + FILL_LOCK_BYTES, slots * SLOT_LANES)
  const fd = openSync(path, 'r+')
  let closed = false
  const HEAD = 3 // numbers[3]
  const LOCK = 2 // words[2]

  const head = () => numbers[HEAD]!
  /** Whether the entry at `pos` has not been overwritten (yet), and is not past the head (a file the OS crashed under). */
  const intact = (pos: number) => pos >= FIRST && pos < head() && head() - pos <= capacity
  const fileOffset = (pos: number) => ringStart + (pos % capacity)

  /**
   * A buffer kept for reads, grown for a larger entry: a subarray or DataView of a freshly
   * allocated array costs JSC ~300 ns. `readingWhole` is the position of the entry `reading`
   * holds whole (0: none).
   */
  let reading = new Uint8Array(PEEK_BYTES)
  let readView = new DataView(reading.buffer)
  let readingWhole = 0

  /** Reads `length` bytes of the entry at `pos` into `reading`; false when short. */
  const readInto = (pos: number, length: number): boolean => {
    if (length > reading.byteLength) {
      reading = new Uint8Array(length)
      readView = new DataView(reading.buffer)
    }
    readingWhole = 0
    return readSync(fd, reading, 0, length, fileOffset(pos)) === length
  }

  /**
   * The entry at `pos`, `length` bytes long (its slot's lanes), read and its header checked;
   * undefined when it is not there whole. Entries up to PEEK_BYTES are read whole in one pread.
   */
  const partsAt = (pos: number, length: number): EntryParts | undefined => {
    if (!intact(pos) || length < ENTRY_HEADER || length > capacity || (pos % capacity) + length > capacity) return undefined
    const first = Math.min(length, PEEK_BYTES)
    if (!readInto(pos, first)) return undefined
    const view = readView
    if (view.getInt32(0, true) !== COMMITTED || view.getInt32(4, true) !== length || view.getFloat64(8, true) !== pos) return undefined
    const keyBytes = view.getInt32(24, true)
    const primaryBytes = view.getInt32(28, true)
    const namesBytes = view.getInt32(32, true)
    const headBytes = view.getInt32(36, true)
    const bodyBytes = view.getInt32(40, true)
    if (keyBytes < 0 || namesBytes < 0 || headBytes < 0 || bodyBytes < 0 || primaryBytes < 0 || primaryBytes > keyBytes) return undefined
    if (ENTRY_HEADER + keyBytes + namesBytes + headBytes + bodyBytes > length) return undefined
    // Its key and names, at least, in the first read.
    if (ENTRY_HEADER + keyBytes + namesBytes > first) return undefined
    const key = decoder.decode(reading.subarray(ENTRY_HEADER, ENTRY_HEADER + keyBytes))
    const primary = key.length === keyBytes ? key.slice(0, primaryBytes) : decoder.decode(reading.subarray(ENTRY_HEADER, ENTRY_HEADER + primaryBytes))
    const names = namesBytes === 0 ? '' : decoder.decode(reading.subarray(ENTRY_HEADER + keyBytes, ENTRY_HEADER + keyBytes + namesBytes))
    if (first === length) readingWhole = pos
    return { pos, length, key, primary, names, keyBytes, namesBytes, headBytes, bodyBytes, sum: view.getUint32(16, true) }
  }

  /**
   * Makes `reading` hold all of the entry `parts` (read again unless it was the last one read
   * whole); false when short. Positions are never reused, so the bytes are that entry's as long
   * as it is intact after they are used.
   */
  const wholeIn = (parts: EntryParts): boolean => {
    if (readingWhole === parts.pos) return true
    if (!readInto(parts.pos, parts.length)) return false
    readingWhole = parts.pos
    return true
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
  /** Where an entry of `length` bytes goes after `pos`: an entry never wraps, so past the end it starts the next lap. */
  const nextPos = (length: number, pos = head()) => ((pos % capacity) + length > capacity ? pos + capacity - (pos % capacity) : pos)

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

    /** The `n`th slot's lanes: base > 0 for a primary key's slot, < 0 for a variant's (`variantBase`). */
    slotHash: (n: number) => index[n * SLOT_LANES]!,
    slotPos: (n: number) => index[n * SLOT_LANES + 1]!,
    slotBase: (n: number) => index[n * SLOT_LANES + 2]!,
    slotLength: (n: number) => Math.abs(index[n * SLOT_LANES + 3]!),
    /** Whether the entry of primary slot `n` has Vary (its variants have slots of their own). */
    slotVaries: (n: number) => index[n * SLOT_LANES + 3]! < 0,
    /** The entry slot `n` points at, read; undefined when it is empty or gone. */
    entryAt: (n: number) => (index[n * SLOT_LANES + 1] === 0 ? undefined : partsAt(index[n * SLOT_LANES + 1]!, Math.abs(index[n * SLOT_LANES + 3]!))),
    /**
     * Points slot `n` at `pos` (length and base first: a reader between sees the old pos, a
     * miss); `varies` for a primary key's entry with Vary. Under the write lock.
     */
    setSlot(n: number, hash: number, pos: number, base: number, length: number, varies = false) {
      index[n * SLOT_LANES] = hash
      index[n * SLOT_LANES + 2] = base
      index[n * SLOT_LANES + 3] = varies ? -length : length
      index[n * SLOT_LANES + 1] = pos
    },
    /** The first slot of `hash`'s bucket; its bucket is BUCKET slots from there. */
    bucketOf: (hash: number) => hash & (slots - 1) & ~(BUCKET - 1),
    BUCKET,

    /**
     * The entry's head (text) and a copy of its body, or `overwritten` when the ring came round
     * while they were read, or `damaged` when its checksum fails.
     */
    read(parts: EntryParts): { head: string; body: Uint8Array } | 'overwritten' | 'damaged' {
      if (!wholeIn(parts)) return 'overwritten'
      // A fence: the head is read after the copy (x86-64 keeps loads in order; ARM does not).
      Atomics.load(words, 0)
      if (!intact(parts.pos)) return 'overwritten'
      const headAt = ENTRY_HEADER + parts.keyBytes + parts.namesBytes
      const bodyAt = headAt + parts.headBytes
      if (Bun.hash.crc32(reading.subarray(ENTRY_HEADER, bodyAt + parts.bodyBytes)) !== parts.sum) return 'damaged'
      return { head: decoder.decode(reading.subarray(headAt, bodyAt)), body: reading.slice(bodyAt, bodyAt + parts.bodyBytes) }
    },

    /**
     * Appends the entries `encodeEntry` laid out one after another in `bytes` up to `end`, and
     * gives their positions in `positions`: one pwrite for all of them (one more where the
     * ring's end falls among them). False when the lock was lost: nothing written. Under the
     * write lock.
     */
    appendEntries(bytes: Uint8Array, end: number, positions: number[]): boolean {
      positions.length = 0
      const view = new DataView(bytes.buffer, bytes.byteOffset, end)
      let next = head()
      for (let at = 0; at < end; ) {
        const length = view.getInt32(at + 4, true)
        const pos = nextPos(length, next)
        view.setFloat64(at + 8, pos, true)
        positions.push(pos)
        next = pos + length
        at += length
      }
      // Moved before anything is overwritten: readers check it after they copy.
      numbers[HEAD] = next
      // Stopped past the lock's expiry, another writer may have taken over: nothing written then.
      if (!holding()) return false
      let runAt = 0
      let runPos = positions[0]!
      for (let i = 0, at = 0; i < positions.length; i++) {
        const pos = positions[i]!
        const length = view.getInt32(at + 4, true)
        at += length
        // The run goes on while the next entry follows this one in the file.
        if (i + 1 < positions.length && positions[i + 1] === pos + length && (pos + length) % capacity !== 0) continue
        writeSync(fd, bytes, runAt, at - runAt, fileOffset(runPos))
        runAt = at
        runPos = positions[i + 1]!
      }
      return true
    },

    /** Copies the entry `parts` to the head of the ring (a hit near its end: second chance). Under the write lock. */
    reappend(parts: EntryParts): number | undefined {
      if (!wholeIn(parts) || !intact(parts.pos)) return undefined
      const pos = nextPos(parts.length)
      numbers[HEAD] = pos + parts.length
      readView.setFloat64(8, pos, true)
      // `reading` no longer holds the entry at parts.pos as it is.
      readingWhole = 0
      if (!holding()) return undefined
      writeSync(fd, reading, 0, parts.length, fileOffset(pos))
      return pos
    },

    /** Closes the file, once (the map goes with the last reference to it). */
    close(): void {
      if (closed) return
      closed = true
      closeSync(fd)
    },
  }
}

const decoder = new TextDecoder()

export type Ring = ReturnType<typeof openRing>
