import { createReadStream, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { CorpusDocument, CorpusRole, Split } from '../contract'
import { EngineError } from '../common/errors'
import { mulberry32 } from '../common/rng'
import { readRoleState, roleDir } from './store'

/** The first whole line at or after `offset` (from the file's start when none follows). */
async function lineAfter(file: string, offset: number): Promise<string | null> {
  for (const start of offset > 0 ? [offset - 1, 0] : [0]) {
    const rl = createInterface({ input: createReadStream(file, { start }), crlfDelay: Infinity })
    let first = true
    try {
      for await (const line of rl) {
        // Reading from offset-1: the first piece is the rest of the line the offset fell in,
        // or empty when the offset was at a line start.
        if (first && start > 0) {
          first = false
          continue
        }
        if (line) return line
      }
    } finally {
      rl.close()
    }
  }
  return null
}

/**
 * `n` documents of a role's split, drawn at random (seeded): a shard is picked with probability
 * proportional to its size, then the document after a random byte offset. Reads a few KiB per
 * document, however large the corpus.
 */
export async function sampleDocuments(projectDir: string, role: CorpusRole, split: Split, n: number, seed: number = Date.now()): Promise<CorpusDocument[]> {
  const state = await readRoleState(projectDir, role)
  if (!state || state.sources.length === 0) {
    throw new EngineError('not-found', `The project at ${projectDir} has no ${role === 'target' ? 'target-language' : 'English'} text yet.`, {
      hint: `Add some with \`vernacular corpus add ${projectDir} --role ${role} FILE…\`.`,
    })
  }
  const base = roleDir(projectDir, role)
  const shards: { file: string; size: number; source: string }[] = []
  for (const s of state.sources) {
    for (const f of s.shards[split]) {
      const size = (await fs.stat(join(base, f))).size
      if (size > 0) shards.push({ file: join(base, f), size, source: s.path })
    }
  }
  const total = shards.reduce((a, s) => a + s.size, 0)
  if (total === 0) return []
  const rand = mulberry32(seed)
  const out: CorpusDocument[] = []
  const seen = new Set<string>()
  const available = state.sources.reduce((a, s) => a + s.profile[split].documents, 0)
  for (let attempt = 0; out.length < Math.min(n, available) && attempt < n * 20; attempt++) {
    let at = rand() * total
    const shard = shards.find((s) => (at -= s.size) < 0) ?? (shards.at(-1) as (typeof shards)[number])
    const line = await lineAfter(shard.file, Math.floor(rand() * shard.size))
    if (!line) continue
    const doc = JSON.parse(line) as { h: string; line: number; text: string }
    if (seen.has(doc.h)) continue
    seen.add(doc.h)
    out.push({ text: doc.text, source: shard.source, line: doc.line })
  }
  return out
}
