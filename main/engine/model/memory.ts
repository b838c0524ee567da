/**
 * How much memory training a model takes, before loading it: the Base-model step uses this to say
 * whether a model fits the user's GPU (or RAM, on the CPU backends).
 *
 * - weights, gradients: 4 bytes per parameter each (we compute in float32, whatever the storage);
 * - optimiser state: AdamW keeps two moments (8 bytes per parameter), SGD none;
 * - activations: the float32 values alive at the peak of a training step. In tfjs every
 *   intermediate of the forward pass stays alive until the backward pass ends, so this is a sum
 *   over our forward pass's tensors: per layer, multiples of N·D (N = batch × sequence tokens,
 *   D the hidden size), N·I (MLP width) and the B·H·T² attention scores; once, one chunk of
 *   logits while the head's gradient runs (the head and loss never hold all N·V of them, see
 *   `headNll`). When the batch is tiny, AdamW's temporaries for the largest matrix are the peak
 *   instead. The multiples were measured with `tf.profile` on 15 configurations per family
 *   (vocabularies of 800 to 50,257, 2 to 8 layers, up to 4,096 tokens: all within 17%; on the
 *   wasm kernels of 2026-11-30 evening: sliced attention, the head's dW transposed once), and are
 *   checked again by `npm run bench:memory` and by a test against a real training step.
 * - activations with recomputation (`recompute`, see recompute.ts): each block keeps only its input
 *   and, once the backward pass has passed it, its input's gradient (2 N·D a layer), and the peak is
 *   the larger of one block's full activations while its gradient recomputes it and the head's
 *   chunk while its gradient runs. Those multiples were measured the same way on the same
 *   configurations (within 12%, but where AdamW's temporaries are the peak).
 */
import type { MemoryEstimateResult, OPTIMIZER_VALUES, RecomputeSetting } from '../contract'
import type { ModelConfig } from './config'
import { heldShape, paramSpecs } from './names'
import { HEAD_CHUNK } from './ops'

export interface MemoryOptions {
  batch: number
  seqLen: number
  optimizer: (typeof OPTIMIZER_VALUES)[number]
  /** Activations recomputed in the backward pass (a step holds one block's at a time). */
  recompute?: boolean
}

/** Float32 values of one block's activations per unit of each term (see the comment above). */
const BLOCK = {
  gpt2: { ND: 68.4, NI: 25.4, scores: 3.0 },
  llama: { ND: 85.5, NI: 11.4, scores: 2.6 },
} as const

/** Activations kept: every block's, and the head's chunk while its gradient runs. */
const KEPT = {
  gpt2: { headChunkV: 5.3 },
  llama: { headChunkV: 5.45 },
} as const

/**
 * Activations recomputed: N·D kept per layer and some N·D once, plus the larger of one block's
 * activations while its gradient recomputes it (`block` times `BLOCK`'s) and the head's chunk.
 */
const RECOMPUTED = {
  gpt2: { layerND: 2, ND: 56, block: 1.1, headChunkV: 6.5 },
  llama: { layerND: 2, ND: 0, block: 1.5, headChunkV: 6.25 },
} as const

/** AdamW's temporaries while it updates the largest matrix, when they outweigh the activations. */
const OPTIMIZER_PEAK_MATRICES = 13

export function parameterCount(config: ModelConfig): number {
  return paramSpecs(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)
}

export function estimateMemory(config: ModelConfig, opts: MemoryOptions): MemoryEstimateResult {
  const P = parameterCount(config)
  const maxMatrix = Math.max(...paramSpecs(config).map((s) => heldShape(s).reduce((a, b) => a * b, 1)))
  const N = opts.batch * opts.seqLen
  const D = config.hiddenSize
  const I = config.mlpSize
  const scores = opts.batch * config.numHeads * opts.seqLen * opts.seqLen
  const b = BLOCK[config.arch]
  const L = config.numLayers
  const weights = 4 * P
  const gradients = 4 * P
  const optimizer = opts.optimizer === 'adamw' ? 8 * P : 0
  const block = b.ND * N * D + b.NI * N * I + b.scores * scores
  const headChunk = Math.min(N, HEAD_CHUNK) * config.vocabSize
  const r = RECOMPUTED[config.arch]
  const kept = L * block + KEPT[config.arch].headChunkV * headChunk
  // Recomputing never holds more than keeping (where the head's chunk is the peak either way, the
  // two fits differ only by their error).
  const forward = opts.recompute ? Math.min(kept, (L * r.layerND + r.ND) * N * D + Math.max(r.block * block, r.headChunkV * headChunk)) : kept
  const activations = 4 * Math.max(forward, OPTIMIZER_PEAK_MATRICES * maxMatrix)
  return { parameters: P, weights, gradients, optimizer, activations, total: weights + gradients + optimizer + activations }
}

/**
 * Whether a run recomputes activations: `on` and `off` say so; `auto` recomputes only when the
 * step would not fit `memoryBytes` (the device's memory; null: unknown, then never) without it.
 */
export function chooseRecompute(setting: RecomputeSetting, config: ModelConfig, opts: Omit<MemoryOptions, 'recompute'>, memoryBytes: number | null): boolean {
  if (setting !== 'auto') return setting === 'on'
  return memoryBytes !== null && estimateMemory(config, { ...opts, recompute: false }).total > memoryBytes
}
