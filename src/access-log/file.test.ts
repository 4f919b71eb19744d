import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, renameSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPrivateAppend } from '../files/private.ts'
import { createLogger } from '../log.ts'
import { fileSink } from './file.ts'

const events: Record<string, unknown>[] = []
const log = createLogger({}, (line) => events.push(JSON.parse(line)))
const text = (path: string) => readFileSync(path, 'utf8')

describe('fileSink', () => {
  test('appends every line, made 0600; close writes what is queued', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gw-sink-')), 'access.log')
    const sink = fileSink(path, log)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    for (let i = 0; i < 1000; i++) sink.write(`{"n":${i}}\n`)
    await sink.close()
    const lines = text(path).split('\n').filter(Boolean)
    expect(lines).toHaveLength(1000)
    expect(lines.at(-1)).toBe('{"n":999}')
    sink.write('{"late":true}\n')
    await Bun.sleep(0)
    expect(text(path)).not.toContain('late')
  })

  test('reopen: queued and later lines go to the new file, earlier ones stay in the moved one', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gw-sink-')), 'access.log')
    const sink = fileSink(path, log)
    sink.write('before\n')
    // One turn: the first write is on its way.
    await new Promise((resolve) => setImmediate(resolve))
    renameSync(path, `${path}.1`)
    sink.reopen()
    sink.write('after\n')
    await sink.close()
    expect(text(`${path}.1`)).toBe('before\n')
    expect(text(path)).toBe('after\n')
    expect(events.some((e) => e.event === 'access_log_reopened' && e.file === path)).toBe(true)
  })

  test('a reopen that fails keeps writing to the file it has, and says why', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gw-sink-')), 'access.log')
    let opens = 0
    const open = (p: string) => {
      if (opens++ > 0) throw Object.assign(new Error('no room'), { code: 'ENOSPC' })
      return openPrivateAppend(p)
    }
    const sink = fileSink(path, log, open)
    sink.reopen()
    sink.write('kept\n')
    await sink.close()
    expect(text(path)).toBe('kept\n')
    expect(events.at(-1)).toMatchObject({ level: 'warn', event: 'access_log_reopen_failed', file: path, error: 'ENOSPC' })
  })
})
