/**
 * The plugin check's process as the config source starts it: before the config is validated,
 * so its start-up overlaps the validation, and stopped when the config fails before it.
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../../test/fixtures/process.ts'
import { declaresPlugins } from './check-plugins.ts'
import { fileSource } from './source.ts'

/** Our children that run the plugin check (`--check-plugins` on their command line). */
function checkProcesses(): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) !== process.pid || fields[0] === 'Z') continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('--check-plugins')) pids.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return pids
}

async function noCheckLeft(): Promise<number[]> {
  await waitFor(() => checkProcesses().length === 0, 5000, 'no plugin check process left')
  return checkProcesses()
}

function configFile(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-check-'))
  writeFileSync(join(dir, 'plugin.ts'), `export default { build: (config) => { if (config?.fail) throw new Error('refused at build'); return (e, n) => n(e) } }`)
  const path = join(dir, 'gateway.json')
  writeFileSync(path, JSON.stringify(config))
  return path
}

const base = { upstreams: { app: { targets: ['http://127.0.0.1:9'] } }, routes: [{ path: '/', upstream: 'app', plugins: ['mine'] }] }

describe('the plugin check process', () => {
  test('declaresPlugins reads the config as written, before validation', () => {
    expect(declaresPlugins({ plugins: { mine: { module: './plugin.ts' } } })).toBe(true)
    expect(declaresPlugins({ plugins: {} })).toBe(false)
    expect(declaresPlugins({ plugins: 'nonsense' })).toBe(false)
    expect(declaresPlugins(null)).toBe(false)
  })

  test('it checks the plugins of a valid config, and ends', async () => {
    const ok = await fileSource(configFile({ ...base, plugins: { mine: { module: './plugin.ts' } } }), {}).load()
    expect(ok.ok).toBe(true)
    const refused = await fileSource(configFile({ ...base, plugins: { mine: { module: './plugin.ts', config: { fail: true } } } }), {}).load()
    expect(refused.ok ? [] : refused.errors.join('\n')).toContain('refused at build')
    expect(await noCheckLeft()).toEqual([])
  })

  test('started ahead for a config that then fails validation, it is stopped', async () => {
    const result = await fileSource(configFile({ ...base, upstreams: { app: { targets: ['not a url'] } }, plugins: { mine: { module: './plugin.ts' } } }), {}).load()
    expect(result.ok).toBe(false)
    expect(await noCheckLeft()).toEqual([])
  })
})
