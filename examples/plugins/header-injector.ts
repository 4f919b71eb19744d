/**
 * Adds headers: to the request the upstream gets, and to the answer the client gets (the
 * gateway's own refusals included, when the plugin runs outside them).
 *
 *   plugins:
 *     stamp:
 *       module: ./examples/plugins/header-injector.ts
 *       config: { request: { x-env: prod }, response: { x-served-by: gateway-1 } }
 */
import { definePlugin } from 'bun-gateway/plugin'
import { z } from 'zod'

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be a header field name' })

export default definePlugin({
  name: 'header-injector',
  phase: 'beforeAuth',
  schema: z.strictObject({
    /** Set on the request sent upstream. */
    request: z.record(headerName, z.string()).default({}),
    /** Set on the answer. */
    response: z.record(headerName, z.string()).default({}),
  }),
  build(config) {
    const request = Object.entries(config.request)
    const response = Object.entries(config.response)
    if (request.length === 0 && response.length === 0) return undefined
    const stamp = (answer: Response) => {
      for (const [name, value] of response) answer.headers.set(name, value)
      return answer
    }
    return function headerInjector(exchange, next) {
      // The client's request headers are what the forwarder sends (after its forwarding rules).
      for (const [name, value] of request) exchange.request.headers.set(name, value)
      const answer = next(exchange)
      return answer instanceof Promise ? answer.then(stamp) : stamp(answer)
    }
  },
})
