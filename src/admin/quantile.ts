/**
 * The latency quantile the admin page shows. It runs in the browser: page.ts embeds its
 * source, so it must stay self-contained (no imports, no outside names).
 */

/**
 * The q-quantile (0-1) of a histogram given its finite upper bounds and cumulative counts
 * (one per bound, then +Inf), interpolated linearly inside the bucket as Prometheus's
 * histogram_quantile does; the highest finite bound when it falls in +Inf; null with no
 * observations.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0
  if (!(total > 0)) return null
  const rank = q * total
  let i = 0
  while (i < cumulative.length - 1 && (cumulative[i] ?? 0) < rank) i++
  if (i >= bounds.length) return bounds[bounds.length - 1] ?? null
  const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0)
  const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0)
  const upper = bounds[i] ?? lower
  const inBucket = (cumulative[i] ?? 0) - below
  return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper
}
