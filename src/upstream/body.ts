/**
 * Body relays. Response bodies are re-wrapped so an upstream failure mid-body aborts the
 * client connection quietly (no terminating chunk, so it is never presented as complete)
 * instead of surfacing a runtime error with the upstream's address in the log.
 * Request bodies without a declared length are counted against the size limit.
 */

import { RELAY_ABORTED } from '../kernel/bytes.ts'

export interface RelayHooks {
  /** Called once when the relay ends for any reason: done, failed or cancelled; with the bytes relayed. */
  onEnd(bytes: number): void
  /** Called when reading the upstream body fails (before `onEnd`). */
  onError(err: unknown): void
}

/**
 * Relays `source` chunk by chunk; on a read error errors the relay, which aborts the client
 * connection. Cancelling the relay (client gone) cancels the upstream body, freeing its connection.
 */
export function relayBody(source: ReadableStream<Uint8Array>, hooks: RelayHooks): ReadableStream<Uint8Array> {
  const reader = source.getReader()
  let bytes = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          hooks.onEnd(bytes)
          controller.close()
        } else {
          bytes += value.byteLength
          controller.enqueue(value)
        }
      } catch (err) {
        hooks.onError(err)
        hooks.onEnd(bytes)
        controller.error(RELAY_ABORTED)
      }
    },
    cancel(reason) {
      hooks.onEnd(bytes)
      return reader.cancel(reason).catch(() => {})
    },
  })
}

/** Thrown into the upstream request when a streamed request body passes the limit. */
export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large')
    this.name = 'BodyTooLargeError'
  }
}

/**
 * Passes `source` through, erroring with {@link BodyTooLargeError} once more than `limit` bytes
 * went by; `counter.requestBytes` says how many did (the access log's request bytes).
 */
export function limitBody(source: ReadableStream<Uint8Array>, limit: number, counter?: { requestBytes: number | undefined }): ReadableStream<Uint8Array> {
  let seen = 0
  if (counter) counter.requestBytes = 0
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        if (counter) counter.requestBytes = seen
        if (seen > limit) controller.error(new BodyTooLargeError())
        else controller.enqueue(chunk)
      },
    })
  )
}
