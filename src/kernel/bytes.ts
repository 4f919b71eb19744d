/** Byte and body helpers shared by the upstream layer and the cache. */

/** `parts` joined into one array (the only part itself when there is one). */
export function concatBytes(parts: readonly Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  let total = size ?? 0
  if (size === undefined) for (const part of parts) total += part.byteLength
  const out = new Uint8Array(total)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

/**
 * Reads `response`'s body if it is at most `limit` bytes, without ever holding more than
 * that: resolves with the bytes, or, once the body proves larger, with a response that
 * streams what was read and then the rest (the cache's maxObjectBytes). A declared length
 * decides at once. Rejects when the body fails to arrive whole.
 */
export async function readAtMost(response: Response, limit: number): Promise<Uint8Array | Response> {
  const body = response.body
  if (body === null) return new Uint8Array(0)
  const declared = response.headers.get('content-length')
  if (declared !== null) return Number(declared) <= limit ? response.bytes() : response
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return concatBytes(chunks, size)
    chunks.push(value)
    size += value.byteLength
    if (size > limit) break
  }
  return new Response(replay(chunks, reader), { status: response.status, headers: response.headers })
}

/** A stream of `prefix` followed by what `reader` still has. */
function replay(prefix: Uint8Array[], reader: { read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>; cancel(reason?: unknown): Promise<void> }): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = prefix.shift()
      if (next) return controller.enqueue(next)
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}

/**
 * The reason a failed response body relay is errored with: none. Bun.serve (1.4.5) prints any
 * other reason of a response body's error to stderr, an AbortError DOMException included, as a
 * dump of the object; with an undefined reason it aborts the client connection the same way
 * (no terminating chunk, never a complete-looking body), silently.
 */
export const RELAY_ABORTED = undefined
