/** Types shared by the app's middleware: what Hono carries per request. */
import type { Server } from 'bun'

/** The parts of Bun's server the request path uses; absent under `app.request()` in unit tests. */
export type ServerBindings = Partial<Pick<Server<undefined>, 'requestIP' | 'timeout'>>

/** The request-target split once: path (normalised by Bun, not decoded) and query with its "?". */
export interface RequestTarget {
  readonly path: string
  readonly query: string
}

/** The TCP peer and whether it is a configured trusted proxy. */
export interface Peer {
  readonly address: string | undefined
  readonly trusted: boolean
}

export interface GatewayEnv {
  Bindings: ServerBindings
  Variables: {
    requestId: string
    peer: Peer
    target: RequestTarget
    /** The matched route's name (metrics and access log). */
    routeName: string
    upstreamName: string
    /** Present when access logs are on: the forwarder fills in the upstream latency. */
    timing: { upstreamMs?: number }
  }
}
