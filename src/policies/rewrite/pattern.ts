/**
 * Path patterns and the templates that use their captures (`routes[].rewrite`,
 * `routes[].redirect`). Not user regexes: a pattern is a path whose segments are literal, or
 * hold one `*` (one or more characters of that segment), or are `**` (the rest of the path,
 * last segment only). Each wildcard is a capture, `$1`...`$9` from the left. The regex made
 * from it at load has no nested quantifier, no alternation, no backreference: a `[^/]+` can
 * never cross a "/", and the only `.*` ends the pattern, so a match costs time linear in the
 * path (times the pattern's length), like RE2, whatever the input. A catastrophic regex such
 * as `(a+)+$` cannot be written (its "(" is refused).
 */

/** A pattern compiled at load: anchored to the whole path. */
export interface PathPattern {
  readonly regex: RegExp
  /** How many captures ($1...). */
  readonly captures: number
}

/** A part of a template: literal text, a capture's number, or the path or query. */
type Part = string | number | { ref: 'path' | 'query' }

/** A template compiled at load: `render` joins its parts with a request's values. */
export interface Template {
  render(captures: ArrayLike<string | undefined> | undefined, path: string, query: string): string
}

const REGEX_SYNTAX = /[()[\]{}?|^\\]/
/** RFC 3986 pchar without "%" (the path is matched normalised), "/" and the wildcard "*". */
const PATTERN_CHARS = /^[A-Za-z0-9\-._~!$&'+,;=:@/*]*$/

/** Why `pattern` is refused, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with "/" (a path pattern, not a regex: segments are literal, "*" or "**")'
  const syntax = REGEX_SYNTAX.exec(pattern)
  if (syntax) return `"${syntax[0]}" is regex syntax: a pattern is a path with "*" (one segment's characters) and a last segment "**" (the rest), so it matches in linear time`
  if (!PATTERN_CHARS.test(pattern)) return 'must contain only path characters, "*" and "/" (no "%", spaces or controls)'
  const segments = pattern.slice(1).split('/')
  let captures = 0
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (segment === '' && i < segments.length - 1) return 'must not contain an empty segment ("//")'
    if (segment.includes('**')) {
      if (segment !== '**') return '"**" must be a whole segment'
      if (i !== segments.length - 1) return '"**" must be the last segment (one unbounded wildcard keeps the match linear)'
    } else if (segment.indexOf('*') !== segment.lastIndexOf('*')) return `segment "${segment}" has more than one "*"`
    if (segment.includes('*')) captures++
  }
  if (captures > 9) return 'at most 9 wildcards ($1-$9)'
  return undefined
}

const escape = (literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The pattern's regex (`patternProblem` must have passed). `/a/**` also matches `/a` ($1 empty). */
export function compilePattern(pattern: string): PathPattern {
  const segments = pattern.slice(1).split('/')
  let source = '^'
  let captures = 0
  for (const segment of segments) {
    if (segment === '**') {
      source += '(?:/(.*))?'
    } else {
      const star = segment.indexOf('*')
      source += star === -1 ? `/${escape(segment)}` : `/${escape(segment.slice(0, star))}([^/]+)${escape(segment.slice(star + 1))}`
    }
    if (segment.includes('*')) captures++
  }
  return { regex: new RegExp(`${source}$`), captures }
}

/** Why `template` is refused (placeholders), or undefined; `captures` is what the pattern offers. */
export function templateProblem(template: string, captures: number | undefined, allowQuery: boolean): string | undefined {
  for (const found of template.matchAll(/\$(\d|path|query|\$)?/g)) {
    const ref = found[1]
    if (ref === undefined) return 'a "$" must be followed by 1-9, path, query or $ (for "$")'
    if (ref === 'query' && !allowQuery) return '$query cannot be used here'
    if (/^\d$/.test(ref)) {
      const n = Number(ref)
      if (n === 0) return '$0 is not a capture; captures are $1-$9'
      if (captures === undefined) return `$${n} needs rewrite.pattern (its wildcards are the captures)`
      if (n > captures) return `$${n}: rewrite.pattern has ${captures} wildcard${captures === 1 ? '' : 's'}`
    }
  }
  return undefined
}

/** The template's parts, joined per request (`templateProblem` must have passed). */
export function compileTemplate(template: string): Template {
  const parts: Part[] = []
  let literal = ''
  let last = 0
  for (const found of template.matchAll(/\$(\d|path|query|\$)/g)) {
    literal += template.slice(last, found.index)
    last = found.index + found[0].length
    const ref = found[1]!
    if (ref === '$') {
      literal += '$'
      continue
    }
    if (literal) parts.push(literal)
    literal = ''
    parts.push(ref === 'path' || ref === 'query' ? { ref } : Number(ref))
  }
  literal += template.slice(last)
  if (literal) parts.push(literal)
  return {
    render(captures, path, query) {
      let out = ''
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!
        if (typeof part === 'string') out += part
        else if (typeof part === 'number') out += captures?.[part] ?? ''
        else out += part.ref === 'path' ? path : query
      }
      return out
    },
  }
}
