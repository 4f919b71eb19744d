/**
 * The layering of src/: every import (type-only ones too) of a part points to the same part
 * or to a lower layer, so there is no cycle between parts and the kernel imports nothing
 * above it. Tests are exempt (they may reach across). docs/pipeline.md shows the layers.
 */
import { expect, test } from 'bun:test'
import { Glob } from 'bun'
import { dirname, join, relative } from 'node:path'

const SRC = import.meta.dir

/** Lowest first. A part may import its own files and any part of a lower layer, nothing else. */
export const LAYERS: readonly (readonly string[])[] = [
  // What everything builds on: the Exchange, stages, errors, forwarding rules; small leaves.
  ['kernel', 'net', 'files', 'log', 'version', 'self'],
  // Each built-in policy, and the plugin API (plugin.ts) users import; the access log (its field names are the config's).
  ['policies', 'plugin', 'access-log'],
  // The config: its schema assembles the policies' keys.
  ['config'],
  ['upstream'],
  // Tracing: W3C trace context, spans and their OTLP export, whose answers the native client's
  // parser reads (the upstream sees a trace only through the kernel's RequestTrace).
  ['edge', 'replicas', 'tracing'],
  ['metrics'],
  // A route's chain from the policies, around the forwarder.
  ['pipeline'],
  ['app', 'admin'],
  // The primary/worker messages.
  ['runtime'],
  ['worker'],
  ['primary'],
  ['single-process', 'demo', 'healthcheck'],
  ['main'],
  // The bun-gateway command: start is main's, validate and schema read the config.
  ['cli'],
]

const layerOf = new Map(LAYERS.flatMap((parts, layer) => parts.map((part) => [part, layer] as const)))

/** The part a file of src/ belongs to: its top folder, or its name for a top-level file. */
function partOf(file: string): string {
  const path = relative(SRC, file)
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : path.replace(/\.ts$/, '')
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

async function imports(): Promise<{ from: string; to: string; file: string }[]> {
  const found: { from: string; to: string; file: string }[] = []
  for await (const name of new Glob('**/*.ts').scan(SRC)) {
    if (name.endsWith('.test.ts')) continue
    const file = join(SRC, name)
    const text = await Bun.file(file).text()
    for (const match of text.matchAll(IMPORT)) {
      const target = join(dirname(file), match[1] ?? match[2]!)
      // package.json (the version) lies outside src/.
      if (!target.startsWith(SRC)) continue
      found.push({ from: partOf(file), to: partOf(target), file: name })
    }
  }
  return found
}

test('every part of src/ is in a layer', async () => {
  const parts = new Set((await imports()).flatMap((edge) => [edge.from, edge.to]))
  expect([...parts].filter((part) => !layerOf.has(part))).toEqual([])
})

/** The edges that do not point down. */
function upward(edges: readonly { from: string; to: string; file: string }[]): string[] {
  return edges.filter((edge) => edge.from !== edge.to && layerOf.get(edge.to)! >= layerOf.get(edge.from)!).map((edge) => `${edge.file} (${edge.from}) imports ${edge.to}`)
}

test('imports point down: to the same part or a lower layer', async () => {
  expect(upward(await imports())).toEqual([])
})

test('the check refuses an upward import and a cycle between parts of one layer', () => {
  expect(upward([{ from: 'kernel', to: 'policies', file: 'kernel/x.ts' }])).toEqual(['kernel/x.ts (kernel) imports policies'])
  expect(upward([{ from: 'edge', to: 'replicas', file: 'edge/x.ts' }])).toHaveLength(1)
  expect(upward([{ from: 'primary', to: 'worker', file: 'primary/x.ts' }])).toEqual([])
})
