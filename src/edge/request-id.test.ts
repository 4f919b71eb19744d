import { describe, expect, test } from 'bun:test'
import { requestIdFor } from './request-id.ts'

const gen = () => 'generated'

describe('requestIdFor', () => {
  test.each([
    ['lb-7f3a', true, 'lb-7f3a'],
    ['lb-7f3a', false, 'generated'],
    ['a"b', true, 'generated'],
    ['x'.repeat(129), true, 'generated'],
    ['id with space', true, 'generated'],
    [null, true, 'generated'],
  ])('incoming %p from a trusted=%p peer → %p', (incoming, trusted, expected) => {
    const headers = new Headers(incoming === null ? {} : { 'x-request-id': incoming })
    expect(requestIdFor(headers, trusted, gen)).toBe(expected)
  })
})
