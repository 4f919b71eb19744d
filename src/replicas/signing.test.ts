import { describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { createMessageSigner, MAX_AGE_MS } from './signing.ts'

const SECRET = 'a-test-bus-secret-of-at-least-32-bytes'
const NOW = 1_800_000_000_000

describe('createMessageSigner', () => {
  const signer = createMessageSigner(SECRET, 'gateway:cache')

  test('a message it signed verifies, with the payload and the timestamp', () => {
    const text = signer.sign({ from: 'b', purge: { url: 'http://api.example/x' } }, NOW)
    expect(text).toMatch(/^v1 [0-9a-f]{64} \{/)
    expect(signer.verify(text, NOW + 1000)).toEqual({ payload: { from: 'b', purge: { url: 'http://api.example/x' }, ts: NOW } })
  })

  test('the old unsigned JSON and anything without the envelope are "unsigned"', () => {
    for (const text of ['{"from":"b","purge":{"url":"http://api.example/x"}}', '', 'v1', 'v1 abc {}', `v1 ${'0'.repeat(64)}{}`]) {
      expect(signer.verify(text, NOW)).toEqual({ rejected: 'unsigned' })
    }
  })

  test('a wrong key, another channel, a changed body or a changed MAC are "bad_signature"', () => {
    const text = signer.sign({ from: 'b', invalidate: ['k'] }, NOW)
    const otherKey = createMessageSigner(`${SECRET}!`, 'gateway:cache').sign({ from: 'b', invalidate: ['k'] }, NOW)
    const otherChannel = createMessageSigner(SECRET, 'staging:cache').sign({ from: 'b', invalidate: ['k'] }, NOW)
    const body = text.replace('"k"', '"j"')
    const flipped = `v1 ${text[3] === '0' ? '1' : '0'}${text.slice(4)}`
    const upper = `v1 ${text.slice(3, 67).toUpperCase()}${text.slice(67)}`
    for (const bad of [otherKey, otherChannel, body, flipped, upper, `v1 ${'z'.repeat(64)} {}`]) {
      expect(signer.verify(bad, NOW)).toEqual({ rejected: 'bad_signature' })
    }
  })

  test(`a message more than ${MAX_AGE_MS / 1000} s old, or as far ahead, is "stale"`, () => {
    const text = signer.sign({ from: 'b', invalidate: ['k'] }, NOW)
    expect('payload' in signer.verify(text, NOW + MAX_AGE_MS)).toBe(true)
    expect(signer.verify(text, NOW + MAX_AGE_MS + 1)).toEqual({ rejected: 'stale' })
    expect('payload' in signer.verify(text, NOW - MAX_AGE_MS)).toBe(true)
    expect(signer.verify(text, NOW - MAX_AGE_MS - 1)).toEqual({ rejected: 'stale' })
  })

  test('a signed body that is not an object with a numeric ts is "malformed"', () => {
    const forge = (body: string) => {
      // Signed with the right key over a body sign() would never make.
      return `v1 ${createHmac('sha256', SECRET).update('gateway:cache\n').update(body).digest('hex')} ${body}`
    }
    expect('payload' in signer.verify(forge(`{"ts":${NOW}}`), NOW)).toBe(true)
    for (const body of ['not json', '[1]', 'null', '{"from":"b"}', '{"ts":"1"}']) {
      expect(signer.verify(forge(body), NOW)).toEqual({ rejected: 'malformed' })
    }
  })
})
