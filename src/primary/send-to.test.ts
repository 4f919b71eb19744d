import { expect, test } from 'bun:test'
import { sendTo } from './supervisor.ts'

test('a message to a worker that has just exited is left out instead of throwing (the admin status and /metrics asked every worker)', async () => {
  const proc = Bun.spawn([process.execPath, '-e', 'process.exit(0)'], { ipc() {} })
  await proc.exited
  expect(sendTo({ proc }, { type: 'metrics?', id: 1 })).toBe(false)
})
