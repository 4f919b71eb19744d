/** The error table of docs/proxying.md must list the catalogue exactly: every code, with its status. */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { ERRORS } from './errors.ts'

const PROXYING = join(import.meta.dir, '..', '..', 'docs', 'proxying.md')

/** `code → status` of the rows of the table under "## Errors": `| 503 | \`overloaded\` | when |`. */
async function documentedErrors(): Promise<Map<string, number>> {
  const text = await Bun.file(PROXYING).text()
  const start = text.indexOf('\n## Errors\n')
  expect(start).toBeGreaterThan(-1)
  const end = text.indexOf('\n## ', start + 1)
  const section = text.slice(start, end === -1 ? undefined : end)
  const rows = new Map<string, number>()
  for (const [, status, code] of section.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)) rows.set(code!, Number(status))
  return rows
}

test('docs/proxying.md lists every code of the catalogue with its status, and no other', async () => {
  const documented = await documentedErrors()
  expect(Object.fromEntries(documented)).toEqual({ ...ERRORS })
})
