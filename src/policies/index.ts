/**
 * The built-in policies, once, in the order a request meets them (their phases ascend):
 * the route keys config/ accepts and the chain pipeline/ builds both come from this list.
 * Adding a built-in policy is a folder under policies/ and one line here. Importing it
 * builds no schema (builtin.ts): config/ asks for them, with routePolicyShape().
 */
import type { z } from 'zod'
import { PHASES } from '../kernel/policy.ts'
import { authPolicy } from './auth/index.ts'
import type { BuiltinPolicy } from './builtin.ts'
import { cachePolicy } from './cache/index.ts'
import { compressionPolicy } from './compression/index.ts'
import { corsPolicy } from './cors/index.ts'
import { limitsPolicy } from './limits/index.ts'
import { mirrorPolicy } from './mirror/index.ts'
import { rateLimitPolicy } from './rate-limit/index.ts'
import { redirectPolicy } from './redirect/index.ts'
import { rewritePolicy } from './rewrite/index.ts'
import { responseHeadersPolicy } from './response-headers/index.ts'
import { splitPolicy } from './split/index.ts'

// compression comes after the cache (afterCache): inside it, so the cache stores compressed bodies.
// rewrite, then redirect (which uses the rewrite's captures), then split and mirror (which send
// the rewritten request), all before the cache: the cache keys on the split's choice, and hits are mirrored too.
export const BUILTIN_POLICIES = [responseHeadersPolicy, corsPolicy, limitsPolicy, authPolicy, rateLimitPolicy, rewritePolicy, redirectPolicy, splitPolicy, mirrorPolicy, cachePolicy, compressionPolicy] as const

type Builtins = (typeof BUILTIN_POLICIES)[number]
type SchemaOf<P extends Builtins> = NonNullable<P['schema']> extends () => infer Schema ? Schema : never

/** Each built-in's route key and schema (policies without config add none). */
export type RoutePolicyShape = {
  [P in Builtins as SchemaOf<P> extends z.ZodType ? P['name'] : never]: SchemaOf<P>
}

/** The route keys of the built-ins, for config/schema.ts: each policy's schema is made (and zod loaded) here. */
export function routePolicyShape(): RoutePolicyShape {
  return Object.fromEntries(BUILTIN_POLICIES.flatMap((policy: BuiltinPolicy) => (policy.schema ? [[policy.name, policy.schema()]] : []))) as RoutePolicyShape
}

// The list is in phase order: a policy out of place would run where its phase says it does not.
for (let i = 1; i < BUILTIN_POLICIES.length; i++) {
  if (PHASES.indexOf(BUILTIN_POLICIES[i]!.phase) < PHASES.indexOf(BUILTIN_POLICIES[i - 1]!.phase)) {
    throw new Error(`policies/index.ts: ${BUILTIN_POLICIES[i]!.name} is listed after a later phase`)
  }
}
