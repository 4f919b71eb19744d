/**
 * A retry budget (Finagle's RetryBudget): every request deposits `percent`/100 of a token,
 * every retry withdraws one, and the balance is capped, so retries stay under `percent` of
 * the traffic however many targets fail: a dead upstream is hit about (1 + percent/100) ×
 * traffic, never attempts × traffic. It starts empty, so the bound holds from the first
 * request; the cap lets a burst of failures after steady traffic be retried.
 */
export interface RetryBudget {
  deposit(): void
  /** Takes one retry's worth; false when the budget is spent. */
  withdraw(): boolean
}

const CAP = 10

export function createRetryBudget(percent: number): RetryBudget {
  const perRequest = percent / 100
  let balance = 0
  return {
    deposit() {
      balance = Math.min(CAP, balance + perRequest)
    },
    withdraw() {
      if (balance < 1) return false
      balance -= 1
      return true
    },
  }
}
