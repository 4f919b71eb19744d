/**
 * A key given twice in one mapping. Bun's YAML and JSON parsers keep the last and say
 * nothing, so a second `routes:` or a repeated upstream silently replaces the first; YAML 1.2
 * requires a mapping's keys to be unique (§3.2.1.1), and RFC 8259 §4 leaves what duplicate
 * names mean to the parser. The file is read a second time with js-yaml, which stops at the
 * first duplicate with its place: ~45 ms for 10,000 routes (`yaml`, which reports them all,
 * took ~600). js-yaml's other complaints are left to Bun's parse, the one that counts.
 * Start, reload and validate only: the healthcheck does not pay for it.
 */
import { load, YAMLException } from 'js-yaml'
import { pointAt } from './syntax-error.ts'

/** The first key given twice (`FILE:LINE:COL:`, the line and a caret), or undefined. */
export function duplicateKeyError(file: string, text: string): string | undefined {
  try {
    load(text)
    return undefined
  } catch (err) {
    if (!(err instanceof YAMLException) || err.reason !== 'duplicated mapping key' || !err.mark) return undefined
    const { line, column, position } = err.mark
    // A quoted key's mark is its first character inside the quotes: point at the quote.
    const quoted = position > 0 && (text[position - 1] === '"' || text[position - 1] === "'") ? 1 : 0
    return pointAt(file, text, { line: line + 1, column: column + 1 - quoted }, `${keyAt(text, position - quoted)} is given twice in one mapping: only the last would count (the first repeated key; there may be more)`)
  }
}

/** The key that starts at `offset`, quoted as written, or plain up to its colon. */
function keyAt(text: string, offset: number): string {
  const quote = text[offset]
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, offset + 1)
    if (end !== -1) return `"${text.slice(offset + 1, end)}"`
  }
  const match = /^[^:\n]*/.exec(text.slice(offset, offset + 200))
  return `"${match![0].trim()}"`
}
