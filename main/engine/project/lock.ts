import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { EngineError, fsError } from '../common/errors'
import { VERNACULAR_VERSION } from '../common/version'

/**
 * A lock file that stops two processes (the desktop app, the CLI, a web server) from writing the
 * same project at once. It is created with O_EXCL, refreshed while held, and recovered when stale:
 * its process is gone (same host) or it has not been refreshed for `staleMs`.
 */

export const LOCK_FILE = '.vernacular.lock'

export interface LockInfo {
  pid: number
  hostname: string
  purpose: string
  createdAt: string
  version: string
}

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  waitMs?: number
  /** A lock not refreshed for this long is stale. */
  staleMs?: number
}

export interface ProjectLock {
  readonly file: string
  release(): Promise<void>
}

const DEFAULT_WAIT_MS = 3000
const DEFAULT_STALE_MS = 30_000

export function lockPath(dir: string): string {
  return join(dir, LOCK_FILE)
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readLock(file: string): Promise<{ info: LockInfo | null; text: string; mtimeMs: number } | null> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)])
    let info: LockInfo | null = null
    try {
      info = JSON.parse(text) as LockInfo
    } catch {
      info = null // being written right now, or left empty by a crash: judged by its age
    }
    return { info, text, mtimeMs: stat.mtimeMs }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw fsError(e, file, 'read')
  }
}

function isStale(lock: { info: LockInfo | null; mtimeMs: number }, staleMs: number, now = Date.now()): boolean {
  if (lock.info && lock.info.hostname === hostname() && typeof lock.info.pid === 'number' && !processAlive(lock.info.pid)) return true
  return now - lock.mtimeMs > staleMs
}

/** Moves a stale lock aside; only one of several racing processes succeeds. */
async function breakStaleLock(file: string, staleText: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(3).toString('hex')}`
  try {
    await fs.rename(file, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw fsError(e, file, 'recover the stale lock')
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => '')
  if (moved !== staleText) {
    // Someone replaced the stale lock with a fresh one between our read and rename: put it back.
    await fs.rename(aside, file).catch(() => undefined)
    return
  }
  await fs.rm(aside, { force: true })
}

function describeHolder(info: LockInfo | null): string {
  if (!info) return 'another process'
  const since = new Date(info.createdAt)
  return `Vernacular process ${info.pid} on ${info.hostname} (${info.purpose}, since ${Number.isNaN(since.getTime()) ? info.createdAt : since.toLocaleTimeString()})`
}

export async function acquireLock(dir: string, purpose: string, opts: LockOptions = {}): Promise<ProjectLock> {
  const file = lockPath(dir)
  const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS
  const deadline = Date.now() + waitMs
  const info: LockInfo = { pid: process.pid, hostname: hostname(), purpose, createdAt: new Date().toISOString(), version: VERNACULAR_VERSION }
  const text = JSON.stringify(info, null, 2) + '\n'
  let delay = 25
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx', 0o644)
      try {
        await handle.writeFile(text)
      } finally {
        await handle.close()
      }
      return heldLock(file, text, staleMs)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, dir, 'write to')
    }
    const current = await readLock(file)
    if (!current) continue
    if (isStale(current, staleMs)) {
      await breakStaleLock(file, current.text)
      continue
    }
    if (Date.now() >= deadline) {
      throw new EngineError('locked', `The project at ${dir} is being written by ${describeHolder(current.info)}.`, {
        file,
        hint: `Wait for it to finish, or close that program. If it is no longer running, the lock is recovered automatically (after ${Math.round(staleMs / 1000)} s at most). Nothing was changed.`,
      })
    }
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 250)
  }
}

function heldLock(file: string, text: string, staleMs: number): ProjectLock {
  // Refresh the lock's mtime while it is held, so that long holders are not judged stale.
  const timer = setInterval(() => {
    const now = new Date()
    fs.utimes(file, now, now).catch(() => undefined)
  }, Math.max(1000, Math.floor(staleMs / 3)))
  timer.unref()
  let released = false
  return {
    file,
    async release() {
      if (released) return
      released = true
      clearInterval(timer)
      // Remove it only if it is still ours (it could have been broken as stale and retaken).
      const current = await fs.readFile(file, 'utf8').catch(() => null)
      if (current === text) await fs.rm(file, { force: true })
    },
  }
}

/** Runs `fn` while holding the project's lock. */
export async function withProjectLock<T>(dir: string, purpose: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const lock = await acquireLock(dir, purpose, opts)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

/** Who holds the lock of `dir` now, or null when nobody does (no lock, or a stale one). */
export async function lockHolder(dir: string, opts: { staleMs?: number } = {}): Promise<LockInfo | null> {
  const current = await readLock(lockPath(dir))
  if (!current || isStale(current, opts.staleMs ?? DEFAULT_STALE_MS)) return null
  return current.info ?? { pid: 0, hostname: '', purpose: 'unknown', createdAt: '', version: '' }
}
