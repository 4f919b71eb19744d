import { describe, expect, test } from 'bun:test'
import { consumedFields, parseDictionary, targetedDirectives, targetedFields } from './targeted.ts'

const fields = targetedFields(['gateway', 'cdn', 'surrogate'])
const of = (headers: Record<string, string>) => targetedDirectives(new Headers(headers), fields)

describe('targeted cache control (RFC 9213)', () => {
  test('target names map to fields, in order', () => {
    expect(fields).toEqual(['gateway-cache-control', 'cdn-cache-control', 'surrogate-control'])
    // CDN-Cache-Control is for every CDN on the path: passed on.
    expect(consumedFields(fields)).toEqual(['gateway-cache-control', 'surrogate-control'])
  })

  test('the first present field with known directives wins', () => {
    expect(of({ 'cdn-cache-control': 'max-age=600', 'gateway-cache-control': 'no-store' })?.noStore).toBe(true)
    expect(of({ 'cdn-cache-control': 'max-age=600' })?.maxAge).toBe(600)
    expect(of({ 'cdn-cache-control': 'foobar, max-age=3600' })?.maxAge).toBe(3600)
    expect(of({ 'cdn-cache-control': 'private' })?.private).toBe(true)
    expect(of({ 'surrogate-control': 'max-age=30' })?.maxAge).toBe(30)
    expect(of({ 'cache-control': 'max-age=1' })).toBeUndefined()
  })

  test('values past 2^31 are 2^31; a field with no known directive is as if absent', () => {
    expect(of({ 'cdn-cache-control': 'max-age=99999999999' })?.maxAge).toBe(2 ** 31)
    expect(of({ 'cdn-cache-control': 'foo' })).toBeUndefined()
    expect(of({ 'cdn-cache-control': 'foo', 'surrogate-control': 'no-store' })?.noStore).toBe(true)
  })

  test('a malformed dictionary is ignored whole, a directive of the wrong type alone', () => {
    for (const bad of ['max-age=10000, &&&&&', 'max-age =100', 'max-age= 100', 'MaX-aGe=3600', 'max-age=1,', '"unterminated']) {
      expect(parseDictionary(bad)).toBeUndefined()
    }
    expect(of({ 'cdn-cache-control': 'max-age="10000"' })).toBeUndefined()
    expect(of({ 'cdn-cache-control': 'max-age="10000", no-store' })?.noStore).toBe(true)
    expect(parseDictionary('a=1;p=2, b, c="x,y", d=?0')).toEqual(new Map<string, number | boolean | string>([['a', 1], ['b', true], ['c', '"x,y"'], ['d', false]]))
  })
})
