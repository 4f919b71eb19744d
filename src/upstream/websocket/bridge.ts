/**
 * One proxied WebSocket: the client's side is Bun.serve's ServerWebSocket, the upstream's a
 * raw socket speaking RFC 6455 frames (frames.ts). Messages go both ways as they are (text
 * stays text, binary stays binary), with backpressure both ways: when the client cannot take
 * more (`send` reports backpressure) the upstream socket is paused until the client drains,
 * and when the upstream socket cannot take more the client is paused. Close codes and
 * reasons pass through; 1005 and 1006, which cannot be sent, become an empty close frame
 * upstream and 1011 for the client.
 */
import type { ServerWebSocket, Socket } from 'bun'
import { closePayload, encodeFrame, FrameDecoder, FrameError, OPCODE, type DecodedEvents } from './frames.ts'

export interface BridgeObserver {
  message(direction: 'to_upstream' | 'to_client', bytes: number): void
  closed(code: number): void
}

/** Messages the upstream may send before the client's socket is open, at most. */
const EARLY_MESSAGES = 1024
const decoder = new TextDecoder()
const encoder = new TextEncoder()

export class WebSocketBridge implements DecodedEvents {
  /** Called once, when the client's socket has closed or its upgrade failed: its slot is free (slots.ts). */
  onGone: (() => void) | undefined = undefined
  private client: ServerWebSocket<WebSocketBridge> | undefined
  private readonly early: { data: Uint8Array; binary: boolean }[] = []
  private unwritten: Uint8Array[] = []
  private closing = false
  private upstreamClosed = false
  /** How the upstream ended, if it did before the client's socket opened. */
  private endedWith: { code: number; reason: string } | undefined
  private readonly frames: FrameDecoder

  constructor(
    private readonly socket: Socket<WebSocketBridge>,
    maxPayloadBytes: number,
    private readonly observer?: BridgeObserver
  ) {
    this.frames = new FrameDecoder(this, maxPayloadBytes)
  }

  // The client's side, from Bun.serve's websocket handlers.

  attach(client: ServerWebSocket<WebSocketBridge>): void {
    this.client = client
    for (const { data, binary } of this.early.splice(0)) this.message(data, binary)
    if (this.endedWith) this.finishClient(this.endedWith.code, this.endedWith.reason)
  }

  fromClient(message: string | Buffer): void {
    const binary = typeof message !== 'string'
    const payload = binary ? (message as Buffer) : encoder.encode(message as string)
    this.observer?.message('to_upstream', payload.byteLength)
    this.write(encodeFrame(binary ? OPCODE.binary : OPCODE.text, payload))
  }

  clientDrained(): void {
    if (!this.upstreamClosed) this.socket.resume()
  }

  clientClosed(code: number, reason: string): void {
    this.observer?.closed(code)
    this.gone()
    if (this.closing || this.upstreamClosed) return
    this.closing = true
    // 1005 (no code) and 1006 (no close frame) exist only as local reports (RFC 6455 §7.4.1).
    const sendable = code === 1005 || code === 1006 ? undefined : code
    this.write(encodeFrame(OPCODE.close, closePayload(sendable, reason)))
    this.socket.end()
  }

  /** Drain or shutdown: both sides get 1001 Going Away. */
  goAway(): void {
    if (this.closing) return
    this.closing = true
    // The client first: ending the upstream socket reports its close at once.
    this.finishClient(1001, 'going away')
    this.write(encodeFrame(OPCODE.close, closePayload(1001, 'going away')))
    this.socket.end()
  }

  /** The client's upgrade failed (its connection left while the upstream answered): end the upstream, free the slot. */
  abandon(): void {
    this.goAway()
    this.gone()
  }

  // The upstream's side, from the socket and the frame decoder.

  upstreamData(chunk: Uint8Array): void {
    try {
      this.frames.feed(chunk)
    } catch (err) {
      const code = err instanceof FrameError ? err.code : 1002
      this.write(encodeFrame(OPCODE.close, closePayload(code, '')))
      this.socket.end()
      this.finishClient(code === 1009 ? 1009 : 1011, '')
    }
  }

  upstreamDrained(): void {
    const queued = this.unwritten
    this.unwritten = []
    for (let i = 0; i < queued.length; i++) {
      if (!this.writeNow(queued[i]!)) {
        this.unwritten.push(...queued.slice(i + 1))
        return
      }
    }
    this.client?.resume()
  }

  upstreamGone(): void {
    if (this.upstreamClosed) return
    this.upstreamClosed = true
    // Closed without a close frame: abnormal (1006), which the client is told as 1011,
    // unless a close was already under way.
    if (!this.closing) this.finishClient(1011, '')
  }

  message(data: Uint8Array, binary: boolean): void {
    const client = this.client
    if (!client) {
      this.early.push({ data, binary })
      if (this.early.length >= EARLY_MESSAGES) this.socket.pause()
      return
    }
    this.observer?.message('to_client', data.byteLength)
    const status = client.send(binary ? data : decoder.decode(data))
    // -1: queued under backpressure; stop reading the upstream until the client drains.
    if (status === -1) this.socket.pause()
  }

  ping(payload: Uint8Array): void {
    this.write(encodeFrame(OPCODE.pong, payload))
  }

  pong(): void {}

  close(code: number | undefined, reason: string): void {
    // The upstream closed: answer its close frame (§5.5.1), then tell the client the same.
    if (!this.closing) this.write(encodeFrame(OPCODE.close, closePayload(code, reason)))
    this.closing = true
    this.upstreamClosed = true
    this.socket.end()
    this.finishClient(code === undefined || code === 1005 || code === 1006 ? 1000 : code, reason)
  }

  private gone(): void {
    const onGone = this.onGone
    this.onGone = undefined
    onGone?.()
  }

  private finishClient(code: number, reason: string): void {
    this.closing = true
    const client = this.client
    if (!client) this.endedWith ??= { code, reason }
    else if (client.readyState === 1) client.close(code, reason)
  }

  private write(frame: Uint8Array): void {
    if (this.unwritten.length > 0) {
      this.unwritten.push(frame)
      return
    }
    if (!this.writeNow(frame)) this.client?.pause()
  }

  /** Writes what the socket takes; the rest waits for its drain. False when something waits. */
  private writeNow(frame: Uint8Array): boolean {
    const written = this.socket.write(frame)
    if (written >= frame.byteLength) return true
    this.unwritten.unshift(frame.subarray(Math.max(written, 0)))
    return false
  }
}
