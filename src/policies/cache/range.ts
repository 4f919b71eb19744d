/**
 * One byte range of a stored complete response (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or
 * `bytes=-n`. Several ranges, other units or malformed values are not answered here: the
 * request goes upstream as it came.
 */

const BYTE_RANGE = /^bytes=(\d*)-(\d*)$/

/** The first and last byte offsets selected in a body of `length` bytes, or why there are none. */
export function byteRange(header: string, length: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = BYTE_RANGE.exec(header.trim())
  if (!match) return undefined
  const [, first, last] = match as unknown as [string, string, string]
  if (first === '' && last === '') return undefined
  if (first === '') {
    // A suffix: the last n bytes (§14.1.2); n = 0 selects nothing.
    const n = Number(last)
    return n === 0 || length === 0 ? 'unsatisfiable' : { start: Math.max(0, length - n), end: length - 1 }
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= length) return 'unsatisfiable'
  return { start, end: last === '' ? length - 1 : Math.min(Number(last), length - 1) }
}
