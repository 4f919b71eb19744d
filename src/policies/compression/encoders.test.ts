import { describe, expect, test } from 'bun:test'
import * as zlib from 'node:zlib'
import { compressedStream, compressWhole, FAST_STREAMS, streamEncoder } from './encoders.ts'
import { DEFAULT_LEVELS, type Coding } from './schema.ts'

const C = zlib.constants
const TEXT = new TextEncoder().encode(
  JSON.stringify(
    Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] }))
  )
)

function decode(coding: Coding, bytes: Uint8Array): Buffer {
  if (coding === 'gzip') return zlib.gunzipSync(bytes)
  if (coding === 'br') return zlib.brotliDecompressSync(bytes)
  return zlib.zstdDecompressSync(bytes)
}

/** Decodes what has arrived so far of an unfinished stream (every chunk was flushed). */
function decodeSoFar(coding: Coding, bytes: Uint8Array): string {
  if (coding === 'gzip')
    return zlib.inflateRawSync(bytes.subarray(10), { finishFlush: C.Z_SYNC_FLUSH }).toString()
  if (coding === 'br')
    return zlib.brotliDecompressSync(bytes, { finishFlush: C.BROTLI_OPERATION_FLUSH }).toString()
  return zlib.zstdDecompressSync(bytes, { finishFlush: C.ZSTD_e_flush }).toString()
}

const CODINGS: Coding[] = ['zstd', 'br', 'gzip']

describe('compressWhole', () => {
  test.each(CODINGS)('%s round-trips and is smaller', (coding) => {
    const out = compressWhole(coding, TEXT, DEFAULT_LEVELS)
    expect(out.byteLength).toBeLessThan(TEXT.byteLength / 3)
    expect(Buffer.from(decode(coding, out)).equals(Buffer.from(TEXT))).toBe(true)
  })
})

test('this runtime runs the synchronous stream encoder (a Bun that changed node:zlib internals falls back to the slow one)', () => {
  expect(FAST_STREAMS).toBe(true)
})

describe.each([false, true])('streamEncoder (portable: %p)', (portable) => {
  test.each(CODINGS)('%s flushes each chunk, so it decodes before the end', async (coding) => {
    const encoder = streamEncoder(coding, DEFAULT_LEVELS, portable)
    const parts: Uint8Array[] = []
    const events = ['data: one\n\n', 'data: two\n\n', 'data: three\n\n']
    let sent = ''
    for (const event of events) {
      parts.push(await encoder.write(new TextEncoder().encode(event)))
      sent += event
      expect(decodeSoFar(coding, Buffer.concat(parts))).toBe(sent)
    }
    parts.push(await encoder.end())
    encoder.close()
    expect(decode(coding, Buffer.concat(parts)).toString()).toBe(sent)
  })

  test.each(CODINGS)(
    '%s: a chunk larger than the output buffer comes out whole',
    async (coding) => {
      const big = new Uint8Array(300_000)
      // Random bytes: the output outgrows node:zlib's 16 KiB buffer several times over.
      for (let i = 0; i < big.length; i += 65_536) crypto.getRandomValues(big.subarray(i, i + 65_536))
      const encoder = streamEncoder(coding, DEFAULT_LEVELS, portable)
      const parts = [await encoder.write(big), await encoder.write(TEXT), await encoder.end()]
      encoder.close()
      expect(decode(coding, Buffer.concat(parts)).equals(Buffer.concat([big, TEXT]))).toBe(true)
    }
  )
})

describe('compressedStream', () => {
  const source = (chunks: (Uint8Array | Error)[]) =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else if (next instanceof Error) controller.error(next)
        else controller.enqueue(next)
      },
    })

  test('counts what went in and out, once, when it ends whole', async () => {
    const ends: [number, number, boolean][] = []
    const stream = compressedStream(source([TEXT, TEXT]), streamEncoder('gzip', DEFAULT_LEVELS), {
      onEnd: (i, o, c) => void ends.push([i, o, c]),
    })
    const bytes = await new Response(stream).bytes()
    expect(zlib.gunzipSync(bytes).byteLength).toBe(2 * TEXT.byteLength)
    expect(ends).toEqual([[2 * TEXT.byteLength, bytes.byteLength, true]])
  })

  test('an upstream failure errors the stream: never a complete-looking body', async () => {
    const ends: boolean[] = []
    const stream = compressedStream(
      source([TEXT, new Error('reset')]),
      streamEncoder('br', DEFAULT_LEVELS),
      { onEnd: (_i, _o, c) => void ends.push(c) }
    )
    await expect(new Response(stream).bytes()).rejects.toThrow()
    expect(ends).toEqual([false])
  })

  test('the client leaving cancels the source', async () => {
    let cancelled = false
    const upstream = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(TEXT),
      cancel: () => void (cancelled = true),
    })
    const ends: boolean[] = []
    const reader = compressedStream(upstream, streamEncoder('zstd', DEFAULT_LEVELS), {
      onEnd: (_i, _o, c) => void ends.push(c),
    }).getReader()
    await reader.read()
    await reader.cancel()
    expect(cancelled).toBe(true)
    expect(ends).toEqual([false])
  })
})
