/** A bad split or mirror exits 2 naming every bad field, before anything listens. */
import { expect, test } from 'bun:test'
import { spawnMain, writeConfig } from '../fixtures/gateway.ts'

test('split and mirror mistakes are each named by their path', async () => {
  const path = writeConfig({
    upstreams: { a: { targets: ['http://127.0.0.1:1'] }, b: { targets: ['http://127.0.0.1:2'] } },
    routes: [
      { path: '/none' },
      { path: '/both', upstream: 'a', split: [{ upstream: 'b' }] },
      { path: '/weights', split: [{ upstream: 'a', weight: 0 }, { upstream: 'missing' }] },
      { path: '/nodefault', split: [{ upstream: 'a', match: { headers: { 'x-c': '1' } } }] },
      { path: '/matchweight', split: [{ upstream: 'a', weight: 2, match: { query: { v: '2' } } }, { upstream: 'b' }] },
      { path: '/sticky', upstream: 'a', splitStickyOn: 'header:x-user' },
      { path: '/badsticky', split: [{ upstream: 'a' }], splitStickyOn: 'ip' },
      { path: '/mirror', upstream: 'a', mirror: { upstream: 'ghost', percent: 150 } },
      { path: '/mirror2', upstream: 'a', mirror: { upstream: 'ghost' } },
    ],
  })
  const { proc, output } = spawnMain(['--config', path])
  expect(await proc.exited).toBe(2)
  await output.ended
  const text = output()
  for (const line of [
    'routes[0].upstream: required (or split, or redirect)',
    'routes[1].split: a route has upstream or split, not both',
    'routes[2].split[0].weight:',
    'routes[3].split[0]: needs an entry without match',
    'routes[5].splitStickyOn: needs split',
    'routes[6].splitStickyOn: must be "header:<name>" or "cookie:<name>"',
    'routes[7].mirror.percent:',
  ]) expect(text).toContain(line)
  // The references and cross-entry rules, on a config whose shapes are valid.
  const semantic = writeConfig({
    upstreams: { a: { targets: ['http://127.0.0.1:1'] } },
    routes: [
      { path: '/weights', split: [{ upstream: 'a', weight: 1 }, { upstream: 'missing' }] },
      { path: '/nodefault', split: [{ upstream: 'a', match: { headers: { 'x-c': '1' } } }] },
      { path: '/matchweight', split: [{ upstream: 'a', weight: 2, match: { query: { v: '2' } } }, { upstream: 'a' }] },
      { path: '/mirror', upstream: 'a', mirror: { upstream: 'ghost' } },
    ],
  })
  const second = spawnMain(['--config', semantic])
  expect(await second.proc.exited).toBe(2)
  await second.output.ended
  const text2 = second.output()
  for (const line of [
    'routes[0].split[1].upstream: no upstream named "missing"',
    'routes[1].split[0]: needs an entry without match',
    'routes[2].split[0].weight: only entries without match share by weight',
    'routes[3].mirror.upstream: no upstream named "ghost"',
  ]) expect(text2).toContain(line)
})
