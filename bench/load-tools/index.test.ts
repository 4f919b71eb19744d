import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { loadCommand, parseH2load, parseOha, parseWrk, pickTool, runLoad } from './index.ts'

const sample = (name: string) => Bun.file(join(import.meta.dir, '..', 'samples', name)).text()

describe('parsing load-tool output', () => {
  test('wrk with the Lua JSON reporter (captured on this machine)', async () => {
    const result = parseWrk(await sample('wrk.txt'))
    expect(result.tool).toBe('wrk')
    expect(result.requestsPerSec).toBeGreaterThan(0)
    expect(result.requests).toBeGreaterThan(0)
    expect(result.p50).toBeGreaterThan(0)
    expect(result.p99).toBeGreaterThanOrEqual(result.p50)
    expect(result.p99).toBeLessThan(1) // seconds, not microseconds
    expect(result.socketErrors).toBe(0)
  })

  test('wrk with method, body and unique paths from the environment', async () => {
    expect(parseWrk(await sample('wrk-post-unique.txt')).requests).toBeGreaterThan(0)
  })

  test('oha --output-format json (shaped after oha 1.15 schema.json)', async () => {
    expect(parseOha(await sample('oha.json'))).toEqual({
      tool: 'oha',
      requestsPerSec: 30211.5,
      p50: 0.0019,
      p90: 0.0031,
      p99: 0.0058,
      requests: 90592,
      non2xx: 12,
      socketErrors: 22,
    })
  })

  test('h2load: the summary, and percentiles from its per-request log (captured on this machine)', async () => {
    const result = parseH2load(await sample('h2load.txt'), await sample('h2load-requests.tsv'))
    expect(result).toMatchObject({ tool: 'h2load', requestsPerSec: 13057, requests: 13057, non2xx: 0, socketErrors: 0 })
    // The log's 20 durations, in seconds, 17.681 ms the shortest.
    expect(result.p50).toBeGreaterThan(0.017)
    expect(result.p99).toBeGreaterThanOrEqual(result.p50)
    expect(result.p99).toBeLessThan(1)
  })
})

describe('command lines', () => {
  const base = { url: 'http://127.0.0.1:8080/api/x', durationSeconds: 3, connections: 32, threads: 2 }

  test('wrk: flags, the Lua reporter, request shaping in the environment', () => {
    const { cmd, env } = loadCommand('wrk', { ...base, method: 'POST', bodyBytes: 4096, unique: true })
    expect(cmd.slice(0, 5)).toEqual(['wrk', '-t2', '-c32', '-d3s', '--latency'])
    expect(cmd.at(-1)).toBe(base.url)
    expect(env).toMatchObject({ BENCH_METHOD: 'POST', BENCH_BODY_BYTES: '4096' })
    expect(env.BENCH_UNIQUE).toMatch(/^[0-9a-f]{8}$/)
  })

  // Two runs, as the bench's warm-up and its measured run: the second asks for no path the
  // first did (the cache-miss scenarios measured repeats of the warm-up's paths, hits).
  test.skipIf(!Bun.which('wrk'))('wrk: unique paths are new in every run, not only within one', async () => {
    const seen: string[][] = [[], []]
    let run = 0
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => (seen[run]!.push(new URL(req.url).pathname), new Response('ok')) })
    try {
      const options = { url: `http://127.0.0.1:${server.port}/miss`, durationSeconds: 1, connections: 4, threads: 2, unique: true }
      await runLoad('wrk', options)
      run = 1
      await runLoad('wrk', options)
      for (const paths of seen) {
        expect(paths.length).toBeGreaterThan(10)
        expect(new Set(paths).size).toBe(paths.length)
        expect(paths.every((p) => p.startsWith('/miss-'))).toBe(true)
      }
      const first = new Set(seen[0])
      expect(seen[1]!.filter((p) => first.has(p))).toEqual([])
    } finally {
      server.stop(true)
    }
  })

  // A real wrk against a real server: the pause is wrk's own `delay`, set by the Lua script.
  test.skipIf(!Bun.which('wrk'))('wrk: delayMs paces each connection', async () => {
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok') })
    try {
      const url = `http://127.0.0.1:${server.port}/`
      const paced = await runLoad('wrk', { url, durationSeconds: 1, connections: 2, threads: 1, delayMs: 100 })
      // 2 connections, one request per 100 ms each: about 20 in a second (flat out: thousands).
      expect(paced.requests).toBeGreaterThan(0)
      expect(paced.requests).toBeLessThanOrEqual(30)
      expect(() => loadCommand('oha', { url, durationSeconds: 1, connections: 1, threads: 1, delayMs: 5 })).not.toThrow()
      expect(runLoad('oha', { url, durationSeconds: 1, connections: 1, threads: 1, delayMs: 5 })).rejects.toThrow('cannot pace')
    } finally {
      server.stop(true)
    }
  })

  test('oha: JSON output, no TUI, duration, unique paths as an escaped regex', () => {
    const { cmd } = loadCommand('oha', { ...base, unique: true })
    expect(cmd).toContain('--no-tui')
    expect(cmd.slice(cmd.indexOf('--output-format'), cmd.indexOf('--output-format') + 2)).toEqual(['--output-format', 'json'])
    expect(cmd.at(-1)).toBe('http://127\\.0\\.0\\.1:8080/api/x-[a-z0-9]{16}')
  })

  test('h2load: connections, streams per connection, a timed run and the request log', () => {
    const { cmd } = loadCommand('h2load', { ...base, url: 'https://127.0.0.1:8443/api/x', connections: 16, streams: 4 }, '/tmp/log')
    expect(cmd).toEqual(['h2load', '-c', '16', '-m', '4', '-t', '2', '-D', '3', '--log-file=/tmp/log', 'https://127.0.0.1:8443/api/x'])
  })

  test('prefers oha, falls back to wrk, else nothing', () => {
    expect(pickTool((c) => (c === 'oha' ? '/usr/bin/oha' : '/usr/bin/wrk'))).toBe('oha')
    expect(pickTool((c) => (c === 'wrk' ? '/usr/bin/wrk' : null))).toBe('wrk')
    expect(pickTool(() => null)).toBeUndefined()
  })
})
