/**
 * Generating tokens: a KV cache, so that each new token costs one position of the forward pass
 * rather than a pass over the whole sequence, and the choice of the next token (greedy, or
 * nucleus sampling with a temperature and a seeded generator).
 *
 * - `KvCache.feed(ids)` runs the model over new tokens at the positions after those it holds
 *   (`CausalLM.hidden` with ops.ts `KvInput`: learned positions for GPT-2, rope at the absolute
 *   positions for the Llama family, grouped-query attention against the cached keys and values)
 *   and keeps every layer's keys and values; the first call is the prefill over the prompt, each
 *   later one a one-token step. Only the last position's logits are computed.
 * - `generate` loops: pick a token, stop at an end-of-sequence id, at `maxTokens`, or when the
 *   sequence fills the positions the model has (`CausalLM.maxSequence`). With `cache: false` it
 *   runs a full forward pass over the whole sequence for every token instead, the reference the
 *   cache is tested against.
 * - Ids at or above `vocabLimit` are never picked: embedding rows past the tokenizer's vocabulary
 *   (the padding rows `model resize --pad-multiple` adds) stand for no token.
 */
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core'
import { EngineError } from '../common/errors'
import { mulberry32 } from '../common/rng'
import type { CausalLM } from './model'
import { type KvInput, type LayerKv, explicitTranspose } from './ops'

/**
 * The keys and values of one sequence (a batch of one) decoded so far, per layer, on the model's
 * backend. Dispose it when done. The model's weights must not change while a cache lives (it holds
 * keys and values computed with them, and on wasm a transposed copy of the output head).
 */
export class KvCache {
  private layers: LayerKv[] = []
  private held = 0
  /** The output head transposed, [D, V], on backends whose transposed products are slow (made on first use). */
  private headT: Tensor2D | null = null

  constructor(readonly model: CausalLM) {}

  /** Positions held. */
  get length(): number {
    return this.held
  }

  /**
   * Runs the model over `ids` at positions length … length+n−1, attending to the positions held,
   * and keeps their keys and values. Returns the logits [V] of the last of them, as plain numbers.
   */
  async feed(ids: readonly number[]): Promise<Float32Array> {
    const { model } = this
    const { tf } = model
    const n = ids.length
    if (n === 0) throw new Error('KvCache.feed: no ids')
    const kv: KvInput = { offset: this.held, past: this.layers, present: [] }
    if (!this.headT && explicitTranspose(tf)) this.headT = tf.tidy(() => tf.transpose(model.headMatrix()))
    // The tidy keeps what it returns: the logits and every layer's keys and values.
    const { logits } = tf.tidy(() => {
      const input = tf.tensor2d(Int32Array.from(ids), [1, n], 'int32') as Tensor2D
      const D = model.config.hiddenSize
      const h = model.hidden(input, undefined, kv)
      const last = tf.reshape(tf.slice(h, [0, n - 1, 0], [1, 1, D]), [1, D]) as Tensor2D
      // h [1, D] · headᵀ: on wasm a plain product with the head transposed once per cache is ~10×
      // faster than either the transposed product or head · hᵀ [D, 1] (docs/performance.md,
      // "Generation"); native backends take the flag.
      const head = model.headMatrix()
      const out = this.headT ? tf.matMul(last, this.headT) : tf.matMul(last, head, false, true)
      return { logits: tf.reshape(out, [-1]) as Tensor1D, present: kv.present.flatMap((l) => [l.k, l.v]) }
    })
    const previous = this.layers
    this.layers = kv.present
    this.held += n
    tf.dispose(previous.flatMap((l) => [l.k, l.v]))
    try {
      return (await logits.data()) as Float32Array
    } finally {
      logits.dispose()
    }
  }

  dispose(): void {
    this.model.tf.dispose(this.layers.flatMap((l): Tensor[] => [l.k, l.v]))
    this.headT?.dispose()
    this.headT = null
    this.layers = []
    this.held = 0
  }
}

/** The last position's logits [V] of a full forward pass over `ids` (no cache). */
export async function lastLogits(model: CausalLM, ids: readonly number[]): Promise<Float32Array> {
  const { tf } = model
  const out = tf.tidy(() => {
    const n = ids.length
    const logits = model.logits(tf.tensor2d(Int32Array.from(ids), [1, n], 'int32') as Tensor2D)
    return tf.reshape(tf.slice(logits, [0, n - 1, 0], [1, 1, model.config.vocabSize]), [-1])
  })
  try {
    return (await out.data()) as Float32Array
  } finally {
    out.dispose()
  }
}

export type FinishReason = 'eos' | 'max-tokens' | 'max-positions'

export interface PickOptions {
  /**
   * Nucleus (top-p) sampling: draw from the smallest set of most likely tokens whose probability
   * reaches `topP` (0 < topP ≤ 1). Absent or null: greedy, the most likely token.
   */
  topP?: number | null
  /** Divides the logits before the softmax when sampling (default 1). */
  temperature?: number
  /** Seeds the generator (mulberry32) the draws come from (default 0). */
  seed?: number
  /** Ids at or above this are never picked (default: every row of the logits). */
  vocabLimit?: number
}

/**
 * A function from one position's logits to the next token, per `opts`. Greedy takes the largest
 * logit (the lowest id among equal ones). Top-p sorts the tokens by probability (ties by id),
 * keeps them in that order until their probability reaches `topP` (the one that reaches it
 * included), and draws one from those in proportion to their probability with one uniform draw;
 * the draws are a fixed sequence for a seed, so the same seed on the same logits picks the same
 * tokens.
 */
export function tokenPicker(opts: PickOptions = {}): (logits: Float32Array) => number {
  const topP = opts.topP ?? null
  const temperature = opts.temperature ?? 1
  if (topP !== null && !(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1], not ${topP}`)
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be a positive number, not ${temperature}`)
  const limitOf = (logits: Float32Array) => Math.min(opts.vocabLimit ?? logits.length, logits.length)

  if (topP === null) {
    return (logits) => {
      const limit = limitOf(logits)
      let best = -1
      let bestValue = -Infinity
      for (let i = 0; i < limit; i++) {
        const v = logits[i] as number
        if (v > bestValue) {
          bestValue = v
          best = i
        }
      }
      if (best < 0) throw new EngineError('internal', 'The model gave no finite logit to pick a token from.', { hint: 'Check the model weights (NaN or infinite values).' })
      return best
    }
  }

  const uniform = mulberry32(opts.seed ?? 0)
  return (logits) => {
    const limit = limitOf(logits)
    let max = -Infinity
    for (let i = 0; i < limit; i++) max = Math.max(max, (logits[i] as number) / temperature)
    if (!Number.isFinite(max)) throw new EngineError('internal', 'The model gave no finite logit to sample a token from.', { hint: 'Check the model weights (NaN or infinite values).' })
    const probs = new Float64Array(limit)
    let total = 0
    for (let i = 0; i < limit; i++) {
      const e = Math.exp((logits[i] as number) / temperature - max)
      probs[i] = Number.isNaN(e) ? 0 : e
      total += probs[i] as number
    }
    for (let i = 0; i < limit; i++) probs[i] = (probs[i] as number) / total
    // Only the tokens at or above a threshold need sorting once their probability reaches topP:
    // the nucleus is a prefix of the sorted order, and those tokens are one. Lower the threshold
    // until it is (at 0 every token is a candidate).
    let candidates: number[]
    for (let threshold = 1 / 64; ; threshold = threshold > 1e-12 ? threshold / 64 : 0) {
      candidates = []
      let mass = 0
      for (let i = 0; i < limit; i++) {
        if ((probs[i] as number) >= threshold && (probs[i] as number) > 0) {
          candidates.push(i)
          mass += probs[i] as number
        }
      }
      if (mass >= topP || threshold === 0) break
    }
    candidates.sort((a, b) => (probs[b] as number) - (probs[a] as number) || a - b)
    let kept = 0
    let mass = 0
    while (kept < candidates.length && (kept === 0 || mass < topP)) mass += probs[candidates[kept++] as number] as number
    let u = uniform() * mass
    for (let k = 0; k < kept; k++) {
      const id = candidates[k] as number
      u -= probs[id] as number
      if (u < 0) return id
    }
    return candidates[kept - 1] as number
  }
}

export interface GenerateOptions extends PickOptions {
  /** New tokens at most (0: none). */
  maxTokens: number
  /** Ids that end the sequence (end-of-sequence tokens); the one picked is the last token returned. */
  stopIds?: readonly number[]
  /** false: a full forward pass over the whole sequence per token, without a KV cache (the reference). */
  cache?: boolean
  signal?: AbortSignal
  /** Called after each token is picked, with how many there are now. */
  onToken?: (id: number, count: number) => void
}

export interface Generated {
  /** The new ids, the end-of-sequence id included when one ended it. */
  tokens: number[]
  finishReason: FinishReason
  /** Wall time of the whole generation, prefill included. */
  seconds: number
  /** New tokens per second over `seconds`. */
  tokensPerSecond: number
}

/**
 * Continues `prompt` (ids, at least one) with up to `maxTokens` new tokens, one at a time: the
 * prompt is run once (the prefill), then each picked token is fed as a one-token step against the
 * cache. Stops after an id in `stopIds` ('eos'), after `maxTokens` ('max-tokens'), or when prompt
 * and continuation fill the positions the model takes ('max-positions'); a prompt longer than
 * that is refused.
 */
export async function generate(model: CausalLM, prompt: readonly number[], opts: GenerateOptions): Promise<Generated> {
  const V = model.config.vocabSize
  const maxSequence = model.maxSequence
  if (prompt.length === 0) throw new EngineError('invalid-request', 'The prompt has no tokens.', { hint: 'Give a prompt of at least one token.' })
  const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= V)
  if (bad !== undefined) throw new EngineError('invalid-request', `Token id ${bad} is outside this model's vocabulary (0 … ${V - 1}).`, { hint: 'Use the tokenizer that belongs to the model.' })
  if (prompt.length > maxSequence) {
    throw new EngineError('invalid-request', `The prompt is ${prompt.length} tokens; this model takes at most ${maxSequence} positions.`, { hint: 'Give a shorter prompt.' })
  }
  const pick = tokenPicker(opts)
  const stop = new Set(opts.stopIds ?? [])
  const seq = [...prompt]
  const tokens: number[] = []
  const start = performance.now()
  const cache = opts.cache === false ? null : new KvCache(model)
  const next = (ids: readonly number[]) => (cache ? cache.feed(ids) : lastLogits(model, seq))
  const room = () => tokens.length < opts.maxTokens && seq.length < maxSequence
  let finishReason: FinishReason | null = null
  try {
    let logits = room() ? await next(prompt) : null
    while (logits) {
      opts.signal?.throwIfAborted()
      const id = pick(logits)
      tokens.push(id)
      seq.push(id)
      opts.onToken?.(id, tokens.length)
      if (stop.has(id)) {
        finishReason = 'eos'
        break
      }
      logits = room() ? await next([id]) : null
      // Let timers and signals through (progress, Ctrl-C) between tokens.
      await new Promise((r) => setImmediate(r))
    }
  } finally {
    cache?.dispose()
  }
  const seconds = (performance.now() - start) / 1000
  return {
    tokens,
    finishReason: finishReason ?? (tokens.length >= opts.maxTokens ? 'max-tokens' : 'max-positions'),
    seconds,
    tokensPerSecond: seconds > 0 ? tokens.length / seconds : 0,
  }
}
