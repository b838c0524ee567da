/**
 * Data-parallel gradients on every CPU core: the rows of each micro-batch are split among this
 * thread and worker threads (`worker_threads`), each with its own tfjs backend and its own copy
 * of the model, and their gradients are added up here.
 *
 * Why: tfjs's wasm backend runs one thread in Node (its threaded build is switched off there,
 * tfjs issue 3830; see docs/performance.md, "Every CPU core"), so a step used one core of many.
 *
 * Exactly the full micro-batch's gradient: a share of rows [from, to) computes the gradient of
 * factor × its own loss, where factor = the share's loss weight / the micro-batch's (Σ weights, or
 * its positions when unweighted). The micro-batch's loss is the weighted mean over all its rows,
 * Σ_s (W_s / W) · loss_s, so the shares' scaled gradients add up to its gradient; only float32
 * rounding differs (the sums run in another order).
 *
 * Memory is shared through SharedArrayBuffers: one with every weight (this thread writes it after
 * each update, workers read it before their next share) and one gradient buffer per worker (the
 * worker writes its share's gradients; this thread adds them to its own). Each worker thus holds
 * the model's weights three times (its backend's, the shared copy, its gradients) and its share's
 * activations; `maxThreadsFor` keeps that within the memory the machine has.
 *
 * A worker thread runs a script: a bundle whose entry point calls `runGradientWorker()` when
 * `isGradientWorker()` (main/worker.ts, the benchmarks, the tests' bundle). Workers are
 * terminated by `dispose`, never keep the process alive while idle, and any failure of theirs
 * rejects the step with its message; the runner is then broken and says so.
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core'
import { freemem } from 'node:os'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { threadCount } from '../common/threads'
import { type Tf, selectBackend } from '../backend/select'
import { EngineError, type ErrorCode, type ErrorInfo, toErrorInfo } from '../common/errors'
import type { ModelConfig } from './config'
import { CausalLM } from './model'
import { type FlatMicroBatch, type GradientRunner, type ShareResult, rowsWeight, shareGradients } from './train'

const WORKER_KIND = 'vernacular-gradient-worker'

/** Where a parameter lives in the shared buffers (in floats), in the model's held layout. */
interface Slot {
  name: string
  offset: number
  size: number
}

interface WorkerInit {
  kind: typeof WORKER_KIND
  backend: 'wasm' | 'cpu'
  config: ModelConfig
  slots: Slot[]
  weights: SharedArrayBuffer
  grads: SharedArrayBuffer
}

/** A share of a micro-batch, for a worker (typed arrays are copied by postMessage: B × T numbers). */
interface ShareRequest {
  type: 'share'
  id: number
  /** The weights' version: the worker refreshes its copy when its own is older. */
  version: number
  recompute: boolean
  names: string[]
  factor: number
  B: number
  T: number
  inputs: Int32Array
  targets: Int32Array
  weights: Float32Array | null
  segments: Int32Array | null
  positions: Int32Array | null
}

type ToMain =
  | { type: 'hello' }
  | { type: 'ready' }
  | { type: 'done'; id: number; loss: number; rowLosses: number[]; present: boolean[] }
  | { type: 'failed'; id: number | null; error: ErrorInfo }

/** True in a worker thread started by `DataParallel`: the entry point should call `runGradientWorker()`. */
export function isGradientWorker(): boolean {
  return !isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND
}

/** Contiguous shares of B rows among n threads, as even as possible: [from, to) each, none empty. */
export function splitRows(B: number, n: number): [number, number][] {
  const k = Math.max(1, Math.min(B, n))
  const out: [number, number][] = []
  for (let i = 0; i < k; i++) out.push([Math.floor((i * B) / k), Math.floor(((i + 1) * B) / k)])
  return out
}

/**
 * The threads training should use on this machine: `VERNACULAR_THREADS` when set (1 turns data
 * parallelism off), else every core (common/threads.ts).
 */
export function requestedThreads(env: NodeJS.ProcessEnv = process.env): number {
  return threadCount(env)
}

/**
 * At most `requested` threads such that the extra memory (a shared copy of the weights, and per
 * worker its own weights and gradients) stays within half the free memory; at least 1.
 */
export function maxThreadsFor(requested: number, parameterCount: number, free = freemem()): number {
  const bytes = 4 * parameterCount
  let n = Math.max(1, requested)
  while (n > 1 && bytes + (n - 1) * 3 * bytes > free / 2) n--
  return n
}

/** Whether data parallelism applies to a backend: wasm and cpu run one thread; native and GPU backends have their own. */
export function parallelBackend(tf: Tf): 'wasm' | 'cpu' | null {
  const b = tf.getBackend()
  return b === 'wasm' || b === 'cpu' ? b : null
}

interface Pending {
  resolve: (r: { loss: number; rowLosses: number[]; present: boolean[] }) => void
  reject: (e: Error) => void
}

class WorkerHandle {
  readonly pending = new Map<number, Pending>()
  constructor(
    readonly worker: Worker,
    readonly grads: Float32Array,
  ) {}
}

export class DataParallel implements GradientRunner {
  private version = 0
  private synced = -1
  private nextId = 1
  private broken: Error | null = null
  private disposed = false

  private constructor(
    private readonly tf: Tf,
    private readonly model: CausalLM,
    private readonly slots: Map<string, Slot>,
    private readonly weights: Float32Array,
    private readonly workers: WorkerHandle[],
  ) {}

  /** Threads in all, this one included. */
  get threads(): number {
    return this.workers.length + 1
  }

  /**
   * Starts `threads − 1` worker threads running `script` (see the top of this file) for `model`,
   * on the backend this thread uses (wasm or cpu). Resolves when every worker has its model.
   */
  static async start(model: CausalLM, opts: { threads: number; script: string | URL; startTimeoutMs?: number }): Promise<DataParallel> {
    const tf = model.tf
    const backend = parallelBackend(tf)
    if (!backend) throw new EngineError('invalid-request', `Data-parallel training runs on the wasm and cpu backends, not on ${tf.getBackend()}.`, { hint: 'Use one thread (VERNACULAR_THREADS=1) on this backend.' })
    if (!(opts.threads >= 2)) throw new Error('DataParallel needs at least 2 threads')
    const slots = new Map<string, Slot>()
    let total = 0
    for (const [name, v] of model.params) {
      slots.set(name, { name, offset: total, size: v.size })
      total += v.size
    }
    const weightsBuffer = new SharedArrayBuffer(4 * total)
    const handles: WorkerHandle[] = []
    const started: Promise<void>[] = []
    for (let i = 1; i < opts.threads; i++) {
      const grads = new SharedArrayBuffer(4 * total)
      const init: WorkerInit = { kind: WORKER_KIND, backend, config: model.config, slots: [...slots.values()], weights: weightsBuffer, grads }
      let worker: Worker
      try {
        worker = new Worker(opts.script, { workerData: init })
      } catch (e) {
        for (const h of handles) void h.worker.terminate()
        throw workerError(`could not start a training thread from ${String(opts.script)}: ${(e as Error).message}`)
      }
      const handle = new WorkerHandle(worker, new Float32Array(grads))
      handles.push(handle)
      started.push(whenReady(handle, String(opts.script), opts.startTimeoutMs ?? 30_000))
    }
    const dp = new DataParallel(tf, model, slots, new Float32Array(weightsBuffer), handles)
    try {
      await Promise.all(started)
    } catch (e) {
      await dp.dispose()
      throw e
    }
    for (const h of handles) dp.watch(h)
    return dp
  }

  weightsChanged(): void {
    this.version++
  }

  /** The micro-batch's rows split among the threads; the result as `shareGradients` over all of them gives it. */
  async gradients(model: CausalLM, mb: FlatMicroBatch, names: readonly string[]): Promise<ShareResult> {
    if (model !== this.model) throw new Error('DataParallel was started for another model')
    if (this.disposed) throw new Error('DataParallel was disposed')
    if (this.broken) throw this.broken
    const tf = this.tf
    const shares = splitRows(mb.B, this.threads)
    const total = rowsWeight(mb, 0, mb.B)
    const factors = shares.map(([from, to]) => (total > 0 ? rowsWeight(mb, from, to) / total : 0))
    if (this.synced !== this.version) this.publishWeights()
    const T = mb.T
    const sub = <A extends Int32Array | Float32Array>(a: A, from: number, to: number) => a.slice(from * T, to * T) as A
    // Workers take shares 1…; this thread the first.
    const remote = shares.slice(1).map(([from, to], i) => {
      const h = this.workers[i] as WorkerHandle
      const request: ShareRequest = {
        type: 'share',
        id: this.nextId++,
        version: this.version,
        recompute: this.model.recompute,
        names: [...names],
        factor: factors[i + 1] as number,
        B: to - from,
        T,
        inputs: sub(mb.inputs, from, to),
        targets: sub(mb.targets, from, to),
        weights: mb.weights && sub(mb.weights, from, to),
        segments: mb.layout && sub(mb.layout.segments, from, to),
        positions: mb.layout && sub(mb.layout.positions, from, to),
      }
      return this.send(h, request)
    })
    // Failures of the remote shares are awaited below; none may go unhandled meanwhile.
    for (const p of remote) p.catch(() => undefined)
    const [from0, to0] = shares[0] as [number, number]
    let own: ShareResult
    try {
      own = await shareGradients(this.model, mb, from0, to0, factors[0] as number, names)
    } catch (e) {
      await Promise.allSettled(remote)
      throw e
    }
    const grads = own.grads
    try {
      const results = await Promise.all(remote)
      let loss = own.loss
      const rowLosses = [...own.rowLosses]
      results.forEach((r, i) => {
        loss += r.loss
        rowLosses.push(...r.rowLosses)
        const buf = (this.workers[i] as WorkerHandle).grads
        names.forEach((name, j) => {
          if (!r.present[j]) return
          const slot = this.slots.get(name) as Slot
          const view = buf.subarray(slot.offset, slot.offset + slot.size)
          const shape = (this.model.params.get(name) as Variable).shape
          const prev = grads.get(name)
          // The cpu backend keeps the array it is given as the tensor's storage: hand it a copy.
          const theirs = tf.tensor(parallelBackend(tf) === 'wasm' ? view : view.slice(), shape, 'float32')
          if (!prev) grads.set(name, theirs)
          else {
            grads.set(name, tf.add(prev, theirs))
            tf.dispose([prev, theirs])
          }
        })
      })
      return { loss, grads, rowLosses }
    } catch (e) {
      tf.dispose([...grads.values()])
      throw e
    }
  }

  /** Terminates the workers (idempotent). */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    const err = new EngineError('cancelled', 'The training threads were stopped.')
    for (const h of this.workers) for (const p of h.pending.values()) p.reject(err)
    await Promise.all(this.workers.map((h) => h.worker.terminate().catch(() => undefined)))
  }

  /** Writes this thread's weights into the shared buffer (the workers read them with the next share). */
  private publishWeights(): void {
    for (const [name, v] of this.model.params) copyInto(this.tf, v, this.weights, (this.slots.get(name) as Slot).offset)
    this.synced = this.version
  }

  private send(h: WorkerHandle, request: ShareRequest): Promise<{ loss: number; rowLosses: number[]; present: boolean[] }> {
    return new Promise((resolve, reject) => {
      h.pending.set(request.id, { resolve, reject })
      // Held by the process only while it works on a share: an idle worker never keeps it alive.
      h.worker.ref()
      h.worker.postMessage(request)
    })
  }

  private watch(h: WorkerHandle): void {
    const fail = (e: Error) => {
      if (this.disposed) return
      this.broken ??= e
      for (const p of h.pending.values()) p.reject(e)
      h.pending.clear()
    }
    h.worker.on('message', (m: ToMain) => {
      if (m.type === 'done' || m.type === 'failed') {
        const p = m.id === null ? null : h.pending.get(m.id)
        if (m.type === 'failed') {
          const e = fromInfo(m.error)
          if (p) {
            h.pending.delete(m.id as number)
            p.reject(e)
          } else fail(e)
        } else if (p) {
          h.pending.delete(m.id)
          p.resolve(m)
        }
        if (h.pending.size === 0) h.worker.unref()
      }
    })
    h.worker.on('error', (e) => fail(workerError(`a training thread failed: ${e.message}`)))
    h.worker.on('exit', (code) => fail(workerError(`a training thread exited (code ${code}) in the middle of training`)))
    h.worker.unref()
  }
}

/**
 * Copies a float32 tensor's values into `target` at `offset`. On wasm, straight from the backend's
 * memory (`dataSync` would first copy them into a fresh array: tens of MB a step, and fresh memory
 * is slow to touch on some machines, see docs/performance.md).
 */
function copyInto(tf: Tf, t: Tensor, target: Float32Array, offset: number): void {
  if (tf.getBackend() === 'wasm') {
    const b = tf.backend() as unknown as { dataIdMap?: { get(id: object): { memoryOffset?: number } | undefined }; wasm?: { HEAPU8?: Uint8Array } }
    const info = b.dataIdMap?.get(t.dataId)
    const heap = b.wasm?.HEAPU8
    if (info && typeof info.memoryOffset === 'number' && heap) {
      target.set(new Float32Array(heap.buffer, info.memoryOffset, t.size), offset)
      return
    }
  }
  target.set(t.dataSync() as Float32Array, offset)
}

function workerError(message: string): EngineError {
  return new EngineError('internal', message.charAt(0).toUpperCase() + message.slice(1) + '.', { hint: 'Train on one thread (VERNACULAR_THREADS=1) to go on, and report the failure.' })
}

function fromInfo(info: ErrorInfo): EngineError {
  const opts: { hint?: string; file?: string; details?: string[] } = {}
  if (info.hint !== undefined) opts.hint = info.hint
  if (info.file !== undefined) opts.file = info.file
  if (info.details !== undefined) opts.details = info.details
  return new EngineError(info.code as ErrorCode, info.message, opts)
}

/** Resolves when the worker has its model; rejects on its failure, its exit, or silence past the timeout. */
function whenReady(h: WorkerHandle, script: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let greeted = false
    const timer = setTimeout(() => {
      if (!greeted) done(workerError(`a training thread started from ${script} did not answer within ${Math.round(timeoutMs / 1000)} s (its entry point must call runGradientWorker() when isGradientWorker())`))
    }, timeoutMs)
    const onMessage = (m: ToMain) => {
      if (m.type === 'hello') greeted = true
      else if (m.type === 'ready') done(null)
      else if (m.type === 'failed') done(fromInfo(m.error))
    }
    const onError = (e: Error) => done(workerError(`a training thread failed to start: ${e.message}`))
    const onExit = (code: number) => done(workerError(`a training thread exited (code ${code}) while starting`))
    const done = (e: Error | null) => {
      clearTimeout(timer)
      h.worker.off('message', onMessage)
      h.worker.off('error', onError)
      h.worker.off('exit', onExit)
      if (e) reject(e)
      else resolve()
    }
    h.worker.on('message', onMessage)
    h.worker.on('error', onError)
    h.worker.on('exit', onExit)
  })
}

/**
 * The worker thread's side (call it from the entry point when `isGradientWorker()`): loads the
 * backend and the model, then answers share requests until terminated.
 */
export async function runGradientWorker(): Promise<void> {
  const port = parentPort
  if (!port || !isGradientWorker()) throw new Error('runGradientWorker runs only in a thread DataParallel started')
  const init = workerData as WorkerInit
  const post = (m: ToMain) => port.postMessage(m)
  post({ type: 'hello' })
  let model: CausalLM
  let tf: Tf
  try {
    ;({ tf } = await selectBackend({ requested: init.backend, requestedBy: 'setting' }))
    model = CausalLM.init(tf, init.config, 0)
  } catch (e) {
    post({ type: 'failed', id: null, error: toErrorInfo(e) })
    return
  }
  const weights = new Float32Array(init.weights)
  const grads = new Float32Array(init.grads)
  const slots = new Map(init.slots.map((s) => [s.name, s]))
  let version = -1
  // One share at a time, in order.
  let queue: Promise<void> = Promise.resolve()
  port.on('message', (r: ShareRequest) => {
    queue = queue.then(async () => {
      try {
        if (r.version !== version) {
          for (const [name, v] of model.params) {
            const s = slots.get(name) as Slot
            const values = weights.subarray(s.offset, s.offset + s.size)
            // The cpu backend keeps the array it is given as the tensor's storage: hand it a copy.
            tf.tidy(() => v.assign(tf.tensor(init.backend === 'wasm' ? values : values.slice(), v.shape, 'float32')))
          }
          version = r.version
        }
        model.recompute = r.recompute
        const layout = r.segments && r.positions ? { B: r.B, T: r.T, segments: r.segments, positions: r.positions } : null
        const mb: FlatMicroBatch = { B: r.B, T: r.T, inputs: r.inputs, targets: r.targets, weights: r.weights, layout }
        const out = await shareGradients(model, mb, 0, r.B, r.factor, r.names)
        const present = r.names.map((name) => {
          const g = out.grads.get(name)
          if (!g) return false
          copyInto(tf, g, grads, (slots.get(name) as Slot).offset)
          return true
        })
        tf.dispose([...out.grads.values()] as Tensor[])
        post({ type: 'done', id: r.id, loss: out.loss, rowLosses: out.rowLosses, present })
      } catch (e) {
        post({ type: 'failed', id: r.id, error: toErrorInfo(e) })
      }
    })
  })
  post({ type: 'ready' })
}
