/**
 * A worker process under the primary: receives its config over IPC, serves it, asks to be
 * recycled at its request or memory limit, drains when told to, and never outlives the
 * primary (IPC disconnect, plus `--no-orphans` in its BUN_OPTIONS).
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import type { PrimaryMessage, WorkerMessage } from '../runtime/ipc.ts'
import type { Grant, RateLimitStore } from '../policies/rate-limit/buckets.ts'
import { startWorker, type RunningWorker } from './server.ts'
import type { AddressSet } from '../upstream/dns.ts'
import { loadPlugins } from '../policies/plugins/load.ts'

const RSS_CHECK_MS = 5000
const MiB = 1024 * 1024

export function runWorkerProcess(log: Logger): void {
  let worker: RunningWorker | undefined
  let config: GatewayConfig | undefined
  let exiting = false
  let recycleAsked = false
  const send = (message: WorkerMessage) => process.send?.(message)

  // Rate limits draw on the primary's buckets, so the limit holds for the node.
  let takeSeq = 0
  const grants = new Map<number, (grant: Grant) => void>()
  const rateLimits: RateLimitStore = {
    take(key, want, rate, burst, global) {
      const id = ++takeSeq
      return new Promise<Grant>((resolve) => {
        grants.set(id, (grant) => {
          grants.delete(id)
          resolve(grant)
        })
        send({ type: 'take', id, key, want, rate, burst, global })
      })
    },
  }

  const askRecycle = (reason: 'max_requests' | 'max_rss') => {
    if (recycleAsked || exiting || !worker) return
    recycleAsked = true
    send({ type: 'recycle', reason, served: worker.served, rssMb: Math.round(process.memoryUsage.rss() / MiB) })
  }

  /** Stops serving and exits: 0 when every in-flight request finished, 1 when cut at the deadline. */
  const exit = async (drainMs: number) => {
    if (exiting) return
    exiting = true
    if (!worker) process.exit(0)
    const deadlineMs = (config?.server.shutdownTimeoutSeconds ?? 25) * 1000
    let cut = false
    const deadline = setTimeout(() => {
      cut = true
      void worker!.stop(true)
    }, deadlineMs)
    worker.startDraining()
    if (drainMs > 0) await Bun.sleep(drainMs)
    await worker.stop()
    clearTimeout(deadline)
    // The final counts, so the primary's totals include every request this worker served.
    const data = await worker.metrics()
    if (!process.connected) process.exit(cut ? 1 : 0)
    process.send!({ type: 'metrics', id: 0, data } satisfies WorkerMessage, undefined, undefined, () => process.exit(cut ? 1 : 0))
  }

  /** The resolver's latest address set per target: from `start`, then each `dns` message (also while starting). */
  const dnsSets = new Map<string, AddressSet>()
  const start = async (message: Extract<PrimaryMessage, { type: 'start' }>) => {
    for (const set of message.dns ?? []) if (!dnsSets.has(`${set.upstream} ${set.target}`)) dnsSets.set(`${set.upstream} ${set.target}`, set)
    config = { ...message.config, server: { ...message.config.server, port: message.port } }
    const { maxRequestsPerWorker, maxRequestsJitter, maxWorkerRssMb } = config.server
    // gunicorn's max_requests + randint(0, jitter), so workers do not all recycle at once.
    const limit = maxRequestsPerWorker > 0 ? maxRequestsPerWorker + Math.floor(Math.random() * (maxRequestsJitter + 1)) : 0
    try {
      // The primary checked these modules; a worker that cannot load them cannot serve.
      const { plugins, errors } = await loadPlugins(config.plugins, { settings: config })
      if (errors.length > 0) throw Object.assign(new Error(errors.join('; ')), { code: 'plugin_load_failed' })
      worker = startWorker(config, log, {
        plugins,
        onRequest: limit > 0 ? (served) => served >= limit && askRecycle('max_requests') : undefined,
        onInvalidate: (keys) => send({ type: 'invalidate', keys }),
        rateLimits,
        health: message.health,
        dns: [...dnsSets.values()],
        sharedCachePath: message.sharedCachePath,
      })
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'start_failed'
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
      // Say why: a port in use, or a plugin that loads or builds in the check but not here.
      log.error('worker_start_failed', { error: code, reason })
      // Exit once the message is written, so the primary's reload_failed line can say why.
      if (!process.connected) process.exit(1)
      process.send!({ type: 'listen_failed', code, reason } satisfies WorkerMessage, undefined, undefined, () => process.exit(1))
      return
    }
    if (maxWorkerRssMb > 0) {
      setInterval(() => process.memoryUsage.rss() > maxWorkerRssMb * MiB && askRecycle('max_rss'), RSS_CHECK_MS).unref()
    }
    send({ type: 'listening', port: worker.port })
  }

  process.on('message', (message: PrimaryMessage) => {
    if (message.type === 'granted') grants.get(message.id)?.(message)
    else if (message.type === 'health') worker?.setHealth(message.state)
    else if (message.type === 'dns') {
      dnsSets.set(`${message.set.upstream} ${message.set.target}`, message.set)
      worker?.setAddresses(message.set)
    }
    else if (message.type === 'upstreams?') send({ type: 'upstreams', id: message.id, data: worker?.upstreams() ?? [] })
    else if (message.type === 'start' && !worker) void start(message)
    else if (message.type === 'drain') void exit(config?.server.recycleDrainMs ?? 1000)
    else if (message.type === 'invalidate') worker?.invalidate(message.keys)
    else if (message.type === 'reopen_logs') worker?.reopenLogs()
    else if (message.type === 'purge') send({ type: 'purged', id: message.id, removed: worker?.purge(message.selector) ?? 0 })
    else if (message.type === 'metrics?' && worker) {
      void worker.metrics().then((data) => send({ type: 'metrics', id: message.id, data }))
    }
  })
  // Shutdown: stop accepting now; in-flight requests finish and answer with Connection: close.
  process.on('SIGTERM', () => void exit(0))
  process.on('SIGINT', () => void exit(0))
  // Reloads are the primary's job; a terminal hangup reaching the process group must not kill us.
  process.on('SIGHUP', () => {})
  // The primary passes SIGUSR1 on over IPC; one sent to a worker itself does the same (never its default: exit).
  process.on('SIGUSR1', () => worker?.reopenLogs())
  process.on('disconnect', () => void exit(0))
  send({ type: 'hello' })
}
