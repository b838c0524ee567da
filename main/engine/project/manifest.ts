import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import {
  DEFAULT_REPLAY,
  DEFAULT_TRAINING,
  DEFAULT_VOCABULARY,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_SCHEMA_VERSION,
  projectManifest,
  type ProjectManifest,
} from '../contract'
import { EngineError, fsError } from '../common/errors'
import { writeJsonAtomic } from '../common/fsutil'
import { parseJson } from '../common/json'
import { VERNACULAR_VERSION } from '../common/version'

/**
 * The project manifest, `vernacular.json`: reading with every failure explained, validation, and
 * atomic writing. A manifest that cannot be understood is reported and left exactly as it is.
 */

/** A path the manifest records (relative to the project folder when inside it), made absolute. */
export function resolveProjectPath(dir: string, p: string): string {
  return isAbsolute(p) ? p : join(dir, p)
}

/** How the manifest records an absolute path: relative when inside the project folder. */
export function projectRelativePath(dir: string, p: string): string {
  const rel = relative(dir, p)
  return rel.startsWith('..') || isAbsolute(rel) ? p : rel
}

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE)
}

export function newManifest(name: string, language: string, now = new Date()): ProjectManifest {
  const at = now.toISOString()
  return {
    format: MANIFEST_FORMAT,
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    id: randomUUID(),
    name,
    language,
    createdAt: at,
    updatedAt: at,
    writtenBy: `vernacular ${VERNACULAR_VERSION}`,
    baseModel: null,
    baseTokenizer: null,
    corpora: [],
    vocabulary: { ...DEFAULT_VOCABULARY },
    replay: { ...DEFAULT_REPLAY },
    training: { ...DEFAULT_TRAINING },
    evaluation: { limit: null },
    runs: [],
  }
}

/**
 * Checks a parsed manifest and returns it typed. Throws `newer-schema` for a manifest from a newer
 * Vernacular, `not-a-project` for JSON that is not a Vernacular manifest at all, and
 * `corrupt-manifest` (with one line per problem) for a manifest with wrong or missing fields.
 */
export function validateManifest(json: unknown, file: string): ProjectManifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json) || (json as { format?: unknown }).format !== MANIFEST_FORMAT) {
    throw new EngineError('not-a-project', `${file} is not a Vernacular project manifest (it lacks "format": "${MANIFEST_FORMAT}").`, {
      file,
      hint: 'Open the folder of a project made by Vernacular; this file belongs to something else and was left untouched.',
    })
  }
  const version = (json as { schemaVersion?: unknown }).schemaVersion
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new EngineError('corrupt-manifest', `${file} has no valid "schemaVersion" (found ${JSON.stringify(version)}).`, {
      file,
      hint: `Restore the file from a backup, or set "schemaVersion": ${MANIFEST_SCHEMA_VERSION} if it was edited by hand.`,
    })
  }
  if (version > MANIFEST_SCHEMA_VERSION) {
    const by = (json as { writtenBy?: unknown }).writtenBy
    throw new EngineError(
      'newer-schema',
      `${file} was written by a newer Vernacular (project schema ${version}${typeof by === 'string' ? `, ${by}` : ''}); this version (${VERNACULAR_VERSION}) reads schema ${MANIFEST_SCHEMA_VERSION}.`,
      { file, hint: 'Update Vernacular to open this project. The file was not changed.' },
    )
  }
  const parsed = projectManifest.safeParse(json)
  if (!parsed.success) {
    throw new EngineError('corrupt-manifest', `${file} is damaged: ${parsed.error.issues.length} field(s) are wrong or missing.`, {
      file,
      details: parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`),
      hint: 'Fix the fields listed, or restore the file from a backup. The file was not changed.',
    })
  }
  return parsed.data
}

/** Reads and validates `dir/vernacular.json`. */
export async function readManifest(dir: string): Promise<ProjectManifest> {
  const file = manifestPath(dir)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      const dirStat = await fs.stat(dir).catch(() => null)
      if (!dirStat) throw new EngineError('not-found', `There is no folder at ${dir}.`, { file: dir, hint: 'Check the path, or create a new project there.' })
      if (!dirStat.isDirectory()) throw new EngineError('not-a-project', `${dir} is a file, not a project folder.`, { file: dir, hint: 'Choose the folder that contains vernacular.json.' })
      throw new EngineError('not-a-project', `${dir} is not a Vernacular project: it has no ${MANIFEST_FILE}.`, {
        file,
        hint: 'Choose the folder that contains vernacular.json, or create a new project.',
      })
    }
    if (code === 'EISDIR') throw new EngineError('corrupt-manifest', `${file} is a folder, not a file.`, { file, hint: 'Remove or rename that folder.' })
    throw fsError(e, file, 'read')
  }
  let json: unknown
  try {
    json = parseJson(text)
  } catch (e) {
    throw new EngineError('corrupt-manifest', `${file} is not valid JSON (${(e as Error).message}).`, {
      file,
      hint: 'Fix the file by hand or restore it from a backup. Vernacular did not change it.',
    })
  }
  return validateManifest(json, file)
}

/** Validates and writes a manifest atomically, stamping `updatedAt` and `writtenBy`. */
export async function writeManifest(dir: string, manifest: ProjectManifest, now = new Date()): Promise<ProjectManifest> {
  const stamped = { ...manifest, updatedAt: now.toISOString(), writtenBy: `vernacular ${VERNACULAR_VERSION}` }
  const checked = validateManifest(stamped, manifestPath(dir))
  await writeJsonAtomic(manifestPath(dir), checked)
  return checked
}
