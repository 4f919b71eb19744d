/**
 * Where access lines go: stdout (log.ts's batching writer), or a file (`log.access.file`)
 * that each worker appends to (O_APPEND: the kernel appends each write whole, as nginx's
 * workers share one access log) and opens again on SIGUSR1, so logrotate can move it away:
 * `create` then `postrotate kill -USR1 <primary>`, the primary passing it on to the workers.
 * Writes are asynchronous (node:fs on Bun's thread pool), one in flight at a time, with
 * everything queued meanwhile joined into the next: a request never waits on the disk. A
 * disk that stalls past MAX_PENDING bytes loses lines, counted in one warning once it writes
 * again, rather than the worker's memory.
 */
import { close, write } from 'node:fs'
import { openPrivateAppend } from '../files/private.ts'
import { createLineWriter, type Logger } from '../log.ts'

/** Lines queued while a write is in flight, at most. */
const MAX_PENDING = 16 * 1024 * 1024
const ignore = () => {}

export interface LineSink {
  /** Queues one complete line (with its newline). */
  readonly write: (line: string) => void
  /** Opens the file again at its path (after logrotate moved it); nothing on stdout. */
  reopen(): void
  /** Writes what is queued, then closes. */
  close(): Promise<void>
}

/** Lines to stdout, once per event-loop turn. */
export function stdoutSink(): LineSink {
  return { write: createLineWriter(), reopen() {}, close: async () => {} }
}

/** Lines appended to `path` (a private file: files/private.ts); throws when it cannot be opened. */
export function fileSink(path: string, log: Pick<Logger, 'info' | 'warn'>, open: (path: string) => number = openPrivateAppend): LineSink {
  let fd = open(path)
  let pending: string[] = []
  let size = 0
  let scheduled = false
  let writing = false
  let dropped = 0
  let failing = false
  /** Descriptors a reopen replaced while a write to them was in flight: closed after it. */
  const retired: number[] = []
  let closing: (() => void) | undefined
  let closed: Promise<void> | undefined

  const flush = () => {
    scheduled = false
    if (writing) return
    if (pending.length === 0) return finishClose()
    const chunk = Buffer.from(pending.join(''))
    pending = []
    size = 0
    writing = true
    writeAll(fd, chunk, 0, (err) => {
      writing = false
      for (const old of retired.splice(0)) close(old, ignore)
      if (err) {
        // Once per spell of failures (a full disk): the lines are lost, the worker is not.
        if (!failing) log.warn('access_log_write_failed', { file: path, error: (err as { code?: string }).code ?? 'unknown' })
        failing = true
      } else failing = false
      if (dropped > 0 && !err) {
        log.warn('access_log_dropped', { file: path, lines: dropped })
        dropped = 0
      }
      flush()
    })
  }

  let finished = false
  const finishClose = () => {
    if (!closing || writing || finished) return
    finished = true
    close(fd, ignore)
    closing()
  }

  return {
    write(line) {
      if (closing) return
      if (size >= MAX_PENDING) {
        dropped++
        return
      }
      pending.push(line)
      size += line.length
      if (!scheduled && !writing) {
        scheduled = true
        setImmediate(flush)
      }
    },
    reopen() {
      if (closing) return
      let next: number
      try {
        next = open(path)
      } catch (err) {
        // The old descriptor stays: lines keep going to the moved file rather than nowhere.
        log.warn('access_log_reopen_failed', { file: path, error: (err as { code?: string }).code ?? 'unknown', reason: (err as Error).message })
        return
      }
      const old = fd
      fd = next
      if (writing) retired.push(old)
      else close(old, ignore)
      log.info('access_log_reopened', { file: path })
    },
    close() {
      closed ??= new Promise((resolve) => {
        closing = resolve
        if (!writing) flush()
      })
      return closed
    },
  }
}

/** Writes all of `chunk` from `offset` to `fd` (a write may take part of it). */
function writeAll(fd: number, chunk: Buffer, offset: number, done: (err: NodeJS.ErrnoException | null) => void): void {
  write(fd, chunk, offset, chunk.length - offset, null, (err, written) => {
    if (err) return done(err)
    if (offset + written < chunk.length) writeAll(fd, chunk, offset + written, done)
    else done(null)
  })
}
