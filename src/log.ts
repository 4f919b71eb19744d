/**
 * Structured logging: one JSON object per line on stdout. Lifecycle events only; the
 * hot path never logs unless access logs are switched on. Fields are plain data, so
 * control characters in them are escaped by JSON and cannot forge lines.
 */

export type LogLevel = 'info' | 'warn' | 'error'
export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>

export interface Logger {
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger
}

/** Creates a logger writing to `write` (stdout by default). */
export function createLogger(
  base: LogFields = {},
  write: (line: string) => void = writeStdout
): Logger {
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...base, ...fields })}\n`)
  }
  return {
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger({ ...base, ...fields }, write),
  }
}

let stdoutGuarded = false

/** Writes to stdout; a closed stdout (log collector gone) must not take serving down with it. */
function writeStdout(line: string): void {
  if (!stdoutGuarded) {
    stdoutGuarded = true
    // EPIPE arrives as an asynchronous 'error' event: nobody is reading, so drop the lines.
    process.stdout.on('error', () => {})
  }
  try {
    process.stdout.write(line)
  } catch {
    // Same, when it is thrown synchronously.
  }
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}

/**
 * Batches lines and writes them once per turn of the event loop (or at 64 KiB), so a burst
 * of access-log lines costs one write, and a slow stdout never holds up a request.
 */
export function createLineWriter(write: (chunk: string) => void = writeStdout): (line: string) => void {
  let pending: string[] = []
  let size = 0
  const flush = () => {
    const chunk = pending.join('')
    pending = []
    size = 0
    if (chunk) write(chunk)
  }
  return (line) => {
    if (pending.length === 0) setImmediate(flush)
    pending.push(line)
    size += line.length
    if (size >= 65536) flush()
  }
}
