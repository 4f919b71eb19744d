/** Types shared by the app's middleware: what Hono carries per request. */
import type { Server } from 'bun'
import type { Exchange } from './pipeline/exchange.ts'

/** The parts of Bun's server the request path uses; absent under `app.request()` in unit tests. */
export type ServerBindings = Partial<Pick<Server<undefined>, 'requestIP' | 'timeout'>>

/** The TCP peer and whether it is a configured trusted proxy. */
export interface Peer {
  readonly address: string | undefined
  readonly trusted: boolean
}

export interface GatewayEnv {
  Bindings: ServerBindings
  Variables: {
    /** Set only when access logs are on: the one per-request state (pipeline/exchange.ts). */
    exchange: Exchange
  }
}
