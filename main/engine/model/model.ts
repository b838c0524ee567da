/**
 * A causal language model in TensorFlow.js: its configuration, its parameters as variables (our
 * names, held shapes; see names.ts), and the forward pass of its architecture with the output
 * head on top. Loading reads a Hugging Face folder tensor by tensor; saving writes one back.
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs-core'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Tf } from '../backend/select'
import { EngineError } from '../common/errors'
import type { HfCheckpoint } from './checkpoint'
import { type ModelConfig, configJson } from './config'
import { type FloatDtype, fromFloat32 } from './dtype'
import { gpt2Hidden } from './gpt2'
import { initialValues } from './init'
import { type FlatLayout, type SequenceLayout, flattenLayout, layoutPrefix } from './layout'
import { llamaHidden } from './llama'
import { HEAD_NAME, type ParamSpec, embeddingName, heldShape, paramSpecs, storedName } from './names'
import { type KvInput, headNll, matMul2dT, weightedMean } from './ops'
import { type TensorToWrite, type ShardedWriteResult, readTensorFloat32, writeSafetensorsSharded } from './safetensors'

/** wasm32 addresses at most 4 GiB, whatever the machine has. */
export const WASM_MEMORY_LIMIT = 4 * 1024 ** 3

/** The buffer limits of the WebGPU device tfjs runs on, or null on another backend. */
export function webGpuBufferLimit(tf: Tf): number | null {
  if (tf.getBackend() !== 'webgpu') return null
  const limits = (tf.backend() as { device?: { limits?: { maxBufferSize?: number; maxStorageBufferBindingSize?: number } } }).device?.limits
  if (!limits?.maxBufferSize || !limits.maxStorageBufferBindingSize) return null
  return Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize)
}

/**
 * Why a checkpoint cannot be loaded on a WebGPU device whose buffers hold at most `limitBytes`
 * (each weight is one float32 buffer, bound whole to the shaders), or null when every weight fits.
 */
export function bufferLimitProblem(ckpt: Pick<HfCheckpoint, 'dir' | 'tensors'>, limitBytes: number): EngineError | null {
  let largest: { name: string; bytes: number } | null = null
  for (const t of ckpt.tensors) {
    const bytes = 4 * t.spec.shape.reduce((a, b) => a * b, 1)
    if (!largest || bytes > largest.bytes) largest = { name: t.spec.name, bytes }
  }
  if (!largest || largest.bytes <= limitBytes) return null
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
  return new EngineError('unavailable', `${ckpt.dir}: its weight ${largest.name} takes ${mib(largest.bytes)} in float32, more than this GPU's WebGPU device can hold in one buffer (${mib(limitBytes)}).`, {
    file: ckpt.dir,
    hint: 'Choose a smaller model, or use a backend without that limit (VERNACULAR_BACKEND=node-gpu on a CUDA machine); `vernacular doctor` shows the adapter and its limits.',
  })
}

export interface LoadProgress {
  done: number
  total: number
  name: string
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length)
  const B = 64
  for (let i0 = 0; i0 < rows; i0 += B) {
    for (let j0 = 0; j0 < cols; j0 += B) {
      const i1 = Math.min(rows, i0 + B)
      const j1 = Math.min(cols, j0 + B)
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * rows + i] = data[i * cols + j] as number
    }
  }
  return out
}

export class CausalLM {
  readonly specs: ParamSpec[]
  /**
   * Whether `loss` recomputes each block's activations in the backward pass instead of keeping
   * them (gradient checkpointing, see recompute.ts): the same gradients, much less memory, about
   * one more forward pass of time. The trainer sets it from the run's `recompute` setting.
   */
  recompute = false

  private constructor(
    readonly tf: Tf,
    readonly config: ModelConfig,
    readonly params: Map<string, Variable>,
  ) {
    this.specs = paramSpecs(config)
  }

  /** Loads a checkpoint's weights (widened to float32) into variables. */
  static async load(tf: Tf, ckpt: HfCheckpoint, opts: { trainable?: boolean; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal } = {}): Promise<CausalLM> {
    const bytes = 4 * ckpt.parameterCount
    if (tf.getBackend() === 'wasm' && bytes > WASM_MEMORY_LIMIT) {
      throw new EngineError('unavailable', `${ckpt.dir} has ${(ckpt.parameterCount / 1e9).toFixed(2)} billion parameters, ${(bytes / 2 ** 30).toFixed(1)} GiB in float32: more than the WebAssembly backend can address (4 GiB).`, {
        file: ckpt.dir,
        hint: 'Install @tensorflow/tfjs-node-gpu (a CUDA machine) or @tensorflow/tfjs-node so that a native backend is used, or choose a smaller model.',
      })
    }
    const limit = webGpuBufferLimit(tf)
    const tooLarge = limit === null ? null : bufferLimitProblem(ckpt, limit)
    if (tooLarge) throw tooLarge
    const params = new Map<string, Variable>()
    try {
      let done = 0
      for (const { spec, info } of ckpt.tensors) {
        opts.signal?.throwIfAborted()
        let data = await readTensorFloat32(info)
        if (spec.transposed) data = transpose2d(data, spec.shape[0] as number, spec.shape[1] as number)
        // tidy frees the temporary tensor; the variable keeps its data.
        params.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(data, heldShape(spec), 'float32'), opts.trainable ?? true)))
        opts.onProgress?.({ done: ++done, total: ckpt.tensors.length, name: spec.name })
      }
    } catch (e) {
      for (const v of params.values()) v.dispose()
      throw e
    }
    return new CausalLM(tf, ckpt.config, params)
  }

  /**
   * A freshly initialised model, as transformers initialises one (see init.ts: the same values
   * `writeInitialisedModel` writes for the same seed and std), for benchmarks, tests and training
   * from scratch.
   */
  static init(tf: Tf, config: ModelConfig, seed = 0, std = 0.02): CausalLM {
    const params = new Map<string, Variable>()
    for (const { spec, values } of initialValues(config, { seed, std })) {
      const data = spec.transposed ? transpose2d(values, spec.shape[0] as number, spec.shape[1] as number) : values
      params.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(data, heldShape(spec), 'float32'), true)))
    }
    return new CausalLM(tf, config, params)
  }

  param(name: string): Tensor {
    const v = this.params.get(name)
    if (!v) throw new Error(`no parameter ${name}`)
    return v
  }

  /** The matrix the output head multiplies with: lm_head, or the input embeddings when tied. */
  headMatrix(): Tensor2D {
    return this.param(this.config.tied ? embeddingName(this.config) : HEAD_NAME) as Tensor2D
  }

  /** The longest sequence this model can take. */
  get maxSequence(): number {
    const c = this.config
    return c.arch === 'llama' && c.slidingWindow ? Math.min(c.maxPositions, c.slidingWindow) : c.maxPositions
  }

  private checkIds(ids: Tensor2D, offset = 0): void {
    const T = offset + ids.shape[1]
    if (T > this.maxSequence) {
      throw new EngineError('invalid-request', `A sequence of ${T} tokens is longer than this model takes (${this.maxSequence}).`, { hint: 'Use shorter sequences.' })
    }
  }

  /**
   * ids [B, T] int32 → final hidden states [B, T, D]. With a `layout` ([B][T] segments and
   * position ids of packed documents, see layout.ts) a token attends only to earlier tokens of its
   * own document, at its position id; without one, each row is one document at 0 … T−1.
   *
   * With `kv` (decoding with a KV cache, see generate.ts and ops.ts `KvInput`) the rows continue
   * sequences whose first `kv.offset` positions are cached: the tokens are at positions offset …
   * offset+T−1, and `kv.present` receives every layer's keys and values. Not with a layout.
   *
   * `recompute`: each block recomputes its activations in the backward pass (not with `kv`).
   */
  hidden(ids: Tensor2D, layout?: SequenceLayout, kv?: KvInput, recompute = false): Tensor3D {
    if (layout && kv) throw new Error('hidden: a layout and a KV cache together are not supported')
    this.checkIds(ids, kv?.offset)
    const p = (name: string) => this.param(name)
    const c = this.config
    const [B, T] = ids.shape
    const flat: FlatLayout | undefined = layout && flattenLayout(layout, B, T, c.maxPositions)
    return (c.arch === 'gpt2' ? gpt2Hidden(this.tf, c, p, ids, flat, kv, recompute) : llamaHidden(this.tf, c, p, ids, flat, kv, recompute)) as Tensor3D
  }

  /** ids [B, T] int32 → logits [B, T, V]; `layout` as for `hidden`. */
  logits(ids: Tensor2D, layout?: SequenceLayout): Tensor3D {
    const tf = this.tf
    return tf.tidy(() => {
      const [B, T] = ids.shape
      const h = tf.reshape(this.hidden(ids, layout), [B * T, this.config.hiddenSize]) as Tensor2D
      return tf.reshape(matMul2dT(tf, h, this.headMatrix()), [B, T, this.config.vocabSize]) as Tensor3D
    })
  }

  /**
   * Next-token negative log-likelihood in nats at every position: ids [B, T] → [B, T−1], position
   * t scoring ids[t+1] given ids[..t]. A `layout` is that of ids [B][T] (its last position unused).
   */
  nextTokenNll(ids: Tensor2D, layout?: SequenceLayout): Tensor2D {
    const tf = this.tf
    return tf.tidy(() => {
      const [B, T] = ids.shape
      const inputs = tf.slice(ids, [0, 0], [B, T - 1]) as Tensor2D
      const targets = tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [-1]) as Tensor1D
      const h = tf.reshape(this.hidden(inputs, layout && layoutPrefix(layout, T - 1)), [B * (T - 1), this.config.hiddenSize]) as Tensor2D
      return tf.reshape(headNll(tf, h, this.headMatrix(), targets), [B, T - 1]) as Tensor2D
    })
  }

  /**
   * Mean next-token cross-entropy (nats) of `targets` given `inputs` ([B, T] int32 each), over all
   * positions, or weighted by `weights` [B, T] (see `weightedMean`: 1 counts, 0 skips; 0 when all
   * are 0). `layout` is that of the inputs, as for `hidden`; with `this.recompute` the blocks
   * recompute their activations in the backward pass.
   */
  loss(inputs: Tensor2D, targets: Tensor2D, weights?: Tensor2D, layout?: SequenceLayout, onNll?: (nll: Tensor1D) => void): Scalar {
    const tf = this.tf
    const [B, T] = inputs.shape
    const h = tf.reshape(this.hidden(inputs, layout, undefined, this.recompute), [B * T, this.config.hiddenSize]) as Tensor2D
    const nll = headNll(tf, h, this.headMatrix(), tf.reshape(targets, [-1]) as Tensor1D)
    // The per-position NLL [B·T], for callers that report losses by row (they keep it if they need it).
    onNll?.(nll)
    return weights ? weightedMean(tf, nll, tf.reshape(weights, [-1]) as Tensor1D) : (tf.mean(nll) as Scalar)
  }

  /** The parameters in Hugging Face's layout, ready to write (converted to `dtype`). */
  tensorsToWrite(dtype: FloatDtype): TensorToWrite[] {
    return this.specs.map((spec) => ({
      name: storedName(this.config, spec.name),
      dtype,
      shape: spec.shape,
      data: async () => {
        let data = (await this.param(spec.name).data()) as Float32Array
        if (spec.transposed) data = transpose2d(data, spec.shape[1] as number, spec.shape[0] as number)
        return fromFloat32(data, dtype)
      },
    }))
  }

  /** Writes config.json and the weights into an existing folder (the caller stages and renames it). */
  async writeWeights(dir: string, dtype: FloatDtype = 'F32', maxShardBytes?: number): Promise<ShardedWriteResult> {
    await fs.writeFile(join(dir, 'config.json'), JSON.stringify(configJson(this.config, { dtype }), null, 2) + '\n')
    return writeSafetensorsSharded(dir, this.tensorsToWrite(dtype), maxShardBytes)
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose()
    this.params.clear()
  }
}
