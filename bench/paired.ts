/**
 * The small statistics of the A/B benches (bench:overhead, bench:ledger): a variant measured
 * in the same rounds as its baseline is read as the mean of its per-round differences from
 * it, ± that mean's standard error (drift between rounds cancels within a pair).
 */

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** The middle value (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** `xs` over `base`, paired by round: the mean difference and its standard error (NaN from one round). */
export function pairedDifference(xs: readonly number[], base: readonly number[]): { mean: number; se: number } {
  const pairs = xs.map((x, round) => x - base[round]!)
  const m = mean(pairs)
  const se = pairs.length > 1 ? Math.sqrt(pairs.reduce((sum, d) => sum + (d - m) ** 2, 0) / (pairs.length - 1) / pairs.length) : NaN
  return { mean: m, se }
}
