/**
 * The embedded default config used by `bun run start` without a config file: every
 * GET under /demo goes to the built-in demo upstream, which the gateway starts on loopback.
 */

/** Raw (unvalidated) default config, pointing the `demo` upstream at `demoOrigin`. */
export function defaultConfig(demoOrigin: string): Record<string, unknown> {
  return {
    upstreams: {
      demo: { targets: [demoOrigin], timeoutMs: 5000 },
    },
    routes: [
      {
        name: 'demo',
        path: '/demo',
        upstream: 'demo',
        stripPrefix: true,
        methods: ['GET', 'HEAD'],
        cache: { enabled: true },
      },
    ],
  }
}
