import { describe, expect, test } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createExclusive, makePrivateDir, preparePrivateFile, privatePathProblems, sweepLeftovers } from './private.ts'

const NOBODY = 65534
const root = process.getuid?.() === 0
const scratch = () => mkdtempSync(join(tmpdir(), 'gw-private-'))
/** A directory like /tmp: anyone may create files in it (sticky or not, they may plant names). */
function worldWritable(): string {
  const dir = scratch()
  chmodSync(dir, 0o1777)
  return dir
}

describe('privatePathProblems', () => {
  test('a file in a directory of ours that nobody else writes to is private', () => {
    expect(privatePathProblems(join(scratch(), 'cache.sqlite'))).toEqual([])
  })

  test('a world-writable directory is refused, sticky or not', () => {
    const dir = worldWritable()
    expect(privatePathProblems(join(dir, 'cache.sqlite'))).toEqual([`directory ${dir} is writable by every user`])
    chmodSync(dir, 0o777)
    expect(privatePathProblems(join(dir, 'cache.sqlite'))).toHaveLength(1)
  })

  test('a directory still to be made is judged by its nearest existing ancestor', () => {
    const dir = worldWritable()
    expect(privatePathProblems(join(dir, 'a', 'b', 'cache.sqlite'))).toEqual([`directory ${dir} is writable by every user`])
    expect(privatePathProblems(join(scratch(), 'a', 'b', 'cache.sqlite'))).toEqual([])
  })

  test.skipIf(!root)('a file, or a -wal beside it, of another user is refused', () => {
    const dir = scratch()
    const path = join(dir, 'cache.sqlite')
    writeFileSync(path, '')
    writeFileSync(`${path}-wal`, '')
    chownSync(`${path}-wal`, NOBODY, NOBODY)
    expect(privatePathProblems(path, ['-wal', '-shm'])).toEqual([`${path}-wal belongs to another user (uid ${NOBODY})`])
    chownSync(path, NOBODY, NOBODY)
    expect(privatePathProblems(path, ['-wal', '-shm'])).toHaveLength(2)
  })

  test.skipIf(!root)("a directory of another user is refused, even one only they write to", () => {
    const dir = scratch()
    chownSync(dir, NOBODY, NOBODY)
    expect(privatePathProblems(join(dir, 'cache.sqlite'))).toEqual([`directory ${dir} belongs to another user (uid ${NOBODY})`])
  })

  test('a symbolic link in place of the file is refused', () => {
    const dir = scratch()
    writeFileSync(join(dir, 'target'), '')
    symlinkSync(join(dir, 'target'), join(dir, 'cache.sqlite'))
    expect(privatePathProblems(join(dir, 'cache.sqlite'))).toEqual([`${join(dir, 'cache.sqlite')} is not a regular file`])
  })
})

describe('preparePrivateFile', () => {
  test('makes a missing directory 0700 and the file 0600', () => {
    const path = join(scratch(), 'deep', 'cache.sqlite')
    preparePrivateFile(path)
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700)
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  test('narrows an existing file of ours and its companions to 0600', () => {
    const path = join(scratch(), 'cache.sqlite')
    writeFileSync(path, 'x', { mode: 0o644 })
    writeFileSync(`${path}-shm`, 'x', { mode: 0o666 })
    chmodSync(`${path}-shm`, 0o666)
    preparePrivateFile(path, ['-wal', '-shm'])
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(`${path}-shm`).mode & 0o777).toBe(0o600)
  })

  test('throws, naming the problem, in a world-writable directory', () => {
    expect(() => preparePrivateFile(join(worldWritable(), 'cache.sqlite'))).toThrow(/writable by every user/)
  })
})

test('createExclusive refuses a file that is already there', () => {
  const path = join(scratch(), 'f')
  createExclusive(path)
  expect(statSync(path).mode & 0o777).toBe(0o600)
  expect(() => createExclusive(path)).toThrow(expect.objectContaining({ code: 'EEXIST' }))
})

test('makePrivateDir makes a new 0700 directory each time', () => {
  const parent = worldWritable()
  const a = makePrivateDir(parent, 'x-')
  const b = makePrivateDir(parent, 'x-')
  expect(a).not.toBe(b)
  expect(statSync(a).mode & 0o777).toBe(0o700)
})

describe('sweepLeftovers', () => {
  // No pid reaches 2^22 (pid_max's ceiling on 64-bit Linux), so these are dead.
  const dead = 99_999_999

  test("removes our entries of dead pids, keeps live pids', other users' and links", () => {
    const parent = worldWritable()
    mkdirSync(join(parent, `gw-${dead}-abc`), { mode: 0o700 })
    writeFileSync(join(parent, `gw-${dead}-abc`, 'cache.sqlite'), '')
    writeFileSync(join(parent, `gw-${dead}-cache.sqlite`), '')
    mkdirSync(join(parent, `gw-${process.ppid}-live`))
    mkdirSync(join(parent, 'gw-other'))
    symlinkSync(join(parent, 'gw-other'), join(parent, `gw-${dead}-link`))
    if (root) {
      mkdirSync(join(parent, `gw-${dead}-theirs`))
      chownSync(join(parent, `gw-${dead}-theirs`), NOBODY, NOBODY)
    }
    expect(sweepLeftovers(parent, 'gw-').sort()).toEqual([`gw-${dead}-abc`, `gw-${dead}-cache.sqlite`])
    expect(existsSync(join(parent, `gw-${dead}-abc`))).toBe(false)
    expect(existsSync(join(parent, `gw-${process.ppid}-live`))).toBe(true)
    expect(existsSync(join(parent, `gw-${dead}-link`))).toBe(true)
    if (root) expect(existsSync(join(parent, `gw-${dead}-theirs`))).toBe(true)
  })
})
