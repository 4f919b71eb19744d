/**
 * Schema problems as operators need them: the path, what was expected with an example (a
 * range, the allowed values, `true or false`), the value received (never a secret's), and for
 * an unknown key the key it probably is ("did you mean") or where it belongs when it sits at
 * the wrong level (a dedented line). The schema is read once into a tree of keys for that
 * (key-tree.ts).
 */
import type { z } from 'zod'
import { bagOf, childPattern, defOf, formatPath, locate, unwrap, type KeyNode, type Schema, type SchemaIndex } from './key-tree.ts'
import { closest, distance } from './closest.ts'

export { formatPath, indexSchema, type SchemaIndex } from './key-tree.ts'

type Issue = z.core.$ZodIssue

/** Stands for "zod's own message": `formatIssue` writes those itself, with the schema at hand. */
export const DEFAULT_MESSAGE = '\u0000default'
const OWN_CODES = new Set(['invalid_type', 'too_big', 'too_small', 'invalid_value', 'invalid_format', 'invalid_union', 'invalid_key'])

/** The per-parse error map: schema-level messages (`error: '...'`) still win over it. */
export function defaultMessages(issue: { code: string }): string | undefined {
  return OWN_CODES.has(issue.code) ? DEFAULT_MESSAGE : undefined
}

/** One message per problem (an issue with several unknown keys gives one each). */
export function formatIssue(index: SchemaIndex, issue: Issue): string[] {
  const at = formatPath(issue.path)
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => unknownKey(index, issue.path, key, issue.input))
  const input = (issue as { input?: unknown }).input
  if (issue.message === DEFAULT_MESSAGE) return [`${at || '(root)'}: ${describeIssue(index, issue, input)}`]
  // A schema's own message: add the value when it is a plain one, not a secret and not already quoted.
  const got = isScalar(input) && !isSecret(issue.path) ? received(input, issue.path, false) : undefined
  const withValue = got !== undefined && !issue.message.includes(got) ? `${issue.message}, got ${got}` : issue.message
  return [`${at || '(root)'}: ${withValue}`]
}

function describeIssue(index: SchemaIndex, issue: Issue, input: unknown): string {
  const schema = locate(index, issue.path).node?.schema
  switch (issue.code) {
    case 'invalid_type': {
      const expected = schema ? expectedOf(schema) : article(issue.expected)
      if (input === undefined) return `required (expected ${expected})`
      const quote = schema && defOf(unwrap(schema)).type === 'string' && (typeof input === 'number' || typeof input === 'boolean') ? '; write it in quotes' : ''
      return `expected ${expected}, got ${received(input, issue.path, true)}${quote}`
    }
    case 'too_big':
    case 'too_small': {
      const bound = issue.code === 'too_big' ? `at most ${issue.maximum}` : `at least ${issue.minimum}`
      if (issue.origin === 'number') return `expected ${schema ? expectedOf(schema) : `a number ${bound}`}, got ${received(input, issue.path, false)}`
      if (issue.origin === 'string') {
        if (issue.code === 'too_small' && Number(issue.minimum) === 1) return 'must not be empty'
        return `expected ${bound} characters, got ${String(input).length}`
      }
      const limit = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum)
      if (issue.origin === 'array') return `expected ${bound} item${limit === 1 ? '' : 's'}, got ${Array.isArray(input) ? input.length : 0}`
      return `expected ${bound}`
    }
    case 'invalid_value': {
      const words = issue.values.filter((v): v is string => typeof v === 'string')
      const near = typeof input === 'string' ? closest(input, words) : undefined
      return `expected ${oneOf(issue.values)}, got ${received(input, issue.path, false)}${near ? ` — did you mean ${JSON.stringify(near)}?` : ''}`
    }
    case 'invalid_key': {
      // A record's key: the first thing its own schema refused.
      const inner = issue.issues[0] as { format?: string; pattern?: string } | undefined
      return `not a valid name${inner?.format === 'regex' ? `: expected one matching ${inner.pattern}` : ''}`
    }
    case 'invalid_format': {
      const what = issue.format === 'starts_with' ? `a string starting with ${JSON.stringify((issue as { prefix?: string }).prefix)}` : issue.format === 'regex' ? `a string matching ${(issue as { pattern?: string }).pattern}` : `a ${issue.format}`
      return `expected ${what}, got ${received(input, issue.path, false)}`
    }
    default:
      return `expected ${schema ? expectedOf(schema) : 'another value'}, got ${received(input, issue.path, true)}`
  }
}

/** What a schema accepts, in words, with an example where one helps. */
function expectedOf(schema: Schema): string {
  const inner = unwrap(schema)
  const def = defOf(inner)
  switch (def.type) {
    case 'number': {
      const bag = bagOf(inner)
      const word = bag.format?.includes('int') ? 'a whole number' : 'a number'
      const min = Math.abs(bag.minimum ?? Infinity) < Number.MAX_SAFE_INTEGER ? bag.minimum : undefined
      const max = Math.abs(bag.maximum ?? Infinity) < Number.MAX_SAFE_INTEGER ? bag.maximum : undefined
      if (min !== undefined && max !== undefined) return `${word} from ${min} to ${max}`
      if (min !== undefined) return `${word} of at least ${min}`
      return max !== undefined ? `${word} of at most ${max}` : word
    }
    case 'boolean':
      return 'true or false'
    case 'string': {
      const formats = (def.checks ?? []).map((check) => check._zod.def)
      const prefix = formats.find((f) => f.format === 'starts_with')?.prefix
      if (prefix !== undefined) return `a string starting with ${JSON.stringify(prefix)}`
      const example = defaultOf(schema)
      return `${(bagOf(inner).minimum ?? 0) > 0 ? 'a non-empty string' : 'a string'}${typeof example === 'string' && example !== '' ? ` such as ${JSON.stringify(example)}` : ''}`
    }
    case 'enum':
      return oneOf(Object.values(def.entries ?? {}))
    case 'literal':
      return oneOf(def.values ?? [])
    case 'array':
      return def.element ? `a list, each ${expectedOf(def.element)}` : 'a list'
    case 'object':
      return 'a mapping (key: value lines)'
    case 'record':
      return 'a mapping of names'
    case 'union':
      return (def.options ?? []).map(expectedOf).join(' or ')
    default:
      return 'another value'
  }
}

/** The default a wrapped schema fills in, as an example of a good value. */
function defaultOf(schema: Schema): unknown {
  for (let def = defOf(schema); ; def = defOf(def.innerType ?? def.in!)) {
    if (def.type === 'default') return (def as { defaultValue?: unknown }).defaultValue
    if (!def.innerType && !(def.type === 'pipe' && def.in)) return undefined
  }
}

function oneOf(values: readonly unknown[]): string {
  const quoted = values.map((v) => JSON.stringify(v))
  return quoted.length === 1 ? quoted[0]! : `one of ${quoted.join(', ')}`
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`
}

const isScalar = (value: unknown) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'

/** Keys whose values are never repeated in a message (tokens, passwords, API keys). */
const SECRET = /token|password|secret|apikey/i

const isSecret = (path: readonly PropertyKey[]) => path.some((part) => typeof part === 'string' && SECRET.test(part))

/** The value received, as it should be printed: quoted and cut short, its kind, or only its kind for a secret. */
function received(value: unknown, path: readonly PropertyKey[], withKind: boolean): string {
  const kind = value === null ? 'nothing' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : article(typeof value)
  if (isSecret(path)) return value === null ? 'nothing (an empty value)' : kind
  if (value === null) return 'nothing (an empty value)'
  if (!isScalar(value)) return kind
  // A URL's credentials (redis://:password@host) are not repeated either.
  const shown = typeof value === 'string' ? value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@') : value
  const text = typeof shown === 'string' ? JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown) : String(shown)
  return withKind ? `${text} (${kind})` : text
}

/**
 * An unknown key: the known key it is probably a typo of; else where a key of that name
 * belongs (the section above it first: a dedented line lands in its parent); else a near
 * key elsewhere; else the keys this level has.
 */
function unknownKey(index: SchemaIndex, path: readonly PropertyKey[], key: string, input: unknown): string {
  const here = `${formatPath([...path, key])}: unknown key ${JSON.stringify(key)}`
  const { node, pattern } = locate(index, path)
  const known = [...(node?.keys?.keys() ?? [])]
  const typo = closest(key, known)
  if (typo) return `${here} — did you mean ${JSON.stringify(typo)}?`
  const homes = (index.homes.get(key) ?? []).filter((home) => home !== pattern)
  if (homes.length > 0) {
    const level = path.length === 0 ? 'a top-level key' : `a key of ${pattern}`
    const { ordered, near } = probableHome(homes, path, pattern, key, input, node)
    const where = ordered.slice(0, 3).map((home) => home || 'the top level').join(' or ')
    return `${here} — not ${level}; it belongs under ${where}${near ? ` (indent it under ${near}?)` : ''}`
  }
  for (const [other, places] of index.homes) {
    if (key.length >= 5 && distance(key.toLowerCase(), other.toLowerCase()) <= 1) return `${here} — did you mean ${childPattern(places[0]!, other)}?`
  }
  return known.length > 0 ? `${here} — expected one of ${known.join(', ')}` : here
}

/**
 * Orders a key's homes: those under the key written just above it first (YAML keeps the
 * order, and a line dedented by mistake follows its section), and names that section's last
 * entry when it is one (`upstreams.users`).
 */
function probableHome(homes: string[], path: readonly PropertyKey[], pattern: string, key: string, input: unknown, node: KeyNode | undefined) {
  const siblings = isRecord(input) ? Object.keys(input) : []
  const above = siblings[siblings.indexOf(key) - 1]
  if (above === undefined || !node?.keys?.has(above)) return { ordered: homes, near: undefined }
  const abovePattern = childPattern(pattern, above)
  const under = (home: string) => home === abovePattern || home.startsWith(`${abovePattern}.`) || home.startsWith(`${abovePattern}[`)
  const ordered = [...homes.filter(under), ...homes.filter((home) => !under(home))]
  if (!under(ordered[0]!)) return { ordered, near: undefined }
  // The concrete entry: the last list item or mapping entry of the section above.
  const section = (input as Record<string, unknown>)[above]
  const base = formatPath([...path, above])
  let rest = ordered[0]!.slice(abovePattern.length)
  if (rest.startsWith('[]') && Array.isArray(section) && section.length > 0) rest = `[${section.length - 1}]${rest.slice(2)}`
  else if (rest.startsWith('.<name>') && isRecord(section) && Object.keys(section).length > 0) rest = `.${Object.keys(section).at(-1)}${rest.slice(7)}`
  const near = base + rest
  return { ordered, near: near.includes('<name>') || near.includes('[]') ? undefined : near }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
