/**
 * Private files: where the gateway keeps what no other local user may read or replace (the
 * node's shared cache). A file is private when it is ours, a regular file, mode 0600, in a
 * directory nobody else can write to; a default location is a fresh `mkdtemp` directory (0700),
 * never a predictable name in a world-writable one (CWE-377).
 */
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, type Stats } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * The files an older gateway kept beside the node's shared cache file (SQLite's -wal and -shm,
 * and the fill board): checked as private like it, and removed when the file is prepared.
 */
export const SHARED_CACHE_COMPANIONS = ['-wal', '-shm', '-fill'] as const

const uid = () => process.getuid?.() ?? 0
const ourGroups = () => new Set([process.getegid?.() ?? 0, ...(process.getgroups?.() ?? [])])

function statOrNull(path: string, follow = true): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path)
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null
    throw err
  }
}

/** Why `dir` cannot hold a private file, or null: writable by other users, or owned by someone but us or root. */
function directoryProblem(dir: string, stats: Stats): string | null {
  if (!stats.isDirectory()) return `${dir} is not a directory`
  if (stats.uid !== uid() && stats.uid !== 0) return `directory ${dir} belongs to another user (uid ${stats.uid})`
  if (stats.mode & 0o002) return `directory ${dir} is writable by every user`
  // Group-writable is fine for our own group (a Kubernetes fsGroup volume), not for another.
  if (stats.mode & 0o020 && !ourGroups().has(stats.gid)) return `directory ${dir} is writable by group ${stats.gid}`
  return null
}

/**
 * Why `path` cannot be a private file, or an empty list: its directory (or, when that does not
 * exist yet, the nearest existing ancestor, where it will be made) must be safe, and the file
 * and its SQLite companions, where they exist, regular files of ours.
 */
export function privatePathProblems(path: string, companions: readonly string[] = []): string[] {
  let dir = dirname(path)
  let stats = statOrNull(dir)
  while (stats === null && dirname(dir) !== dir) {
    dir = dirname(dir)
    stats = statOrNull(dir)
  }
  const problems: string[] = []
  const dirProblem = stats && directoryProblem(dir, stats)
  if (dirProblem) problems.push(dirProblem)
  for (const file of [path, ...companions.map((suffix) => path + suffix)]) {
    const found = statOrNull(file, false)
    if (found === null) continue
    if (!found.isFile()) problems.push(`${file} is not a regular file`)
    else if (found.uid !== uid()) problems.push(`${file} belongs to another user (uid ${found.uid})`)
  }
  return problems
}

/**
 * Makes `path` ready to be opened as a private file: its directory made (0700) when missing,
 * an existing file of ours narrowed to 0600, a missing one created exclusively with 0600 (so
 * a file planted in between is refused, not opened). Throws with `problems` when it is unsafe.
 */
export function preparePrivateFile(path: string, companions: readonly string[] = []): void {
  const problems = privatePathProblems(path, companions)
  if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { code: 'EUNSAFE' })
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  for (const file of [path, ...companions.map((suffix) => path + suffix)]) {
    const found = statOrNull(file, false)
    if (found && (found.mode & 0o077) !== 0) chmodSync(file, 0o600)
  }
  if (statOrNull(path, false) === null) createExclusive(path)
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW

/**
 * Opens `path` to append to, as a private file: refused (with `problems`) where another user
 * could read or replace it, its directory made (0700) when missing, the file created 0600 when
 * missing. An existing file keeps its mode: logrotate's `create` set it. Never through a
 * symbolic link (O_NOFOLLOW); several processes may open it at once (no O_EXCL race).
 */
export function openPrivateAppend(path: string): number {
  const problems = privatePathProblems(path)
  if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { code: 'EUNSAFE' })
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  return openSync(path, APPEND, 0o600)
}

/** Creates `path` empty with mode 0600; fails with EEXIST when anything is there already. */
export function createExclusive(path: string): void {
  closeSync(openSync(path, 'wx', 0o600))
}

/** A new private directory `<parent>/<prefix><random>` (mkdtemp: 0700, ours, never one that existed). */
export function makePrivateDir(parent: string, prefix: string): string {
  return mkdtempSync(join(parent, prefix))
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: a live process of another user.
    return (err as { code?: string }).code === 'EPERM'
  }
}

/**
 * Removes what dead gateways left in `parent` under `<prefix><pid>-...`: directories and files
 * of ours whose pid no longer runs (a killed primary cannot clean up). Another user's entries,
 * symbolic links and live pids are left alone. Returns the names removed.
 */
export function sweepLeftovers(parent: string, prefix: string): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-`)
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(parent)
  } catch {
    return removed
  }
  for (const name of names) {
    const pid = pattern.exec(name)?.[1]
    if (pid === undefined || alive(Number(pid))) continue
    const path = join(parent, name)
    const stats = statOrNull(path, false)
    if (!stats || stats.uid !== uid() || stats.isSymbolicLink()) continue
    if (!stats.isDirectory() && !stats.isFile()) continue
    rmSync(path, { recursive: true, force: true })
    removed.push(name)
  }
  return removed
}
