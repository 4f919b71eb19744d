import { describe, expect, test } from 'bun:test'
import { createIpMatcher, isIpOrCidr } from './ip-matcher.ts'

describe('isIpOrCidr', () => {
  test.each([
    ['10.0.0.1', true],
    ['10.0.0.0/8', true],
    ['::1', true],
    ['fd00::/8', true],
    ['10.0.0.0/33', false],
    ['::/129', false],
    ['10.0.0.0/x', false],
    ['lb.internal', false],
    ['', false],
  ])('%s → %s', (value, expected) => expect(isIpOrCidr(value)).toBe(expected))
})

describe('createIpMatcher', () => {
  const trusted = createIpMatcher(['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8'])
  test.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::1', true],
    ['fd12:3456::1', true],
    ['fe80::1', false],
    ['::ffff:10.0.0.9', true],
    ['garbage', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => expect(trusted(address)).toBe(expected))

  test('an empty list trusts nobody', () => {
    expect(createIpMatcher([])('127.0.0.1')).toBe(false)
  })
})
