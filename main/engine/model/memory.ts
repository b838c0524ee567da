/**
 * How much memory training a model takes, before loading it: the Base-model step uses this to say
 * whether a model fits the user's GPU (or RAM, on the CPU backends).
 *
 * - weights, gradients: 4 bytes per parameter each (we compute in float32, whatever the storage);
 * - optimiser state: AdamW keeps two moments (8 bytes per parameter), SGD none;
 * - activations: the float32 values alive at the peak of a training step. In tfjs every
 *   intermediate of the forward pass stays alive until the backward pass ends, so this is a sum
 *   over our forward pass's tensors: per layer, multiples of N·D (N = batch × sequence tokens,
 *   D the hidden size), N·I (MLP width) and the B·H·T² attention scores; once, N·D for the
 *   embeddings and one chunk of logits (the head and loss never hold all N·V of them, see
 *   `headNll`). When the batch is tiny, AdamW's temporaries for the largest matrix are the peak
 *   instead. The multiples were measured with `tf.profile` on 24 configurations per family (all
 *   24 within 17%) and are checked again by `npm run bench:memory` and by a test against a real
 *   training step.
 */
import type { MemoryEstimateResult, OPTIMIZER_VALUES } from '../contract'
import type { ModelConfig } from './config'
import { heldShape, paramSpecs } from './names'
import { HEAD_CHUNK } from './ops'

export interface MemoryOptions {
  batch: number
  seqLen: number
  optimizer: (typeof OPTIMIZER_VALUES)[number]
}

/** Float32 values alive at the peak per unit of each term (see the comment above). */
const COEFFICIENTS = {
  gpt2: { layerND: 77.7, layerNI: 28.8, layerScores: 7.2, headChunkV: 3.7, ND: 48.5 },
  llama: { layerND: 77.8, layerNI: 21.1, layerScores: 7.2, headChunkV: 4.2, ND: 35.3 },
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
  const c = COEFFICIENTS[config.arch]
  const L = config.numLayers
  const weights = 4 * P
  const gradients = 4 * P
  const optimizer = opts.optimizer === 'adamw' ? 8 * P : 0
  const forward = L * (c.layerND * N * D + c.layerNI * N * I + c.layerScores * scores) + c.headChunkV * Math.min(N, HEAD_CHUNK) * config.vocabSize + c.ND * N * D
  const activations = 4 * Math.max(forward, OPTIMIZER_PEAK_MATRICES * maxMatrix)
  return { parameters: P, weights, gradients, optimizer, activations, total: weights + gradients + optimizer + activations }
}
