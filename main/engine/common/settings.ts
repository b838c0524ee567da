import { promises as fs } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { z } from 'zod'
import { BACKEND_NAMES, type BackendName } from '../contract'
import { EngineError } from './errors'
import { writeJsonAtomic } from './fsutil'
import { parseJson } from './json'

/**
 * The per-user folder where Vernacular keeps its settings, the list of recent projects and the
 * logs of jobs that belong to no project. `VERNACULAR_HOME` overrides it (tests, portable installs).
 */
export function vernacularHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VERNACULAR_HOME) return resolve(env.VERNACULAR_HOME)
  if (process.platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Vernacular')
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Vernacular')
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'vernacular')
}

/** Where "New project" proposes to put projects. */
export function defaultProjectsDir(): string {
  return join(homedir(), 'Vernacular')
}

/** Expands a leading `~` and makes the path absolute. */
export function resolveUserPath(p: string, cwd = process.cwd()): string {
  const trimmed = p.trim()
  if (trimmed === '~') return homedir()
  if (trimmed.startsWith('~/') || trimmed.startsWith('~\\')) return join(homedir(), trimmed.slice(2))
  return isAbsolute(trimmed) ? resolve(trimmed) : resolve(cwd, trimmed)
}

const settingsSchema = z.looseObject({
  backend: z.enum(['auto', ...BACKEND_NAMES] as [string, ...string[]]).optional(),
})

export interface Settings {
  backend?: BackendName | 'auto'
}

export function settingsFile(home = vernacularHome()): string {
  return join(home, 'settings.json')
}

/** Reads the user's settings; a missing file means defaults, a broken one is an error naming it. */
export async function readSettings(home = vernacularHome()): Promise<Settings> {
  const file = settingsFile(home)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new EngineError('io', `Cannot read the settings file ${file}: ${(e as Error).message}`, { file })
  }
  let json: unknown
  try {
    json = parseJson(text)
  } catch (e) {
    throw new EngineError('corrupt-manifest', `The settings file ${file} is not valid JSON: ${(e as Error).message}`, {
      file,
      hint: 'Fix or delete the file; Vernacular recreates it with defaults.',
    })
  }
  const parsed = settingsSchema.safeParse(json)
  if (!parsed.success) {
    throw new EngineError('corrupt-manifest', `The settings file ${file} has an invalid value.`, {
      file,
      details: parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`),
      hint: `"backend" must be one of auto, ${BACKEND_NAMES.join(', ')}.`,
    })
  }
  return parsed.data as Settings
}

export async function writeSettings(settings: Settings, home = vernacularHome()): Promise<void> {
  await fs.mkdir(home, { recursive: true })
  await writeJsonAtomic(settingsFile(home), settings)
}
