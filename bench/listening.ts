/**
 * Starting the processes a bench measures: spawn, wait for the line that says it is ready,
 * and keep draining its stdout afterwards, since a full pipe would block a gateway writing
 * access logs. The output is kept only when asked (run.ts reads worker pids from it).
 */
import { join } from 'node:path'
import type { Subprocess } from 'bun'

const ROOT = join(import.meta.dir, '..')

export interface Started {
  proc: Subprocess<'ignore', 'pipe', 'inherit'>
  /** The line that said it was ready. */
  line: string
  /** Everything it printed so far (empty unless keepOutput). */
  output(): string
}

export interface StartOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  /** The ready line; default the gateway's (and the fixture upstream's) JSON `listening` event. */
  ready?: (line: string) => boolean
  keepOutput?: boolean
}

const isListening = (line: string) => line.includes('"event":"listening"')

export async function startAndWait(cmd: string[], options: StartOptions = {}): Promise<Started> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? ROOT,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
    env: options.env ?? { ...process.env, NODE_ENV: 'production' },
  })
  const ready = options.ready ?? isListening
  const decoder = new TextDecoder()
  const reader = proc.stdout.getReader()
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`${cmd.join(' ')} exited before it was ready`)
    text += decoder.decode(value, { stream: true })
    const line = text.split('\n').find(ready)
    if (line === undefined) continue
    if (!options.keepOutput) text = ''
    void (async () => {
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        if (options.keepOutput) text += decoder.decode(next.value, { stream: true })
      }
    })()
    return { proc, line, output: () => text }
  }
}

/** A bun script of this repository (the gateway, the fixture upstream), with its port and pid. */
export async function startListening(args: string[], keepOutput = false) {
  const started = await startAndWait([process.execPath, ...args], { keepOutput })
  return { ...started, pid: started.proc.pid, port: JSON.parse(started.line).port as number }
}
