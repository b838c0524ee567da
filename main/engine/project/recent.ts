import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import type { ProjectManifest, RecentProject } from '../contract'
import { isEngineError } from '../common/errors'
import { writeJsonAtomic } from '../common/fsutil'
import { readManifest } from './manifest'

/** The list of recently opened projects, kept in the user's Vernacular folder. */

const MAX_RECENT = 20

const recentFile = z.object({
  projects: z.array(z.object({ dir: z.string(), name: z.string(), language: z.string(), openedAt: z.string() })),
})
type RecentEntry = z.infer<typeof recentFile>['projects'][number]

function recentPath(home: string): string {
  return join(home, 'recent.json')
}

async function readEntries(home: string): Promise<RecentEntry[]> {
  try {
    const parsed = recentFile.safeParse(JSON.parse(await fs.readFile(recentPath(home), 'utf8')))
    // A damaged list of recent projects is not worth an error: it is rebuilt as projects are opened.
    return parsed.success ? parsed.data.projects : []
  } catch {
    return []
  }
}

async function writeEntries(home: string, entries: RecentEntry[]): Promise<void> {
  await fs.mkdir(home, { recursive: true })
  await writeJsonAtomic(recentPath(home), { projects: entries.slice(0, MAX_RECENT) })
}

export async function rememberProject(home: string, dir: string, manifest: ProjectManifest, now = new Date()): Promise<void> {
  const entries = (await readEntries(home)).filter((e) => e.dir !== dir)
  entries.unshift({ dir, name: manifest.name, language: manifest.language, openedAt: now.toISOString() })
  await writeEntries(home, entries)
}

export async function forgetProject(home: string, dir: string): Promise<void> {
  const entries = await readEntries(home)
  const kept = entries.filter((e) => e.dir !== dir)
  if (kept.length !== entries.length) await writeEntries(home, kept)
}

/** The recent projects, each checked on disk now: name and language come from the manifest itself. */
export async function listRecentProjects(home: string): Promise<RecentProject[]> {
  const entries = await readEntries(home)
  return Promise.all(
    entries.map(async (e): Promise<RecentProject> => {
      try {
        const m = await readManifest(e.dir)
        return { dir: e.dir, name: m.name, language: m.language, openedAt: e.openedAt, status: 'ok' }
      } catch (err) {
        const missing = isEngineError(err) && err.code === 'not-found'
        return { ...e, status: missing ? 'missing' : 'unreadable', problem: err instanceof Error ? err.message : String(err) }
      }
    }),
  )
}
