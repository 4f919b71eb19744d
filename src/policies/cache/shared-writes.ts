/**
 * One worker's writes to the shared tier (shared-store.ts): the stores of a turn of the event
 * loop batched into one pwrite, and every write that finds the file's write lock taken queued
 * and tried again, so the event loop never waits on another process.
 */
import { encodeEntry, entryBound, type EntrySource, type Ring } from './ring.ts'

/** How long stores queued behind a taken write lock are tried again before they are dropped. */
const BUSY_GIVE_UP_MS = 50
/** How long an admin purge waits for the write lock: past a dead holder's expiry (ring.ts, 2 s). */
const BLOCKING_MS = 3000
/** A turn's stores are written at once when they reach this many bytes (or a sixteenth of the ring). */
const BATCH_BYTES = 1 << 20

export interface WriteHooks {
  /** Points a written entry's slots at it (ring-index.ts). Under the write lock. */
  point(source: EntrySource, pos: number, length: number): void
  /** A failure kind (`busy`): reported once per kind by the store. */
  failed(kind: string): void
  /** Releases a fill lock whose release waited for the writes before it. */
  release(primary: string): void
}

export function sharedWrites(ring: Ring, hooks: WriteHooks) {
  const { failed, release } = hooks

  /**
   * Writes that found the write lock taken (its holder preempted mid-write, most often), in
   * order, tried again on a timer (1, 2, 4 ... ms, then every 64 ms): the event loop never
   * waits on another process. Stores still queued after BUSY_GIVE_UP_MS are dropped and
   * reported busy (a cache may forget); invalidations are kept until they land, since a
   * dropped one would serve what an unsafe method changed (a holder that died frees the lock
   * within LOCK_SECONDS). Fill locks of queued entries are released after them, so a waiting
   * worker finds the entry.
   */
  const queued: { run: () => void; droppable: boolean }[] = []
  const releases = new Set<string>()
  let retryMs = 0
  let busySince = 0
  const writeQueued = () => {
    for (const write of queued) write.run()
    queued.length = 0
    retryMs = 0
  }
  const releaseQueued = () => {
    for (const primary of releases) release(primary)
    releases.clear()
  }
  const retry = () => {
    if (queued.length === 0) return
    if (ring.lock()) {
      try {
        writeQueued()
      } finally {
        ring.unlock()
      }
      return releaseQueued()
    }
    if (performance.now() - busySince >= BUSY_GIVE_UP_MS && queued.some((write) => write.droppable)) {
      failed('busy')
      const kept = queued.filter((write) => !write.droppable)
      queued.length = 0
      queued.push(...kept)
      releaseQueued()
      if (queued.length === 0) return void (retryMs = 0)
    }
    retryMs = Math.min(retryMs * 2, 64)
    setTimeout(retry, retryMs)
  }
  /** Runs `fn` under the write lock when nothing waits and the lock is free, then the fill locks waiting on it; false otherwise. */
  function writeNow(fn: () => void): boolean {
    if (queued.length > 0 || !ring.lock()) return false
    try {
      fn()
    } finally {
      ring.unlock()
    }
    releaseQueued()
    return true
  }
  /** Queues `fn` behind the writes already waiting. */
  function enqueue(fn: () => void, droppable: boolean): void {
    queued.push({ run: fn, droppable })
    if (retryMs === 0) {
      retryMs = 1
      busySince = performance.now()
      setTimeout(retry, retryMs)
    }
  }
  /** Runs `fn` under the write lock now, or queues it behind the writes already waiting. */
  function write(fn: () => void, droppable: boolean): void {
    if (!writeNow(fn)) enqueue(fn, droppable)
  }
  /**
   * `fn` under the write lock after what is queued (admin purges, close), waiting for the lock
   * up to BLOCKING_MS: longer than a dead holder keeps it, so a purge is never lost to one.
   */
  function blocking<R>(fallback: R, fn: () => R): R {
    const since = performance.now()
    while (!ring.lock()) {
      if (performance.now() - since > BLOCKING_MS) {
        failed('busy')
        return fallback
      }
    }
    try {
      writeQueued()
      return fn()
    } finally {
      ring.unlock()
      releaseQueued()
    }
  }

  /**
   * The stores of this turn of the event loop, laid out as the ring holds them in `staging`
   * and written in one pwrite under one take of the lock at the turn's end (setImmediate):
   * under unique-URL misses a worker stores ~15 entries a turn, and a pwrite costs 1-4 µs.
   * Their slots are pointed at them after the write, in order.
   */
  let staging = Buffer.allocUnsafe(64 * 1024)
  let stagedBytes = 0
  let staged: { source: EntrySource; length: number }[] = []
  const stagedPrimaries = new Set<string>()
  let flushing = false
  const batchBytes = Math.min(BATCH_BYTES, ring.capacity / 16)
  const positions: number[] = []

  function stage(source: EntrySource): boolean {
    const bound = entryBound(source)
    if (stagedBytes + bound > staging.byteLength) {
      const grown = Buffer.allocUnsafe(Math.max(staging.byteLength * 2, stagedBytes + bound))
      grown.set(staging.subarray(0, stagedBytes))
      staging = grown
    }
    const length = encodeEntry(staging, stagedBytes, source)
    if (length > ring.capacity) return false
    stagedBytes += length
    staged.push({ source, length })
    stagedPrimaries.add(source.primary)
    if (stagedBytes >= batchBytes) flush()
    else if (!flushing) {
      flushing = true
      setImmediate(flushTurn)
    }
    return true
  }
  const flushTurn = () => {
    flushing = false
    flush()
  }

  /** Writes the staged stores now, or queues them (with a copy of their bytes) behind a taken lock. */
  function flush(): void {
    if (staged.length === 0) return
    const entries = staged
    const end = stagedBytes
    staged = []
    stagedBytes = 0
    stagedPrimaries.clear()
    if (writeNow(() => land(staging, end, entries))) return
    // Queued: `staging` is written over by the next turn's stores.
    const bytes = Uint8Array.prototype.slice.call(staging, 0, end)
    enqueue(() => land(bytes, end, entries), true)
  }

  /** Appends the entries laid out in `bytes` and points their slots at them. Under the write lock. */
  function land(bytes: Uint8Array, end: number, entries: { source: EntrySource; length: number }[]): void {
    let written: boolean
    try {
      written = ring.appendEntries(bytes, end, positions)
    } catch {
      // A full or failing disk (ENOSPC, EIO): not stored, and no slot points at what was not
      // written. Thrown on, it would end the worker from the turn's end, with its requests.
      return failed('write_failed')
    }
    // Its lock lost (this process stopped past its expiry): not stored.
    if (!written) return failed('busy')
    for (let i = 0; i < entries.length; i++) hooks.point(entries[i]!.source, positions[i]!, entries[i]!.length)
  }

  return {
    stage,
    flush,
    write,
    blocking,
    /** Whether a store of `primary` is staged: a lookup of it writes the batch first. */
    staged: (primary: string) => stagedPrimaries.has(primary),
    /** Releases `primary`'s fill lock after the writes waiting now (so a waiting worker finds its entry), or at once. */
    releaseAfter(primary: string): void {
      if (staged.length > 0 || queued.length > 0) releases.add(primary)
      else release(primary)
    },
    /** Writes what is staged and queued, waiting for the lock as an admin purge does. */
    drain(): void {
      flush()
      if (queued.length > 0) blocking(undefined, () => {})
    },
  }
}
