import { describe, expect, test } from 'bun:test'
import { histogramQuantile } from './quantile.ts'

const BOUNDS = [0.1, 0.2, 0.5, 1]

describe('histogramQuantile', () => {
  test.each([
    // [q, cumulative counts (then +Inf), expected] as Prometheus's histogram_quantile gives them
    [0.5, [10, 10, 10, 10, 10], 0.05],
    [0.99, [0, 100, 100, 100, 100], 0.1 + 0.1 * 0.99],
    [0.5, [50, 100, 100, 100, 100], 0.1],
    [0.75, [50, 100, 100, 100, 100], 0.15],
    [0.99, [0, 0, 0, 100, 100], 0.5 + 0.5 * 0.99],
    [0.5, [0, 0, 0, 0, 10], 1],
  ] as const)('q=%p over %p is %p', (q, cumulative, expected) => {
    expect(histogramQuantile(q, BOUNDS, cumulative)).toBeCloseTo(expected, 9)
  })

  test('is null without observations', () => {
    expect(histogramQuantile(0.99, BOUNDS, [0, 0, 0, 0, 0])).toBeNull()
    expect(histogramQuantile(0.99, BOUNDS, [])).toBeNull()
  })

  test('runs from its own source text, as the page embeds it', () => {
    const embedded = new Function(`return (${histogramQuantile.toString()})`)() as typeof histogramQuantile
    expect(embedded(0.75, BOUNDS, [50, 100, 100, 100, 100])).toBeCloseTo(0.15, 9)
  })
})
