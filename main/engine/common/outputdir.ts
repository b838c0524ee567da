/**
 * Writing an output folder all at once: the files go into a hidden sibling folder, are synced, and
 * the folder is renamed into place. A folder that already holds only files we write is replaced;
 * any other existing folder is refused, so nothing of the user's is overwritten. If anything fails,
 * no partial folder is left behind.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { EngineError, fsError } from './errors'
import { syncDir, writeFileAtomic } from './fsutil'

export async function writeOutputDir(out: string, files: Record<string, string | Uint8Array>, ownFiles: readonly string[] | ((name: string) => boolean)): Promise<void> {
  await writeOutputDirWith(out, ownFiles, async (staging) => {
    for (const [name, content] of Object.entries(files)) await writeFileAtomic(join(staging, name), content)
  })
}

/**
 * The same, for outputs too large to hold in memory: `fill` writes the files into the staging
 * folder it is given (and should sync them); the folder is renamed into place only if it succeeds.
 */
export async function writeOutputDirWith(out: string, ownFiles: readonly string[] | ((name: string) => boolean), fill: (staging: string) => Promise<void>): Promise<void> {
  const parent = dirname(out)
  let existing: string[] | null = null
  try {
    const st = await fs.stat(out)
    if (!st.isDirectory()) throw new EngineError('bad-input', `${out} exists and is not a folder`, { file: out, hint: 'Choose a new folder for --out.' })
    existing = await fs.readdir(out)
  } catch (e) {
    if (e instanceof EngineError) throw e
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new EngineError('io', `${out}: ${(e as Error).message}`, { file: out })
  }
  if (existing) {
    const own = typeof ownFiles === 'function' ? ownFiles : (f: string) => ownFiles.includes(f)
    const foreign = existing.filter((f) => !own(f))
    if (foreign.length > 0) {
      throw new EngineError('bad-input', `${out} already exists and holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`, {
        file: out,
        hint: 'Choose a new or empty folder for the output; Vernacular only replaces folders it wrote itself.',
      })
    }
  }
  try {
    await fs.mkdir(parent, { recursive: true })
  } catch (e) {
    throw new EngineError('io', `cannot create ${parent}: ${(e as Error).message}`, { file: parent })
  }
  const tag = randomBytes(4).toString('hex')
  const staging = join(parent, `.${basename(out)}.partial-${tag}`)
  const old = join(parent, `.${basename(out)}.old-${tag}`)
  try {
    await fs.mkdir(staging)
    await fill(staging)
    if (existing) await fs.rename(out, old)
    await fs.rename(staging, out)
    await syncDir(parent)
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined)
    if (existing) await fs.rename(old, out).catch(() => undefined)
    if (e instanceof EngineError) throw e
    throw new EngineError('io', `cannot write ${out}: ${(e as Error).message}`, { file: out })
  }
  if (existing) await fs.rm(old, { recursive: true, force: true }).catch(() => undefined)
}

/**
 * What an output folder holds before something is written there: its entries, or null when it does
 * not exist. A file where the folder should be is refused, naming it.
 */
export async function outputFolderEntries(out: string): Promise<string[] | null> {
  try {
    const st = await fs.stat(out)
    if (!st.isDirectory()) throw new EngineError('bad-input', `${out} exists and is not a folder.`, { file: out, hint: '--out is always a folder: choose a new or empty one.' })
    return await fs.readdir(out)
  } catch (e) {
    if (e instanceof EngineError) throw e
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw fsError(e, out, 'read')
  }
}
