/**
 * The whole-response deadline of one upstream exchange, linked to the client's abort.
 * A cleared timer rather than AbortSignal.timeout(): that one cannot be cancelled, so at
 * 20k requests/s a 30 s deadline would keep 600k timers alive.
 */

export interface Deadline {
  /** Aborts when the deadline passes or the client goes away. */
  readonly signal: AbortSignal
  /** True once the deadline (not the client) aborted the exchange. */
  readonly timedOut: boolean
  /** Stops the timer; call when the exchange is over, however it ended. Idempotent. */
  clear(): void
}

export function startDeadline(timeoutMs: number, client: AbortSignal): Deadline {
  const controller = new AbortController()
  let timedOut = false
  const onClientAbort = () => controller.abort(client.reason)
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new DOMException('upstream deadline passed', 'TimeoutError'))
  }, timeoutMs)
  if (client.aborted) controller.abort(client.reason)
  else client.addEventListener('abort', onClientAbort, { once: true })
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut
    },
    clear() {
      clearTimeout(timer)
      client.removeEventListener('abort', onClientAbort)
    },
  }
}
