/**
 * A worker's WebSocket slots (`server.websocket.maxConnectionsPerWorker`). An upgrade takes
 * one when it is admitted, before the upstream handshake, and holds it until its client
 * socket is gone: a handshake under way counts like an open socket, so simultaneous upgrades
 * cannot overshoot the cap. The bridge is registered before `server.upgrade()`, because Bun
 * runs the `open` and `close` handlers inside that call when the upstream has already closed.
 * The gauges read these same numbers, so /metrics and the cap always agree.
 */
import type { WebSocketBridge } from './bridge.ts'

export interface WebSocketSlots {
  /** Bridges whose client socket is open (or being upgraded, within one synchronous call). */
  readonly open: ReadonlySet<WebSocketBridge>
  /** Upstream handshakes under way. */
  readonly handshakes: number
  /** Takes a slot for an upstream handshake; false when all `max` are taken. */
  reserve(): boolean
  /** Gives back the slot of a handshake that did not open (refused, failed). */
  cancel(): void
  /** Hands a handshake's slot to its bridge, which gives it back once, when it is gone. */
  register(bridge: WebSocketBridge): void
}

export function createWebSocketSlots(max: number): WebSocketSlots {
  const open = new Set<WebSocketBridge>()
  let handshakes = 0
  return {
    open,
    get handshakes() {
      return handshakes
    },
    reserve() {
      if (open.size + handshakes >= max) return false
      handshakes++
      return true
    },
    cancel() {
      handshakes--
    },
    register(bridge) {
      handshakes--
      open.add(bridge)
      bridge.onGone = () => open.delete(bridge)
    },
  }
}
