/**
 * Text for tokenizer work: lines of plain-text files given on the command line (UTF-8, optionally
 * .gz), and documents of a project's ingested corpus split. Invalid UTF-8 and binary files are
 * errors naming the file and the place.
 */
import { stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { EngineError } from '../common/errors'
import { formatOf, readDocuments, readLines, type ReadCounters } from './readers'
import { readRoleState, roleDir } from './store'
import type { CorpusRole } from '../contract'

/**
 * Lines of a UTF-8 text file (or .gz), empty lines skipped unless `keepEmpty`; `.jsonl`, `.csv`
 * and `.tsv` files give the lines of their `text` field or column.
 */
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
  const kind = formatOf(path) ?? { format: 'txt' as const, compressed: path.toLowerCase().endsWith('.gz') }
  const file = { path, format: kind.format, compressed: kind.compressed, bytes }
  try {
    if (kind.format === 'txt') {
      for await (const l of readLines(file, { invalidUtf8: 'reject' }, counters, signal)) if (keepEmpty || l.text.length > 0) yield l.text
    } else {
      // .jsonl and .csv/.tsv as the Corpus step reads them, with the text in a field or column named "text"
      const options = { invalidUtf8: 'reject' as const, jsonlField: 'text', csvColumn: 'text', txtMode: 'line' as const }
      for await (const d of readDocuments(file, options, counters, signal)) for (const l of d.text.split('\n')) if (l.length > 0) yield l
    }
  } catch (e) {
    // the readers' hints speak of the Corpus step's options; here the fix is the file itself
    if (e instanceof EngineError && /UTF-8/.test(e.message)) {
      throw new EngineError(e.code, e.message, { file: path, hint: 'Convert the file to UTF-8 first, for example with `iconv -f latin2 -t utf-8 FILE > FILE.utf8`.' })
    }
    throw e
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
  for await (const doc of corpusDocuments(projectDir, role, split, signal)) {
    for (const l of doc.split('\n')) if (l.length > 0) yield l
  }
}

/** Whole documents of one split of an ingested corpus role (a document's lines joined by newlines), in shard order; none when the role has no text. */
export async function* corpusDocuments(projectDir: string, role: CorpusRole, split: 'train' | 'heldout', signal?: AbortSignal): AsyncGenerator<string> {
  const state = await readRoleState(projectDir, role)
  if (!state) return
  const dir = roleDir(projectDir, role)
  for (const s of state.sources) {
    for (const shard of s.shards[split]) {
      const rl = createInterface({ input: createReadStream(join(dir, shard), 'utf8'), crlfDelay: Infinity })
      for await (const line of rl) {
        if (signal?.aborted) throw new EngineError('cancelled', 'cancelled')
        if (line) yield (JSON.parse(line) as { text: string }).text
      }
    }
  }
}
