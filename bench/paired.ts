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

/**
 * The order of `n` variants in round `round`: the rows of a balanced Latin square (Williams
 * design; with an odd `n`, its mirror in the next `n` rounds), so over `n` rounds (`2n` when
 * `n` is odd) each variant runs right after every other one equally often. A plain rotation
 * puts each variant behind the same one in every round, and what a variant leaves behind
 * (its garbage, a timer's export) is then charged to the same neighbour each time: an A/A twin
 * that always followed the sampled-tracing variant read +2.5 ± 1.1 µs over 100 rounds.
 */
export function roundOrder(n: number, round: number): number[] {
  // 0, 1, n-1, 2, n-2, ...: consecutive entries differ by every amount from 1 to n-1 once.
  const first: number[] = [0]
  for (let lo = 1, hi = n - 1; first.length < n; ) first.push(first.length % 2 === 1 ? lo++ : hi--)
  const row = first.map((v) => (v + round) % n)
  return n % 2 === 1 && Math.floor(round / n) % 2 === 1 ? row.reverse() : row
}
