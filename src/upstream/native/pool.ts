/**
 * The connections of one target, per worker: idle ones reused last-in first-out, at most
 * `maxConnections` open, a bounded wait queue beyond (length and time; past it a fast 503
 * `overloaded`), each idle one kept for `idleTimeoutMs` and always less than the upstream's
 * own `Keep-Alive: timeout=` when it sent one. `maxIdle` bounds what stays idle once the
 * load has passed: the surplus is closed after `SURPLUS_GRACE_MS` idle, not at once. Closing
 * it at once (nginx's `keepalive N`, Go's MaxIdleConnsPerHost) makes a load above maxIdle
 * open a new connection for about half its requests: at 256 client connections on 2 workers
 * that was 3,813 connects for 7,622 requests and a quarter of the throughput gone.
 */
import type { Socket } from 'bun'
import { overloaded } from '../../kernel/errors.ts'
import { classifyFetchError } from '../errors.ts'
import { Connection, type ConnectionOwner } from './connection.ts'

export interface PoolOptions {
  hostname: string
  port: number
  maxConnections: number
  maxIdle: number
  idleTimeoutMs: number
  /** Requests that may wait for a connection; more are refused at once. */
  queueSize: number
  /** How long one may wait. */
  queueTimeoutMs: number
}

interface Waiter {
  resolve(connection: Connection): void
  reject(err: unknown): void
  timer: ReturnType<typeof setTimeout>
}

/** How long an idle connection beyond `maxIdle` may wait for the next request before it is closed. */
export const SURPLUS_GRACE_MS = 1000

export class TargetPool implements ConnectionOwner {
  private readonly idle: Connection[] = []
  private readonly open = new Set<Connection>()
  /** Connections being opened (counted against maxConnections). */
  private connecting = 0
  private readonly waiters: Waiter[] = []
  /**
   * Closes what idled too long; set only while something is idle, so an idle worker is not
   * woken once a second per target (a thousand targets found by DNS, a thousand timers).
   */
  private sweeper: ReturnType<typeof setInterval> | undefined = undefined
  private readonly sweepMs: number
  /** The target left its upstream: nothing is kept idle any more. */
  private retired = false

  constructor(private readonly options: PoolOptions) {
    this.sweepMs = Math.min(1000, Math.max(100, options.idleTimeoutMs / 4))
  }

  /** Whether the idle sweep's timer is set (tests). */
  get sweeping(): boolean {
    return this.sweeper !== undefined
  }

  /** An idle connection, a new one, or a place in the queue (left when `request.signal` aborts). */
  acquire(request: { readonly signal: AbortSignal }): Connection | Promise<Connection> {
    const idle = this.idle.pop()
    if (idle) return idle
    if (this.open.size + this.connecting < this.options.maxConnections) return this.connect()
    if (this.waiters.length >= this.options.queueSize) throw overloaded()
    return new Promise<Connection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.dropWaiter(waiter)
          reject(overloaded())
        }, this.options.queueTimeoutMs),
      }
      this.waiters.push(waiter)
      const signal = request.signal
      signal.addEventListener(
        'abort',
        () => {
          if (this.dropWaiter(waiter)) reject(signal.reason)
        },
        { once: true }
      )
    })
  }

  release(connection: Connection): void {
    const waiter = this.waiters.shift()
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.resolve(connection)
      return
    }
    // maxIdle 0 is no keep-alive at all; a retired target's connections close once their request is done.
    if (this.options.maxIdle === 0 || this.retired) {
      connection.destroy()
      return
    }
    connection.idleSince = performance.now()
    this.idle.push(connection)
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.expireIdle(), this.sweepMs)
      this.sweeper.unref?.()
    }
  }

  closed(connection: Connection): void {
    this.open.delete(connection)
    const at = this.idle.indexOf(connection)
    if (at !== -1) this.idle.splice(at, 1)
    this.serveWaiter()
  }

  /** The target was removed (DNS): close what is idle, keep nothing idle from now on; in-flight requests finish. */
  retire(): void {
    this.retired = true
    this.stopSweeping()
    this.closeIdle()
  }

  /** Closes the idle connections (after a response that might have left bytes behind). */
  closeIdle(): void {
    for (const connection of [...this.idle]) connection.destroy()
  }

  /**
   * Closes idle connections past their time (ours, or just under the upstream's), and the
   * surplus beyond maxIdle that waited SURPLUS_GRACE_MS: the longest idle first (the bottom
   * of the stack, since reuse takes the top).
   */
  private expireIdle(): void {
    // Nothing idle since the last sweep (all busy, or all closed): the next release sets it again.
    if (this.idle.length === 0) return this.stopSweeping()
    const now = performance.now()
    let surplus = this.idle.length - this.options.maxIdle
    for (const connection of [...this.idle]) {
      const idleFor = now - connection.idleSince
      const limit = Math.min(this.options.idleTimeoutMs, connection.keepAliveMs === undefined ? Infinity : connection.keepAliveMs - 1000)
      if (idleFor >= limit || (surplus > 0 && idleFor >= SURPLUS_GRACE_MS)) {
        surplus--
        connection.destroy()
      }
    }
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  /** A closed connection left room: open one for the first waiter. */
  private serveWaiter(): void {
    const waiter = this.waiters.shift()
    if (!waiter) return
    clearTimeout(waiter.timer)
    this.connect().then(waiter.resolve, waiter.reject)
  }

  private dropWaiter(waiter: Waiter): boolean {
    const at = this.waiters.indexOf(waiter)
    if (at === -1) return false
    this.waiters.splice(at, 1)
    clearTimeout(waiter.timer)
    return true
  }

  /** A new connection, whatever is idle (also the retry after a stale one). */
  async connect(): Promise<Connection> {
    this.connecting++
    let socket: Socket<Connection>
    try {
      socket = await Bun.connect<Connection>({ hostname: this.options.hostname, port: this.options.port, socket: HANDLERS })
    } catch (err) {
      throw classifyFetchError(err, { timedOut: false, clientGone: false })
    } finally {
      this.connecting--
    }
    const connection = new Connection(socket, this)
    socket.data = connection
    socket.setNoDelay?.(true)
    this.open.add(connection)
    return connection
  }
}

/** One handler object for every socket: each event goes to the socket's Connection. */
const HANDLERS = {
  binaryType: 'buffer',
  data(socket: Socket<Connection>, data: Uint8Array) {
    socket.data.onData(data)
  },
  drain(socket: Socket<Connection>) {
    socket.data.onDrain()
  },
  close(socket: Socket<Connection>) {
    socket.data?.onClose()
  },
  end(socket: Socket<Connection>) {
    socket.data?.onClose()
  },
  error(socket: Socket<Connection>) {
    socket.data?.onClose()
  },
} as const
