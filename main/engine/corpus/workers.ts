import { type Worker, parentPort } from 'node:worker_threads'
import { EngineError, type ErrorInfo, toErrorInfo } from '../common/errors'
import { engineThreadTask, startEngineThread, threadCount, threadScript } from '../common/threads'
import { processRange, type RangeJob, type RangeResult } from './pipeline'

/**
 * Ingest's worker threads: each runs `processRange` on the ranges it is given, one at a time, and
 * posts back the flat result (its buffers transferred, not copied). They are engine threads
 * (common/threads.ts): the script is out/main/threads.js in the built app (main/threads.ts runs
 * `runIngestWorker()` when `isIngestWorker()`), or a bundle set by tests and benchmarks. With no
 * script, or when the workers cannot start, ingest runs in the job's own thread, with the same
 * result.
 */

export const INGEST_TASK = 'ingest'

type ToWorker = { type: 'range'; id: number; job: RangeJob; parts: boolean } | { type: 'ack'; id: number }
type ToMain =
  | { type: 'hello' }
  | { type: 'bytes'; id: number; bytes: number }
  | { type: 'part'; id: number; result: RangeResult }
  | { type: 'done'; id: number; result: RangeResult }
  | { type: 'failed'; id: number; error: ErrorInfo }

/** The buffers of a result, to transfer rather than copy. */
function transferList(result: RangeResult): ArrayBuffer[] {
  return [result.kind, result.line, result.hi, result.lo, result.bytes, result.characters, result.spacedWords, result.words, result.wordStart, result.wordEnd, result.scripts, result.body, result.bodyEnd].map((a) => a.buffer as ArrayBuffer)
}

/** True in a worker thread started by `IngestPool`: the entry point should call `runIngestWorker()`. */
export function isIngestWorker(): boolean {
  return engineThreadTask()?.task === INGEST_TASK
}

/** The worker thread's side: answers range requests until terminated. */
export function runIngestWorker(): void {
  const port = parentPort
  if (!port || !isIngestWorker()) throw new Error('runIngestWorker runs only in a thread IngestPool started')
  const post = (m: ToMain, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer)
  let queue: Promise<void> = Promise.resolve()
  // A part waits for the job thread to take it before the next is made (memory stays a part or two).
  let acked: (() => void) | null = null
  port.on('message', (m: ToWorker) => {
    if (m.type === 'ack') {
      acked?.()
      acked = null
      return
    }
    queue = queue.then(async () => {
      try {
        const onPart = m.parts
          ? (part: RangeResult) =>
              new Promise<void>((resolve) => {
                acked = resolve
                post({ type: 'part', id: m.id, result: part }, transferList(part))
              })
          : undefined
        const result = await processRange(m.job, (bytes) => post({ type: 'bytes', id: m.id, bytes }), undefined, onPart)
        post({ type: 'done', id: m.id, result }, transferList(result))
      } catch (e) {
        post({ type: 'failed', id: m.id, error: toErrorInfo(e) })
      }
    })
  })
  post({ type: 'hello' })
}

/** The threads ingest uses: `VERNACULAR_THREADS` when set (1: the job's own thread only), else every core. */
export const ingestThreads = threadCount

/** The engine threads' script (out/main/threads.js beside the running bundle, or the one set), when there is one. */
export const defaultIngestWorkerScript = threadScript

function fromInfo(info: ErrorInfo): EngineError {
  const opts: { hint?: string; file?: string; details?: string[] } = {}
  if (info.hint !== undefined) opts.hint = info.hint
  if (info.file !== undefined) opts.file = info.file
  if (info.details !== undefined) opts.details = info.details
  return new EngineError(info.code, info.message, opts)
}

/** What a range gives its caller as it goes: bytes read, and (for a job with `partBytes`) its records but the last part. */
export interface RangeListener {
  onBytes: (bytes: number) => void
  onPart?: ((part: RangeResult) => Promise<void>) | undefined
}

/** Runs ranges: in worker threads, or here. */
export interface RangeExecutor {
  readonly threads: number
  /** Runs a range; resolves with its records (with `onPart`, the last part of them). */
  run(job: RangeJob, listener: RangeListener): Promise<RangeResult>
  close(): Promise<void>
}

export function inlineExecutor(signal?: AbortSignal): RangeExecutor {
  return { threads: 1, run: (job, l) => processRange(job, l.onBytes, signal, l.onPart), close: async () => undefined }
}

interface Slot {
  worker: Worker
  busy: { id: number; resolve: (r: RangeResult) => void; reject: (e: Error) => void; listener: RangeListener } | null
  dead: Error | null
}

/** A fixed set of worker threads, each taking the next waiting range. */
export class IngestPool implements RangeExecutor {
  private readonly slots: Slot[] = []
  private readonly waiting: { job: RangeJob; listener: RangeListener; resolve: (r: RangeResult) => void; reject: (e: Error) => void }[] = []
  private nextId = 1
  private closed = false

  private constructor(readonly threads: number) {}

  /** Starts `threads` workers from `script` and waits for each to answer; null when they cannot start. */
  static async start(threads: number, script: string | URL, log: (line: string) => void): Promise<IngestPool | null> {
    const pool = new IngestPool(threads)
    try {
      await Promise.all(
        Array.from({ length: threads }, async () => {
          const worker = startEngineThread(script, INGEST_TASK, null)
          const slot: Slot = { worker, busy: null, dead: null }
          pool.slots.push(slot)
          await new Promise<void>((resolve, reject) => {
            const done = (e: Error | null) => {
              clearTimeout(timer)
              worker.off('message', onMessage)
              worker.off('error', onError)
              worker.off('exit', onExit)
              if (e) reject(e)
              else resolve()
            }
            const timer = setTimeout(() => done(new Error(`no answer within 30 s (its entry point must call runIngestWorker() when isIngestWorker())`)), 30_000)
            const onMessage = (m: ToMain) => done(m.type === 'hello' ? null : new Error(`unexpected first message ${m.type}`))
            const onError = (e: Error) => done(e)
            const onExit = (code: number) => done(new Error(`exited with code ${code}`))
            worker.on('message', onMessage)
            worker.on('error', onError)
            worker.on('exit', onExit)
          })
          pool.attach(slot)
        }),
      )
      return pool
    } catch (e) {
      log(`ingest threads could not start from ${String(script)} (${(e as Error).message}); ingesting on one thread`)
      await pool.close()
      return null
    }
  }

  private attach(slot: Slot): void {
    const w = slot.worker
    w.on('message', (m: ToMain) => {
      const b = slot.busy
      if (!b || m.type === 'hello' || m.id !== b.id) return
      if (m.type === 'bytes') return b.listener.onBytes(m.bytes)
      if (m.type === 'part') {
        const id = m.id
        void (b.listener.onPart as (p: RangeResult) => Promise<void>)(m.result).then(
          () => w.postMessage({ type: 'ack', id } satisfies ToWorker),
          (e: unknown) => {
            // the caller could not take the part (the job fails): the range fails with it
            if (slot.busy?.id !== id) return
            slot.busy = null
            b.reject(e as Error)
            void w.terminate()
          },
        )
        return
      }
      slot.busy = null
      if (m.type === 'done') b.resolve(m.result)
      else b.reject(fromInfo(m.error))
      this.pump()
    })
    const die = (e: Error) => {
      if (slot.dead) return
      slot.dead = e
      const b = slot.busy
      slot.busy = null
      const err = new EngineError('internal', `An ingest thread stopped: ${e.message}.`, { hint: 'Nothing was changed in the project. Ingest on one thread (VERNACULAR_THREADS=1) to go on, and report the failure.' })
      b?.reject(err)
      // A dead pool fails the ranges still waiting too: the job fails as a whole.
      if (!this.slots.some((s) => !s.dead)) for (const x of this.waiting.splice(0)) x.reject(err)
    }
    w.on('error', die)
    w.on('exit', (code) => {
      if (!this.closed) die(new Error(`it exited with code ${code}`))
    })
  }

  run(job: RangeJob, listener: RangeListener): Promise<RangeResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, listener, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy || slot.dead) continue
      const next = this.waiting.shift()
      if (!next) return
      const id = this.nextId++
      slot.busy = { id, resolve: next.resolve, reject: next.reject, listener: next.listener }
      slot.worker.postMessage({ type: 'range', id, job: next.job, parts: next.listener.onPart !== undefined } satisfies ToWorker)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const cancelled = new EngineError('cancelled', 'cancelled')
    for (const x of this.waiting.splice(0)) x.reject(cancelled)
    for (const s of this.slots) {
      s.busy?.reject(cancelled)
      s.busy = null
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => undefined)))
  }
}
