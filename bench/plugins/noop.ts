/** The `plugin` scenario's plugin: does nothing but call next, so its cost is the plugin machinery's. */
import { definePlugin } from 'bun-gateway/plugin'

export default definePlugin({
  build: () =>
    function noop(exchange, next) {
      return next(exchange)
    },
})
