/** The `hono-plugin` scenario's middleware: a Hono middleware that only awaits next(), so its cost is the Hono adapter's. */
import type { MiddlewareHandler } from 'hono'

const noop: MiddlewareHandler = async (_c, next) => {
  await next()
}
export default noop
