/**
 * One optimiser update of a model: gradients accumulated over micro-batches, clipped by their
 * global norm, applied by AdamW at the learning rate the schedule gives for this update.
 *
 * - The step's loss is the mean of the micro-batches' losses, each the (weighted) mean next-token
 *   cross-entropy over its positions (`CausalLM.loss`); its gradient is the mean of theirs. With
 *   equal token counts (and no weights) that is the loss of the whole batch at once, whose
 *   activations would not fit.
 * - Clipping is torch's `clip_grad_norm_`: the total L2 norm over all gradients (the norm of the
 *   per-parameter norms), and when it exceeds `maxGradNorm`, every gradient scaled by
 *   maxGradNorm / (norm + 1e-6). The norm reported is the one before clipping, as torch returns it.
 * - Memory: one micro-batch's activations at a time, the summed gradients, and AdamW's per-
 *   parameter temporaries; every tensor made here is disposed (the optimiser's moments, created
 *   by the first update, are the only tensors a step leaves).
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core'
import { EngineError } from '../common/errors'
import { type FlatLayout, type Rows, type SequenceLayout, flattenLayout } from './layout'
import type { CausalLM } from './model'
import type { AdamW } from './optimizer'
import type { LrSchedule } from './schedule'

export type { Rows, SequenceLayout } from './layout'

export interface MicroBatch {
  /** Token ids [B, T] (int32) the model reads. */
  inputs: Tensor2D | Rows
  /** The id to predict at each position [B, T] (int32): usually the inputs shifted by one. */
  targets: Tensor2D | Rows
  /** Loss weights [B, T] (float32; 1 for a position that counts, 0 for padding); all 1 when absent. */
  weights?: Tensor2D | Rows
  /**
   * Document masking of packed rows: the segments and position ids of the inputs [B][T] (see
   * layout.ts; training/mixture.ts makes them). Absent: each row is one document.
   */
  layout?: SequenceLayout
}

export interface TrainStepOptions {
  /** Clip the gradient's global L2 norm to this (default 1.0, as Hugging Face's Trainer); null: never. */
  maxGradNorm?: number | null
  /**
   * Which parameters this step trains (by name); the others get no gradient and are not updated
   * (a first stage that trains only the embeddings and the output head). All when absent.
   */
  trains?: (name: string) => boolean
  /**
   * Computes each micro-batch's gradient instead of this thread alone: a `DataParallel`
   * (parallel.ts) splits its rows among worker threads. The result is the same up to float32
   * rounding.
   */
  parallel?: GradientRunner
}

export interface TrainStepResult {
  /** The mean of the micro-batches' losses (nats per token), before the update. */
  loss: number
  /** The global L2 norm of the (accumulated) gradient, before clipping. */
  gradNorm: number
  /** The learning rate of this update. */
  lr: number
  /** False when the loss or the gradient was not finite: then nothing was changed. */
  updated: boolean
  /** Each micro-batch's per-row loss (mean NLL over the row's positions, weighted as the loss is), in order. */
  rowLosses: number[][]
}

/** A micro-batch that predicts each row's ids after its first: rows of T + 1 ids → [B, T]. */
export function nextTokenBatch(rows: Rows, weights?: Rows): MicroBatch {
  const batch: MicroBatch = { inputs: rows.map((r) => r.slice(0, -1)), targets: rows.map((r) => r.slice(1)) }
  if (weights) batch.weights = weights
  return batch
}

function checkRows(rows: Rows, what: string, shape: [number, number] | null, vocab: number | null): [number, number] {
  const B = rows.length
  const T = rows[0]?.length ?? 0
  if (B === 0 || T === 0) throw new EngineError('invalid-request', `A micro-batch's ${what} are empty.`, { hint: 'Give at least one row of at least one position.' })
  if (shape && (shape[0] !== B || shape[1] !== T)) throw new EngineError('invalid-request', `A micro-batch's ${what} are ${B} × ${T}; its inputs are ${shape[0]} × ${shape[1]}.`, { hint: 'Give inputs, targets and weights of the same shape.' })
  for (const row of rows) {
    if (row.length !== T) throw new EngineError('invalid-request', `A micro-batch's ${what} have rows of different lengths (${T} and ${row.length}).`, { hint: 'Pad the rows to one length (with weight 0).' })
    if (vocab !== null) {
      const bad = row.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab)
      if (bad !== undefined) throw new EngineError('invalid-request', `Token id ${bad} is outside this model's vocabulary (0 … ${vocab - 1}).`, { hint: 'Encode with the tokenizer that belongs to the model.' })
    }
  }
  return [B, T]
}

/**
 * A micro-batch checked and flattened row-major: ids [B·T] (int32), weights [B·T] or null, the
 * layout flattened (and checked against the model's positions) or null. Tensors given instead of
 * rows are read back (they are small: B × T numbers).
 */
export interface FlatMicroBatch {
  B: number
  T: number
  inputs: Int32Array
  targets: Int32Array
  weights: Float32Array | null
  layout: FlatLayout | null
}

export function flattenMicroBatch(mb: MicroBatch, vocab: number, maxPositions: number): FlatMicroBatch {
  const make = <A extends Int32Array | Float32Array>(x: Tensor2D | Rows, what: string, dtype: 'int32' | 'float32', shape: [number, number] | null): { B: number; T: number; data: A } => {
    if (!Array.isArray(x)) {
      const t = x as Tensor2D
      if (shape && (t.shape[0] !== shape[0] || t.shape[1] !== shape[1])) {
        throw new EngineError('invalid-request', `A micro-batch's ${what} are ${t.shape.join(' × ')}; its inputs are ${shape[0]} × ${shape[1]}.`, { hint: 'Give inputs, targets and weights of the same shape.' })
      }
      const raw = t.dataSync()
      const data = (dtype === 'int32' ? Int32Array.from(raw) : Float32Array.from(raw)) as A
      if (dtype === 'int32') {
        const bad = data.find((id) => id < 0 || id >= vocab)
        if (bad !== undefined) throw new EngineError('invalid-request', `Token id ${bad} is outside this model's vocabulary (0 … ${vocab - 1}).`, { hint: 'Encode with the tokenizer that belongs to the model.' })
      }
      return { B: t.shape[0], T: t.shape[1], data }
    }
    const rows = x as Rows
    const [B, T] = checkRows(rows, what, shape, dtype === 'int32' ? vocab : null)
    const data = (dtype === 'int32' ? new Int32Array(B * T) : new Float32Array(B * T)) as A
    rows.forEach((r, i) => data.set(r, i * T))
    return { B, T, data }
  }
  const inputs = make<Int32Array>(mb.inputs, 'inputs', 'int32', null)
  const shape: [number, number] = [inputs.B, inputs.T]
  const targets = make<Int32Array>(mb.targets, 'targets', 'int32', shape)
  const weights = mb.weights ? make<Float32Array>(mb.weights, 'weights', 'float32', shape).data : null
  // Checked here, so that a bad layout is refused before any gradient is taken.
  const layout = mb.layout ? flattenLayout(mb.layout, inputs.B, inputs.T, maxPositions) : null
  return { B: inputs.B, T: inputs.T, inputs: inputs.data, targets: targets.data, weights, layout }
}

/** The total loss weight of rows [from, to) of a flat micro-batch: Σ weights, or the positions when unweighted. */
export function rowsWeight(mb: FlatMicroBatch, from: number, to: number): number {
  if (!mb.weights) return (to - from) * mb.T
  let sum = 0
  for (let i = from * mb.T; i < to * mb.T; i++) sum += mb.weights[i] as number
  return sum
}

/** What one share of a micro-batch gives: see `shareGradients`. */
export interface ShareResult {
  /** factor × the share's loss (its weighted mean NLL): the shares' losses add up to the micro-batch's. */
  loss: number
  /** factor × the gradient of the share's loss, by parameter name (absent: no gradient). */
  grads: Map<string, Tensor>
  /** Each of the share's rows' loss, in order. */
  rowLosses: number[]
}

/**
 * Rows [from, to) of a flat micro-batch through the model: the gradient of `factor` × their loss
 * (the weighted mean NLL over those rows) for the named parameters. With the whole micro-batch and
 * factor 1 it is the micro-batch's gradient; with shares of its rows, each with factor = its
 * share of the loss weight (`rowsWeight`), the shares' gradients add up to the whole one (see
 * parallel.ts). Every tensor made here is disposed but the gradients.
 */
export async function shareGradients(model: CausalLM, mb: FlatMicroBatch, from: number, to: number, factor: number, names: readonly string[]): Promise<ShareResult> {
  const tf = model.tf
  const { T } = mb
  const B = to - from
  const vars = names.map((n) => model.params.get(n) as Variable)
  const owned: Tensor[] = []
  const grads = new Map<string, Tensor>()
  try {
    const inputs = tf.tensor2d(mb.inputs.subarray(from * T, to * T), [B, T], 'int32')
    const targets = tf.tensor2d(mb.targets.subarray(from * T, to * T), [B, T], 'int32')
    owned.push(inputs, targets)
    let weights: Tensor2D | undefined
    if (mb.weights) owned.push((weights = tf.tensor2d(mb.weights.subarray(from * T, to * T), [B, T], 'float32')))
    const flat = mb.layout
    const rowsOf = (a: Int32Array) => Array.from({ length: B }, (_, b) => a.subarray((from + b) * T, (from + b + 1) * T))
    const layout: SequenceLayout | undefined = flat ? { segments: rowsOf(flat.segments), positions: rowsOf(flat.positions) } : undefined
    let nll: Tensor | null = null
    const { value, grads: g } = tf.variableGrads(() => {
      const loss = model.loss(inputs, targets, weights, layout, (perPosition) => void (nll = tf.keep(perPosition)))
      return factor === 1 ? loss : tf.mul(loss, factor)
    }, vars)
    // Owned at once, so that a failure below still frees them.
    owned.push(value)
    if (nll) owned.push(nll)
    names.forEach((name, i) => {
      const t = g[(vars[i] as Variable).name]
      if (t) grads.set(name, t)
    })
    const loss = (await value.data())[0] as number
    const rowLosses = nll ? await rowMeans(nll, weights ?? null, B, T) : []
    return { loss, grads, rowLosses }
  } catch (e) {
    tf.dispose([...grads.values()])
    throw e
  } finally {
    tf.dispose(owned)
  }
}

/** Computes the gradient of one whole micro-batch (`shareGradients` over all rows, or split among threads). */
export interface GradientRunner {
  gradients(model: CausalLM, mb: FlatMicroBatch, names: readonly string[]): Promise<ShareResult>
  /** The model's weights changed (an update): a runner that keeps copies refreshes them. */
  weightsChanged(): void
}

/**
 * One update of `model` by `optimizer` from `batch` (a list of micro-batches), at the learning rate
 * `schedule` gives for the optimiser's step count; see the top of this file.
 */
export async function trainStep(model: CausalLM, batch: readonly MicroBatch[], optimizer: AdamW, schedule: LrSchedule, opts: TrainStepOptions = {}): Promise<TrainStepResult> {
  const tf = model.tf
  if (batch.length === 0) throw new EngineError('invalid-request', 'A training step needs at least one micro-batch.', { hint: 'Give a list of micro-batches.' })
  if (optimizer.model !== model) throw new Error('the optimiser was made for another model')
  const maxGradNorm = opts.maxGradNorm === undefined ? 1 : opts.maxGradNorm
  if (maxGradNorm !== null && !(maxGradNorm > 0)) throw new EngineError('invalid-request', `maxGradNorm must be positive (got ${maxGradNorm}).`, { hint: 'Give a positive number, or null for no clipping.' })
  const names = [...model.params.keys()].filter((n) => opts.trains?.(n) ?? true)
  if (names.length === 0) throw new EngineError('invalid-request', 'The step trains no parameter.', { hint: 'Let `trains` accept at least one parameter name.' })
  const vars = names.map((n) => model.params.get(n) as Variable)
  const frozen = names.filter((_, i) => !(vars[i] as Variable).trainable)
  if (frozen.length) throw new EngineError('invalid-request', `The model's parameters are not trainable (${frozen[0]}${frozen.length > 1 ? ` and ${frozen.length - 1} more` : ''}).`, { hint: 'Load the model with trainable: true.' })
  const lr = schedule.lrAt(optimizer.step)
  const runner = opts.parallel

  // The summed gradients by parameter name.
  const acc = new Map<string, Tensor>()
  try {
    let lossSum = 0
    const rowLosses: number[][] = []
    for (const mb of batch) {
      const flat = flattenMicroBatch(mb, model.config.vocabSize, model.config.maxPositions)
      const r = runner ? await runner.gradients(model, flat, names) : await shareGradients(model, flat, 0, flat.B, 1, names)
      for (const [name, g] of r.grads) {
        const prev = acc.get(name)
        if (!prev) acc.set(name, g)
        else {
          acc.set(name, tf.add(prev, g))
          tf.dispose([prev, g])
        }
      }
      lossSum += r.loss
      rowLosses.push(r.rowLosses)
    }
    const k = batch.length
    const loss = lossSum / k
    // torch's total norm: the L2 norm of the per-parameter L2 norms.
    const total = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.stack([...acc.values()].map((g) => tf.sqrt(tf.sum(tf.square(g)))))))))
    const gradNorm = ((await total.data())[0] as number) / k
    total.dispose()
    let scale = 1 / k
    if (maxGradNorm !== null) {
      const coef = maxGradNorm / (gradNorm + 1e-6)
      if (coef < 1) scale *= coef
    }
    const updated = Number.isFinite(loss) && Number.isFinite(gradNorm)
    if (updated) {
      optimizer.lr = lr
      optimizer.apply(acc, scale)
      runner?.weightsChanged()
    }
    return { loss, gradNorm, lr, updated, rowLosses }
  } finally {
    tf.dispose([...acc.values()])
  }
}

/** Per-row means of a [B·T] NLL, weighted like the loss (a row whose weights are all 0 has 0). */
async function rowMeans(nll: Tensor, weights: Tensor | null, B: number, T: number): Promise<number[]> {
  const values = (await nll.data()) as Float32Array
  const w = weights ? ((await weights.data()) as Float32Array) : null
  const out: number[] = []
  for (let b = 0; b < B; b++) {
    let sum = 0
    let count = 0
    for (let t = 0; t < T; t++) {
      const wt = w ? (w[b * T + t] as number) : 1
      sum += wt * (values[b * T + t] as number)
      count += wt
    }
    out.push(count > 0 ? sum / count : 0)
  }
  return out
}
