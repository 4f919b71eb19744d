import { describe, expect, test } from 'bun:test'
import { compilePattern, compileTemplate, patternProblem, templateProblem } from './pattern.ts'
import { rewritePolicy } from './index.ts'
import { redirectPolicy } from '../redirect/index.ts'

describe('path patterns', () => {
  test.each([
    ['/old/**', '/old/a/b', ['a/b']],
    ['/old/**', '/old', ['']],
    ['/old/**', '/older', null],
    ['/users/*/posts/*', '/users/7/posts/9', ['7', '9']],
    ['/users/*/posts/*', '/users/7/posts/9/x', null],
    ['/users/*', '/users/', null],
    ['/files/*.json', '/files/a.b.json', ['a.b']],
    ['/v*/items', '/v2/items', ['2']],
    // Regex characters in a pattern are literal.
    ['/a+b/$x', '/a+b/$x', []],
    ['/a+b/$x', '/aab/$x', null],
  ] as const)('%p on %p captures %p', (pattern, path, expected) => {
    expect(patternProblem(pattern)).toBeUndefined()
    const found = compilePattern(pattern).regex.exec(path)
    expect(found === null ? null : [...found].slice(1).map((c) => c ?? '')).toEqual(expected as never)
  })

  test.each([
    ['(a+)+$', 'must start with "/"'],
    ['/(a+)+$', '"(" is regex syntax'],
    ['/a{1,3}', '"{" is regex syntax'],
    ['/a|b', '"|" is regex syntax'],
    ['/(?=a)', '"(" is regex syntax'],
    ['/**/x', '"**" must be the last segment'],
    ['/a**', '"**" must be a whole segment'],
    ['/*-*', 'more than one "*"'],
    ['/a//b', 'empty segment'],
    ['/a%2F', 'only path characters'],
  ])('%p is refused: %p', (pattern, message) => {
    expect(patternProblem(pattern)).toContain(message)
  })

  test('templates: captures, $path, $query and $$', () => {
    const t = compileTemplate('/new/$2/$1$$$query')
    expect(t.render(['', 'a', 'b'], '/p', '?q=1')).toBe('/new/b/a$?q=1')
    expect(templateProblem('/x/$3', 2, false)).toBe('$3: rewrite.pattern has 2 wildcards')
    expect(templateProblem('/x/$1', undefined, true)).toContain('needs rewrite.pattern')
    expect(templateProblem('/x$query', 0, false)).toBe('$query cannot be used here')
    expect(templateProblem('/x$name', 0, true)).toContain('must be followed by')
  })
})

const route = (config: Record<string, unknown>) => ({ name: 'r', prefix: '/', methods: undefined, allow: '', stripPrefix: false, config })
const context = (config: Record<string, unknown>) => ({ route: route(config) }) as never
const exchangeFor = (path: string, query = '') => ({ path, query, state: new Map() }) as never as { path: string; query: string; state: Map<unknown, unknown> }

describe('the rewrite and redirect stages', () => {
  test('rewrite fills the captures in and normalises what they bring', async () => {
    const config = { pattern: '/old/v*/**', to: '/new/$2/$1' }
    const stage = rewritePolicy.build(config, context({ rewrite: config }))!
    const seen: string[] = []
    const next = (e: { path: string }) => (seen.push(e.path), new Response('ok'))
    await stage(exchangeFor('/old/v2/a/b') as never, next as never)
    await stage(exchangeFor('/other') as never, next as never)
    // A ".." capture cannot stay a dot segment: /new/x/.. resolves to /new/.
    await stage(exchangeFor('/old/v../x') as never, next as never)
    expect(seen).toEqual(['/new/a/b/2', '/other', '/new/'])
  })

  test('redirect: status and Location with the rewrite captures; unmatched paths go on', async () => {
    const config = { rewrite: { pattern: '/old/**', to: '/new/$1' }, redirect: { to: 'https://example.com$path$query#$1', status: 301 } }
    const rewrite = rewritePolicy.build(config.rewrite, context(config))!
    const redirect = redirectPolicy.build(config.redirect as never, context(config))!
    const end = () => new Response('forwarded')
    const chain = (e: never) => rewrite(e, (x) => redirect(x, end as never))
    const moved = await chain(exchangeFor('/old/a', '?q=1') as never)
    expect(moved.status).toBe(301)
    expect(moved.headers.get('location')).toBe('https://example.com/new/a?q=1#a')
    expect(await (await chain(exchangeFor('/elsewhere') as never)).text()).toBe('forwarded')
  })

  test('a relative Location never starts with "//"', async () => {
    const redirect = redirectPolicy.build({ to: '/$path', status: 302 } as never, context({}))!
    const answer = await redirect(exchangeFor('/evil.example/x') as never, (() => new Response()) as never)
    expect(answer.headers.get('location')).toBe('/evil.example/x')
  })

  test('load checks: CR/LF, a placeholder host, a missing pattern', () => {
    const check = (redirect: unknown, config: Record<string, unknown> = {}) => redirectPolicy.check!(redirect as never, { settings: {}, route: config } as never)
    expect(check({ to: '/a\r\nSet-Cookie: x=1', status: 302 })[0]).toContain('control characters')
    expect(check({ to: 'https://$1/x', status: 302 })[0]).toContain('literal host')
    expect(check({ to: '//evil.example/', status: 302 })[0]).toContain('not "//"')
    expect(check({ to: '/x/$1', status: 302 })).toEqual(['to: $1 needs rewrite.pattern (its wildcards are the captures)'])
    expect(check({ to: '/x/$1', status: 302 }, { rewrite: { pattern: '/a/*', to: '/b' } })).toEqual([])
    expect(rewritePolicy.check!({ pattern: '/(a+)+$', to: '/x' }, {} as never)[0]).toStartWith('pattern: "(" is regex syntax')
  })
})
