import { describe, expect, test } from 'bun:test'
import { addressTarget, boundTtl, chooseSrv, diffAddresses, dnsNameOf } from './dns.ts'

describe('boundTtl', () => {
  test.each([
    [0, 5, 300, 5],
    [3, 5, 300, 5],
    [60, 5, 300, 60],
    [86_400, 5, 300, 300],
  ])('a TTL of %p within [%p, %p] is %p', (ttl, min, max, want) => {
    expect(boundTtl(ttl, min, max)).toBe(want)
  })
})

describe('diffAddresses', () => {
  const a = (ip: string, port = 80, weight = 1) => ({ ip, port, weight })
  test('names what was added and removed, by ip and port', () => {
    const d = diffAddresses([a('10.0.0.1'), a('10.0.0.2')], [a('10.0.0.2'), a('10.0.0.3'), a('10.0.0.1', 81)])
    expect(d.added).toEqual([a('10.0.0.3'), a('10.0.0.1', 81)])
    expect(d.removed).toEqual([a('10.0.0.1')])
    expect(d.reweighted).toBe(false)
  })
  test('the same set in another order is no change; a new weight is one', () => {
    expect(diffAddresses([a('1.1.1.1'), a('2.2.2.2')], [a('2.2.2.2'), a('1.1.1.1')])).toEqual({ added: [], removed: [], reweighted: false })
    expect(diffAddresses([a('1.1.1.1')], [a('1.1.1.1', 80, 5)]).reweighted).toBe(true)
  })
})

describe('dnsNameOf', () => {
  test('IP literals and localhost are not resolved', () => {
    expect(dnsNameOf('http://10.0.0.5:3000')).toBeUndefined()
    expect(dnsNameOf('http://[::1]:3000')).toBeUndefined()
    expect(dnsNameOf('http://localhost:3000')).toBeUndefined()
  })
  test('a name keeps its port, path and Host', () => {
    expect(dnsNameOf('https://app.svc:8443/api/')).toEqual({ kind: 'a', name: 'app.svc', scheme: 'https', port: '8443', path: '/api', host: 'app.svc:8443' })
  })
  test('srv+http: the SRV name, Host is its domain', () => {
    expect(dnsNameOf('srv+http://_http._tcp.app.ns.svc')).toMatchObject({ kind: 'srv', name: '_http._tcp.app.ns.svc', host: 'app.ns.svc' })
  })
  test('an address target connects to the IP and carries the name', () => {
    const t = addressTarget(dnsNameOf('http://app.svc:8080/v1')!, { ip: 'fd00::5', port: 8080, weight: 2 })
    expect([t.base, t.host, t.weight]).toEqual(['http://[fd00::5]:8080/v1', 'app.svc:8080', 2])
  })
})

describe('chooseSrv', () => {
  test('only the lowest priority, weight 0 as 1 (RFC 2782)', () => {
    const r = chooseSrv([
      { priority: 20, weight: 9, name: 'c' },
      { priority: 10, weight: 0, name: 'a' },
      { priority: 10, weight: 30, name: 'b' },
    ])
    expect(r.map((x) => [x.name, x.weight])).toEqual([['a', 1], ['b', 30]])
  })
})
