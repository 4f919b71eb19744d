import { describe, expect, test } from 'bun:test'
import { benchApp } from './fixture-app.ts'
import { requestKinds } from './history.ts'
import { LOOPBACK_SERVER } from './recorded.ts'

describe('bench:history', () => {
  test("every kind of request in a history is served by its route, not refused: the history widens the route's code, not a refusal's", async () => {
    const { app } = await benchApp()
    const kinds = requestKinds()
    expect(Object.keys(kinds).length).toBeGreaterThanOrEqual(8)
    for (const [name, make] of Object.entries(kinds)) {
      const res = await app.fetch(make(), LOOPBACK_SERVER)
      await res.arrayBuffer()
      expect({ name, status: res.status }).toEqual({ name, status: 200 })
    }
  })
})
