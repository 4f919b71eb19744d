import { describe, expect, test } from 'bun:test'
import { testExchange } from '../../test/fixtures/exchange.ts'
import { Fields, RecordReader, type FieldSnapshot } from './fields.ts'

describe('Fields, the upstream request’s fields', () => {
  test('reads as Headers would: names in any case, several values joined with ", "', () => {
    const fields = new Fields()
    fields.copy('accept', 'text/html')
    fields.append('X-Tag', 'a')
    fields.append('x-tag', 'b')
    expect(fields.get('Accept')).toBe('text/html')
    expect(fields.get('x-tag')).toBe('a, b')
    expect(fields.has('X-TAG')).toBe(true)
    expect(fields.get('missing')).toBeNull()
    fields.set('X-Tag', 'c')
    expect(fields.get('x-tag')).toBe('c')
    fields.delete('ACCEPT')
    expect(fields.has('accept')).toBe(false)
  })

  test('a value with CR, LF or NUL, or a name that is not a token, is refused as Headers refuses it', () => {
    const fields = new Fields()
    for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\0b']) {
      expect(() => fields.set('x-consumer', value)).toThrow(TypeError)
      expect(() => new Headers().set('x-consumer', value)).toThrow(TypeError)
      expect(() => fields.append('x-consumer', value)).toThrow(TypeError)
    }
    expect(() => fields.set('bad name', 'v')).toThrow(TypeError)
    expect(() => fields.set('', 'v')).toThrow(TypeError)
    expect(fields.has('x-consumer')).toBe(false)
  })

  test('values lose their leading and trailing spaces and tabs, as Headers normalises them', () => {
    const fields = new Fields()
    fields.set('x-a', ' \tvalue \t')
    fields.append('x-b', '  one')
    expect(fields.get('x-a')).toBe(new Headers({ 'x-a': ' \tvalue \t' }).get('x-a')!)
    expect(fields.get('x-b')).toBe('one')
  })

  test('iterates a line per value, and becomes the same Headers for fetch', () => {
    const fields = new Fields()
    fields.copy('cookie', 'a=1')
    fields.copy('x-list', ['1', '2'])
    fields.set('x-request-id', 'id')
    expect([...fields]).toEqual([
      ['cookie', 'a=1'],
      ['x-list', '1'],
      ['x-list', '2'],
      ['x-request-id', 'id'],
    ])
    const headers = fields.toHeaders()
    expect(headers.get('x-list')).toBe('1, 2')
    expect(headers.get('cookie')).toBe('a=1')
    expect(headers.get('x-request-id')).toBe('id')
  })
})

describe('RecordReader and Exchange.requestFields, the client’s fields read from the limits stage’s snapshot', () => {
  const headers = new Headers([
    ['Cache-Control', 'no-cache'],
    ['Accept', 'text/html'],
    ['Accept', 'application/json'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ])

  test('reads as Headers reads: any case, repeated fields joined, absent ones null', () => {
    const reader = new RecordReader(headers.toJSON() as FieldSnapshot)
    for (const name of ['cache-control', 'Cache-Control', 'ACCEPT', 'set-cookie', 'pragma']) {
      expect(reader.get(name)).toBe(headers.get(name))
      expect(reader.has(name)).toBe(headers.has(name))
    }
  })

  test('an exchange reads its snapshot while it has one, and its Headers once a stage cleared it', () => {
    const exchange = testExchange('/', { headers: { 'cache-control': 'max-age=0' } })
    expect(exchange.requestFields.get('cache-control')).toBe('max-age=0')
    exchange.fields = exchange.raw.headers.toJSON() as FieldSnapshot
    // A plugin changes the request; the guard clears the snapshot before it runs.
    exchange.raw.headers.set('cache-control', 'no-store')
    expect(exchange.requestFields.get('cache-control')).toBe('max-age=0')
    exchange.fields = undefined
    expect(exchange.requestFields.get('cache-control')).toBe('no-store')
    exchange.fields = exchange.raw.headers.toJSON() as FieldSnapshot
    exchange.raw.headers.delete('cache-control')
    // A new snapshot, a new reader.
    expect(exchange.requestFields.get('cache-control')).toBe('no-store')
  })
})
