import { describe, expect, test } from 'bun:test'
import { duplicateKeyError } from './duplicate-keys.ts'

const TWICE = 'is given twice in one mapping: only the last would count (the first repeated key; there may be more)'

describe('duplicateKeyError', () => {
  test('a top-level section given twice is named where the second one starts, with the line', () => {
    const text = ['server:', '  port: 8080', 'routes:', '  - { path: /a, upstream: a }', 'server:', '  port: 9090', ''].join('\n')
    expect(duplicateKeyError('gateway.yaml', text)).toBe([`gateway.yaml:5:1: "server" ${TWICE}`, '    5 | server:', '      | ^'].join('\n'))
  })

  test('a nested duplicate is found; the first one in the file is named', () => {
    const text = ['upstreams:', '  users:', '    targets: [http://a]', '    timeoutMs: 100', '    timeoutMs: 200', '  users:', '    targets: [http://b]', ''].join('\n')
    expect(duplicateKeyError('g.yaml', text)?.split('\n')[0]).toBe(`g.yaml:5:5: "timeoutMs" ${TWICE}`)
  })

  test('JSON names a repeated member too', () => {
    expect(duplicateKeyError('g.json', '{"server": {"port": 1, "port": 2}}')).toStartWith(`g.json:1:24: "port" ${TWICE}`)
  })

  test('the same key in different mappings, merge keys and a clean file are not duplicates', () => {
    const routes = ['routes:', '  - path: /a', '    upstream: a', '  - path: /b', '    upstream: a', ''].join('\n')
    expect(duplicateKeyError('g.yaml', routes)).toBeUndefined()
    const merged = ['base: &base { timeoutMs: 100 }', 'upstreams:', '  a:', '    <<: *base', '    timeoutMs: 200', ''].join('\n')
    expect(duplicateKeyError('g.yaml', merged)).toBeUndefined()
  })
})
