/**
 * The floor cache hit with all of the gateway's required work, hand-written in its leanest
 * form: the top rung of bench/floor/ladder.ts, served like the floors. What any Bun cache
 * doing that work costs a hit at the least.
 *
 *   bun bench/floor/required-hit.ts --port 0 --upstream http://127.0.0.1:PORT [--workers 2]
 */
import { floorOptions, runFloor } from './cluster.ts'
import { HIT_RUNGS, ladderHit } from './ladder.ts'

const serve = ladderHit(HIT_RUNGS.length - 1, floorOptions().upstream)
await runFloor(import.meta.path, (port) => Bun.serve({ hostname: '127.0.0.1', port, reusePort: true, development: false, fetch: serve }))
