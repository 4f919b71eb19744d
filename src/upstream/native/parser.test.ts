import { describe, expect, test } from 'bun:test'
import { UpstreamError } from '../errors.ts'
import { ResponseParser, type ResponseHead } from './parser.ts'

interface Parsed {
  head?: ResponseHead
  body: string
  ended: boolean
  extra?: boolean
  error?: string
}

/** Feeds `input` in pieces of `split` bytes (all at once when 0), then closes when asked. */
function parse(input: string, options: { method?: string; split?: number; close?: boolean } = {}): Parsed {
  const out: Parsed = { body: '', ended: false }
  const parser = new ResponseParser()
  parser.reset(
    {
      head: (head) => (out.head = head),
      body: (chunk) => (out.body += new TextDecoder('latin1').decode(chunk)),
      end: (extra) => {
        out.ended = true
        out.extra = extra
      },
    },
    1024,
    options.method ?? 'GET'
  )
  const bytes = new Uint8Array([...input].map((c) => c.charCodeAt(0)))
  try {
    const step = options.split || bytes.byteLength || 1
    for (let at = 0; at < bytes.byteLength; at += step) parser.feed(bytes.subarray(at, at + step))
    if (options.close) parser.close()
  } catch (err) {
    out.error = err instanceof UpstreamError ? err.code : String(err)
  }
  return out
}

const OK = 'HTTP/1.1 200 OK\r\n'

describe('ResponseParser: framing (RFC 9112 §6)', () => {
  test.each([1, 3, 0])('Content-Length body, fed %i bytes at a time', (split) => {
    const r = parse(`${OK}Content-Length: 5\r\nX-A: 1\r\n\r\nhello`, { split })
    expect(r).toMatchObject({ body: 'hello', ended: true, extra: false })
    expect(r.head).toMatchObject({ status: 200, contentLength: 5, keepAlive: true })
    expect(r.head!.fields).toContainEqual(['x-a', '1'])
  })

  test('the head keeps end-to-end fields only: hop-by-hop ones and those Connection names are left out', () => {
    const r = parse(`${OK}Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: 1\r\nProxy-Authenticate: Basic\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n`)
    expect(r.head!.fields).toEqual([['x-a', '1'], ['content-length', '0']])
    expect(r.head).toMatchObject({ keepAlive: true, keepAliveTimeout: 5 })
  })

  test.each([1, 4, 0])('chunked body with extensions and trailers, fed %i bytes at a time', (split) => {
    const r = parse(`${OK}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n`, { split })
    expect(r).toMatchObject({ body: 'hello world', ended: true, extra: false })
  })

  test('values lose surrounding SP and HTAB only; a status line without a reason is fine', () => {
    const r = parse(`HTTP/1.1 200\r\nX-Tab:\t a b \t\r\nX-Nbsp: x\u00a0\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n`)
    expect(r.error).toBeUndefined()
    expect(r.head!.statusText).toBe('')
    expect(r.head!.fields).toContainEqual(['x-tab', 'a b'])
    // 0xA0 is obs-text, part of the value (String.prototype.trim would eat it).
    expect(r.head!.fields).toContainEqual(['x-nbsp', 'x\u00a0'])
    expect(r.head!.fields).toContainEqual(['x-empty', ''])
  })

  test('close-delimited body ends with the connection, and the connection is not reused', () => {
    const r = parse(`${OK}\r\nuntil the end`, { close: true })
    expect(r).toMatchObject({ body: 'until the end', ended: true, extra: true })
    expect(r.head!.keepAlive).toBe(false)
  })

  test.each([
    ['HEAD', 'HEAD', 200, 'Content-Length: 10'],
    ['204', 'GET', 204, ''],
    ['304', 'GET', 304, 'Content-Length: 10'],
    ['Content-Length: 0', 'GET', 200, 'Content-Length: 0'],
  ])('%s: no body', (_name, method, status, field) => {
    const r = parse(`HTTP/1.1 ${status} X\r\n${field ? `${field}\r\n` : ''}\r\n`, { method })
    expect(r).toMatchObject({ body: '', ended: true, extra: false })
    expect(r.head!.bodyless).toBe(true)
  })

  test('1xx interim responses are skipped', () => {
    const r = parse(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`)
    expect(r.head!.status).toBe(200)
    expect(r.body).toBe('ok')
  })

  test('Connection: close and HTTP/1.0 without keep-alive are not reused; Keep-Alive timeout is read', () => {
    expect(parse(`${OK}Connection: close\r\nContent-Length: 0\r\n\r\n`).extra).toBe(true)
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').extra).toBe(true)
    const kept = parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=3, max=100\r\nContent-Length: 0\r\n\r\n')
    expect(kept.extra).toBe(false)
    expect(kept.head!.keepAliveTimeout).toBe(3)
  })

  test('bytes after a complete response mark the connection unusable', () => {
    expect(parse(`${OK}Content-Length: 2\r\n\r\nokEXTRA`)).toMatchObject({ body: 'ok', ended: true, extra: true })
  })
})

describe('ResponseParser: refused heads are malformed_head', () => {
  test.each([
    ['a garbage status line', 'NOT HTTP\r\n\r\n'],
    ['HTTP/2 in a status line', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['a status above 599', 'HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n'],
    ['an unrequested 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'],
    ['duplicate Content-Length', `${OK}Content-Length: 2\r\nContent-Length: 2\r\n\r\nok`],
    ['conflicting Content-Length', `${OK}Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc`],
    ['a Content-Length list', `${OK}Content-Length: 2, 2\r\n\r\nok`],
    ['a signed Content-Length', `${OK}Content-Length: +2\r\n\r\nok`],
    ['Content-Length with Transfer-Encoding', `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['a Transfer-Encoding other than chunked', `${OK}Transfer-Encoding: gzip\r\n\r\nx`],
    ['chunked not alone', `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
    ['two Transfer-Encoding fields', `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['obs-fold', `${OK}X-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n`],
    ['a space before the colon', `${OK}X-A : 1\r\nContent-Length: 0\r\n\r\n`],
    ['an empty field name', `${OK}: 1\r\nContent-Length: 0\r\n\r\n`],
    ['NUL in a value', `${OK}X-A: a\u0000b\r\nContent-Length: 0\r\n\r\n`],
    ['a bare CR in a value', `${OK}X-A: a\rb\r\nContent-Length: 0\r\n\r\n`],
    ['a bare LF line end', `HTTP/1.1 200 OK\nContent-Length: 0\n\n`],
    ['a bare CR in the status line', `HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n`],
    ['HTTP/1.2', `HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n`],
    ['no space after the status', `HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n`],
    ['a non-token name', `${OK}X(A): 1\r\nContent-Length: 0\r\n\r\n`],
    ['a line without a colon', `${OK}X-A 1\r\nContent-Length: 0\r\n\r\n`],
    ['a head over the limit', `${OK}X-Big: ${'a'.repeat(2000)}\r\n\r\n`],
    ['a bad chunk size', `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`],
    ['a chunk without its CRLF', `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n`],
    ['a trailer without a field name', `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n`],
    ['NUL in a trailer', `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\u0000b\r\n\r\n`],
  ])('%s', (_name, input) => {
    expect(parse(input).error).toBe('malformed_head')
  })
})

describe('ResponseParser: a connection that closes early', () => {
  test.each([
    ['before any byte', '', 'reset'],
    ['inside the head', 'HTTP/1.1 200 OK\r\nContent-Le', 'reset'],
    ['short of its Content-Length', `${OK}Content-Length: 10\r\n\r\nabc`, 'length_mismatch'],
    ['inside a chunked body', `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhel`, 'reset'],
  ])('%s → %s, never a complete response', (_name, input, code) => {
    const r = parse(input, { close: true })
    expect(r.error).toBe(code)
    expect(r.ended).toBe(false)
  })
})

describe('ResponseParser: one parser per connection', () => {
  test('reset() starts clean after a chunked response with trailers, then a HEAD', () => {
    const parser = new ResponseParser()
    const seen: string[] = []
    const events = {
      head: (head: ResponseHead) => seen.push(`head ${head.status}`),
      body: (chunk: Uint8Array) => seen.push(`body ${new TextDecoder().decode(chunk)}`),
      end: (extra: boolean) => seen.push(`end ${extra}`),
    }
    const bytes = (text: string) => new TextEncoder().encode(text)
    parser.reset(events, 1024, 'GET')
    parser.feed(bytes(`${OK}Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n`))
    // Cut mid-trailers: a reset must not carry the pending bytes or the state over.
    parser.reset(events, 1024, 'HEAD')
    expect(parser.started).toBe(false)
    parser.feed(bytes(`${OK}Content-Length: 5\r\n\r\n`))
    expect(parser.done).toBe(true)
    expect(seen).toEqual(['head 200', 'body ab', 'head 200', 'end false'])
  })
})
