/**
 * How much memory training a model takes, before loading it: the Base-model step uses this to say
 * whether a model fits the user's GPU (or RAM, on the CPU backends).
 *
 * - weights, gradients: 4 bytes per parameter each (we compute in float32, whatever the storage);
 * - optimiser state: AdamW keeps two moments (8 bytes per parameter), SGD none;
 * - activations: the float32 values alive at the peak of a training step. In tfjs every
 *   intermediate of the forward pass stays alive until the backward pass ends, so this is a sum
 *   over our forward pass's tensors: per layer, multiples of N·D (N = batch × sequence tokens,
 *   D the hidden size), N·I (MLP width), the B·H·T² attention scores and, for grouped-query
 *   attention, N·(kv heads × head size); once, N·V for the logits and the loss, N·D for the
 *   embeddings; and a few copies of the largest matrix for the optimiser's temporaries.
 *   The multiples were measured with `tf.profile` on 24 configurations per family and are checked
 *   again by `npm run bench:memory` and by a test against a real training step.
 */
import type { ModelConfig } from './config'
import { heldShape, paramSpecs } from './names'

export type OptimizerKind = 'adamw' | 'sgd'

export interface MemoryOptions {
  batch: number
  seqLen: number
  optimizer: OptimizerKind
}

export interface MemoryEstimate {
  parameters: number
  weights: number
  gradients: number
  optimizer: number
  activations: number
  total: number
}

/** Float32 values alive per unit of each term (see the comment above). */
const COEFFICIENTS = {
  gpt2: { layerND: 88, layerNI: 30, layerScores: 9, layerNKv: 0, NV: 6, ND: 20, maxMatrix: 4 },
  llama: { layerND: 71, layerNI: 22, layerScores: 9, layerNKv: 23, NV: 5.5, ND: 18, maxMatrix: 3.5 },
} as const

export function parameterCount(config: ModelConfig): number {
  return paramSpecs(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)
}

export function estimateMemory(config: ModelConfig, opts: MemoryOptions): MemoryEstimate {
  const P = parameterCount(config)
  const maxMatrix = Math.max(...paramSpecs(config).map((s) => heldShape(s).reduce((a, b) => a * b, 1)))
  const N = opts.batch * opts.seqLen
  const D = config.hiddenSize
  const I = config.arch === 'gpt2' ? config.innerSize : config.intermediateSize
  const kv = config.arch === 'gpt2' ? 0 : config.numKvHeads * config.headDim
  const scores = opts.batch * config.numHeads * opts.seqLen * opts.seqLen
  const c = COEFFICIENTS[config.arch]
  const L = config.numLayers
  const weights = 4 * P
  const gradients = 4 * P
  const optimizer = opts.optimizer === 'adamw' ? 8 * P : 0
  const activations = 4 * (L * (c.layerND * N * D + c.layerNI * N * I + c.layerScores * scores + c.layerNKv * N * kv) + c.NV * N * config.vocabSize + c.ND * N * D + c.maxMatrix * maxMatrix)
  return { parameters: P, weights, gradients, optimizer, activations, total: weights + gradients + optimizer + activations }
}
