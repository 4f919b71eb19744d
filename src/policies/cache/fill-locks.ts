/**
 * The shared tier's fill locks, a table in its file (ring.ts) that every process of the node
 * maps: a slot per hash of the primary key holding the lock's expiry (ms since the epoch),
 * taken with a compare-and-swap, so one worker of the node fills a key while the others wait
 * for its entry. Two keys that share a slot share the lock: the second waits for the first's
 * fill, then fills itself (a delay, never a wrong answer). A lock whose holder died expires.
 */

const LOCK_SLOTS = 1 << 16
export const FILL_LOCK_BYTES = LOCK_SLOTS * 8

const slotOf = (primary: string) => Bun.hash.crc32(primary) & (LOCK_SLOTS - 1)

/** The lock table over `slots` (FILL_LOCK_BYTES of the shared file). */
export function fillLocks(slots: BigInt64Array) {
  return {
    /** Claims the fill of `primary` until `expires` (ms since the epoch); false while another holds it. */
    lock(primary: string, now: number, expires: number): boolean {
      const slot = slotOf(primary)
      const held = Atomics.load(slots, slot)
      if (held > BigInt(now)) return false
      return Atomics.compareExchange(slots, slot, held, BigInt(expires)) === held
    },
    /** Whether a fill of `primary` (or of a key sharing its slot) is under way. */
    locked(primary: string, now: number): boolean {
      return Atomics.load(slots, slotOf(primary)) > BigInt(now)
    },
    /** Releases a lock taken with `lock(primary, _, expires)`, unless it expired and was taken since. */
    release(primary: string, expires: number): void {
      Atomics.compareExchange(slots, slotOf(primary), BigInt(expires), 0n)
    },
    /** Frees every lock: the primary, before any worker, when it opens a file a previous run left. */
    clear(): void {
      slots.fill(0n)
    },
  }
}
