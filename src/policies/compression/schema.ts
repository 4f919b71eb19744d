/** The top-level `compression` (defaults for every route) and `routes[].compression` (docs/proxying.md, Compression). */
import { z } from 'zod'

/** The content codings the gateway makes (RFC 9110 §8.4.1; zstd: RFC 8878, RFC 9659). */
export const CODINGS = ['zstd', 'br', 'gzip'] as const
export type Coding = (typeof CODINGS)[number]

/**
 * Media types worth compressing: text, and the structured and script types that are text in
 * all but name. Images other than SVG, audio, video, archives and fonts in WOFF are already
 * compressed; compressing them again costs CPU and saves nothing.
 */
export const DEFAULT_TYPES = [
  'text/*',
  'application/json',
  'application/*+json',
  'application/x-ndjson',
  'application/javascript',
  'application/ecmascript',
  'application/xml',
  'application/*+xml',
  'application/graphql-response+json',
  'application/wasm',
  'image/svg+xml',
  'image/x-icon',
  'font/ttf',
  'font/otf',
]

/** `type/subtype`, `type/*`, `type/*+suffix` or `*\/*`, lower-case (RFC 9110 §8.3.1: case-insensitive). */
const mediaRange = z
  .string()
  .transform((value) => value.trim().toLowerCase())
  .pipe(
    z
      .string()
      .regex(
        /^(\*\/\*|[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|\*\+[a-z0-9][a-z0-9!#$&^_.-]*|[a-z0-9][a-z0-9!#$&^_.+-]*))$/,
        {
          error: 'must be a media type (text/html), a range (text/*, application/*+json) or */*',
        }
      )
  )

const codingList = z
  .array(z.enum(CODINGS))
  .min(1)
  .refine((list) => new Set(list).size === list.length, { error: 'lists a coding twice' })

const levelsShape = {
  /** gzip level, 1 (fastest) to 9; buffered bodies use libdeflate, whose level 1 compresses like zlib's 5. */
  gzip: z.int().min(1).max(9),
  /** Brotli quality, 0 to 11. */
  br: z.int().min(0).max(11),
  /** zstd level, 1 to 19 (above 19 needs more memory than an HTTP decoder must give: RFC 9659 §3). */
  zstd: z.int().min(1).max(19),
}

/** Measured in docs/performance-optimization.md: the cheapest levels short of a worse ratio. */
export const DEFAULT_LEVELS = { gzip: 1, br: 2, zstd: 3 } as const

/** The keys and their defaults, at the top level. */
export const compressionSchema = z.strictObject({
  /** Compress answers of every route (a route may say otherwise). Off by default, as nginx's `gzip` is. */
  enabled: z.boolean().default(false),
  /** The codings offered, in the server's order of preference: a client's equal q-values pick the first. */
  encodings: codingList.default([...CODINGS]),
  /** Bytes: a body of known length below this goes as it is (below a packet, compression saves no round trip). */
  minBytes: z.int().min(0).default(1024),
  /** Content-Types compressed: `type/subtype`, `type/*`, `type/*+suffix` or `*\/*`. */
  types: z.array(mediaRange).min(1).default(DEFAULT_TYPES),
  /** Compression level per coding. */
  levels: z
    .strictObject({
      gzip: levelsShape.gzip.default(DEFAULT_LEVELS.gzip),
      br: levelsShape.br.default(DEFAULT_LEVELS.br),
      zstd: levelsShape.zstd.default(DEFAULT_LEVELS.zstd),
    })
    .prefault({}),
})

/** A route's changes to the top-level keys: what it names replaces the default; `false` is `{ enabled: false }`. */
export const routeCompressionSchema = z.union([
  z.literal(false),
  z.strictObject({
    /** Compress this route's answers; default: the top-level `compression.enabled`. */
    enabled: z.boolean().optional(),
    encodings: codingList.optional(),
    minBytes: z.int().min(0).optional(),
    types: z.array(mediaRange).min(1).optional(),
    levels: z
      .strictObject({
        gzip: levelsShape.gzip.optional(),
        br: levelsShape.br.optional(),
        zstd: levelsShape.zstd.optional(),
      })
      .optional(),
  }),
])

export type CompressionConfig = z.output<typeof compressionSchema>
export type RouteCompressionConfig = z.output<typeof routeCompressionSchema>
export type CompressionLevels = CompressionConfig['levels']
