/**
 * Body relays. Response bodies are re-wrapped so an upstream failure mid-body aborts the
 * client connection quietly (no terminating chunk, so it is never presented as complete)
 * instead of surfacing a runtime error with the upstream's address in the log.
 * Request bodies without a declared length are counted against the size limit.
 */

/** The stream error used for failed relays; an AbortError is not logged by Bun.serve. */
const relayAborted = () => new DOMException('relay aborted', 'AbortError')

export interface RelayHooks {
  /** Called once when the relay ends for any reason: done, failed or cancelled. */
  onEnd(): void
  /** Called when reading the upstream body fails (before `onEnd`). */
  onError(err: unknown): void
}

/**
 * Relays `source` chunk by chunk; on a read error errors the relay, which aborts the client
 * connection. Cancelling the relay (client gone) cancels the upstream body, freeing its connection.
 */
export function relayBody(source: ReadableStream<Uint8Array>, hooks: RelayHooks): ReadableStream<Uint8Array> {
  const reader = source.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          hooks.onEnd()
          controller.close()
        } else controller.enqueue(value)
      } catch (err) {
        hooks.onError(err)
        hooks.onEnd()
        controller.error(relayAborted())
      }
    },
    cancel(reason) {
      hooks.onEnd()
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

/** Passes `source` through, erroring with {@link BodyTooLargeError} once more than `limit` bytes went by. */
export function limitBody(source: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  let seen = 0
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        if (seen > limit) controller.error(new BodyTooLargeError())
        else controller.enqueue(chunk)
      },
    })
  )
}
