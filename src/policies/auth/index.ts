/**
 * `routes[].auth`: who may call a route, by an API key of the top-level `consumers`
 * (api-key.ts) or a Bearer JWT (jwt.ts), behind the throttling of failed attempts per client
 * address (failure-limit.ts). Sets `exchange.identity`; the consumer goes upstream in the
 * route's consumer header, and the credential does not (docs/policies.md).
 */
import type { Settings } from '../../kernel/policy.ts'
import { defineBuiltin } from '../builtin.ts'
import { apiKeyAuth, consumerIndex, type AuthFailure } from './api-key.ts'
import { checkConsumers, checkRouteAuth } from './check.ts'
import { failureLimit } from './failure-limit.ts'
import { jwtAuth, type JwtFailure } from './jwt.ts'
import type { ConsumerConfig } from './schema.ts'

declare module '../../kernel/policy.ts' {
  interface BuiltinMetrics {
    /** A refused credential: missing, unknown (API key), invalid or expired (JWT). */
    authFailure?(reason: AuthFailure | JwtFailure): void
  }
}

/** The consumers of the settings (`consumers`, owned by this policy). */
const consumersOf = (settings: Settings): ConsumerConfig[] => settings.consumers ?? []

/** Digest → consumer, made once per settings object (every API-key route of a worker shares it). */
const indexes = new WeakMap<Settings, ReadonlyMap<string, string>>()
function consumersIndex(settings: Settings): ReadonlyMap<string, string> {
  let index = indexes.get(settings)
  if (!index) indexes.set(settings, (index = consumerIndex(consumersOf(settings))))
  return index
}

export const authPolicy = defineBuiltin({
  name: 'auth',
  phase: 'auth',
  schema: () => (require('./schema.ts') as typeof import('./schema.ts')).routeAuthSchema.optional(),
  checkSettings: (settings) => checkConsumers(consumersOf(settings)),
  check: (auth, context) => (auth ? checkRouteAuth(auth, consumersOf(context.settings)) : []),
  build(auth, context) {
    if (!auth || (!auth.apiKey && !auth.jwt)) return undefined
    const counted = context.metrics.authFailure
    // Throttled by client address before the credential is looked at.
    const limit = auth.failureLimit > 0 ? failureLimit(auth.failureLimit) : undefined
    const onFailure = (reason: AuthFailure | JwtFailure, exchange: Parameters<NonNullable<typeof limit>['failed']>[0]) => {
      counted?.(reason)
      // No credential is no guess.
      if (reason !== 'missing') limit?.failed(exchange)
    }
    const stage = auth.apiKey
      ? apiKeyAuth(auth.apiKey, auth.consumerHeader, consumersIndex(context.settings), onFailure)
      : jwtAuth(auth.jwt!, auth.consumerHeader, { onFailure, log: (event, fields) => context.log.warn(event, fields), onClose: context.onClose })
    return limit ? limit.guard(stage) : stage
  },
})
