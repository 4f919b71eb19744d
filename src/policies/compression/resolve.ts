/** A route's compression settings from the defaults and its own key (zod-free: a worker imports it, not schema.ts). */
import type { CompressionConfig, RouteCompressionConfig } from './schema.ts'

/** A route's compression: the defaults with its own keys over them; undefined when it is off. */
export function resolveCompression(
  defaults: CompressionConfig,
  route: RouteCompressionConfig | undefined
): CompressionConfig | undefined {
  if (route === false) return undefined
  const merged: CompressionConfig = route
    ? {
        enabled: route.enabled ?? defaults.enabled,
        encodings: route.encodings ?? defaults.encodings,
        minBytes: route.minBytes ?? defaults.minBytes,
        types: route.types ?? defaults.types,
        levels: { ...defaults.levels, ...route.levels },
      }
    : defaults
  return merged.enabled ? merged : undefined
}
