import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { endianness } from 'node:os'
import { basename, join } from 'node:path'
import type { IngestOptions, RemovalReason } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import type { HashSet64 } from './hashset'
import { addPhases, emptyPhases, KEEP, WORD_SEPARATOR, planRanges, processRange, RANGE_BYTES, REJECT_REASONS, type PhaseTimes, type RangeJob, type RangeResult } from './pipeline'
import { ProfileBuilder } from './profile'
import { detectTxtMode, type ByteRange, type SourceFile } from './readers'
import type { SourceRecord } from './store'
import { defaultIngestWorkerScript, IngestPool, ingestThreads, inlineExecutor, type RangeExecutor } from './workers'
import type { WordCounter } from './words'

/**
 * The job's side of ingest: plans the ranges of every file, has them processed (in worker threads,
 * or here), and merges their records in file order — dedupe against every document before, the
 * train/held-out split, shards, rejects, profiles — so that the output is the same byte for byte
 * whatever the number of threads.
 */

export const SHARD_BYTES = 64 * 1024 * 1024
/** Bytes gathered before a write. */
const WRITE_CHUNK = 1 << 20

export function sourceId(path: string): string {
  return createHash('sha1').update(path).digest('hex').slice(0, 10)
}

async function sha256Of(path: string, phases: PhaseTimes | null): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const t = phases ? performance.now() : 0
    hash.update(chunk as Buffer)
    if (phases) phases.checksum += (performance.now() - t) / 1000
  }
  return hash.digest('hex')
}

/**
 * Output files written in order from bytes gathered in memory: `line` then `ascii`/`bytes` appends
 * to the current file (synchronously); `drain` writes what was gathered. With a `limit`, a new file
 * is started when the current one has reached it (shards), else there is one file (rejects).
 */
class OutFiles {
  readonly files: string[] = []
  private inFile = 0
  private buf: Buffer = Buffer.allocUnsafe(WRITE_CHUNK)
  private used = 0
  private readonly queue: { file: string; buf: Buffer; len: number }[] = []
  private handle: FileHandle | null = null
  private handleFile = ''

  constructor(
    private readonly dir: string,
    private readonly name: (index: number) => string,
    private readonly limit: number,
    private readonly sync: boolean,
  ) {}

  /** Starts a line of `bytes` bytes (rolling to a new file first when the current one is full). */
  line(bytes: number): void {
    if (this.files.length === 0 || this.inFile >= this.limit) {
      this.cut()
      this.files.push(this.name(this.files.length))
      this.inFile = 0
    }
    this.inFile += bytes
  }

  ascii(s: string): void {
    if (this.used + s.length > this.buf.length) this.cut(s.length)
    this.used += this.buf.write(s, this.used, 'latin1')
  }

  bytes(b: Uint8Array, start: number, end: number): void {
    if (this.used + end - start > this.buf.length) this.cut(end - start)
    this.buf.set(b.subarray(start, end), this.used)
    this.used += end - start
  }

  /** Queues the gathered bytes for the current file, and starts a new buffer (of at least `need` bytes). */
  private cut(need = 0): void {
    if (this.used > 0) this.queue.push({ file: this.files.at(-1) as string, buf: this.buf, len: this.used })
    this.buf = Buffer.allocUnsafe(Math.max(WRITE_CHUNK, need))
    this.used = 0
  }

  async drain(): Promise<void> {
    for (const q of this.queue.splice(0)) {
      if (this.handleFile !== q.file) {
        await this.closeHandle()
        this.handle = await fs.open(join(this.dir, q.file), 'wx')
        this.handleFile = q.file
      }
      let off = 0
      while (off < q.len) off += (await (this.handle as FileHandle).write(q.buf, off, q.len - off)).bytesWritten
    }
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle
    this.handle = null
    if (!h) return
    // Data must be on disk before corpus.json points at it.
    if (this.sync) await h.sync()
    await h.close()
  }

  async close(): Promise<void> {
    this.cut()
    await this.drain()
    await this.closeHandle()
  }
}

/**
 * A source's kept hashes, written as they come (little-endian uint32 pairs, hi then lo) in 1 MiB
 * pieces, so that memory does not grow with the source.
 */
class HashListFile {
  private buf = new Uint32Array(HASH_PIECE)
  private n = 0
  private readonly full: Uint32Array[] = []
  private handle: FileHandle | null = null
  /** Hashes pushed. */
  count = 0

  constructor(private readonly path: string) {}

  push(hi: number, lo: number): void {
    if (this.n === this.buf.length) {
      this.full.push(this.buf)
      this.buf = new Uint32Array(HASH_PIECE)
      this.n = 0
    }
    this.buf[this.n++] = hi
    this.buf[this.n++] = lo
    this.count++
  }

  async drain(): Promise<void> {
    this.handle ??= await fs.open(this.path, 'wx')
    for (const piece of this.full.splice(0)) await this.write(piece)
  }

  async close(): Promise<void> {
    await this.drain()
    await this.write(this.buf.subarray(0, this.n))
    this.n = 0
    const h = this.handle as FileHandle
    this.handle = null
    // Data must be on disk before corpus.json points at it.
    await h.sync()
    await h.close()
  }

  private async write(words: Uint32Array): Promise<void> {
    // On a little-endian machine (x64, arm64) the words' own bytes, without a copy.
    let buf: Buffer
    if (endianness() === 'LE') buf = Buffer.from(words.buffer, words.byteOffset, words.length * 4)
    else {
      buf = Buffer.alloc(words.length * 4)
      for (let i = 0; i < words.length; i++) buf.writeUInt32LE(words[i] as number, i * 4)
    }
    let off = 0
    while (off < buf.length) off += (await (this.handle as FileHandle).write(buf, off, buf.length - off)).bytesWritten
  }
}

/** Words (two a hash) in a piece of a hash list: 1 MiB. */
const HASH_PIECE = 1 << 18

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

/** One source's merge: its records, range after range, in file order. */
class SourceMerge {
  readonly train: OutFiles
  readonly heldout: OutFiles
  readonly rejects: OutFiles
  readonly profiles: { train: ProfileBuilder; heldout: ProfileBuilder }
  readonly hashes: HashListFile
  readonly removed: Partial<Record<RemovalReason, number>> = {}
  documentsRead = 0
  invalidBytesReplaced = 0
  /** Lines of the ranges merged so far. */
  lineBase = 0
  private readonly decoder = new TextDecoder()
  /** Seconds spent in the profiles' word tallies, when timed. */
  tallySeconds = 0

  constructor(
    dir: string,
    prefix: string,
    readonly rejectsName: string,
    readonly hashesName: string,
    private readonly counter: WordCounter,
    private readonly threshold: number,
    private readonly seen: HashSet64,
  ) {
    const shardName = (split: string) => (i: number) => `${prefix}-${split}-${String(i).padStart(5, '0')}.jsonl`
    this.train = new OutFiles(dir, shardName('train'), SHARD_BYTES, true)
    this.heldout = new OutFiles(dir, shardName('heldout'), SHARD_BYTES, true)
    this.rejects = new OutFiles(dir, () => rejectsName, Infinity, false)
    this.hashes = new HashListFile(join(dir, hashesName))
    this.profiles = { train: new ProfileBuilder(counter), heldout: new ProfileBuilder(counter) }
  }

  add(r: RangeResult, segmenter: boolean, timed = false): void {
    const shift = this.lineBase - r.lineBase
    const S = r.scriptCount
    let bodyStart = 0
    let s = 0
    for (let i = 0; i < r.count; i++) {
      const bodyEnd = r.bodyEnd[i] as number
      const kind = r.kind[i] as number
      const line = (r.line[i] as number) + shift
      if (kind !== KEEP) {
        const reason = REJECT_REASONS[kind - 1] as RemovalReason
        this.removed[reason] = (this.removed[reason] ?? 0) + 1
        const head = `{"reason":"${reason}","line":${line}`
        this.rejects.line(head.length + bodyEnd - bodyStart + 1)
        this.rejects.ascii(head)
        this.rejects.bytes(r.body, bodyStart, bodyEnd)
        this.rejects.ascii('\n')
      } else {
        const hi = r.hi[i] as number
        const lo = r.lo[i] as number
        const hashHex = hex8(hi) + hex8(lo)
        if (!this.seen.add(hi, lo)) {
          this.removed.duplicate = (this.removed.duplicate ?? 0) + 1
          const rec = `{"reason":"duplicate","line":${line},"h":"${hashHex}"}\n`
          this.rejects.line(rec.length)
          this.rejects.ascii(rec)
        } else {
          const split = hi < this.threshold ? 'heldout' : 'train'
          const out = this[split]
          const head = `{"h":"${hashHex}","line":${line},"text":`
          out.line(head.length + bodyEnd - bodyStart + 2)
          out.ascii(head)
          out.bytes(r.body, bodyStart, bodyEnd)
          out.ascii('}\n')
          const from = bodyStart
          const ws = r.wordStart[i] as number
          const we = r.wordEnd[i] as number
          const tally =
            we >= 0
              ? (onWord: (w: string) => void) => {
                  if (we > ws) for (const w of r.wordList.slice(ws, we).split(WORD_SEPARATOR)) onWord(w)
                  return r.words[i] as number
                }
              : (onWord: (w: string) => void) => this.counter.count(JSON.parse(this.decoder.decode(r.body.subarray(from, bodyEnd))) as string, onWord)
          const profile = this.profiles[split]
          const t = timed ? performance.now() : 0
          profile.addCounted(r.bytes[i] as number, r.characters[i] as number, segmenter ? (r.words[i] as number) : (r.spacedWords[i] as number), hi, tally)
          if (timed) this.tallySeconds += (performance.now() - t) / 1000
          profile.addScripts(r.scripts.subarray(s, s + S))
          this.hashes.push(hi, lo)
        }
        s += S
      }
      bodyStart = bodyEnd
    }
    this.lineBase += r.lines
    this.documentsRead += r.documentsRead
    this.invalidBytesReplaced += r.invalidBytesReplaced
  }

  async drain(): Promise<void> {
    await this.train.drain()
    await this.heldout.drain()
    await this.rejects.drain()
    await this.hashes.drain()
  }

  async close(): Promise<void> {
    await this.train.close()
    await this.heldout.close()
    await this.rejects.close()
    await this.hashes.close()
  }
}

export interface IngestFilesInput {
  staging: string
  tag: string
  files: SourceFile[]
  options: IngestOptions
  language: string
  counter: WordCounter
  threshold: number
  seen: HashSet64
  threads?: number | undefined
  workerScript?: string | URL | null | undefined
  profile?: PhaseTimes | undefined
  rangeBytes?: number | undefined
}

interface Task {
  file: number
  job: RangeJob
  bytes: number
  /**
   * A file that is one range however large (.gz, CSV/TSV, or a file planRanges could not cut):
   * its records come in parts, merged as they come, and it starts only when the merge reaches it.
   */
  streamed: boolean
}

/** Ingests `files` into `staging`, in order; returns their records. */
export async function ingestFiles(ctx: JobContext, input: IngestFilesInput): Promise<SourceRecord[]> {
  const { options, files } = input
  // Plan: each file's mode, stat and ranges.
  const plans: { txtMode: 'line' | 'blank' | null; stat: { size: number; mtimeMs: number }; ranges: (ByteRange | undefined)[] }[] = []
  const tasks: Task[] = []
  for (const [fi, file] of files.entries()) {
    const stat = await fs.stat(file.path)
    const txtMode = file.format === 'txt' ? (options.txtMode === 'auto' ? await detectTxtMode(file) : options.txtMode) : null
    const ranges: (ByteRange | undefined)[] = (await planRanges(file, txtMode, input.rangeBytes)) ?? [undefined]
    plans.push({ txtMode, stat, ranges })
    const jobOptions = { invalidUtf8: options.invalidUtf8, jsonlField: options.jsonlField, csvColumn: options.csvColumn, minChars: options.minChars, scriptThreshold: options.scriptThreshold, txtMode: txtMode ?? 'line' }
    const partBytes = input.rangeBytes ?? RANGE_BYTES
    for (const range of ranges) {
      const streamed = !range && (file.compressed || file.bytes > partBytes)
      tasks.push({ file: fi, job: { file, options: jobOptions, language: input.language, threshold: input.threshold, ...(range ? { range } : {}), ...(input.profile ? { profile: true } : {}), ...(streamed ? { partBytes } : {}) }, bytes: range ? range.end - range.start : file.bytes, streamed })
    }
  }

  const requested = input.threads ?? ingestThreads()
  const threads = Math.max(1, Math.min(requested, tasks.length))
  const script = input.workerScript === undefined ? defaultIngestWorkerScript() : input.workerScript
  let executor: RangeExecutor = inlineExecutor(ctx.signal)
  if (threads > 1 && script) executor = (await IngestPool.start(threads, script, (l) => ctx.log(l))) ?? executor
  ctx.log(`ingesting ${files.length} file${files.length === 1 ? '' : 's'} in ${tasks.length} range${tasks.length === 1 ? '' : 's'} on ${executor.threads} thread${executor.threads === 1 ? '' : 's'}`)
  const abort = () => void executor.close()
  ctx.signal.addEventListener('abort', abort)

  const totalBytes = files.reduce((n, f) => n + f.bytes, 0)
  const taskBytes = new Float64Array(tasks.length)
  let doneBytes = 0
  let shownBytes = 0
  let current = ''
  let documents = 0
  const mb = (n: number) => (n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0)
  const report = () => {
    // Bytes read by every thread: monotone, and smooth whatever order the ranges finish in.
    shownBytes = Math.max(shownBytes, Math.min(doneBytes, totalBytes))
    ctx.progress({ done: shownBytes, total: totalBytes, message: `${current}: ${documents.toLocaleString('en')} documents · ${mb(shownBytes)} of ${mb(totalBytes)} MB` })
  }
  const onBytes = (k: number) => (n: number) => {
    const capped = Math.min(n, (tasks[k] as Task).bytes)
    if (capped > (taskBytes[k] as number)) {
      doneBytes += capped - (taskBytes[k] as number)
      taskBytes[k] = capped
      report()
    }
  }

  const fresh: SourceRecord[] = []
  const window = executor.threads === 1 ? 1 : executor.threads + 2
  const pending: (Promise<RangeResult> | undefined)[] = []
  let launched = 0
  const launch = (upTo: number) => {
    for (; launched < tasks.length && launched < upTo; launched++) {
      const task = tasks[launched] as Task
      if (task.streamed) continue // started when the merge reaches it
      const p = executor.run(task.job, { onBytes: onBytes(launched) })
      p.catch(() => undefined) // awaited in order below
      pending[launched] = p
    }
  }
  const phases = input.profile ? emptyPhases() : null
  const now = () => performance.now() / 1000
  try {
    let k = 0
    for (const [fi, file] of files.entries()) {
      const plan = plans[fi] as (typeof plans)[number]
      const id = sourceId(file.path)
      const sha = sha256Of(file.path, phases)
      sha.catch(() => undefined)
      const hashesFile = `${id}-${input.tag}.hashes`
      const merge = new SourceMerge(input.staging, `${id}-${input.tag}`, `${id}-${input.tag}.rejects.jsonl`, hashesFile, input.counter, input.threshold, input.seen)
      current = basename(file.path)
      const txtMode = plan.txtMode
      ctx.log(`reading ${file.path} (${file.format}${file.compressed ? '.gz' : ''}${txtMode ? `, ${txtMode === 'line' ? 'one document per line' : 'documents separated by blank lines'}` : ''})`)
      const first = tasks[k] as Task
      if (first.streamed) ctx.log(`${basename(file.path)} is read as one stream (${file.compressed ? 'compressed' : file.format === 'csv' || file.format === 'tsv' ? 'quoted fields may span lines' : 'no document boundary to cut at'}); its records are merged in parts of ${mb(first.job.partBytes ?? 0)} MB`)
      for (let r = 0; r < plan.ranges.length; r++, k++) {
        launch(k + window)
        const mergeResult = async (result: RangeResult) => {
          const t = now()
          merge.add(result, input.counter.segmenter, phases !== null)
          documents += result.documentsRead
          const t1 = now()
          await merge.drain()
          if (phases) {
            if (result.phases) addPhases(phases, result.phases)
            phases.merge += t1 - t
            phases.write += now() - t1
          }
          report()
        }
        let result: RangeResult
        try {
          const task = tasks[k] as Task
          result = await (task.streamed
            ? executor.run(task.job, {
                onBytes: onBytes(k),
                onPart: async (part) => {
                  ctx.throwIfCancelled()
                  await mergeResult(part)
                },
              })
            : (pending[k] as Promise<RangeResult>))
        } catch (e) {
          ctx.throwIfCancelled()
          const task = tasks[k] as Task
          // A range that fails on its data fails the same way here, where its line numbers are known.
          if (!(e instanceof EngineError) || e.code === 'internal' || !task.job.range || task.job.range.start === 0) throw e
          result = await processRange({ ...task.job, range: { ...task.job.range, lineBase: merge.lineBase } }, undefined, ctx.signal)
        }
        pending[k] = undefined
        ctx.throwIfCancelled()
        onBytes(k)((tasks[k] as Task).bytes)
        await mergeResult(result)
      }
      ctx.throwIfCancelled()
      if (phases) {
        phases.tally += merge.tallySeconds
        phases.merge -= merge.tallySeconds
      }
      const t = now()
      await merge.close()
      if (phases) phases.write += now() - t
      const kept = merge.hashes.count
      fresh.push({
        id,
        path: file.path,
        format: file.format,
        compressed: file.compressed,
        bytes: plan.stat.size,
        mtimeMs: plan.stat.mtimeMs,
        sha256: await sha,
        txtMode,
        documentsRead: merge.documentsRead,
        kept,
        removed: merge.removed,
        invalidBytesReplaced: merge.invalidBytesReplaced,
        shards: { train: merge.train.files, heldout: merge.heldout.files },
        rejects: merge.rejects.files[0] ?? null,
        hashes: hashesFile,
        profile: { train: merge.profiles.train.build(), heldout: merge.profiles.heldout.build() },
      })
      ctx.log(`${file.path}: ${merge.documentsRead} documents read, ${kept} kept, removed ${JSON.stringify(merge.removed)}`)
    }
  } finally {
    ctx.signal.removeEventListener('abort', abort)
    await executor.close()
  }
  if (phases && input.profile) addPhases(input.profile, phases)
  return fresh
}
