/**
 * The worker supervisor: spawns N worker processes on one port (reusePort), respawns
 * crashed ones with backoff, replaces recycled ones before they drain, swaps whole
 * generations on reload, and drains everything on shutdown. One JSON log line per spawn,
 * exit, recycle and reload.
 */
import type { Subprocess } from 'bun'
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import type { DrainReason, PrimaryMessage, WorkerMessage } from '../runtime/ipc.ts'
import type { PurgeSelector } from '../policies/cache/purge.ts'
import type { createMetricsAggregator } from '../metrics/aggregate.ts'
import type { RateLimitStore } from '../policies/rate-limit/buckets.ts'
import type { UpstreamSnapshot } from '../upstream/snapshot.ts'
import type { TargetHealth } from './health-checker.ts'
import type { AddressSet } from '../upstream/dns.ts'
import { createCrashPolicy } from './crash-policy.ts'

export interface SupervisorOptions {
  config: GatewayConfig
  /** Worker count (already resolved from `auto`). */
  workers: number
  /** Command that starts one worker process. */
  /** The worker command line for a generation's config (Bun reads some limits only at start). */
  command: (config: GatewayConfig) => string[]
  /** The worker environment for a generation's config. */
  env: (config: GatewayConfig) => Record<string, string | undefined>
  log: Logger
  /** Called once when workers crash in a loop; the caller shuts down and exits non-zero. */
  onGiveUp: (reason: string) => void
  /** Merges worker metrics; workers report to it, and exited workers are retired into it. */
  metrics?: ReturnType<typeof createMetricsAggregator>
  /** Called for every spawn after the first generation (crash, recycle, reload). */
  onRestart?: (reason: SpawnReason) => void
  /** The node's rate-limit buckets (and the replicas' shared ones): they outlive workers and reloads. */
  rateLimits: RateLimitStore
  /** A worker's unsafe method invalidated these keys (after the other workers were told). */
  onInvalidate?: (keys: string[]) => void
  /** The health checker's verdicts so far, given to each worker before it serves. */
  health: () => TargetHealth[]
  /** The DNS resolver's address sets so far, given to each worker before it serves. */
  dns?: () => AddressSet[]
  /** The node's shared cache database, which every worker opens. */
  sharedCachePath?: string
}

type ExitReason = 'crash' | DrainReason | 'shutdown' | 'failed_start'
export type SpawnReason = 'start' | 'crash' | 'recycle' | 'reload'

interface WorkerHandle {
  proc: Subprocess
  generation: number
  /** Why it was spawned, and when (ms since the epoch): the admin page shows both. */
  reason: SpawnReason
  startedAt: number
  state: 'starting' | 'listening' | 'draining'
  /** It said hello: its IPC channel is up (and it opens its log files from here on). */
  greeted?: boolean
  /** Its start waits for the generation's first worker to listen (spawnGeneration). */
  held?: boolean
  /** The config it was spawned with (its generation's), which its start carries. */
  config: GatewayConfig
  /** Set when the primary asked it to exit: its exit is not a crash. */
  exitReason?: ExitReason
  /** A replacement is already running or starting (recycle), so do not respawn on exit. */
  replaced: boolean
  listenFailure?: string
  /** The worker's own words for why it could not start (its error message). */
  startFailure?: string
  onListening?: (ok: boolean) => void
  exitCode?: number | null
  /** Resolves once its exit has been handled (logged, respawn decided). */
  handled: Promise<void>
  markHandled: () => void
}

const START_TIMEOUT_MS = 15_000

/**
 * Sends `message` to a worker; false when its channel is gone (it exited a moment ago and the
 * supervisor has not heard yet: Subprocess.send throws then). Every message to a worker goes
 * through here, so no fan-out or reply fails for one worker that just left.
 */
export function sendTo(w: { proc: Subprocess }, message: PrimaryMessage): boolean {
  try {
    w.proc.send(message)
    return true
  } catch {
    return false
  }
}

export function createSupervisor(options: SupervisorOptions) {
  const { command, env, log } = options
  const workers = new Map<number, WorkerHandle>()
  let crashPolicy = createCrashPolicy(options.config.server.crashLoop)
  let generation = 1
  let config = options.config
  let desired = options.workers
  /** The port every worker binds; resolved from the first worker when the config says 0. */
  let port = config.server.port
  let stopping = false
  let everListened = false
  let restarts = 0
  const restartsBy: Record<Exclude<SpawnReason, 'start'>, number> = { crash: 0, recycle: 0, reload: 0 }
  let recycling = false
  let purgeSeq = 0
  const purgeReplies = new Map<number, (removed: number) => void>()
  let upstreamSeq = 0
  const upstreamReplies = new Map<number, (data: UpstreamSnapshot[] | undefined) => void>()
  let metricsSeq = 0
  const metricsReplies = new Map<number, () => void>()
  const recycleQueue: { handle: WorkerHandle; reason: string; served: number; rssMb: number }[] = []

  /**
   * Tells every worker that was sent its start (a DNS address set, a log reopen): one still
   * starting keeps the latest message and applies it once it serves, so none misses a change.
   */
  const announce = (message: PrimaryMessage): void => {
    for (const w of workers.values()) if (w.greeted) sendTo(w, message)
  }

  /** The worker's config and the node's state so far; the port is the one the first worker bound when the config says 0. */
  const sendStart = (handle: WorkerHandle): void => {
    sendTo(handle, { type: 'start', config: handle.config, port, health: options.health(), dns: options.dns?.(), sharedCachePath: options.sharedCachePath })
  }

  /** Live workers of the current generation. */
  const count = () => [...workers.values()].filter((w) => w.generation === generation).length

  function spawnWorker(reason: SpawnReason, gen = generation, held = false): WorkerHandle {
    const handle = { generation: gen, config, state: 'starting', replaced: false, held, reason, startedAt: Date.now() } as WorkerHandle
    handle.handled = new Promise((resolve) => (handle.markHandled = resolve))
    handle.proc = Bun.spawn(command(config), {
      env: env(config),
      stdio: ['ignore', 'inherit', 'inherit'],
      serialization: 'json',
      ipc(message: WorkerMessage, proc) {
        onMessage(handle, message, proc)
      },
      onExit(proc, code, signal) {
        onExit(handle, code, signal)
      },
    })
    workers.set(handle.proc.pid, handle)
    if (reason !== 'start') {
      restarts++
      restartsBy[reason]++
      options.onRestart?.(reason)
    }
    log.info('worker_spawn', { pid: handle.proc.pid, generation: gen, reason, workers: workers.size, restarts })
    return handle
  }

  function onMessage(handle: WorkerHandle, message: WorkerMessage, proc: Subprocess) {
    switch (message.type) {
      case 'hello':
        handle.greeted = true
        if (!handle.held) sendStart(handle)
        break
      case 'listening':
        if (port === 0) port = message.port
        handle.state = 'listening'
        everListened = true
        handle.onListening?.(true)
        break
      case 'listen_failed':
        handle.listenFailure = message.code
        handle.startFailure = message.reason
        break
      case 'invalidate':
        // Every other worker drops the same URLs; the sender already has.
        for (const other of workers.values()) {
          if (other !== handle) sendTo(other, { type: 'invalidate', keys: message.keys })
        }
        options.onInvalidate?.(message.keys)
        break
      case 'purged':
        purgeReplies.get(message.id)?.(message.removed)
        break
      case 'upstreams':
        upstreamReplies.get(message.id)?.(message.data)
        break
      case 'take':
        void options.rateLimits.take(message.key, message.want, message.rate, message.burst, message.global).then((grant) => {
          // A worker that exited while Redis answered needs no reply.
          if (workers.has(proc.pid)) sendTo(handle, { type: 'granted', id: message.id, ...grant })
        })
        break
      case 'metrics':
        options.metrics?.report(proc.pid, message.data)
        metricsReplies.get(message.id)?.()
        break
      case 'recycle':
        if (stopping || handle.replaced || handle.state !== 'listening') break
        handle.replaced = true
        recycleQueue.push({ handle, reason: message.reason, served: message.served, rssMb: message.rssMb })
        if (!recycling) void recycleNext()
        break
    }
  }

  /**
   * Recycles one worker at a time. A draining worker's clients reconnect, and a third of
   * them land on any other draining listener: while two drains overlap, a listener can
   * close with a fresh connection in its queue, which Linux drops (SO_REUSEPORT). One at
   * a time, a drain's own reconnects have died down long before its listener closes.
   */
  async function recycleNext(): Promise<void> {
    recycling = true
    for (let next = recycleQueue.shift(); next; next = recycleQueue.shift()) {
      const { handle, ...fields } = next
      if (stopping || !workers.has(handle.proc.pid)) continue
      log.info('worker_recycle', { pid: handle.proc.pid, ...fields, queued: recycleQueue.length })
      // The replacement listens first, so the port never loses capacity while the old one drains.
      await waitListening(spawnWorker('recycle', handle.generation))
      drain(handle, 'recycle')
      await handle.handled
    }
    recycling = false
  }

  function onExit(handle: WorkerHandle, code: number | null, signal: number | string | null) {
    try {
      handleExit(handle, code, signal)
    } finally {
      handle.markHandled()
    }
  }

  function handleExit(handle: WorkerHandle, code: number | null, signal: number | string | null) {
    workers.delete(handle.proc.pid)
    handle.exitCode = code
    void options.metrics?.retire(handle.proc.pid)
    handle.onListening?.(false)
    const reason: ExitReason = handle.exitReason ?? (handle.listenFailure ? 'failed_start' : 'crash')
    const fields = { pid: handle.proc.pid, code, signal: signal === null ? null : String(signal), reason, workers: workers.size }
    if (handle.exitReason || stopping) {
      log.info('worker_exit', fields)
      return
    }
    log.warn('worker_exit', { ...fields, listenError: handle.listenFailure })
    if (!everListened && handle.listenFailure) {
      options.onGiveUp(`workers cannot listen on ${config.server.host}:${config.server.port} (${handle.listenFailure})`)
      return
    }
    const decision = crashPolicy.onCrash(Date.now())
    if (decision.action === 'give_up') {
      const { maxCrashes, windowSeconds } = config.server.crashLoop
      options.onGiveUp(`workers crashed ${maxCrashes} times within ${windowSeconds} s`)
      return
    }
    if (handle.replaced || handle.generation !== generation) return
    setTimeout(() => {
      if (!stopping && count() < desired) spawnWorker('crash')
    }, decision.delayMs)
  }

  /** Resolves true when `handle` listens, false when it exits or does not within the timeout. */
  function waitListening(handle: WorkerHandle): Promise<boolean> {
    if (handle.state === 'listening') return Promise.resolve(true)
    // One that exited already (a held worker, before its generation's first listened) never will.
    if (!workers.has(handle.proc.pid)) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS)
      handle.onListening = (ok) => {
        clearTimeout(timer)
        handle.onListening = undefined
        resolve(ok)
      }
    })
  }

  function drain(handle: WorkerHandle, reason: DrainReason) {
    if (handle.exitReason) return
    handle.exitReason = reason
    handle.state = 'draining'
    sendTo(handle, { type: 'drain', reason })
  }

  /** Why a generation's workers did not all listen, from the first that did not: its own error, its exit, or the timeout. */
  function startFailure(started: WorkerHandle[]): string {
    const failed = started.find((w) => w.state !== 'listening')
    if (!failed) return 'no worker started'
    const where = `${config.server.host}:${port}`
    if (failed.listenFailure?.startsWith('E')) return `workers cannot listen on ${where} (${failed.listenFailure}${failed.startFailure ? `: ${failed.startFailure}` : ''})`
    if (failed.listenFailure) return `a worker could not start (${failed.listenFailure}${failed.startFailure ? `: ${failed.startFailure}` : ''})`
    if (!workers.has(failed.proc.pid)) return `a worker exited with ${failed.proc.signalCode ? `signal ${failed.proc.signalCode}` : `code ${failed.exitCode}`} before it listened`
    return `a worker did not listen within ${START_TIMEOUT_MS / 1000} s`
  }

  /**
   * Spawns a full generation. The first worker proves the config listens (and resolves port
   * 0) before the rest start serving, but the rest are spawned with it: they load their
   * modules meanwhile and get their start once it listens, so a boot costs one worker's
   * start-up, not one per worker. When the first fails, the rest are stopped unstarted, and
   * have exited when this returns.
   */
  async function spawnGeneration(reason: SpawnReason): Promise<WorkerHandle[]> {
    const gen = generation
    const first = spawnWorker(reason, gen)
    const rest = Array.from({ length: desired - 1 }, () => spawnWorker(reason, gen, true))
    const listened = await waitListening(first)
    for (const w of rest) {
      w.held = false
      if (!listened) {
        w.exitReason = 'failed_start'
        w.proc.kill('SIGTERM')
      } else if (w.greeted) sendStart(w)
    }
    if (!listened) {
      // Gone before the failure is reported: a failed reload leaves only the old generation.
      await Promise.all(rest.map((w) => w.handled))
      return [first]
    }
    await Promise.all(rest.map(waitListening))
    return [first, ...rest]
  }

  return {
    get port() {
      return port
    },
    get restarts() {
      return restarts
    },
    /** As many workers listen (and are not draining) as configured; during a swap the old ones count. */
    ready: () => !stopping && [...workers.values()].filter((w) => w.state === 'listening').length >= desired,

    /** Starts the first generation; false when it could not listen. */
    async start(): Promise<boolean> {
      const started = await spawnGeneration('start')
      return started.every((w) => w.state === 'listening')
    },

    /** Starts a generation on `next`, then drains the old one. On failure the old one is kept, and the reason said. */
    async reload(next: GatewayConfig, workerCount: number): Promise<{ ok: true } | { ok: false; reason: string }> {
      const old = [...workers.values()]
      const previous = { generation, config, desired }
      generation++
      config = next
      desired = workerCount
      const started = await spawnGeneration('reload')
      if (!started.every((w) => w.state === 'listening')) {
        const reason = startFailure(started)
        for (const w of started) {
          w.exitReason = 'failed_start'
          w.proc.kill('SIGTERM')
        }
        ;({ generation, config, desired } = previous)
        return { ok: false, reason }
      }
      if (next.server.crashLoop !== previous.config.server.crashLoop) crashPolicy = createCrashPolicy(next.server.crashLoop)
      for (const w of old) drain(w, 'reload')
      return { ok: true }
    },

    /**
     * SIGTERM to every worker: each drains and exits 0, or cuts what is left at its own
     * deadline and exits 1. A worker still alive `killAfterMs` later gets SIGKILL.
     * Resolves with how many workers had to cut requests or be killed.
     */
    async shutdown(killAfterMs: number): Promise<number> {
      stopping = true
      const all = [...workers.values()]
      for (const w of all) {
        w.exitReason ??= 'shutdown'
        w.proc.kill('SIGTERM')
      }
      const exited = Promise.all(all.map((w) => w.handled))
      const timedOut = await Promise.race([exited.then(() => false), Bun.sleep(killAfterMs).then(() => true)])
      const killed = timedOut ? [...workers.values()] : []
      for (const w of killed) w.proc.kill('SIGKILL')
      await Promise.all(killed.map((w) => w.handled))
      // Exit status 1 is a worker that cut requests at its deadline. A worker that SIGTERM
      // reached before it installed its handler (just spawned) served nothing: not a cut.
      return all.filter((w) => w.exitCode === 1 || killed.includes(w)).length
    },

    /** Applies a cache purge in every live worker; resolves with the total removed. */
    async purge(selector: PurgeSelector): Promise<{ purged: number; workers: number }> {
      const live = [...workers.values()]
      const counts = await Promise.all(
        live.map(
          (w) =>
            new Promise<number>((resolve) => {
              const id = ++purgeSeq
              const timer = setTimeout(() => (purgeReplies.delete(id), resolve(0)), 2000)
              const answered = (removed: number) => {
                clearTimeout(timer)
                purgeReplies.delete(id)
                resolve(removed)
              }
              purgeReplies.set(id, answered)
              if (!sendTo(w, { type: 'purge', id, selector })) answered(0)
            })
        )
      )
      return { purged: counts.reduce((a, b) => a + b, 0), workers: live.length }
    },

    /** Drops these cache keys in every live worker (another replica invalidated them). */
    invalidate(keys: string[]): void {
      for (const w of workers.values()) sendTo(w, { type: 'invalidate', keys })
    },

    /** Asks every live worker for its metrics; resolves when all answered or after 1 s. */
    async scrape(): Promise<void> {
      await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              const id = ++metricsSeq
              const done = () => {
                clearTimeout(timer)
                metricsReplies.delete(id)
                resolve()
              }
              const timer = setTimeout(done, 1000)
              metricsReplies.set(id, done)
              // A worker that exited a moment ago has no channel left: it is only left out.
              if (!sendTo(w, { type: 'metrics?', id })) done()
            })
        )
      )
    },

    /** Tells every live worker (a health verdict). */
    broadcast(message: PrimaryMessage): void {
      for (const w of workers.values()) if (w.state !== 'starting') sendTo(w, message)
    },

    announce,

    /** Every live worker's upstream snapshot; a worker that does not answer in 1 s is left out. */
    async upstreams(): Promise<UpstreamSnapshot[][]> {
      const answers = await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<UpstreamSnapshot[] | undefined>((resolve) => {
              const id = ++upstreamSeq
              const timer = setTimeout(() => (upstreamReplies.delete(id), resolve(undefined)), 1000)
              const answered = (data: UpstreamSnapshot[] | undefined) => {
                clearTimeout(timer)
                upstreamReplies.delete(id)
                resolve(data)
              }
              upstreamReplies.set(id, answered)
              if (!sendTo(w, { type: 'upstreams?', id })) answered(undefined)
            })
        )
      )
      return answers.filter((a): a is UpstreamSnapshot[] => a !== undefined)
    },

    /**
     * SIGUSR1: every worker opens its access log file again, those still starting too (one
     * that opened the old file before this would write to it until the next rotation).
     */
    reopenLogs: () => announce({ type: 'reopen_logs' }),

    /** Workers started after the first generation, by reason. */
    restartsByReason: (): Readonly<Record<string, number>> => ({ ...restartsBy }),

    /** Every live worker: pid, generation, state, why and when it was spawned. */
    workers: () =>
      [...workers.values()].map((w) => ({ pid: w.proc.pid, generation: w.generation, state: w.state, reason: w.reason, startedAt: w.startedAt })),

    /** Pids of live workers (for logs and tests). */
    pids: () => [...workers.keys()],
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>
