/**
 * WebSocket framing for the gateway's side of an upstream connection (RFC 6455 §5): frames
 * it sends are masked (§5.3, a client's duty), frames it reads must not be (§5.1). The
 * decoder reassembles fragmented messages (§5.4), hands control frames on at once (they may
 * come between fragments), and refuses a message over `maxPayloadBytes` (close 1009) or a
 * malformed frame (close 1002).
 */
import { concatBytes } from '../../kernel/bytes.ts'

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

export interface DecodedEvents {
  message(data: Uint8Array, binary: boolean): void
  ping(payload: Uint8Array): void
  pong(payload: Uint8Array): void
  close(code: number | undefined, reason: string): void
}

/** Why the stream cannot go on: a close code to send (1002 protocol error, 1009 too big). */
export class FrameError extends Error {
  constructor(readonly code: 1002 | 1009) {
    super(`websocket frame error ${code}`)
    this.name = 'FrameError'
  }
}

/** One masked frame: FIN set unless `fin` is false. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const length = payload.byteLength
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = new Uint8Array(headerLength + 4 + length)
  frame[0] = (fin ? 0x80 : 0) | opcode
  if (length < 126) frame[1] = 0x80 | length
  else if (length < 65536) {
    frame[1] = 0x80 | 126
    frame[2] = length >>> 8
    frame[3] = length & 0xff
  } else {
    frame[1] = 0x80 | 127
    new DataView(frame.buffer).setBigUint64(2, BigInt(length))
  }
  const mask = crypto.getRandomValues(new Uint8Array(4))
  frame.set(mask, headerLength)
  const at = headerLength + 4
  for (let i = 0; i < length; i++) frame[at + i] = payload[i]! ^ mask[i & 3]!
  return frame
}

/** A close frame's payload: the code and a UTF-8 reason (at most 123 bytes, §5.5). */
export function closePayload(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) return new Uint8Array(0)
  const text = new TextEncoder().encode(reason).subarray(0, 123)
  const out = new Uint8Array(2 + text.byteLength)
  out[0] = code >>> 8
  out[1] = code & 0xff
  out.set(text, 2)
  return out
}

const EMPTY = new Uint8Array(0)

export class FrameDecoder {
  private pending: Uint8Array = EMPTY
  /** Fragments of the message being assembled. */
  private fragments: Uint8Array[] = []
  private fragmentBytes = 0
  private fragmentBinary = false

  constructor(
    private readonly events: DecodedEvents,
    private readonly maxPayloadBytes: number
  ) {}

  /** Feeds received bytes; throws a FrameError when the stream must close. */
  feed(chunk: Uint8Array): void {
    let data = this.pending.byteLength ? concatBytes([this.pending, chunk]) : chunk
    this.pending = EMPTY
    for (;;) {
      if (data.byteLength < 2) break
      const first = data[0]!
      const second = data[1]!
      // RSV bits without a negotiated extension (none is offered upstream), or a masked frame.
      if ((first & 0x70) !== 0 || (second & 0x80) !== 0) throw new FrameError(1002)
      let length = second & 0x7f
      let offset = 2
      if (length === 126) {
        if (data.byteLength < 4) break
        length = (data[2]! << 8) | data[3]!
        offset = 4
      } else if (length === 127) {
        if (data.byteLength < 10) break
        const long = new DataView(data.buffer, data.byteOffset + 2, 8).getBigUint64(0)
        if (long > BigInt(this.maxPayloadBytes)) throw new FrameError(1009)
        length = Number(long)
        offset = 10
      }
      if (length > this.maxPayloadBytes) throw new FrameError(1009)
      if (data.byteLength < offset + length) break
      // Copied: the socket's buffer is not ours to keep.
      const payload = data.slice(offset, offset + length)
      data = data.subarray(offset + length)
      this.frame((first & 0x80) !== 0, first & 0x0f, payload)
    }
    if (data.byteLength) this.pending = data.slice()
  }

  private frame(fin: boolean, opcode: number, payload: Uint8Array): void {
    if (opcode >= 8) {
      // Control frames: never fragmented, at most 125 bytes (§5.5).
      if (!fin || payload.byteLength > 125) throw new FrameError(1002)
      if (opcode === OPCODE.ping) this.events.ping(payload)
      else if (opcode === OPCODE.pong) this.events.pong(payload)
      else if (opcode === OPCODE.close) {
        if (payload.byteLength === 1) throw new FrameError(1002)
        const code = payload.byteLength >= 2 ? (payload[0]! << 8) | payload[1]! : undefined
        this.events.close(code, new TextDecoder().decode(payload.subarray(2)))
      } else throw new FrameError(1002)
      return
    }
    if (opcode === OPCODE.continuation) {
      if (this.fragments.length === 0) throw new FrameError(1002)
    } else if (opcode === OPCODE.text || opcode === OPCODE.binary) {
      if (this.fragments.length > 0) throw new FrameError(1002)
      this.fragmentBinary = opcode === OPCODE.binary
    } else throw new FrameError(1002)
    if (fin && this.fragments.length === 0) {
      this.events.message(payload, this.fragmentBinary)
      return
    }
    this.fragmentBytes += payload.byteLength
    if (this.fragmentBytes > this.maxPayloadBytes) throw new FrameError(1009)
    this.fragments.push(payload)
    if (!fin) return
    const message = concatBytes(this.fragments)
    this.fragments = []
    this.fragmentBytes = 0
    this.events.message(message, this.fragmentBinary)
  }
}
