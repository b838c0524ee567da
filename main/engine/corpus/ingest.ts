import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { ingestOptions, type CorpusRole, type IngestOptions, type RoleStats } from '../contract'
import { EngineError, fsError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import { acquireLock } from '../project/lock'
import { readManifest } from '../project/manifest'
import { updateProject } from '../project/projects'
import { HashSet64 } from './hashset'
import { ProfileBuilder } from './profile'
import { formatOf, type SourceFile } from './readers'
import { ingestFiles, SHARD_BYTES } from './merge'
import type { PhaseTimes } from './pipeline'
import { countCharacters, newScriptCounts } from './scripts'
import { readRoleState, roleDir, roleStats, writeRoleState, CORPUS_FORMAT, type RoleState, type SourceRecord } from './store'
import { wordCounter, type WordCounter } from './words'

/**
 * Ingest: files on disk → clean, de-duplicated documents in shards, split into train and held-out
 * by document hash, profiled. Runs as a job; writes into a staging folder and commits by renaming
 * files and then writing `corpus.json` atomically, so a cancelled or killed ingest leaves the
 * project as it was. Sources are kept in the order they were added (the first copy of a duplicate
 * wins); unchanged sources are not read again, and a changed source is ingested again together
 * with every source after it.
 */


export interface IngestRequest {
  projectDir: string
  role: CorpusRole
  paths: string[]
  options?: Partial<IngestOptions>
  /** Threads to read with; default `VERNACULAR_THREADS`, else every core. */
  threads?: number
  /**
   * The script of the worker threads (see corpus/workers.ts); default out/main/ingest-worker.js
   * next to the running bundle. With none, ingest runs on one thread.
   */
  workerScript?: string | URL | null
  /** Times the phases into this (benchmarks). */
  profile?: PhaseTimes
  /** Size of the ranges large files are split into (tests); default RANGE_BYTES. */
  rangeBytes?: number
}

// ---------------------------------------------------------------------------------------------
// Finding the files
// ---------------------------------------------------------------------------------------------

/** Expands folders (recursively, sorted, hidden files skipped) into the files ingest reads. */
export async function discoverSources(paths: string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = []
  const seen = new Set<string>()
  const addFile = async (path: string, explicit: boolean, bytes: number): Promise<void> => {
    const kind = formatOf(path)
    if (!kind) {
      if (explicit) {
        throw new EngineError('bad-input', `${path}: not a file type ingest reads.`, { file: path, hint: 'Give .txt, .jsonl, .csv or .tsv files, optionally .gz-compressed, or folders of them.' })
      }
      return
    }
    if (seen.has(path)) return
    seen.add(path)
    out.push({ path, ...kind, bytes })
  }
  for (const given of paths) {
    const path = resolve(given)
    const stat = await fs.stat(path).catch((e: unknown) => {
      throw fsError(e, path, 'read')
    })
    if (stat.isFile()) {
      await addFile(path, true, stat.size)
      continue
    }
    if (!stat.isDirectory()) throw new EngineError('bad-input', `${path} is neither a file nor a folder.`, { file: path })
    const before = out.length
    const walk = async (dir: string): Promise<void> => {
      let entries
      try {
        entries = await fs.readdir(dir, { withFileTypes: true })
      } catch (e) {
        throw fsError(e, dir, 'read the folder')
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      for (const e of entries) {
        if (e.name.startsWith('.')) continue
        const p = join(dir, e.name)
        if (e.isDirectory()) await walk(p)
        else if (e.isFile() && formatOf(p)) await addFile(p, false, (await fs.stat(p)).size)
      }
    }
    await walk(path)
    if (out.length === before) {
      throw new EngineError('bad-input', `${path} holds no text files ingest reads.`, { file: path, hint: 'The folder needs .txt, .jsonl, .csv or .tsv files (optionally .gz); hidden files are skipped.' })
    }
  }
  for (const f of out) {
    if (f.bytes === 0) throw new EngineError('bad-input', `${f.path} is empty.`, { file: f.path, hint: 'Remove it from the list, or give a file with text in it.' })
  }
  return out
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

// ---------------------------------------------------------------------------------------------
// Writing one source's documents
// ---------------------------------------------------------------------------------------------

class ShardWriter {
  readonly files: string[] = []
  private stream: WriteStream | null = null
  private bytes = 0

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  async write(line: string): Promise<void> {
    if (!this.stream || this.bytes >= SHARD_BYTES) await this.roll()
    const stream = this.stream as WriteStream
    this.bytes += Buffer.byteLength(line)
    if (!stream.write(line)) await new Promise<void>((r) => stream.once('drain', () => r()))
  }

  private async roll(): Promise<void> {
    await this.close()
    const name = `${this.prefix}-${String(this.files.length).padStart(5, '0')}.jsonl`
    this.files.push(name)
    this.stream = createWriteStream(join(this.dir, name), { flags: 'wx' })
    this.bytes = 0
  }

  async close(): Promise<void> {
    const s = this.stream
    this.stream = null
    if (!s) return
    await new Promise<void>((res, rej) => {
      s.once('error', rej)
      s.end(() => res())
    })
    // Data must be on disk before corpus.json points at it.
    const h = await fs.open(join(this.dir, this.files.at(-1) as string), 'r')
    await h.sync()
    await h.close()
  }
}

interface KeptDocument {
  text: string
  line: number
  hashHex: string
  hi: number
  lo: number
  bytes: number
  characters: number
  spacedWords: number
  byScript: Uint32Array
}

/** Routes one source's kept documents to train/held-out shards and profiles them. */
class SourceWriter {
  readonly train: ShardWriter
  readonly heldout: ShardWriter
  readonly profiles: { train: ProfileBuilder; heldout: ProfileBuilder }
  readonly hashes: number[] = []

  constructor(
    dir: string,
    prefix: string,
    counter: WordCounter,
    private readonly threshold: number,
  ) {
    this.train = new ShardWriter(dir, `${prefix}-train`)
    this.heldout = new ShardWriter(dir, `${prefix}-heldout`)
    this.profiles = { train: new ProfileBuilder(counter), heldout: new ProfileBuilder(counter) }
  }

  async add(doc: KeptDocument): Promise<void> {
    const split = doc.hi < this.threshold ? 'heldout' : 'train'
    await this[split].write(`{"h":"${doc.hashHex}","line":${doc.line},"text":${JSON.stringify(doc.text)}}\n`)
    this.profiles[split].add(doc.text, doc.bytes, doc, doc.hi)
    this.profiles[split].addScripts(doc.byScript)
    this.hashes.push(doc.hi, doc.lo)
  }

  async close(): Promise<void> {
    await this.train.close()
    await this.heldout.close()
  }
}

// ---------------------------------------------------------------------------------------------
// The job
// ---------------------------------------------------------------------------------------------

function thresholdFor(fraction: number): number {
  return Math.min(2 ** 32, Math.floor(fraction * 2 ** 32))
}

async function readHashes(file: string): Promise<Uint32Array> {
  const buf = await fs.readFile(file)
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4)
}

async function* shardDocuments(dir: string, files: string[]): AsyncGenerator<{ h: string; line: number; text: string }> {
  for (const f of files) {
    const rl = createInterface({ input: createReadStream(join(dir, f)), crlfDelay: Infinity })
    for await (const l of rl) if (l) yield JSON.parse(l) as { h: string; line: number; text: string }
  }
}

export async function ingestCorpus(ctx: JobContext, req: IngestRequest): Promise<RoleStats> {
  const { projectDir, role } = req
  const manifest = await readManifest(projectDir)
  const language = role === 'target' ? manifest.language : 'en'
  const base = roleDir(projectDir, role)
  const corporaDir = join(projectDir, 'corpora')
  const existedBefore = await fs.stat(corporaDir).then(
    () => true,
    () => false,
  )
  await fs.mkdir(join(base, 'shards'), { recursive: true }).catch((e: unknown) => {
    throw fsError(e, base, 'create')
  })
  await fs.mkdir(join(base, 'rejects'), { recursive: true })

  // One ingest per role at a time.
  const roleLock = await acquireLock(base, `ingesting ${role} text`, { waitMs: 0 }).catch((e: unknown) => {
    if (e instanceof EngineError && e.code === 'locked') throw new EngineError('locked', `The ${role} corpus of ${projectDir} is being ingested by another job.`, { hint: 'Wait for it to finish, or cancel it.' })
    throw e
  })
  const staging = join(base, `.staging-${ctx.id}`)
  let committed = false
  try {
    const previous = await readRoleState(projectDir, role)
    const options: IngestOptions = ingestOptions.parse({ ...(previous?.options ?? {}), ...(req.options ?? {}) })
    const optionsChanged = previous !== null && JSON.stringify(previous.options) !== JSON.stringify(options)

    ctx.progress({ message: 'Looking at the files…' })
    const given = await discoverSources(req.paths)
    const known = previous?.sources ?? []

    // Which known sources are unchanged? The first changed one and everything after it is redone.
    let firstRedo = optionsChanged ? 0 : known.length
    if (!optionsChanged) {
      for (let i = 0; i < known.length; i++) {
        const rec = known[i] as SourceRecord
        const givenNow = given.find((g) => g.path === rec.path)
        if (!givenNow) continue // not asked about: kept as it is
        const stat = await fs.stat(rec.path)
        if (stat.size === rec.bytes && stat.mtimeMs === rec.mtimeMs) continue
        if ((await sha256Of(rec.path)) !== rec.sha256) {
          firstRedo = i
          break
        }
      }
    }
    const keep = known.slice(0, firstRedo)
    const redoKnown = known.slice(firstRedo)
    const newFiles = given.filter((g) => !known.some((k) => k.path === g.path))
    const toIngest: SourceFile[] = [
      ...(await Promise.all(
        redoKnown.map(async (r) => {
          const kind = formatOf(r.path)
          const stat = await fs.stat(r.path).catch((e: unknown) => {
            throw fsError(e, r.path, 'read (it was ingested before and must be read again)')
          })
          return { path: r.path, format: kind?.format ?? r.format, compressed: kind?.compressed ?? r.compressed, bytes: stat.size }
        }),
      )),
      ...newFiles,
    ]
    if (toIngest.length === 0 && previous) {
      ctx.log('Nothing changed: every source is as it was when ingested.')
      return roleStats(previous)
    }

    await fs.mkdir(staging, { recursive: true })
    const counter = wordCounter(language)
    // New documents are routed by the fraction's threshold; the minimum held-out rule is applied
    // over the whole role at the end, so that the split depends only on the set of documents.
    const t0 = thresholdFor(options.heldoutFraction)
    const previousThreshold = previous && !optionsChanged ? previous.heldoutThreshold : t0
    const seen = new HashSet64()
    for (const r of keep) {
      const h = await readHashes(join(base, r.hashes))
      for (let i = 0; i < h.length; i += 2) seen.add(h[i] as number, h[i + 1] as number)
    }

    const tag = randomBytes(3).toString('hex')
    const fresh = await ingestFiles(ctx, { staging, tag, files: toIngest, options, language, counter, threshold: t0, seen, threads: req.threads, workerScript: req.workerScript, profile: req.profile, rangeBytes: req.rangeBytes })

    // Enough held-out documents? The threshold is the fraction's, or higher where that holds out
    // fewer than the minimum; every source is routed again when its threshold changes.
    let sources: SourceRecord[] = [...keep, ...fresh]
    const freshIds = new Set(fresh.map((r) => r.id))
    const keptCount = sources.reduce((n, s) => n + s.kept, 0)
    const wanted = Math.min(options.minHeldout, Math.floor(keptCount / 2))
    const keepRoutedDifferently = keep.length > 0 && previousThreshold !== t0
    let his: number[] | null = null
    const allHashHighs = async (): Promise<number[]> => {
      const out: number[] = []
      for (const s of sources) {
        const h = await readHashes(join(freshIds.has(s.id) ? staging : base, s.hashes))
        for (let i = 0; i < h.length; i += 2) out.push(h[i] as number)
      }
      return out.sort((a, b) => a - b)
    }
    let heldoutUnderT0: number
    if (keepRoutedDifferently) {
      his = await allHashHighs()
      heldoutUnderT0 = his.filter((h) => h < t0).length
    } else heldoutUnderT0 = sources.reduce((n, s) => n + s.profile.heldout.documents, 0)
    let threshold = t0
    if (heldoutUnderT0 < wanted) {
      his ??= await allHashHighs()
      threshold = (his[wanted - 1] as number) + 1
      ctx.log(`only ${heldoutUnderT0} held-out documents with ${options.heldoutFraction * 100}%; holding out the ${wanted} with the lowest hashes instead`)
    }
    if (threshold !== t0 || keepRoutedDifferently) {
      ctx.progress({ message: 'Choosing enough held-out documents…' })
      const rerouted: SourceRecord[] = []
      for (const s of sources) {
        const from = freshIds.has(s.id) ? staging : base
        const writer = new SourceWriter(staging, `${s.id}-${tag}r`, counter, threshold)
        for await (const d of shardDocuments(from, [...s.shards.train, ...s.shards.heldout])) {
          const chars = countCharacters(d.text, newScriptCounts())
          await writer.add({ text: d.text, line: d.line, hashHex: d.h, hi: parseInt(d.h.slice(0, 8), 16), lo: parseInt(d.h.slice(8), 16), bytes: Buffer.byteLength(d.text), characters: chars.characters, spacedWords: chars.spacedWords, byScript: chars.byScript })
        }
        await writer.close()
        if (freshIds.has(s.id)) for (const f of [...s.shards.train, ...s.shards.heldout]) await fs.rm(join(staging, f))
        rerouted.push({ ...s, shards: { train: writer.train.files, heldout: writer.heldout.files }, profile: { train: writer.profiles.train.build(), heldout: writer.profiles.heldout.build() } })
      }
      // Every source now has its shards in staging; unchanged ones keep their hashes and rejects where they are.
      sources = rerouted
      ctx.throwIfCancelled()
      await commit(base, staging, sources, freshIds, true)
    } else {
      await commit(base, staging, sources, freshIds, false)
    }

    const state: RoleState = {
      format: CORPUS_FORMAT,
      version: 1,
      role,
      language,
      options,
      heldoutThreshold: threshold,
      sources,
      updatedAt: new Date().toISOString(),
    }
    await writeRoleState(projectDir, state)
    committed = true
    await updateProject(projectDir, `recording the ${role} corpus`, (m) => {
      const others = m.corpora.filter((c) => c.role !== role)
      const existing = m.corpora.find((c) => c.role === role)
      return { ...m, corpora: [...others, { id: role, role, sources: sources.map((s) => s.path), addedAt: existing?.addedAt ?? state.updatedAt }] }
    })
    await removeUnreferenced(base, state)
    return roleStats(state)
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined)
    await roleLock.release()
    if (!committed) {
      // Leave no trace: not even the empty folders of a first ingest that did not finish.
      const state = await readRoleState(projectDir, role).catch(() => null)
      if (!state) await fs.rm(existedBefore ? base : corporaDir, { recursive: true, force: true }).catch(() => undefined)
      ctx.log('nothing was changed in the project')
    }
  }
}

/** Moves the new files from staging into place (names are unique, so nothing is overwritten). */
async function commit(base: string, staging: string, sources: SourceRecord[], freshIds: Set<string>, allShardsInStaging: boolean): Promise<void> {
  for (const s of sources) {
    const fresh = freshIds.has(s.id)
    if (fresh || allShardsInStaging) for (const f of [...s.shards.train, ...s.shards.heldout]) await fs.rename(join(staging, f), join(base, 'shards', f))
    if (fresh) {
      await fs.rename(join(staging, s.hashes), join(base, 'shards', s.hashes))
      if (s.rejects) await fs.rename(join(staging, s.rejects), join(base, 'rejects', s.rejects))
    }
  }
  for (const s of sources) {
    if (freshIds.has(s.id) || allShardsInStaging) s.shards = { train: s.shards.train.map((f) => join('shards', basename(f))), heldout: s.shards.heldout.map((f) => join('shards', basename(f))) }
    if (freshIds.has(s.id)) {
      s.hashes = join('shards', basename(s.hashes))
      if (s.rejects) s.rejects = join('rejects', basename(s.rejects))
    }
  }
}

/** Deletes shard, hash and reject files that corpus.json no longer names (from older ingests). */
async function removeUnreferenced(base: string, state: RoleState): Promise<void> {
  const referenced = new Set<string>()
  for (const s of state.sources) {
    for (const f of [...s.shards.train, ...s.shards.heldout, s.hashes]) referenced.add(join(base, f))
    if (s.rejects) referenced.add(join(base, s.rejects))
  }
  for (const sub of ['shards', 'rejects']) {
    for (const name of await fs.readdir(join(base, sub)).catch(() => [] as string[])) {
      const p = join(base, sub, name)
      if (!referenced.has(p)) await fs.rm(p, { force: true })
    }
  }
  for (const name of await fs.readdir(base)) if (name.startsWith('.staging-')) await fs.rm(join(base, name), { recursive: true, force: true }).catch(() => undefined)
}

