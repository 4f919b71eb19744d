import { expect, test } from 'bun:test'
import { mergeSnapshots, type TargetHealthState, type UpstreamSnapshot } from './snapshot.ts'

const worker = (health: TargetHealthState): UpstreamSnapshot[] => [
  { name: 'app', balancing: 'round-robin', breaker: 'closed', targets: [{ url: 'http://a', weight: 1, health, ejected: false, ejections: 0, inflight: 0 }] },
]
const merged = (...healths: TargetHealthState[]) => mergeSnapshots(healths.map(worker))[0]!.targets[0]!.health

test.each([
  [['unknown', 'unknown'], 'unknown'],
  [['unknown', 'healthy'], 'healthy'],
  [['healthy', 'unknown'], 'healthy'],
  [['healthy', 'unhealthy'], 'unhealthy'],
  [['unhealthy', 'healthy'], 'unhealthy'],
  [['unknown', 'unhealthy'], 'unhealthy'],
] as [TargetHealthState[], TargetHealthState][])('workers saying %p merge to %p (a verdict on its way to one worker beats unknown)', (healths, expected) => {
  expect(merged(...healths)).toBe(expected)
})
