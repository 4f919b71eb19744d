/**
 * The config's JSON Schema, generated from the one zod schema (config/schema.ts), so editors
 * complete and check keys (yaml-language-server reads the `$schema` modeline at the top of
 * gateway.example.yaml). `bun run schema` rewrites schema/gateway.schema.json; a test fails
 * when the committed file is stale.
 *
 * It describes what a file may contain (zod's input side: defaults are optional), not the
 * checks across fields or files (a route naming a missing upstream, an unreadable key file):
 * `bun-gateway validate` runs those.
 */
import { join } from 'node:path'
import { z } from 'zod'
import { accessLogSetting, configSchema, targetSchema, weightedTarget } from '../config/schema.ts'

/** Where the committed copy lives, from the repository root. */
export const SCHEMA_FILE = join(import.meta.dir, '..', '..', 'schema', 'gateway.schema.json')

// Draft-07: what yaml-language-server and most editors read best.
const OPTIONS = { target: 'draft-07', io: 'input', unrepresentable: 'any' } as const

/** The JSON Schema of a config file. */
export function gatewayJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    ...OPTIONS,
    override(ctx) {
      // A target is read by a transform (a string or { url, weight }), which zod cannot describe.
      if (ctx.zodSchema === targetSchema) {
        for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key]
        ctx.jsonSchema.anyOf = [TARGET_URL, weightedTargetSchema()]
      }
      // log.access: true/false, or the mapping (read by a preprocess, which zod describes as the mapping only).
      if (ctx.zodSchema === accessLogSetting) {
        const mapping = { ...ctx.jsonSchema }
        for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key]
        ctx.jsonSchema.anyOf = [{ type: 'boolean' }, mapping]
      }
    },
  })
  const { $schema, ...rest } = schema
  return { $schema, title: 'bun-gateway config', description: 'A bun-gateway config file (gateway.example.yaml documents every key).', ...rest }
}

const TARGET_URL = { type: 'string' as const, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://' }

function weightedTargetSchema(): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(weightedTarget, {
    ...OPTIONS,
    override(ctx) {
      if (ctx.path.at(-1) === 'url') Object.assign(ctx.jsonSchema, TARGET_URL)
    },
  })
  return schema
}

/** The schema as committed: two-space JSON and a final newline. */
export function jsonSchemaText(): string {
  return `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`
}

// `bun run schema`
if (import.meta.main) {
  await Bun.write(SCHEMA_FILE, jsonSchemaText())
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`)
}
