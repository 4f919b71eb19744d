/** Types shared by the request path: the parts of Bun's server it is handed. */
import type { Server } from 'bun'

/** The parts of Bun's server the request path uses; absent when unit tests call `app.fetch` without one. */
export type ServerBindings = Partial<Pick<Server<undefined>, 'requestIP' | 'timeout'>> & {
  /** Bun's upgrade, for WebSocket routes: `data` becomes the socket's bridge. */
  upgrade?(request: Request, options: { data: unknown; headers?: Record<string, string> }): boolean
}

/** The TCP peer and whether it is a configured trusted proxy. */
export interface Peer {
  readonly address: string | undefined
  readonly trusted: boolean
}
