/**
 * What the shared tier's index says (ring.ts): which slot holds a key, which entries a lookup
 * could reach, and how a stored entry's slots are pointed at it. A primary key's slot points
 * at its newest entry and carries its variants' base; a variant's slot points at the variant.
 * What changes a slot (`forget`, `point`) runs under the write lock; what only looks reads
 * the mapped index as it is, and checks every entry it reaches (ring.ts).
 */
import { keyHash, variantBase, type EntryParts, type EntrySource, type Ring } from './ring.ts'

export function ringIndex(ring: Ring) {
  const { BUCKET } = ring

  /** `primary`'s slot (base > 0) and the newest entry it points at, while that is still there. */
  function primarySlot(primary: string, hash: number): { n: number; parts: EntryParts } | undefined {
    const first = ring.bucketOf(hash)
    for (let n = first; n < first + BUCKET; n++) {
      if (ring.slotHash(n) !== hash || ring.slotBase(n) <= 0) continue
      const parts = ring.entryAt(n)
      if (parts !== undefined && parts.pos >= ring.slotBase(n) && parts.primary === primary) return { n, parts }
    }
    return undefined
  }

  /** The slot of variant key `key` (base < 0) and its entry, while that is still there. */
  function variantSlot(key: string, hash: number): { n: number; parts: EntryParts } | undefined {
    const first = ring.bucketOf(hash)
    for (let n = first; n < first + BUCKET; n++) {
      if (ring.slotHash(n) !== hash || ring.slotBase(n) >= 0) continue
      const parts = ring.entryAt(n)
      if (parts !== undefined && parts.key === key) return { n, parts }
    }
    return undefined
  }

  /** A slot of `hash`'s bucket to take: an empty one, else one whose entry is gone, else the oldest. */
  function freeSlot(hash: number): number {
    const first = ring.bucketOf(hash)
    let oldest = first
    for (let n = first; n < first + BUCKET; n++) {
      const pos = ring.slotPos(n)
      if (pos === 0 || !ring.intact(pos)) return n
      if (pos < ring.slotPos(oldest)) oldest = n
    }
    return oldest
  }

  /**
   * Whether slot `n` points at an entry a lookup could reach, from the index alone (no entry
   * read): a primary key's entry without Vary, or a variant stored since its primary key's
   * base, while that primary key's newest entry has Vary. Every such entry has one slot.
   */
  function reachableSlot(n: number): boolean {
    const pos = ring.slotPos(n)
    if (pos === 0 || !ring.intact(pos)) return false
    const base = ring.slotBase(n)
    if (base > 0) return !ring.slotVaries(n)
    // Its primary key's hash (variantBase, inverted).
    const hash = -1 - base
    const first = ring.bucketOf(hash)
    for (let p = first; p < first + BUCKET; p++) {
      if (ring.slotHash(p) !== hash || ring.slotBase(p) <= 0 || !ring.slotVaries(p) || pos < ring.slotBase(p)) continue
      if (ring.slotPos(p) !== 0 && ring.intact(ring.slotPos(p))) return true
    }
    return false
  }

  /** Empties primary slot `n`: every entry of its key unreachable, and the next put's base past them. Under the write lock. */
  function empty(n: number): void {
    ring.setSlot(n, ring.slotHash(n), 0, ring.slotBase(n), 0)
  }

  /** Makes every entry of `primary` unreachable (its slot emptied). Under the write lock. */
  function forget(primary: string): void {
    const found = primarySlot(primary, keyHash(primary))
    if (found !== undefined) empty(found.n)
  }

  /** How many entries of `primary` a lookup could reach (a scan of the index when it has Vary). */
  function reachable(primary: string): number {
    const hash = keyHash(primary)
    const found = primarySlot(primary, hash)
    if (found === undefined) return 0
    if (!ring.slotVaries(found.n)) return 1
    const base = variantBase(hash)
    let count = 0
    for (let n = 0; n < ring.slots; n++) if (ring.slotBase(n) === base && reachableSlot(n)) count++
    return count
  }

  /**
   * Points the slots of a stored entry at `pos`: its primary key's (a changed Vary moves the
   * base past the old variants, RFC 9111 §4.1) and, with Vary, its own. Under the write lock.
   */
  function point(source: EntrySource, pos: number, length: number): void {
    const hash = keyHash(source.primary)
    const found = primarySlot(source.primary, hash)
    const varies = source.names !== ''
    if (found !== undefined) ring.setSlot(found.n, hash, pos, found.parts.names === source.names ? ring.slotBase(found.n) : pos, length, varies)
    else ring.setSlot(freeSlot(hash), hash, pos, pos, length, varies)
    if (varies) ring.setSlot(variantSlot(source.key, source.keyHash)?.n ?? freeSlot(source.keyHash), source.keyHash, pos, variantBase(hash), length)
  }

  return { primarySlot, variantSlot, reachableSlot, empty, forget, reachable, point }
}
