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

describe('exact routes and matchers', () => {
  const req = (headers: Record<string, string> = {}, query = '') => new Request(`http://gw.test/x${query}`, { headers })
  const header = (name: string, value: string) => ({ count: 1, test: (r: Request) => r.headers.get(name) === value })
  const both = { count: 2, test: (r: Request) => r.headers.get('x-a') === '1' && r.headers.get('x-b') === '1' }
  const table = createRouteTable<string>([
    { prefix: '/api', host: undefined, value: 'api prefix' },
    { prefix: '/api', host: undefined, value: 'api exact', exact: true },
    { prefix: '/api', host: undefined, value: 'api x-a', matcher: header('x-a', '1') },
    { prefix: '/api', host: undefined, value: 'api x-a and x-b', matcher: both },
    { prefix: '/api', host: 'h.example', value: 'api host' },
    { prefix: '/api', host: 'h.example', value: 'api host exact', exact: true },
    { prefix: '/only', host: undefined, value: 'only x-c', matcher: header('x-c', '1') },
    { prefix: '/', host: undefined, value: 'root exact', exact: true },
    { prefix: '/', host: undefined, value: 'root' },
  ])
  test.each([
    // An exact route takes the path itself, with or without one trailing "/", not its subpaths.
    ['/api', null, {}, 'api exact'],
    ['/api/', null, {}, 'api exact'],
    ['/api/x', null, {}, 'api prefix'],
    ['/apix', null, {}, 'root'],
    // Exact before host, host before matchers; more matchers first.
    ['/api', 'h.example', {}, 'api host exact'],
    ['/api/x', 'h.example', { 'x-a': '1' }, 'api host'],
    ['/api/x', null, { 'x-a': '1' }, 'api x-a'],
    ['/api/x', null, { 'x-a': '1', 'x-b': '1' }, 'api x-a and x-b'],
    ['/api/x', null, { 'x-a': '2' }, 'api prefix'],
    // A node whose matchers all fail hands the request to a shorter prefix.
    ['/only/x', null, {}, 'root'],
    ['/only/x', null, { 'x-c': '1' }, 'only x-c'],
    ['/', null, {}, 'root exact'],
    ['/z', null, {}, 'root'],
  ] as const)('%p with Host %p and headers %p → %p', (path, host, headers, expected) => {
    expect(table.match(path, host, req(headers))).toBe(expected)
  })

  test('10,000 routes, some sharing paths with matchers and exact twins, keep the precedence rules', () => {
    const entries: Parameters<typeof createRouteTable<string>>[0][number][] = []
    for (let i = 0; i < 10_000; i++) {
      entries.push({ prefix: `/svc${i}`, host: undefined, value: `svc${i}` })
      if (i % 10 === 0) entries.push({ prefix: `/svc${i}`, host: undefined, value: `svc${i} canary`, matcher: header('x-canary', String(i)) })
      if (i % 100 === 0) entries.push({ prefix: `/svc${i}`, host: undefined, value: `svc${i} exact`, exact: true })
    }
    const big = createRouteTable(entries)
    expect(big.match('/svc9999/a', null, req())).toBe('svc9999')
    expect(big.match('/svc9990/a', null, req({ 'x-canary': '9990' }))).toBe('svc9990 canary')
    expect(big.match('/svc9990/a', null, req({ 'x-canary': '10' }))).toBe('svc9990')
    expect(big.match('/svc9900', null, req({ 'x-canary': '9900' }))).toBe('svc9900 exact')
    expect(big.match('/svc9900/b', null, req({ 'x-canary': '9900' }))).toBe('svc9900 canary')
    expect(big.match('/svc10000', null, req())).toBeUndefined()
  })
})
