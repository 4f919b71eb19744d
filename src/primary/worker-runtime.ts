/**
 * What a worker's runtime starts with beyond the config: Bun's flags, and the variables
 * JavaScriptCore and Bun's allocator read once, at start. An operator's own value of each
 * variable wins (it is passed through with the rest of the environment).
 */
import type { GatewayConfig } from '../config/schema.ts'

/**
 * Bun's flags for a worker (in BUN_OPTIONS: the binary takes none on its command line): its
 * header limit above the gateway's own, so the gateway answers 431 itself, and no orphans.
 */
export function workerBunFlags(config: GatewayConfig): string[] {
  const headerLimit = config.server.maxHeaderBytes + config.server.maxUrlBytes + 1024
  return ['--no-orphans', `--max-http-header-size=${headerLimit}`]
}

/**
 * - Heap growth. JavaScriptCore runs a full collection once the heap has grown past a
 *   multiple of what the last one left, and Bun picks that multiple from the host's RAM:
 *   about 3x on a host with 16 GB or more, 2x below. Workers are pinned to 2x, so a worker's
 *   memory does not depend on the node it lands on (a container limit sized on a laptop holds
 *   on a 64 GB node), and the garbage a worker may hold is bounded by its live heap, not three
 *   times it: ~30 MB less peak RSS per worker under load.
 * - Returning memory. mimalloc, Bun's allocator, gives pages back to the OS 100 ms after they
 *   are freed, and the free holes of pages still in use too (`purge_holes`). Under load a
 *   worker's collector frees and reuses the same memory every few hundred ms, so the pages it
 *   gave back were faulted in again: 0.12-0.35 minor faults a proxied request with one
 *   worker, 0.9 in the bench's two-worker run, each a trip into the kernel, with the madvise
 *   calls before them. Without hole purging and with a 1 s delay a worker takes a third to two
 *   thirds of those and ~8-10% less CPU a request, for 15-20 MiB more RSS (what the holes
 *   keep); whole free pages still go back a second after they are free
 *   (docs/performance-optimization.md, "Worker memory").
 */
export function workerRuntimeEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  return {
    BUN_JSC_heapGrowthMaxIncrease: env.BUN_JSC_heapGrowthMaxIncrease ?? '1',
    MIMALLOC_PURGE_DELAY: env.MIMALLOC_PURGE_DELAY ?? '1000',
    MIMALLOC_PURGE_HOLES: env.MIMALLOC_PURGE_HOLES ?? '0',
  }
}
