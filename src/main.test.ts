/**
 * main.ts starts every role of the process (primary, worker, plugin check, healthcheck). A
 * worker loads only what it serves with: main's own imports are the env and the log, and each
 * role's modules come in through a dynamic import.
 */
import { expect, test } from 'bun:test'
import { dirname, relative, resolve } from 'node:path'

const SRC = import.meta.dir
const transpiler = new Bun.Transpiler({ loader: 'ts' })

/** The files of src/ and the packages a module loads before its code runs: its static imports, transitively. */
async function staticClosure(entries: string[]): Promise<{ files: Set<string>; packages: Set<string> }> {
  const files = new Set<string>()
  const packages = new Set<string>()
  const queue = [...entries]
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue
    files.add(file)
    for (const { kind, path } of transpiler.scan(await Bun.file(file).text()).imports) {
      if (kind !== 'import-statement') continue
      // package.json (the version) is data, not a module with imports.
      if (path.startsWith('.')) {
        if (path.endsWith('.ts')) queue.push(resolve(dirname(file), path))
      } else packages.add(path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]!)
    }
  }
  return { files: new Set([...files].map((f) => relative(SRC, f))), packages }
}

test("a worker does not load the primary's modules, nor zod", async () => {
  const { files, packages } = await staticClosure([`${SRC}/main.ts`, `${SRC}/worker/process.ts`])
  const primaryOnly = [...files].filter((f) => /^(primary|admin|replicas|demo)\//.test(f) || ['config/source.ts', 'config/duplicate-keys.ts', 'single-process.ts', 'healthcheck.ts'].includes(f))
  expect(primaryOnly).toEqual([])
  expect([...packages].filter((p) => p === 'ioredis' || p === 'js-yaml')).toEqual([])
  // Nor the config's schemas: a worker's config is checked already (policies/builtin.ts).
  expect([...packages].filter((p) => p === 'zod')).toEqual([])
  // The worker's own modules are there: the closure is the one a worker evaluates.
  expect(files.has('app.ts')).toBe(true)
})
