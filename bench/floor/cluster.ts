/**
 * What the floor servers share: their command line, and running as many reusePort processes
 * as the gateway has workers (a primary that only spawns them, like the gateway's), so CPU
 * per request compares like with like.
 *
 *   bun bench/floor/<proxy|hit>.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 *
 * Prints `{"event":"listening","port":P}` once every process listens (bench/listening.ts waits
 * for it). A process spawned with --worker serves; without it and with --workers > 1 it is the
 * primary.
 */
import { parseArgs } from 'node:util'
import type { Server } from 'bun'
import { startAndWait } from '../listening.ts'

export interface FloorOptions {
  port: number
  /** The fixture upstream's origin, `http://host:port`. */
  upstream: string
  workers: number
}

export function floorOptions(): FloorOptions & { worker: boolean } {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      port: { type: 'string', default: '0' },
      upstream: { type: 'string' },
      workers: { type: 'string', default: '1' },
      worker: { type: 'boolean', default: false },
    },
  })
  if (!values.upstream) throw new Error('--upstream http://host:port is required')
  return { port: Number(values.port), upstream: values.upstream, workers: Math.max(1, Number(values.workers)), worker: values.worker! }
}

const announce = (port: number) => process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`)

/** Serves `serve(port)` in this process, or in `workers` processes of `script` on one port. */
export async function runFloor(script: string, serve: (port: number) => Server<undefined>): Promise<void> {
  const options = floorOptions()
  if (options.worker || options.workers === 1) {
    const server = serve(options.port)
    announce(server.port!)
    process.on('SIGTERM', () => process.exit(0))
    // A worker whose primary is gone (killed hard) leaves rather than hold the port.
    if (options.worker) {
      const parent = process.ppid
      setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref()
    }
    return
  }
  const spawn = (port: number) => startAndWait([process.execPath, script, '--worker', '--port', String(port), '--upstream', options.upstream])
  // The first resolves port 0; the rest bind the same port (SO_REUSEPORT).
  const first = await spawn(options.port)
  const port = JSON.parse(first.line).port as number
  const rest = await Promise.all(Array.from({ length: options.workers - 1 }, () => spawn(port)))
  const procs = [first, ...rest].map((s) => s.proc)
  const stop = () => {
    for (const proc of procs) proc.kill('SIGTERM')
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  announce(port)
}
