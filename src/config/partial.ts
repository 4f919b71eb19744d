/**
 * What the semantic checks read when the schema refused the file: each section, upstream,
 * route and consumer parsed on its own, its bad values dropped so the defaults apply. The
 * checks of every part that still parses then run in the same pass, and a file with a type
 * error in one section and a wrong reference in another is reported whole, not one fix at a
 * time. The problems dropped here were already named by the whole-file parse.
 */
import type { z } from 'zod'
import { configSchema, routeSchema, type GatewayConfig, type RouteConfig } from './schema.ts'

export interface PartialConfig {
  /** Every part that parsed; a section that could not is its defaults (redis: absent). */
  config: GatewayConfig
  /** The routes that parsed, with their index in the file (the others are left out). */
  routes: [number, RouteConfig][]
  /** Top-level keys with a part left out or a value dropped: checks that need them whole skip. */
  damaged: Set<string>
  /** Top-level keys that could not be parsed at all. */
  failed: Set<string>
}

/** The whole config, when the schema accepted it. */
export function wholeConfig(config: GatewayConfig): PartialConfig {
  return { config, routes: config.routes.map((route, i) => [i, route]), damaged: new Set(), failed: new Set() }
}

/** The parts of `raw` that parse (undefined when `raw` is not even a mapping). */
export function partialConfig(raw: unknown): PartialConfig | undefined {
  if (!isRecord(raw)) return undefined
  const damaged = new Set<string>()
  const failed = new Set<string>()
  const shape = configSchema.shape
  const sections: Record<string, unknown> = {}
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === 'upstreams' || key === 'routes' || key === 'consumers') continue
    const parsed = repair(shape[key], raw[key])
    if (!parsed?.whole) damaged.add(key)
    if (!parsed) failed.add(key)
    sections[key] = parsed ? parsed.data : key === 'redis' ? undefined : shape[key].parse(undefined)
  }

  const upstreamRecord = shape.upstreams.unwrap()
  const upstreams: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(isRecord(raw.upstreams) ? raw.upstreams : {})) {
    const parsed = upstreamRecord.keyType.safeParse(name).success ? repair(upstreamRecord.valueType, value) : undefined
    if (parsed) upstreams[name] = parsed.data
    if (!parsed?.whole) damaged.add('upstreams')
  }

  const routes: [number, RouteConfig][] = []
  for (const [i, value] of (Array.isArray(raw.routes) ? raw.routes : []).entries()) {
    const parsed = repair(routeSchema, value)
    if (parsed) routes.push([i, parsed.data])
    if (!parsed?.whole) damaged.add('routes')
  }

  // A consumer that does not parse keeps its place (the checks name consumers by index) as
  // one with no keys and a name nobody can write.
  const consumerSchema = shape.consumers.unwrap().element
  const consumers = (Array.isArray(raw.consumers) ? raw.consumers : []).map((value, i) => {
    const parsed = repair(consumerSchema, value)
    if (!parsed?.whole) damaged.add('consumers')
    return parsed ? parsed.data : { name: `\u0000consumers[${i}]`, apiKeys: [] }
  })

  const config = { ...sections, upstreams, routes: routes.map(([, route]) => route), consumers } as GatewayConfig
  return { config, routes, damaged, failed }
}

/**
 * Parses `value`, dropping what the schema refuses until it parses: an unknown key, a bad
 * value (a list with a bad item goes whole), or the mapping missing a required key. Undefined
 * when nothing is left to drop.
 */
function repair<S extends z.ZodType>(schema: S, value: unknown): { data: z.output<S>; whole: boolean } | undefined {
  let current = structuredClone(value)
  for (let round = 0; round < 20; round++) {
    const result = schema.safeParse(current)
    if (result.success) return { data: result.data, whole: round === 0 }
    let changed = false
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const target = valueAt(current, issue.path)
        if (isRecord(target)) for (const key of issue.keys) changed = delete target[key] || changed
        continue
      }
      const item = issue.path.findIndex((part) => typeof part === 'number')
      const cut = item === -1 ? issue.path : issue.path.slice(0, item)
      if (remove(current, cut) || remove(current, cut.slice(0, -1))) changed = true
    }
    if (!changed) return undefined
  }
  return undefined
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root
  for (const part of path) value = isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[part] : undefined
  return value
}

function remove(root: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return false
  const parent = valueAt(root, path.slice(0, -1))
  const key = path.at(-1) as string
  if (!isRecord(parent) || !Object.hasOwn(parent, key)) return false
  delete parent[key]
  return true
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
