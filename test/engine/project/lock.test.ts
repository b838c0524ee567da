import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { EngineError } from '../../../main/engine/common/errors'
import { acquireLock, lockPath, withProjectLock } from '../../../main/engine/project/lock'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

/** A pid that belonged to a process which has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const pid = child.pid as number
  await new Promise((r) => child.on('exit', r))
  return pid
}

describe('project lock', () => {
  it('excludes a second holder and names the first', async () => {
    const dir = tmp()
    const lock = await acquireLock(dir, 'training run 1')
    const e = await acquireLock(dir, 'renaming', { waitMs: 100 }).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(EngineError)
    expect((e as EngineError).code).toBe('locked')
    expect((e as EngineError).message).toContain(`process ${process.pid}`)
    expect((e as EngineError).message).toContain('training run 1')
    await lock.release()
    await expect(fs.access(lockPath(dir))).rejects.toThrow()
    const again = await acquireLock(dir, 'renaming', { waitMs: 100 })
    await again.release()
  })

  it('waits for a short holder instead of failing', async () => {
    const dir = tmp()
    const lock = await acquireLock(dir, 'first')
    setTimeout(() => void lock.release(), 150)
    const second = await acquireLock(dir, 'second', { waitMs: 3000 })
    expect(JSON.parse(await fs.readFile(lockPath(dir), 'utf8')).purpose).toBe('second')
    await second.release()
  })

  it('recovers a lock whose process is gone', async () => {
    const dir = tmp()
    const info = { pid: await deadPid(), hostname: hostname(), purpose: 'crashed', createdAt: new Date().toISOString(), version: '0' }
    await fs.writeFile(lockPath(dir), JSON.stringify(info))
    const lock = await acquireLock(dir, 'after crash', { waitMs: 100 })
    expect(JSON.parse(await fs.readFile(lockPath(dir), 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })

  it('recovers a lock from another host only once it has gone stale', async () => {
    const dir = tmp()
    const info = { pid: 1, hostname: 'some-other-host', purpose: 'remote', createdAt: new Date().toISOString(), version: '0' }
    await fs.writeFile(lockPath(dir), JSON.stringify(info))
    await expect(acquireLock(dir, 'x', { waitMs: 50, staleMs: 60_000 })).rejects.toMatchObject({ code: 'locked' })
    const old = new Date(Date.now() - 120_000)
    await fs.utimes(lockPath(dir), old, old)
    const lock = await acquireLock(dir, 'x', { waitMs: 50, staleMs: 60_000 })
    await lock.release()
  })

  it('serialises concurrent read-modify-write sections', async () => {
    const dir = tmp()
    const file = `${dir}/counter`
    await fs.writeFile(file, '0')
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withProjectLock(dir, 'count', async () => {
          const n = Number(await fs.readFile(file, 'utf8'))
          await new Promise((r) => setTimeout(r, 5))
          await fs.writeFile(file, String(n + 1))
        }, { waitMs: 10_000 }),
      ),
    )
    expect(await fs.readFile(file, 'utf8')).toBe('8')
  })

  it('does not remove a lock that is no longer its own', async () => {
    const dir = tmp()
    const lock = await acquireLock(dir, 'mine')
    await fs.writeFile(lockPath(dir), JSON.stringify({ pid: 2, hostname: 'elsewhere', purpose: 'theirs', createdAt: new Date().toISOString(), version: '0' }))
    await lock.release()
    expect(JSON.parse(await fs.readFile(lockPath(dir), 'utf8')).purpose).toBe('theirs')
  })
})
