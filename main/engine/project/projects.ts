import { promises as fs } from 'node:fs'
import { dirname } from 'node:path'
import type { ProjectManifest, ProjectSummary } from '../contract'
import { EngineError, fsError } from '../common/errors'
import { pathExists } from '../common/fsutil'
import { withProjectLock } from './lock'
import { manifestPath, newManifest, readManifest, writeManifest } from './manifest'

/**
 * Project folders: create, open and change them. Every change re-reads the manifest under the
 * project lock, applies the change and writes it atomically, so concurrent writers (the app and the
 * CLI, say) never lose each other's changes.
 */

export interface CreateProjectOptions {
  dir: string
  name: string
  language: string
}

export async function createProject({ dir, name, language }: CreateProjectOptions): Promise<ProjectSummary> {
  const stat = await fs.stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null
    throw fsError(e, dir, 'inspect')
  })
  if (stat && !stat.isDirectory()) {
    throw new EngineError('project-exists', `${dir} is a file; a project needs a folder.`, { file: dir, hint: 'Choose another path.' })
  }
  if (stat && (await pathExists(manifestPath(dir)))) {
    const existing = await readManifest(dir).then(
      (m) => ` ("${m.name}")`,
      () => '',
    )
    throw new EngineError('project-exists', `There is already a project at ${dir}${existing}.`, {
      file: manifestPath(dir),
      hint: 'Open it instead, or choose another folder. Nothing was changed.',
    })
  }

  // Create the folder (and parents) if needed, remembering which we made, to undo on failure.
  const created: string[] = []
  if (!stat) {
    let p = dir
    while (!(await pathExists(p))) {
      created.unshift(p)
      const parent = dirname(p)
      if (parent === p) break
      p = parent
    }
    try {
      await fs.mkdir(dir, { recursive: true })
    } catch (e) {
      throw fsError(e, dir, 'create the folder')
    }
  }
  try {
    return await withProjectLock(dir, 'creating the project', async () => {
      if (await pathExists(manifestPath(dir))) {
        throw new EngineError('project-exists', `Another process just created a project at ${dir}.`, { file: manifestPath(dir), hint: 'Open it instead.' })
      }
      const manifest = await writeManifest(dir, newManifest(name, language))
      return { dir, manifest }
    })
  } catch (e) {
    for (const d of created.reverse()) await fs.rmdir(d).catch(() => undefined)
    throw e
  }
}

export async function openProject(dir: string): Promise<ProjectSummary> {
  return { dir, manifest: await readManifest(dir) }
}

/**
 * Applies `change` to the current manifest under the lock and saves the result. `change` gets a
 * copy; whatever it returns is validated before anything is written.
 */
export async function updateProject(dir: string, purpose: string, change: (m: ProjectManifest) => ProjectManifest): Promise<ProjectSummary> {
  return withProjectLock(dir, purpose, async () => {
    const current = await readManifest(dir)
    const next = change(structuredClone(current))
    return { dir, manifest: await writeManifest(dir, next) }
  })
}

export async function renameProject(dir: string, name: string): Promise<ProjectSummary> {
  return updateProject(dir, 'renaming the project', (m) => ({ ...m, name }))
}
