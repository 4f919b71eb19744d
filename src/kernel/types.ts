/** Types shared by the app's middleware: what Hono carries per request. */
import type { Server } from 'bun'

/** The parts of Bun's server the request path uses; absent under `app.request()` in unit tests. */
export type ServerBindings = Partial<Pick<Server<undefined>, 'requestIP' | 'timeout'>> & {
  /** Bun's upgrade, for WebSocket routes: `data` becomes the socket's bridge. */
  upgrade?(request: Request, options: { data: unknown; headers?: Record<string, string> }): boolean
}

/** The TCP peer and whether it is a configured trusted proxy. */
export interface Peer {
  readonly address: string | undefined
  readonly trusted: boolean
}

/** Hono's environment: Bun's server as the bindings; per-request state is the pipeline's Exchange. */
export interface GatewayEnv {
  Bindings: ServerBindings
}
