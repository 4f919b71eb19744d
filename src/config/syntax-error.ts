/**
 * Where a config file's syntax breaks, as `FILE:LINE:COL: message` with the offending line and
 * a caret under the column (the shape of gcc's and rustc's diagnostics). Bun's YAML and JSON
 * parsers give a message and no position, so the position is found here, on the error path
 * only: for YAML by parsing prefixes of the text, for JSON by a strict scan of its grammar.
 */

/** 1-based line and column. */
export interface TextPosition {
  line: number
  column: number
}

/**
 * The first place YAML `text` cannot be read. The line is the one after the longest prefix
 * of whole lines that still parses (a construct left open, a quote or a bracket, is not an
 * error until nothing later closes it); the column is where that line stops parsing.
 */
export function yamlErrorPosition(text: string, parse: (text: string) => unknown): TextPosition | undefined {
  const parses = (candidate: string) => {
    try {
      parse(candidate)
      return true
    } catch {
      return false
    }
  }
  const lines = text.split('\n')
  let good = lines.length - 1
  while (good > 0 && !parses(lines.slice(0, good).join('\n'))) good--
  const before = good === 0 ? '' : `${lines.slice(0, good).join('\n')}\n`
  const line = lines[good] ?? ''
  let column = line.length
  while (column > 0 && !parses(before + line.slice(0, column))) column--
  // The character where parsing stops, but not past the line's end.
  return { line: good + 1, column: Math.min(column, Math.max(line.length - 1, 0)) + 1 }
}

/** The first offset at which `text` stops being JSON (RFC 8259), or undefined when it is JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0
  const fail = (): never => {
    throw i
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const literal = (word: string) => (text.startsWith(word, i) ? (i += word.length) : fail())
  const string = () => {
    i++
    while (i < text.length && text[i] !== '"') {
      const code = text.charCodeAt(i)
      if (code < 0x20) fail()
      if (text[i] === '\\') {
        i++
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail()
          i += 4
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail()
      }
      i++
    }
    if (i >= text.length) fail()
    i++
  }
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    if (!match) fail()
    i += match![0].length
  }
  const value = (): void => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        if (text[i] !== '"') fail()
        string()
        ws()
        if (text[i] !== ':') fail()
        i++
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail()
      }
    }
    if (c === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail()
      }
    }
    if (c === '"') return string()
    if (c === 't') return void literal('true')
    if (c === 'f') return void literal('false')
    if (c === 'n') return void literal('null')
    return number()
  }
  try {
    value()
    ws()
    return i < text.length ? i : undefined
  } catch (offset) {
    return Math.min(offset as number, text.length)
  }
}

/** The line and column of `offset` in `text`. */
export function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 }
}

/**
 * `FILE:LINE:COL: not valid YAML: reason`, then the line with its number and a caret under
 * the column (pointAt).
 */
export function syntaxErrorMessage(file: string, text: string, kind: 'YAML' | 'JSON', reason: string, at: TextPosition | undefined): string {
  if (!at) return `${file}: not valid ${kind}: ${reason}`
  return pointAt(file, text, at, `not valid ${kind}: ${reason}`)
}

/**
 * `FILE:LINE:COL: message`, then the line with its number and a caret under the column. The
 * caret's indent repeats the line's tabs, so it lines up in any terminal.
 */
export function pointAt(file: string, text: string, at: TextPosition, message: string): string {
  const raw = (text.split('\n')[at.line - 1] ?? '').replace(/\r$/, '')
  // Long lines show a window around the column.
  const start = at.column > 100 ? at.column - 60 : 0
  const shown = (start > 0 ? '…' : '') + raw.slice(start, start + 160)
  const caretAt = at.column - 1 - start + (start > 0 ? 1 : 0)
  const gutter = String(at.line)
  const pad = shown.slice(0, caretAt).replace(/[^\t]/g, ' ')
  return [`${file}:${at.line}:${at.column}: ${message}`, `    ${gutter} | ${shown}`, `    ${' '.repeat(gutter.length)} | ${pad}^`].join('\n')
}

/** Bun's `YAML Parse error: Unexpected token` → `unexpected token`. */
export function parseErrorReason(err: unknown): string {
  const message = err instanceof Error ? err.message.split('\n')[0]! : 'unreadable'
  const reason = message.replace(/^(YAML|JSON) Parse error: /, '')
  return reason.charAt(0).toLowerCase() + reason.slice(1)
}
