/**
 * The floor proxy with all of the gateway's required work, hand-written in its leanest form:
 * the top rung of bench/floor/ladder.ts, served like the floors (as many reusePort processes
 * as the gateway has workers). What any Bun gateway doing that work costs at the least; the
 * gateway's excess over it is its own structure.
 *
 *   bun bench/floor/required-proxy.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 */
import { floorOptions, runFloor } from './cluster.ts'
import { ladderProxy, PROXY_RUNGS } from './ladder.ts'

const serve = ladderProxy(PROXY_RUNGS.length - 1, floorOptions().upstream)
await runFloor(import.meta.path, (port) => Bun.serve({ hostname: '127.0.0.1', port, reusePort: true, development: false, fetch: serve }))
