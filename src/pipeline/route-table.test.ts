import { describe, expect, test } from 'bun:test'
import { createRouteTable } from './route-table.ts'

const table = createRouteTable([
  { prefix: '/api/users', host: undefined, value: 'users' },
  { prefix: '/api', host: 'admin.example', value: 'admin api' },
  { prefix: '/api', host: undefined, value: 'api' },
  { prefix: '/', host: undefined, value: 'root' },
  { prefix: '/only-host', host: 'a.example', value: 'only a' },
])

describe('the route table', () => {
  test.each([
    ['/api/users', null, 'users'],
    ['/api/users/', null, 'users'],
    ['/api/users/42', null, 'users'],
    // Whole segments: /api/users2 is under /api, not /api/users.
    ['/api/users2', null, 'api'],
    ['/api', null, 'api'],
    ['/api/x', 'admin.example', 'admin api'],
    ['/api/x', 'ADMIN.example.:80', 'admin api'],
    ['/api/x', 'other.example', 'api'],
    // The longer host-less prefix beats a shorter host route.
    ['/api/users/1', 'admin.example', 'users'],
    ['/elsewhere', null, 'root'],
    ['/', null, 'root'],
    // A host route for another host hands the request to the next shorter prefix.
    ['/only-host/x', 'b.example', 'root'],
    ['/only-host/x', 'a.example', 'only a'],
  ] as const)('%p with Host %p → %p', (path, host, expected) => {
    expect(table.match(path, host)).toBe(expected)
  })

  test('without a root route, an unmatched path has no entry', () => {
    const narrow = createRouteTable([{ prefix: '/a', host: undefined, value: 'a' }])
    expect(narrow.match('/b', null)).toBeUndefined()
    expect(narrow.match('/', null)).toBeUndefined()
    expect(narrow.match('/a/b', null)).toBe('a')
  })

  test('10,000 prefix routes and 1,000 host routes keep the precedence rules', () => {
    const entries: { prefix: string; host: string | undefined; value: string }[] = []
    for (let i = 0; i < 10_000; i++) entries.push({ prefix: `/svc${i}/api`, host: undefined, value: `svc${i}` })
    for (let i = 0; i < 1_000; i++) entries.push({ prefix: `/svc${i}`, host: `t${i}.example`, value: `host${i}` })
    for (let i = 0; i < 10_000; i += 997) entries.push({ prefix: `/svc${i}/api/v2`, host: undefined, value: `svc${i} v2` })
    const big = createRouteTable(entries)
    expect(big.match('/svc9999/api/x', null)).toBe('svc9999')
    expect(big.match('/svc997/api/v2/x', null)).toBe('svc997 v2')
    expect(big.match('/svc997/api/v3', null)).toBe('svc997')
    // /svc5/api (host-less, longer) beats /svc5 for t5.example; /svc5/other only has the host route.
    expect(big.match('/svc5/api/x', 't5.example')).toBe('svc5')
    expect(big.match('/svc5/other', 't5.example')).toBe('host5')
    expect(big.match('/svc5/other', 't6.example')).toBeUndefined()
    expect(big.match('/svc10000/api', null)).toBeUndefined()
  })
})
