import { describe, expect, test } from 'bun:test'
import { parseMessage } from './bus.ts'

describe('parseMessage', () => {
  const text = (value: unknown) => JSON.stringify(value)

  test("another replica's purge and invalidation are applied; our own are not", () => {
    expect(parseMessage(text({ from: 'b', purge: { url: 'http://api.example/x' } }), 'a')).toEqual({ purge: { url: 'http://api.example/x' } })
    expect(parseMessage(text({ from: 'b', purge: { prefix: '/v1', host: 'api.example' } }), 'a')).toEqual({ purge: { prefix: '/v1', host: 'api.example' } })
    expect(parseMessage(text({ from: 'b', invalidate: ['k1', 'k2'] }), 'a')).toEqual({ invalidate: ['k1', 'k2'] })
    expect(parseMessage(text({ from: 'a', invalidate: ['k1'] }), 'a')).toBeUndefined()
  })

  test('anything malformed is dropped, never thrown', () => {
    for (const bad of ['not json', 'null', text({ purge: { url: 'http://x/' } }), text({ from: 'b', purge: { url: 'no url' } }), text({ from: 'b', purge: { prefix: 'v1' } }), text({ from: 'b', invalidate: [1] }), text({ from: 'b' })]) {
      expect(parseMessage(bad, 'a')).toBeUndefined()
    }
  })
})
