/** The committed JSON Schema is the zod schema's, and the example config passes it. */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
// ajv is here for kubernetes-models (a dev dependency); no dependency of its own for one test.
import Ajv from 'ajv'
import { gatewayJsonSchema, jsonSchemaText, SCHEMA_FILE } from './json-schema.ts'

const ROOT = join(import.meta.dir, '..', '..')

function validator() {
  return new Ajv({ allErrors: true, strict: false, logger: false }).compile(gatewayJsonSchema())
}

describe('schema/gateway.schema.json', () => {
  test('is what `bun run schema` generates now (run it after changing config/schema.ts)', async () => {
    expect(await Bun.file(SCHEMA_FILE).text()).toBe(jsonSchemaText())
  })

  test('gateway.example.yaml names it for editors and passes it', async () => {
    const text = await Bun.file(join(ROOT, 'gateway.example.yaml')).text()
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./schema/gateway.schema.json')
    const validate = validator()
    expect(validate(Bun.YAML.parse(text)), JSON.stringify(validate.errors)).toBe(true)
  })

  test('refuses an unknown key, a wrong type and a target that is not http(s)', () => {
    const validate = validator()
    const bad = { server: { prot: 8080, port: 'eighty' }, upstreams: { a: { targets: ['ftp://x', { url: 'http://x', weight: 0 }] } } }
    expect(validate(bad)).toBe(false)
    const found = validate.errors!.map((e) => `${e.instancePath} ${e.keyword}`)
    expect(found).toContain('/server additionalProperties')
    expect(found).toContain('/server/port type')
    expect(found).toContain('/upstreams/a/targets/0 pattern')
    expect(found).toContain('/upstreams/a/targets/1/weight minimum')
  })

  test('accepts both spellings of a target, with defaults left out', () => {
    const validate = validator()
    expect(validate({ upstreams: { a: { targets: ['http://10.0.0.5:3000', { url: 'https://b.example', weight: 2 }] } }, routes: [{ path: '/', upstream: 'a' }] })).toBe(true)
  })
})
