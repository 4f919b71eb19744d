/** `routes[].auth` and the top-level `consumers` (docs/policies.md). */
import { z } from 'zod'
import { fieldName } from '../fields.ts'

const apiKeyAuthSchema = z
  .strictObject({
    /** The request header carrying the key; `x-api-key` unless `query` is given. */
    header: fieldName.optional(),
    /** Or the query parameter carrying it (keys in URLs end up in logs: prefer a header). */
    query: z.string().regex(/^[A-Za-z0-9._~-]+$/, { error: 'must be a plain parameter name' }).optional(),
    /** Send the credential upstream too; by default it is removed before forwarding. */
    forwardCredential: z.boolean().default(false),
  })
  .refine((a) => !(a.header !== undefined && a.query !== undefined), { error: 'give header or query, not both' })

/** JWS algorithms a route may accept; `none` is not one of them (RFC 8725 §3.1). */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

const jwtAuthSchema = z
  .strictObject({
    /** The allowlist; HS* need `secret`, the others a public key or a JWKS (no HS/RS confusion). */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1),
    /** HMAC secret: `env:NAME`, `file:/path`, or the secret itself (at least 32 bytes). */
    secret: z.string().min(1).optional(),
    /** A PEM public key (SPKI). */
    publicKeyFile: z.string().min(1).optional(),
    /** A JWKS document on disk, read at load. */
    jwksFile: z.string().min(1).optional(),
    /** A JWKS URL, fetched at start and refreshed in the background, never on a request. */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Seconds between JWKS refreshes. */
    jwksRefreshSeconds: z.int().min(1).max(86_400).default(300),
    /** Required `iss` (one, or any of a list). */
    issuer: stringOrList.optional(),
    /** Required `aud` (one, or any of a list). */
    audience: stringOrList.optional(),
    /** Leeway for exp and nbf. */
    clockSkewSeconds: z.int().min(0).max(600).default(30),
    /** Longest token accepted; longer ones are refused before any parsing. */
    maxTokenBytes: z.int().min(256).max(65_536).default(8192),
    /** Seconds a verified token is reused without a new signature check (never past its exp); 0 = check every request. */
    cacheSeconds: z.int().min(0).max(3600).default(60),
    /** Refuse tokens without `exp` (RFC 7519 §4.1.4 makes it optional; without it a token never expires). */
    requireExp: z.boolean().default(true),
    /** Send the Authorization header upstream too; by default it is removed. */
    forwardCredential: z.boolean().default(false),
  })
  .refine((j) => [j.secret, j.publicKeyFile, j.jwksFile, j.jwksUrl].filter((v) => v !== undefined).length === 1, {
    error: 'give exactly one of secret, publicKeyFile, jwksFile, jwksUrl',
  })
  .refine((j) => j.algorithms.every((a) => a.startsWith('HS')) === (j.secret !== undefined) && j.algorithms.every((a) => a.startsWith('HS') === j.algorithms[0]!.startsWith('HS')), {
    error: 'HS* algorithms go with secret, and only with it; do not mix them with public-key algorithms',
    path: ['algorithms'],
  })

export const routeAuthSchema = z.strictObject({
  /** API keys of the top-level `consumers` (docs/policies.md). */
  apiKey: apiKeyAuthSchema.optional(),
  /** A Bearer JWT; its `sub` becomes the consumer (docs/policies.md). */
  jwt: jwtAuthSchema.optional(),
  /** The header that tells the upstream who the consumer is; a client-sent copy is always removed. */
  consumerHeader: fieldName.default('x-consumer'),
  /**
   * Failed authentications (a wrong key or token, not a missing one) a client address may make
   * per minute, per worker; past it 429 with Retry-After before any credential is checked. 0 = off.
   */
  failureLimit: z.int().min(0).max(1_000_000).default(30),
}).refine((a) => !(a.apiKey && a.jwt), { error: 'give apiKey or jwt, not both' })

export const consumerSchema = z.strictObject({
  /** Who the consumer is: sent upstream in the consumer header, so a plain token. */
  name: z.string().regex(/^[A-Za-z0-9._@-]{1,100}$/, { error: 'must be 1-100 letters, digits, ".", "_", "@" or "-"' }),
  /** Its keys: `sha256:<hex>`, `env:NAME`, `file:/path`, or the key itself (config/secrets.ts). */
  apiKeys: z.array(z.string().min(1)).min(1),
})

export type RouteAuthConfig = z.output<typeof routeAuthSchema>
export type ApiKeyConfig = NonNullable<RouteAuthConfig['apiKey']>
export type JwtConfig = NonNullable<RouteAuthConfig['jwt']>
export type ConsumerConfig = z.output<typeof consumerSchema>
