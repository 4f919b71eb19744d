/** `routes[].mirror`: a share of a route's requests copied to another upstream. */
import { z } from 'zod'

export const mirrorSchema = z.strictObject({
  /** Name of an entry under `upstreams` that gets the copies. */
  upstream: z.string().min(1),
  /** Share of requests copied, 0 to 100 (100: every request). */
  percent: z.number().min(0).max(100).default(100),
  /** Largest request body copied, in bytes (held in memory while the copy is sent); larger or unsized bodies are not mirrored. */
  maxBodyBytes: z.int().min(0).max(16 * 1024 * 1024).default(64 * 1024),
  /** Copies in flight per route and worker; over it a copy is skipped (counted). */
  maxInFlight: z.int().min(1).max(10_000).default(64),
})

export type MirrorConfig = z.output<typeof mirrorSchema>
