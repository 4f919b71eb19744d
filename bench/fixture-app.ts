/**
 * The gateway's app in process over a recorded upstream (bench/recorded.ts): the fixture
 * routes (bench/scenarios.ts), metrics on, the local response cache, no sockets. What
 * bench:ledger measures and bench/allocations.test.ts counts.
 */
import { createApp, type App } from '../src/app.ts'
import { validateConfig } from '../src/config/load.ts'
import type { GatewayConfig } from '../src/config/schema.ts'
import { silentLogger as log } from '../src/log.ts'
import { createWorkerMetrics, type WorkerMetrics } from '../src/metrics/registry.ts'
import { createResponseCache } from '../src/policies/cache/response-cache.ts'
import { createCacheStore } from '../src/policies/cache/store.ts'
import { Connection } from '../src/upstream/native/connection.ts'
import type { UpstreamRegistry } from '../src/upstream/registry.ts'
import { createUpstream } from '../src/upstream/upstream.ts'
import { recordedClient } from './recorded.ts'
import { FIXTURE_ROUTES } from './scenarios.ts'

export interface FixtureApp {
  app: App
  config: GatewayConfig
  metrics: WorkerMetrics
  upstreams: UpstreamRegistry
}

export function fixtureApp(): FixtureApp {
  const checked = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    upstreams: { fixture: { targets: ['http://127.0.0.1:9'] } },
    routes: FIXTURE_ROUTES,
  })
  if (!checked.ok) throw new Error(checked.errors.join('\n'))
  const config = checked.config
  const metrics = createWorkerMetrics({ version: 'bench', bun: Bun.version })
  const upstream = createUpstream('fixture', config.upstreams.fixture!, { base: recordedClient(Connection), observer: metrics.upstream('fixture') })
  const upstreams: UpstreamRegistry = { get: () => upstream, all: () => [upstream], close: async () => {} }
  const cache = createResponseCache({ store: createCacheStore(config.cache), targets: config.cache.targets, maxObjectBytes: config.cache.maxObjectBytes, implicitVary: [] })
  return { app: createApp({ config, upstreams, log, cache, metrics }), config, metrics, upstreams }
}
