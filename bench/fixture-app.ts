/**
 * The gateway's app in process over a recorded upstream (bench/recorded.ts): the fixture
 * routes (bench/scenarios.ts), metrics on, the local response cache, no sockets. What
 * bench:ledger measures and bench/allocations.test.ts counts. `benchApp` is the same with
 * every route of the bench's gateway (keyed, JWT, plugins, compression): what
 * bench/history.ts serves.
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
import { loadPlugins, type LoadedPlugin } from '../src/policies/plugins/load.ts'
import { FIXTURE_ROUTES, gatewayConfig } from './scenarios.ts'

export interface FixtureApp {
  app: App
  config: GatewayConfig
  metrics: WorkerMetrics
  upstreams: UpstreamRegistry
}

/** The recorded client answers every request itself: the target is never connected. */
const RECORDED_TARGET = 'http://127.0.0.1:9'

export function fixtureApp(): FixtureApp {
  return appOf(checkedConfig({ server: { host: '127.0.0.1', port: 0 }, upstreams: { fixture: { targets: [RECORDED_TARGET] } }, routes: FIXTURE_ROUTES }), new Map())
}

/** The bench gateway's config (bench/scenarios.ts) in process: every route, its plugins loaded. */
export async function benchApp(): Promise<FixtureApp> {
  const raw = gatewayConfig(9, '1') as { upstreams: { fixture: { targets: string[] } } }
  raw.upstreams.fixture.targets = [RECORDED_TARGET]
  const config = checkedConfig(raw)
  const { plugins, errors } = await loadPlugins(config.plugins)
  if (errors.length > 0) throw new Error(errors.join('\n'))
  return appOf(config, plugins)
}

function checkedConfig(raw: unknown): GatewayConfig {
  const checked = validateConfig(raw)
  if (!checked.ok) throw new Error(checked.errors.join('\n'))
  return checked.config
}

function appOf(config: GatewayConfig, plugins: ReadonlyMap<string, LoadedPlugin>): FixtureApp {
  const metrics = createWorkerMetrics({ version: 'bench', bun: Bun.version })
  const upstream = createUpstream('fixture', config.upstreams.fixture!, { base: recordedClient(Connection), observer: metrics.upstream('fixture') })
  const upstreams: UpstreamRegistry = { get: () => upstream, all: () => [upstream], close: async () => {} }
  const cache = createResponseCache({ store: createCacheStore(config.cache), targets: config.cache.targets, maxObjectBytes: config.cache.maxObjectBytes, implicitVary: [] })
  return { app: createApp({ config, upstreams, log, cache, metrics, plugins }), config, metrics, upstreams }
}
