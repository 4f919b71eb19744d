/**
 * Any Hono middleware as a plugin (hono's basic-auth, ip-restriction, jwt, zod-validator, or
 * a module's own): a real Hono Context is made for each request of the routes that use one
 * (nowhere else), with Bun's server as `c.env` (so hono/bun's getConnInfo works). `next()`
 * runs the rest of the chain and puts its answer in `c.res`, which the middleware may change
 * or replace; an HTTPException it throws is its answer (basic-auth's 401).
 */
import { Context, type MiddlewareHandler } from 'hono'
import { DEFAULT_PLUGIN_PHASE, type PluginPhase, type Policy } from '../../kernel/policy.ts'
import type { Stage } from '../../kernel/stage.ts'

/** The plugin for `exported` (a middleware, or with `options` a factory of one). */
export function honoPlugin(name: string, exported: unknown, declaration: { options?: unknown }, phase: PluginPhase | undefined): Policy | { error: string } {
  if (typeof exported !== 'function') return { error: 'export: is not a function (a Hono middleware, or a factory of one with options)' }
  let middleware: unknown = exported
  const isFactory = 'options' in declaration && declaration.options !== undefined
  // A middleware takes (c, next); a factory named without options would answer every request with plugin_error.
  if (!isFactory && exported.length !== 2) return { error: `export: takes ${exported.length} argument(s), not a middleware's (c, next): a factory? give hono.options (null to call it with none)` }
  if (isFactory) {
    try {
      // A copy: the config is frozen, and factories may fill in defaults on what they are given.
      middleware = declaration.options === null ? exported() : exported(structuredClone(declaration.options))
    } catch (err) {
      return { error: `options: the factory refused them (${err instanceof Error ? err.message.split('\n')[0] : String(err)})` }
    }
    if (typeof middleware !== 'function') return { error: 'export: the factory did not return a middleware' }
  }
  return { name, phase: phase ?? DEFAULT_PLUGIN_PHASE, build: () => honoStage(middleware as MiddlewareHandler) }
}

/** Runs `middleware` as a stage, on a Context of its own per request. */
export function honoStage(middleware: MiddlewareHandler): Stage {
  return async function hono(exchange, next) {
    const c = new Context(exchange.raw, { env: exchange.server, path: exchange.path })
    let nextCalled = false
    try {
      const answer = await middleware(c, async () => {
        nextCalled = true
        c.res = await next(exchange)
      })
      if (answer instanceof Response) return answer
      if (c.finalized) return c.res
    } catch (err) {
      if (isHttpException(err)) return err.getResponse()
      throw err
    }
    // Neither answered nor went on: Hono would answer 404; a gateway route has no such default.
    throw new TypeError(nextCalled ? 'middleware left no response' : 'middleware neither answered nor called next()')
  }
}

/**
 * Hono's own test (its errorHandler checks for getResponse), not `instanceof`: the middleware
 * may throw another copy's HTTPException (one installed in the config's folder, or the
 * gateway's own when the binary bundles a copy of its own).
 */
function isHttpException(err: unknown): err is Error & { getResponse(): Response } {
  return err instanceof Error && typeof (err as { getResponse?: unknown }).getResponse === 'function'
}
