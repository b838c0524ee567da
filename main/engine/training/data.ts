/**
 * The project's training text as token files: the train split of each corpus role, tokenised with
 * the run's tokenizer into `data/<tokenizer>-<corpus>/` (fingerprints, 16 hex digits each). Done
 * once as a job with progress and reused until the tokenizer or the corpus changes.
 *
 *   data/<tokenizer>-<corpus>/target.tokens    token files (tokens.ts)
 *                             english.tokens   (absent when the project has no English text)
 *                             data.json        what was tokenised, with what, and the counts
 */
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { EngineError } from '../common/errors'
import { vocabFingerprint } from '../common/fingerprint'
import { writeOutputDirWith } from '../common/outputdir'
import { parseJson } from '../common/json'
import { threadCount, threadScript } from '../common/threads'
import type { ProgressUpdate } from '../jobs/manager'
import { readRoleState, roleDir } from '../corpus/store'
import { corpusDocuments } from '../corpus/text'
import { Tokenizer } from '../tokenizer/tokenizer'
import { LANGUAGES, type Language } from './mixture'
import { TokenFile, TokenFileWriter } from './tokens'
import { type EncodedBatch, TokenisePool, encodeBatch } from './tokenise'

export const DATA_DIR = 'data'
const DATA_FILE = 'data.json'

export interface TokenData {
  format: 'vernacular-token-data'
  version: 1
  /** The folder, absolute. */
  dir: string
  tokenizer: { file: string; fingerprint: string; vocabSize: number }
  corpus: { fingerprint: string }
  roles: Record<Language, { file: string; documents: number; tokens: number; bytes: number } | null>
  createdAt: string
  seconds: number
}

export interface DataProgress {
  signal?: AbortSignal
  progress?(update: ProgressUpdate): void
  log?(line: string): void
  /**
   * Threads to tokenise on (default: `VERNACULAR_THREADS`, else every core). With more than one and
   * a thread script (common/threads.ts), batches of documents are encoded in worker threads; the
   * token files are the same byte for byte.
   */
  threads?: number
}

/** Text per batch sent to a tokenising thread. */
const BATCH_BYTES = 256 * 1024

/**
 * Fingerprint of the project's ingested text: the sources of each role (their content hashes), the
 * cleaning options and the held-out split. Ingesting more text, or other options, changes it.
 */
export async function corpusFingerprint(projectDir: string): Promise<string> {
  const h = createHash('sha256')
  for (const role of LANGUAGES) {
    const state = await readRoleState(projectDir, role)
    h.update(JSON.stringify(state ? { role, options: state.options, heldout: state.heldoutThreshold, sources: state.sources.map((s) => [s.sha256, s.shards]) } : { role, none: true }))
  }
  return h.digest('hex')
}

/** Where the token files of a tokenizer and the project's current text are. */
export async function tokenDataDir(projectDir: string, tokenizer: Tokenizer): Promise<string> {
  return join(projectDir, DATA_DIR, `${vocabFingerprint(tokenizer).slice(0, 16)}-${(await corpusFingerprint(projectDir)).slice(0, 16)}`)
}

async function readData(dir: string): Promise<TokenData | null> {
  try {
    const data = parseJson(await fs.readFile(join(dir, DATA_FILE), 'utf8')) as TokenData
    if (data.format !== 'vernacular-token-data' || data.version !== 1) return null
    for (const role of LANGUAGES) {
      const r = data.roles[role]
      // Opening checks the header against the file's size: a damaged file is made again.
      if (r) await (await TokenFile.open(join(dir, r.file))).close()
    }
    return { ...data, dir }
  } catch {
    return null
  }
}

/** The token files for training with `tokenizerFile` on the project's text: made now, or reused. */
export async function prepareTokenData(projectDir: string, tokenizerFile: string, p: DataProgress = {}): Promise<TokenData> {
  const tokenizer = await Tokenizer.fromFile(tokenizerFile)
  const dir = await tokenDataDir(projectDir, tokenizer)
  const existing = await readData(dir)
  if (existing) {
    p.log?.(`token files are up to date: ${dir}`)
    return existing
  }
  const states = Object.fromEntries(await Promise.all(LANGUAGES.map(async (r) => [r, await readRoleState(projectDir, r)] as const))) as Record<Language, Awaited<ReturnType<typeof readRoleState>>>
  if (!states.target || states.target.sources.length === 0) {
    throw new EngineError('bad-input', 'The project has no target-language text to train on.', { hint: 'Add target-language text in the Corpus step first.' })
  }
  const totalBytes = LANGUAGES.reduce((n, r) => n + (states[r]?.sources.reduce((m, s) => m + s.profile.train.bytes, 0) ?? 0), 0)
  const fingerprint = vocabFingerprint(tokenizer)
  const t0 = performance.now()
  const data: TokenData = {
    format: 'vernacular-token-data',
    version: 1,
    dir,
    tokenizer: { file: tokenizerFile, fingerprint, vocabSize: tokenizer.vocabSize },
    corpus: { fingerprint: await corpusFingerprint(projectDir) },
    roles: { target: null, english: null },
    createdAt: new Date().toISOString(),
    seconds: 0,
  }
  let doneBytes = 0
  const threads = Math.max(1, p.threads ?? threadCount())
  const script = threads > 1 ? threadScript() : null
  const pool = script ? await TokenisePool.start(script, tokenizerFile, threads) : null
  if (pool) p.log?.(`tokenising on ${pool.threads} threads`)
  try {
  await writeOutputDirWith(dir, (f) => f === DATA_FILE || f.endsWith('.tokens'), async (staging) => {
    for (const role of LANGUAGES) {
      if (!states[role] || states[role].sources.length === 0) continue
      const file = `${role}.tokens`
      const writer = await TokenFileWriter.create(join(staging, file), tokenizer.vocabSize, fingerprint)
      const message = `Tokenising the ${role === 'target' ? 'target-language' : 'English'} text${pool ? ` on ${pool.threads} threads` : ''}`
      let bytes = 0
      // Batches in the order they were read; with a pool, at most 2 × threads in flight.
      const inFlight: { result: Promise<EncodedBatch> }[] = []
      const writeNext = async () => {
        const head = inFlight.shift() as { result: Promise<EncodedBatch> }
        const done = await head.result
        let at = 0
        for (const n of done.lengths) {
          await writer.add(done.ids.subarray(at, at + n))
          at += n
        }
        bytes += done.bytes
        doneBytes += done.bytes
        p.progress?.({ done: doneBytes, total: totalBytes, message })
      }
      let batch: string[] = []
      let batchBytes = 0
      const send = async () => {
        if (batch.length === 0) return
        inFlight.push({ result: pool ? pool.encode(batch) : Promise.resolve(encodeBatch(tokenizer, batch)) })
        batch = []
        batchBytes = 0
        while (inFlight.length > (pool ? 2 * pool.threads : 0)) await writeNext()
      }
      // With as many shards as threads, each thread reads and encodes whole shards; else batches of documents.
      const shards = (states[role]?.sources ?? []).flatMap((src) => src.shards.train.map((f) => join(roleDir(projectDir, role), f)))
      try {
        if (pool && shards.length >= pool.threads) {
          p.log?.(`${role}: ${shards.length} shards, each read and encoded by a thread`)
          for (const shard of shards) {
            if (p.signal?.aborted) throw new EngineError('cancelled', 'cancelled')
            inFlight.push({ result: pool.encodeShard(shard) })
            while (inFlight.length > 2 * pool.threads) await writeNext()
          }
        } else {
          for await (const doc of corpusDocuments(projectDir, role, 'train', p.signal)) {
            batch.push(doc)
            batchBytes += Buffer.byteLength(doc)
            if (batchBytes >= BATCH_BYTES) await send()
          }
          await send()
        }
        while (inFlight.length) await writeNext()
      } catch (e) {
        // Let the batches still in flight settle before the staging folder goes.
        await Promise.allSettled(inFlight.map((b) => b.result))
        await writer.abort()
        throw e
      }
      const header = await writer.finish()
      data.roles[role] = { file, documents: header.documents, tokens: header.tokens, bytes }
      p.log?.(`${role}: ${header.documents} documents, ${header.tokens} tokens (${(bytes / Math.max(1, header.tokens)).toFixed(2)} bytes per token)`)
    }
    data.seconds = (performance.now() - t0) / 1000
    const { dir: _dir, ...onDisk } = data
    await fs.writeFile(join(staging, DATA_FILE), JSON.stringify(onDisk, null, 2) + '\n')
  })
  } finally {
    await pool?.close()
  }
  return data
}

/** Opens the token files of prepared data. */
export async function openTokenData(data: TokenData): Promise<Record<Language, TokenFile | null>> {
  const out: Record<Language, TokenFile | null> = { target: null, english: null }
  for (const role of LANGUAGES) {
    const r = data.roles[role]
    if (r) out[role] = await TokenFile.open(join(data.dir, r.file))
  }
  return out
}
