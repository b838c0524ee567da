import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { ingestOptions, ROLE_VALUES, REMOVAL_REASONS, type CorpusRole, type RoleStats, type SplitProfile } from '../contract'
import { EngineError } from '../common/errors'
import { writeJsonAtomic } from '../common/fsutil'
import { parseJson } from '../common/json'
import { mergeProfiles } from './profile'

/**
 * What ingest leaves in a project, per role:
 *
 *   corpora/<role>/corpus.json          the role's state: options, threshold, sources, profiles
 *   corpora/<role>/shards/*.jsonl       kept documents, {"h", "line", "text"} per line, by source and split
 *   corpora/<role>/rejects/*.jsonl      documents set aside, with the reason
 *   corpora/<role>/shards/*.hashes      the 64-bit hashes of each source's kept documents (dedupe)
 */

export const CORPUS_FORMAT = 'vernacular-corpus'

export function roleDir(projectDir: string, role: CorpusRole): string {
  return join(projectDir, 'corpora', role)
}

export function roleStatePath(projectDir: string, role: CorpusRole): string {
  return join(roleDir(projectDir, role), 'corpus.json')
}

const splitProfile = z.object({
  documents: z.number(),
  characters: z.number(),
  bytes: z.number(),
  words: z.number(),
  scripts: z.record(z.string(), z.number()),
  lengthHistogram: z.array(z.object({ upTo: z.number(), documents: z.number() })),
  topWords: z.array(z.object({ word: z.string(), count: z.number() })),
})

const removedCounts = z.partialRecord(z.enum(REMOVAL_REASONS), z.number())

export const sourceRecord = z.object({
  id: z.string(),
  path: z.string(),
  format: z.enum(['txt', 'jsonl', 'csv', 'tsv']),
  compressed: z.boolean(),
  bytes: z.number(),
  mtimeMs: z.number(),
  sha256: z.string(),
  txtMode: z.enum(['line', 'blank']).nullable(),
  documentsRead: z.number(),
  kept: z.number(),
  removed: removedCounts,
  invalidBytesReplaced: z.number(),
  /** Shard files, relative to the role folder. */
  shards: z.object({ train: z.array(z.string()), heldout: z.array(z.string()) }),
  rejects: z.string().nullable(),
  hashes: z.string(),
  profile: z.object({ train: splitProfile, heldout: splitProfile }),
})

export type SourceRecord = z.infer<typeof sourceRecord>

export const roleState = z.object({
  format: z.literal(CORPUS_FORMAT),
  version: z.literal(1),
  role: z.enum(ROLE_VALUES),
  language: z.string(),
  options: ingestOptions,
  /** A document is held out when the first 32 bits of its hash are below this. */
  heldoutThreshold: z.number(),
  sources: z.array(sourceRecord),
  updatedAt: z.string(),
})

export type RoleState = z.infer<typeof roleState>

export async function readRoleState(projectDir: string, role: CorpusRole): Promise<RoleState | null> {
  const file = roleStatePath(projectDir, role)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new EngineError('io', `Cannot read ${file}: ${(e as Error).message}`, { file })
  }
  let json: unknown
  try {
    json = parseJson(text)
  } catch (e) {
    throw new EngineError('corrupt-manifest', `${file} is not valid JSON (${(e as Error).message}).`, { file, hint: 'Restore it from a backup, or delete the corpora/<role> folder and ingest again.' })
  }
  const parsed = roleState.safeParse(json)
  if (!parsed.success) {
    throw new EngineError('corrupt-manifest', `${file} is damaged.`, {
      file,
      details: parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`),
      hint: 'Restore it from a backup, or delete the corpora/<role> folder and ingest again.',
    })
  }
  return parsed.data
}

export async function writeRoleState(projectDir: string, state: RoleState): Promise<void> {
  await writeJsonAtomic(roleStatePath(projectDir, state.role), state)
}

function sumRemoved(records: SourceRecord[]): RoleStats['removed'] {
  const out: RoleStats['removed'] = {}
  for (const r of records) for (const [k, v] of Object.entries(r.removed)) out[k as keyof typeof out] = (out[k as keyof typeof out] ?? 0) + (v ?? 0)
  return out
}

export function roleStats(state: RoleState): RoleStats {
  const profiles = (split: 'train' | 'heldout'): SplitProfile => mergeProfiles(state.sources.map((s) => s.profile[split]))
  return {
    role: state.role,
    language: state.language,
    options: state.options,
    sources: state.sources.map((s) => ({
      path: s.path,
      format: s.format,
      compressed: s.compressed,
      bytes: s.bytes,
      sha256: s.sha256,
      documentsRead: s.documentsRead,
      kept: s.kept,
      removed: s.removed,
      invalidBytesReplaced: s.invalidBytesReplaced,
    })),
    train: profiles('train'),
    heldout: profiles('heldout'),
    removed: sumRemoved(state.sources),
    rejectsDir: join('corpora', state.role, 'rejects'),
    updatedAt: state.updatedAt,
    tokens: null,
  }
}
