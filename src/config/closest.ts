/**
 * The name a slip was probably meant to be: for unknown keys, enum values and references
 * (config/issues.ts, config/load.ts).
 */

/**
 * The candidate `word` is most likely a slip of: the same ignoring case, within a small edit
 * distance (transpositions count once), or a prefix either way (`timeout` → `timeoutMs`).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  const limit = Math.min(2, Math.floor(word.length / 3))
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of candidates) {
    const other = candidate.toLowerCase()
    let score = distance(lower, other)
    if (score > limit) score = word.length >= 4 && (other.startsWith(lower) || lower.startsWith(other)) ? limit + 1 : Infinity
    if (score < bestScore) [best, bestScore] = [candidate, score]
  }
  return best
}

/** Optimal string alignment distance: Levenshtein with adjacent transpositions. */
export function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}
