/** Keeps gateway.example.yaml true: it must validate and mention every key of the schema. */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { z } from 'zod'
import { parseConfigText, validateConfig } from './load.ts'
import { configSchema } from './schema.ts'

const EXAMPLE = join(import.meta.dir, '..', '..', 'gateway.example.yaml')

/** Every key path in the schema: `server.port`, `upstreams.*.targets`, `routes[].cache.mode`. */
function schemaPaths(schema: z.ZodType, prefix = '', out: string[] = []): string[] {
  const def = (schema as any)._zod.def
  switch (def.type) {
    case 'object':
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        const path = prefix ? `${prefix}.${key}` : key
        const before = out.length
        schemaPaths(child, path, out)
        if (out.length === before) out.push(path)
      }
      break
    case 'record':
      schemaPaths(def.valueType, `${prefix}.*`, out)
      break
    case 'array':
      // An array of objects (routes) is walked; an array of values (targets) is a leaf.
      if ((def.element as any)._zod.def.type === 'object') schemaPaths(def.element, `${prefix}[]`, out)
      break
    case 'default':
    case 'prefault':
    case 'optional':
    case 'pipe':
      schemaPaths(def.innerType ?? def.in, prefix, out)
      break
  }
  return out
}

/** Every key name in the schema, walking objects, records, arrays, defaults and optionals. */
function schemaKeys(schema: z.ZodType, out = new Set<string>()): Set<string> {
  const def = (schema as any)._zod.def
  switch (def.type) {
    case 'object':
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        out.add(key)
        schemaKeys(child, out)
      }
      break
    case 'record':
    case 'array':
      schemaKeys(def.valueType ?? def.element, out)
      break
    case 'default':
    case 'prefault':
    case 'optional':
    case 'pipe':
      schemaKeys(def.innerType ?? def.in, out)
      break
  }
  return out
}

test('gateway.example.yaml is a valid config', async () => {
  const result = validateConfig(parseConfigText(await Bun.file(EXAMPLE).text(), EXAMPLE))
  expect(result.ok ? [] : result.errors).toEqual([])
})

test('gateway.example.yaml documents every key of the schema', async () => {
  const text = await Bun.file(EXAMPLE).text()
  const keys = [...schemaKeys(configSchema)]
  expect(keys.length).toBeGreaterThan(25)
  // A key may be shown commented out where it excludes another (a JWT route's key sources).
  const missing = keys.filter((key) => !new RegExp(`^\\s*(?:#\\s*)?-?\\s*${key}:`, 'm').test(text))
  expect(missing).toEqual([])
})

test('docs/configuration.md lists every key path of the schema', async () => {
  const text = await Bun.file(join(import.meta.dir, '..', '..', 'docs', 'configuration.md')).text()
  const paths = schemaPaths(configSchema)
  expect(paths.length).toBeGreaterThan(40)
  expect(paths.filter((path) => !text.includes(`\`${path}\``))).toEqual([])
})
