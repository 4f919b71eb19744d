import { describe, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testExchange } from '../../../test/fixtures/exchange.ts'
import { honoStage } from './hono.ts'

describe('honoStage', () => {
  test("answers with the HTTPException of another copy of hono (the config folder's own, or the binary's bundled one)", async () => {
    // A real second copy: a config folder with hono installed, resolved before the gateway's.
    const dir = mkdtempSync(join(tmpdir(), 'gw-hono-copy-'))
    try {
      cpSync(join(import.meta.dir, '../../../node_modules/hono'), join(dir, 'node_modules/hono'), { recursive: true })
      const { basicAuth } = await import(join(dir, 'node_modules/hono/dist/middleware/basic-auth/index.js'))
      const stage = honoStage(basicAuth({ username: 'admin', password: 'open-sesame' }))
      const refused = await stage(testExchange('/'), () => new Response('through'))
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toContain('Basic')
      const through = await stage(testExchange('/', { headers: { authorization: `Basic ${btoa('admin:open-sesame')}` } }), () => new Response('through'))
      expect(await through.text()).toBe('through')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
