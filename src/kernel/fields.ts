/**
 * The fields of a request the gateway sends upstream: what kernel/forwarding.ts copies from
 * the client and adds, changed by header rules and stages, written by the base client. Not
 * a Headers object: Bun's Headers costs a native object, a native call per field set and a
 * snapshot (toJSON) to read it back when the head is written, ~2 µs a proxied request
 * (docs/performance-optimization.md). A record of lower-case names instead; the client's
 * fields come in as Bun's parser checked them, and what the gateway sets is checked here as
 * Headers would (a name is a token, a value holds no CR, LF or NUL, RFC 9110 §5.5), so a
 * value from a token's claim cannot end the head early.
 */

/** A request's fields as Bun's `toJSON` snapshot gives them: repeated fields joined by ", ", Set-Cookie as a list. */
export type FieldSnapshot = Record<string, string | string[]>

/** A field's value as Headers.get gives it, from a snapshot or a record: a list joined with ", ", null when absent. */
export const joinedValue = (value: string | string[] | undefined): string | null => (value === undefined ? null : typeof value === 'string' ? value : value.join(', '))

/** What reading a request's fields takes: Headers, or a snapshot's reader. */
export type FieldReader = Pick<Headers, 'get' | 'has'>

/**
 * Reads a record of fields as Headers reads (names in any case, a list joined): a property
 * lookup a read, not a native call. A request's snapshot (Exchange.requestFields), and the
 * base of the fields sent upstream.
 */
export class RecordReader implements FieldReader {
  constructor(
    /** Lower-case name → value, or the values of a field sent more than once, in order. */
    readonly record: FieldSnapshot
  ) {}

  /** The value, several joined with ", " as Headers gives them; null when absent. */
  get(name: string): string | null {
    return joinedValue(this.record[name.toLowerCase()])
  }

  has(name: string): boolean {
    return this.record[name.toLowerCase()] !== undefined
  }
}

/** RFC 9110 §5.6.2: a field name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** RFC 9110 §5.5: CR, LF and NUL are never allowed in a value. */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/
const EDGE_SPACES = /^[ \t]+|[ \t]+$/g

/** A value as Headers stores it: checked, without leading or trailing spaces and tabs (Fetch's "normalize"). */
function normalised(value: string): string {
  if (FORBIDDEN_IN_VALUE.test(value)) throw new TypeError('invalid header value')
  const first = value.charCodeAt(0)
  const last = value.charCodeAt(value.length - 1)
  return first === 32 || first === 9 || last === 32 || last === 9 ? value.replace(EDGE_SPACES, '') : value
}

function lowerName(name: string): string {
  if (!TOKEN.test(name)) throw new TypeError('invalid header name')
  return name.toLowerCase()
}

export class Fields extends RecordReader {
  constructor() {
    super(Object.create(null))
  }

  /**
   * Sets a field known to be valid, unchecked: a client's as Bun's parser passed it, or one the
   * gateway made itself (`name` lower case).
   */
  copy(name: string, value: string | string[]): void {
    this.record[name] = value
  }

  set(name: string, value: string): void {
    this.record[lowerName(name)] = normalised(value)
  }

  append(name: string, value: string): void {
    const key = lowerName(name)
    const one = normalised(value)
    const prior = this.record[key]
    this.record[key] = prior === undefined ? one : typeof prior === 'string' ? [prior, one] : [...prior, one]
  }

  delete(name: string): void {
    delete this.record[name.toLowerCase()]
  }

  /** Each field line as [name, value], a field sent more than once as a line per value. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const name in this.record) {
      const value = this.record[name]!
      if (typeof value === 'string') yield [name, value]
      else for (const one of value) yield [name, one]
    }
  }

  /** As a Headers object, for Bun's fetch (the fetch client, https targets). */
  toHeaders(): Headers {
    const headers = new Headers()
    for (const [name, value] of this) headers.append(name, value)
    return headers
  }
}
