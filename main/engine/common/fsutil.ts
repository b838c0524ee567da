import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fsError } from './errors'

/**
 * Writes `data` to `file` atomically: a temp file in the same folder, fsync, rename over the
 * target, fsync the folder. A crash leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(file)
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(tmp, 'wx', 0o644)
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    await fs.rename(tmp, file)
  } catch (e) {
    await handle?.close().catch(() => undefined)
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw fsError(e, file, 'write')
  }
  await syncDir(dir)
}

/** Makes a rename durable (no-op where directories cannot be opened, as on Windows). */
export async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(dir, 'r')
    await handle.sync()
  } catch {
    // Not supported on this platform; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n')
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.access(p)
    return true
  } catch {
    return false
  }
}
