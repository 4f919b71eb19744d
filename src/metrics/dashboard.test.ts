/** The Grafana dashboard in docs/ must only query metrics the gateway exports. */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { METRICS } from './names.ts'

const DASHBOARD = join(import.meta.dir, '..', '..', 'docs', 'grafana-dashboard.json')

test('every panel query names exported metric families', async () => {
  const dashboard = JSON.parse(await Bun.file(DASHBOARD).text())
  const families: string[] = Object.values(METRICS).map((m) => (typeof m === 'string' ? m : m.name))
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr))
  expect(exprs.length).toBeGreaterThan(10)
  for (const expr of exprs) {
    const names = expr.match(/gateway_[a-z_]+/g) ?? []
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) expect(families).toContain(name.replace(/_(bucket|sum|count)$/, ''))
  }
})
