import { describe, expect, test } from 'bun:test'
import { roundOrder } from './paired.ts'

describe('roundOrder', () => {
  for (const n of [2, 3, 4, 5]) {
    test(`${n} variants: every round is an order of all of them, and each follows each other equally often`, () => {
      const cycle = n % 2 === 0 ? n : 2 * n
      const follows = new Map<string, number>()
      for (let round = 0; round < cycle; round++) {
        const order = roundOrder(n, round)
        expect([...order].sort()).toEqual([...Array(n).keys()])
        for (let i = 1; i < n; i++) follows.set(`${order[i - 1]}>${order[i]}`, (follows.get(`${order[i - 1]}>${order[i]}`) ?? 0) + 1)
      }
      // n(n-1) ordered pairs, each as often as the others.
      expect(follows.size).toBe(n * (n - 1))
      expect(new Set(follows.values()).size).toBe(1)
    })
  }
})
