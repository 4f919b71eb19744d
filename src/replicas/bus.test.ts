import { describe, expect, test } from 'bun:test'
import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { createLogger } from '../log.ts'
import { createReplicaBus, parseMessage, type RejectReason, type ReplicaMessage } from './bus.ts'
import { createMessageSigner } from './signing.ts'

const SECRET = 'a-test-bus-secret-of-at-least-32-bytes'
const CHANNEL = 'gateway:cache'

describe('parseMessage', () => {
  test("another replica's purge and invalidation are applied; our own are not", () => {
    expect(parseMessage({ from: 'b', purge: { url: 'http://api.example/x' } }, 'a')).toEqual({ purge: { url: 'http://api.example/x' } })
    expect(parseMessage({ from: 'b', purge: { prefix: '/v1', host: 'api.example' } }, 'a')).toEqual({ purge: { prefix: '/v1', host: 'api.example' } })
    expect(parseMessage({ from: 'b', invalidate: ['k1', 'k2'] }, 'a')).toEqual({ invalidate: ['k1', 'k2'] })
    expect(parseMessage({ from: 'a', invalidate: ['k1'] }, 'a')).toBe('own')
  })

  test('anything malformed is dropped, never thrown', () => {
    for (const bad of [{}, { purge: { url: 'http://x/' } }, { from: 'b', purge: { url: 'no url' } }, { from: 'b', purge: { prefix: 'v1' } }, { from: 'b', invalidate: [1] }, { from: 'b' }]) {
      expect(parseMessage(bad, 'a')).toBeUndefined()
    }
  })
})

/** A bus over a stand-in for the two ioredis connections: what was published, what was applied, what was rejected and logged. */
function busWith(secret: string | undefined) {
  let clock = 1_800_000_000_000
  const subscriber = Object.assign(new EventEmitter(), { subscribe: async () => 1, disconnect() {} })
  const published: string[] = []
  const publisher = { publish: async (_channel: string, text: string) => (published.push(text), 1) }
  const applied: ReplicaMessage[] = []
  const rejected: RejectReason[] = []
  const lines: Record<string, unknown>[] = []
  const bus = createReplicaBus({
    publisher: publisher as unknown as Redis,
    subscriber: subscriber as unknown as Redis,
    channel: CHANNEL,
    replicaId: 'a',
    secret,
    log: createLogger({}, (line) => lines.push(JSON.parse(line))),
    onMessage: (message) => applied.push(message),
    onRejected: (reason) => rejected.push(reason),
    now: () => clock,
  })
  return {
    bus,
    published,
    applied,
    rejected,
    warnings: () => lines.filter((l) => l.event === 'replica_message_rejected'),
    deliver: (text: string) => subscriber.emit('message', CHANNEL, text),
    advance: (ms: number) => (clock += ms),
    now: () => clock,
  }
}

describe('createReplicaBus', () => {
  test('with busSecret: signed messages of other replicas are applied, our own ignored, the rest rejected', async () => {
    const t = busWith(SECRET)
    expect(t.bus.enabled).toBe(true)
    expect(await t.bus.publish({ purge: { url: 'http://api.example/x' } })).toBe(true)
    const peer = createMessageSigner(SECRET, CHANNEL)
    t.deliver(t.published[0]!)
    t.deliver(peer.sign({ from: 'b', invalidate: ['k'] }, t.now()))
    expect(t.applied).toEqual([{ invalidate: ['k'] }])
    t.deliver(JSON.stringify({ from: 'b', invalidate: ['k'] }))
    t.deliver(createMessageSigner('another-secret-of-at-least-32-bytes!', CHANNEL).sign({ from: 'b', invalidate: ['k'] }, t.now()))
    t.deliver(peer.sign({ from: 'b', invalidate: ['k'] }, t.now() - 120_000))
    t.deliver(peer.sign({ from: 'b', purge: { prefix: 'no-slash' } }, t.now()))
    expect(t.applied).toHaveLength(1)
    expect(t.rejected).toEqual(['unsigned', 'bad_signature', 'stale', 'malformed'])
  })

  test('one warn line per reason a minute, the next one saying how many went unlogged', () => {
    const t = busWith(SECRET)
    for (let i = 0; i < 5; i++) t.deliver('{"from":"b","invalidate":["k"]}')
    t.deliver('v1 nope')
    expect(t.rejected).toHaveLength(6)
    expect(t.warnings().map((w) => [w.reason, w.suppressed])).toEqual([['unsigned', 0]])
    t.advance(59_999)
    t.deliver('{}')
    expect(t.warnings()).toHaveLength(1)
    t.advance(1)
    t.deliver('{}')
    expect(t.warnings().map((w) => [w.reason, w.suppressed])).toEqual([['unsigned', 0], ['unsigned', 6]])
    t.deliver(`v1 ${'0'.repeat(64)} {}`)
    expect(t.warnings().map((w) => w.reason)).toEqual(['unsigned', 'unsigned', 'bad_signature'])
  })

  test('without busSecret the bus is off: nothing published, nothing applied, even a validly signed message', async () => {
    const t = busWith(undefined)
    expect(t.bus.enabled).toBe(false)
    expect(await t.bus.publish({ purge: { url: 'http://api.example/x' } })).toBe(false)
    expect(t.published).toEqual([])
    t.deliver(createMessageSigner(SECRET, CHANNEL).sign({ from: 'b', invalidate: ['k'] }, t.now()))
    expect(t.applied).toEqual([])
    expect(t.rejected).toEqual(['bus_off'])
  })
})
