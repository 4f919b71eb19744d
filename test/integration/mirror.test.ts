/**
 * routes[].mirror on a real gateway and real upstreams: the share copied (100 and 0 percent),
 * the copy's headers and body, a held or dead mirror never delaying or failing the client,
 * the in-flight bound, the body bound, and gateway_mirror_requests_total counting each.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { scrape, sumOf } from '../fixtures/metrics.ts'

interface Seen {
  path: string
  mirrored: string | null
  bodyBytes: number
}

/** An upstream that records what it got; with `holds`, paths with /held wait until `release()`. */
function recorder(holds = false) {
  const seen: Seen[] = []
  let release = () => {}
  let gate = new Promise<void>((resolve) => (release = resolve))
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 30,
    async fetch(req) {
      const path = new URL(req.url).pathname
      const bodyBytes = (await req.arrayBuffer()).byteLength
      seen.push({ path, mirrored: req.headers.get('x-mirrored'), bodyBytes })
      if (holds && path.includes('/held')) await gate
      return new Response(`${bodyBytes}`)
    },
  })
  return {
    seen,
    server,
    origin: `http://127.0.0.1:${server.port}`,
    release: () => {
      release()
      gate = new Promise<void>((resolve) => (release = resolve))
    },
  }
}

const main = recorder()
const shadow = recorder(true)
let gw: GatewayProcess

beforeAll(async () => {
  gw = await startGateway({
    upstreams: {
      main: { targets: [main.origin] },
      shadow: { targets: [shadow.origin] },
      dead: { targets: ['http://127.0.0.1:1'] }, // port 1: nothing listens there
    },
    routes: [
      { name: 'all', path: '/all', upstream: 'main', mirror: { upstream: 'shadow', percent: 100 } },
      { name: 'none', path: '/none', upstream: 'main', mirror: { upstream: 'shadow', percent: 0 } },
      { name: 'bounded', path: '/bounded', upstream: 'main', mirror: { upstream: 'shadow', maxInFlight: 2 } },
      { name: 'dead', path: '/dead', upstream: 'main', mirror: { upstream: 'dead' } },
    ],
  })
})

afterAll(async () => {
  shadow.release()
  expect(await gw.stop()).toBe(0)
  main.server.stop(true)
  shadow.server.stop(true)
  expectCleanOutput(gw.output())
})

const mirrorCount = async (route: string, outcome: string) => sumOf(await scrape(gw.adminPort), 'gateway_mirror_requests_total', { route, outcome })
const shadowSaw = (path: string) => shadow.seen.filter((s) => s.path === path)

test('percent 100 copies every request, with its body and X-Mirrored: 1; percent 0 copies none', async () => {
  for (let i = 0; i < 5; i++) expect((await fetch(gw.url(`/all/get-${i}`))).status).toBe(200)
  const post = await fetch(gw.url('/all/post'), { method: 'POST', body: 'x'.repeat(1000) })
  expect(await post.text()).toBe('1000')
  for (let i = 0; i < 5; i++) expect((await fetch(gw.url(`/none/get-${i}`))).status).toBe(200)
  await waitFor(() => shadow.seen.filter((s) => s.path.startsWith('/all/')).length === 6, 5000, 'six copies')
  expect(shadowSaw('/all/post')).toEqual([{ path: '/all/post', mirrored: '1', bodyBytes: 1000 }])
  expect(shadowSaw('/all/get-0')[0]!.mirrored).toBe('1')
  // The client's own request is not marked.
  expect(main.seen.find((s) => s.path === '/all/post')!.mirrored).toBeNull()
  await waitFor(async () => (await mirrorCount('all', 'sent')) === 6, 5000, 'six copies counted')
  expect(shadow.seen.filter((s) => s.path.startsWith('/none/'))).toHaveLength(0)
  expect(main.seen.filter((s) => s.path.startsWith('/none/'))).toHaveLength(5)
})

test('a body over maxBodyBytes (64 KiB) is forwarded but not copied, and counted', async () => {
  const big = 'y'.repeat(70 * 1024)
  const res = await fetch(gw.url('/all/big'), { method: 'POST', body: big })
  expect(await res.text()).toBe(String(big.length))
  await waitFor(async () => (await mirrorCount('all', 'skipped_body')) === 1, 5000, 'the skip counted')
  expect(shadowSaw('/all/big')).toHaveLength(0)
})

test('a held mirror never delays the client; over maxInFlight copies are skipped and counted', async () => {
  // Two copies held by the shadow: the clients are answered while both still wait.
  for (let i = 0; i < 2; i++) expect(await (await fetch(gw.url(`/bounded/held-${i}`))).text()).toBe('0')
  await waitFor(() => shadow.seen.filter((s) => s.path.startsWith('/bounded/held')).length === 2, 5000, 'two held copies')
  // Both copies still wait: the slots are full, the next three are not copied, and answered all the same.
  for (let i = 2; i < 5; i++) expect((await fetch(gw.url(`/bounded/held-${i}`))).status).toBe(200)
  expect(await mirrorCount('bounded', 'skipped_busy')).toBe(3)
  shadow.release()
  await waitFor(async () => (await mirrorCount('bounded', 'sent')) === 2, 5000, 'the held copies answered')
  // Slots free again: the next request is copied.
  expect((await fetch(gw.url('/bounded/after'))).status).toBe(200)
  await waitFor(() => shadowSaw('/bounded/after').length === 1, 5000, 'a copy once slots are free')
  expect(shadow.seen.filter((s) => s.path.startsWith('/bounded/held'))).toHaveLength(2)
})

test('a dead mirror never fails the client; its failures are counted', async () => {
  for (let i = 0; i < 3; i++) expect(await (await fetch(gw.url(`/dead/x-${i}`), { method: 'POST', body: 'abc' })).text()).toBe('3')
  await waitFor(async () => (await mirrorCount('dead', 'failed')) === 3, 5000, 'three failed copies')
})
