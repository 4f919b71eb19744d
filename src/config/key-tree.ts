/**
 * The config schema read as a tree of keys, for messages about a path: which keys a level
 * has, where else a key name lives (`upstreams.<name>`, `routes[]`), and the schema of a
 * value. Reads zod's internals (`def`, `bag`), here only.
 */
import type { z } from 'zod'

export type Schema = z.core.$ZodType

// Each schema's `def` and its `bag` of checks.
export interface Def {
  type: string
  innerType?: Schema
  in?: Schema
  out?: Schema
  shape?: Record<string, Schema>
  element?: Schema
  valueType?: Schema
  options?: Schema[]
  values?: unknown[]
  entries?: Record<string, unknown>
  checks?: { _zod: { def: { format?: string; prefix?: string; pattern?: RegExp } } }[]
}
interface Bag {
  minimum?: number
  maximum?: number
  format?: string
}
export const defOf = (schema: Schema) => schema._zod.def as unknown as Def
export const bagOf = (schema: Schema) => schema._zod.bag as Bag

/** The schema without optional/default/prefault/nullable wrappers, a transform's input, and what a preprocess feeds. */
export function unwrap(schema: Schema): Schema {
  for (;;) {
    const def = defOf(schema)
    if (def.innerType) schema = def.innerType
    else if (def.type === 'pipe' && def.in) schema = defOf(def.in).type === 'transform' && def.out ? def.out : def.in
    else return schema
  }
}

export interface KeyNode {
  schema: Schema
  /** An object's keys (a union of objects: all of them). */
  keys?: Map<string, KeyNode>
  /** An array's items, or a record's values. */
  element?: KeyNode
  record?: boolean
}

function nodeOf(schema: Schema): KeyNode {
  const inner = unwrap(schema)
  const def = defOf(inner)
  const node: KeyNode = { schema }
  if (def.type === 'object' && def.shape) node.keys = new Map(Object.entries(def.shape).map(([key, child]) => [key, nodeOf(child)]))
  else if (def.type === 'array' && def.element) node.element = nodeOf(def.element)
  else if (def.type === 'record' && def.valueType) Object.assign(node, { element: nodeOf(def.valueType), record: true })
  else if (def.type === 'union') {
    for (const option of (def.options ?? []).map(nodeOf)) {
      if (option.keys) node.keys = new Map([...(node.keys ?? []), ...option.keys])
      if (option.element) node.element ??= option.element
    }
  }
  return node
}

export interface SchemaIndex {
  root: KeyNode
  /** Key name → the patterns of the objects that have it (`upstreams.<name>`, `routes[]`). */
  homes: Map<string, string[]>
}

/** Reads `schema` into a tree of keys and an index of where each key name lives. */
export function indexSchema(schema: Schema): SchemaIndex {
  const root = nodeOf(schema)
  const homes = new Map<string, string[]>()
  const visit = (node: KeyNode, pattern: string) => {
    for (const [key, child] of node.keys ?? []) {
      homes.set(key, [...(homes.get(key) ?? []), pattern])
      visit(child, childPattern(pattern, key))
    }
    if (node.element) visit(node.element, node.record ? childPattern(pattern, '<name>') : `${pattern}[]`)
  }
  visit(root, '')
  // The shallowest home first: `upstreams.<name>` before `upstreams.<name>.healthCheck`.
  const depth = (pattern: string) => pattern.split(/\.|\[\]/).length
  for (const [key, patterns] of homes) homes.set(key, patterns.sort((a, b) => depth(a) - depth(b)))
  return { root, homes }
}

export const childPattern = (pattern: string, key: string) => (pattern ? `${pattern}.${key}` : key)

/** The node at `path` and its pattern (`routes[].auth`); the node is undefined past the known tree. */
export function locate(index: SchemaIndex, path: readonly PropertyKey[]): { node?: KeyNode; pattern: string } {
  let node: KeyNode | undefined = index.root
  let pattern = ''
  for (const part of path) {
    if (typeof part === 'number') {
      node = node?.element
      pattern += '[]'
    } else if (node?.keys?.has(String(part))) {
      node = node.keys.get(String(part))
      pattern = childPattern(pattern, String(part))
    } else if (node?.record) {
      node = node.element
      pattern = childPattern(pattern, '<name>')
    } else {
      node = undefined
      pattern = childPattern(pattern, String(part))
    }
  }
  return { node, pattern }
}

/** `["routes", 0, "upstream"]` → `routes[0].upstream`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) out = typeof part === 'number' ? `${out}[${part}]` : childPattern(out, String(part))
  return out
}
