/** `routes[].cors`: hono/cors's option names. */
import { z } from 'zod'
import { fieldName } from '../fields.ts'
import { ROUTE_METHODS } from '../field-rules.ts'

export const corsSchema = z
  .strictObject({
    /** Origins allowed to read answers (`https://app.example`), or ["*"] for any (never with credentials). */
    origin: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, { error: 'must be "*" or a scheme://host[:port] origin' })).min(1),
    /** Methods a preflight allows; default: the route's methods. */
    allowMethods: z.array(z.enum(ROUTE_METHODS)).min(1).optional(),
    /** Request headers a preflight allows; default: those the preflight asks for. */
    allowHeaders: z.array(fieldName).optional(),
    /** Response headers scripts may read beyond the safelisted ones. */
    exposeHeaders: z.array(fieldName).default([]),
    /** Let browsers send cookies and read answers to credentialed requests. */
    credentials: z.boolean().default(false),
    /** Seconds a browser may cache a preflight answer. */
    maxAge: z.int().min(0).max(86_400).default(600),
  })
  .refine((c) => !(c.credentials && c.origin.includes('*')), { error: 'credentials cannot go with origin "*" (Fetch standard)' })

export type CorsConfig = z.output<typeof corsSchema>
