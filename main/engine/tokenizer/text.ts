/**
 * Text for tokenizer work: lines of plain-text files given on the command line (UTF-8, optionally
 * .gz), and documents of a project's ingested corpus split. Invalid UTF-8 and binary files are
 * errors naming the file and the place.
 */
import { stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { EngineError } from '../errors'
import { readLines, type ReadCounters } from '../corpus/readers'
import { readRoleState, roleDir } from '../corpus/store'
import type { CorpusRole } from '../contract'

/** Lines of a UTF-8 text file (or .gz), empty lines skipped unless `keepEmpty`. */
export async function* textFileLines(path: string, signal?: AbortSignal, keepEmpty = false): AsyncGenerator<string> {
  let bytes: number
  try {
    const st = await stat(path)
    if (st.isDirectory()) throw new EngineError('bad-input', `${path} is a folder`, { file: path, hint: 'Give text files, one document or sentence per line.' })
    bytes = st.size
  } catch (e) {
    if (e instanceof EngineError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw new EngineError(code === 'ENOENT' ? 'not-found' : 'io', code === 'ENOENT' ? `${path}: no such file` : `${path}: ${(e as Error).message}`, { file: path })
  }
  const counters: ReadCounters = { rawBytes: 0, invalidBytesReplaced: 0 }
  for await (const l of readLines({ path, format: 'txt', compressed: path.endsWith('.gz'), bytes }, { invalidUtf8: 'reject' }, counters, signal)) {
    if (keepEmpty || l.text.length > 0) yield l.text
  }
}

/** Lines of several files, in order. */
export async function* textFilesLines(paths: string[], signal?: AbortSignal): AsyncGenerator<string> {
  for (const p of paths) yield* textFileLines(p, signal)
}

/** Documents of one split of an ingested corpus role, as lines (a document's own lines are kept apart). */
export async function* corpusLines(projectDir: string, role: CorpusRole, split: 'train' | 'heldout', signal?: AbortSignal): AsyncGenerator<string> {
  const state = await readRoleState(projectDir, role)
  if (!state || state.sources.length === 0) {
    throw new EngineError('bad-input', `the ${role} corpus is empty`, { hint: `Add ${role} text in the Corpus step first.` })
  }
  const dir = roleDir(projectDir, role)
  for (const s of state.sources) {
    for (const shard of s.shards[split]) {
      const rl = createInterface({ input: createReadStream(join(dir, shard), 'utf8'), crlfDelay: Infinity })
      for await (const line of rl) {
        if (signal?.aborted) throw new EngineError('cancelled', 'cancelled')
        if (!line) continue
        const doc = (JSON.parse(line) as { text: string }).text
        for (const l of doc.split('\n')) if (l.length > 0) yield l
      }
    }
  }
}
