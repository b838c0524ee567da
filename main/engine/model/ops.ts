/**
 * The building blocks both architectures share, written for every backend we fall back to.
 *
 * Two things differ from the obvious tfjs code, both measured on the wasm backend (see
 * docs/performance.md, "The wasm backend's matMul has one fast path" and "Kernels wasm lacks or gets wrong"):
 * - wasm's matMul is fast only for a plain 2-D product; with `transposeA`/`transposeB` it is 10 to
 *   40 times slower. The projections and their gradients (dX = dY·Wᵀ, dW = Xᵀ·dY) are therefore
 *   custom gradients that transpose explicitly and then multiply plainly. Backends whose transposed
 *   products are fast (native TensorFlow) use the flags instead.
 * - wasm has no `UnsortedSegmentSum`, which tfjs's gradient of `gather` needs; the embedding lookup
 *   has its own gradient that scatter-adds the rows of dY with `scatterND` (which sums duplicate
 *   indices on every backend).
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'
import { type FlatLayout, documentMaskData } from './layout'

/** Whether products with a transposed operand are better done as an explicit transpose first. */
export function explicitTranspose(tf: Tf): boolean {
  const b = tf.getBackend()
  return b === 'wasm' || b === 'cpu'
}

type SaveFn = (tensors: Tensor[]) => void
interface CustomResult {
  value: Tensor
  gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[]
}

/** `tf.customGrad` with the inputs as an array and the save function apart, for typed call sites. */
function customGrad(tf: Tf, f: (inputs: Tensor[], save: SaveFn) => CustomResult): (...inputs: Tensor[]) => Tensor {
  const g = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as SaveFn
    return f(args as Tensor[], save)
  }) as Parameters<Tf['customGrad']>[0])
  return (...inputs: Tensor[]) => g(...inputs)
}

/** a · bᵀ for 2-D a [n, k] and b [m, k]. */
export function matMulNT(tf: Tf, a: Tensor2D, b: Tensor2D): Tensor2D {
  return explicitTranspose(tf) ? tf.tidy(() => tf.matMul(a, tf.transpose(b))) : tf.matMul(a, b, false, true)
}

/** aᵀ · b for 2-D a [k, n] and b [k, m]. */
export function matMulTN(tf: Tf, a: Tensor2D, b: Tensor2D): Tensor2D {
  return explicitTranspose(tf) ? tf.tidy(() => tf.matMul(tf.transpose(a), b)) : tf.matMul(a, b, true, false)
}

/** x [n, in] · w [in, out], with gradients as plain 2-D products. */
export function matMul2d(tf: Tf, x: Tensor2D, w: Tensor2D): Tensor2D {
  const f = customGrad(tf, ([xx, ww], save) => {
    save([xx as Tensor, ww as Tensor])
    return {
      value: tf.matMul(xx as Tensor2D, ww as Tensor2D),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw] = saved as [Tensor2D, Tensor2D]
        return [matMulNT(tf, dy as Tensor2D, sw), matMulTN(tf, sx, dy as Tensor2D)]
      },
    }
  })
  return f(x, w) as Tensor2D
}

/** x [n, k] · wᵀ for w [m, k] (the output head against the embedding matrix), gradients as plain products. */
export function matMul2dT(tf: Tf, x: Tensor2D, w: Tensor2D): Tensor2D {
  const f = customGrad(tf, ([xx, ww], save) => {
    save([xx as Tensor, ww as Tensor])
    return {
      value: matMulNT(tf, xx as Tensor2D, ww as Tensor2D),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw] = saved as [Tensor2D, Tensor2D]
        return [tf.matMul(dy as Tensor2D, sw), matMulTN(tf, dy as Tensor2D, sx)]
      },
    }
  })
  return f(x, w) as Tensor2D
}

/** A linear layer on the last axis: x [..., in] · w [in, out] (+ b). */
export function linear(tf: Tf, x: Tensor, w: Tensor2D, b?: Tensor1D): Tensor {
  const inDim = w.shape[0]
  const outDim = w.shape[1]
  const lead = x.shape.slice(0, -1)
  const y2 = matMul2d(tf, tf.reshape(x, [-1, inDim]), w)
  const y = b ? tf.add(y2, b) : y2
  return tf.reshape(y, [...lead, outDim])
}

/** Rows of `table` [V, D] for `ids` (int32, any shape) → [...ids.shape, D]; gradient by scatter-add. */
export function embed(tf: Tf, table: Tensor2D, ids: Tensor): Tensor {
  const flat = tf.reshape(ids, [-1]) as Tensor1D
  const [V, D] = table.shape
  // Tensors a gradient needs must be saved: anything else made inside the function being
  // differentiated is disposed before the backward pass runs.
  const f = customGrad(tf, ([t], save) => {
    save([flat])
    return {
      value: tf.gather(t as Tensor, flat),
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.scatterND(tf.reshape(saved[0] as Tensor, [-1, 1]), dy, [V, D]),
    }
  })
  return tf.reshape(f(table), [...ids.shape, D])
}

/** LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance). */
export function layerNorm(tf: Tf, x: Tensor, gamma: Tensor1D, beta: Tensor1D, eps: number): Tensor {
  const axis = x.rank - 1
  const mean = tf.mean(x, axis, true)
  const centered = tf.sub(x, mean)
  const variance = tf.mean(tf.square(centered), axis, true)
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta)
}

/** RMSNorm over the last axis, as Llama's: w · x / sqrt(mean(x²) + eps). */
export function rmsNorm(tf: Tf, x: Tensor, weight: Tensor1D, eps: number): Tensor {
  const ms = tf.mean(tf.square(x), x.rank - 1, true)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight)
}

/** GPT-2's `gelu_new`: the tanh approximation of GELU. */
export function geluNew(tf: Tf, x: Tensor): Tensor {
  const c = Math.sqrt(2 / Math.PI)
  // x·x·x rather than pow(x, 3): Pow and its gradient are several times slower on wasm.
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), c)
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1))
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(tf: Tf, x: Tensor): Tensor {
  return tf.mul(x, tf.sigmoid(x))
}

/**
 * An additive causal mask for `groups` stacked query blocks of length T against T keys:
 * row r (position r mod T) sees keys 0..r mod T. Shape [groups·T, T].
 *
 * With `past` > 0 (decoding with a KV cache, see `KvInput`) the T queries are positions
 * past … past+T−1 against past+T keys: row r sees keys 0..past + r mod T. Shape [groups·T, past+T].
 */
export function causalMask(tf: Tf, T: number, groups = 1, past = 0): Tensor2D {
  const K = past + T
  const m = new Float32Array(groups * T * K)
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < T; i++) for (let j = past + i + 1; j < K; j++) m[(g * T + i) * K + j] = -1e30
  }
  return tf.tensor2d(m, [groups * T, K])
}

/** One layer's keys and values, [B, Hkv, positions, hd] each (keys after rope in the Llama family). */
export interface LayerKv {
  k: Tensor4D
  v: Tensor4D
}

/**
 * Decoding with a KV cache (model/generate.ts): a forward pass over T new tokens at positions
 * offset … offset+T−1 that attends to the keys and values of the positions before them (`past`)
 * instead of recomputing them, and hands back every layer's keys and values of all offset+T
 * positions (`present`) for the next call.
 */
export interface KvInput {
  /** Positions already decoded: the new tokens' first position. */
  offset: number
  /** Per layer, the keys and values of positions 0 … offset−1; empty when offset is 0. */
  past: readonly LayerKv[]
  /** Filled by the forward pass, per layer: `past` with the new positions appended. */
  present: LayerKv[]
}

/**
 * A layer's keys and values k, v [B, Hkv, T, hd] for the new positions → those of every position
 * so far (with `kv`, its `past` for the layer prepended, recorded in `present`; without, k and v).
 */
export function appendKv(tf: Tf, kv: KvInput | undefined, layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
  if (!kv) return [k, v]
  const past = kv.past[layer]
  const all: LayerKv = past ? { k: tf.concat([past.k, k], 2) as Tensor4D, v: tf.concat([past.v, v], 2) as Tensor4D } : { k: k as Tensor4D, v: v as Tensor4D }
  kv.present[layer] = all
  return [all.k, all.v]
}

/**
 * The additive mask of packed documents (see layout.ts): per batch row, causal within each
 * segment and −1e30 across segments, for `groups` stacked query blocks as `causalMask`.
 * Shape [B, 1, groups·T, T]: it broadcasts over the (kv) heads.
 */
export function documentMask(tf: Tf, layout: FlatLayout, groups = 1): Tensor4D {
  return tf.tensor4d(documentMaskData(layout, groups), [layout.B, 1, groups * layout.T, layout.T])
}

/**
 * Scaled dot-product attention with an additive mask, grouped for GQA:
 * q [B, Hkv, g·T, hd] (the g query heads sharing kv head j stacked along the sequence axis),
 * k, v [B, Hkv, T, hd] → [B, Hkv, g·T, hd]. With g = 1 it is ordinary multi-head attention.
 * The mask is `causalMask`'s [g·T, T], shared by every row, or `documentMask`'s [B, 1, g·T, T].
 */
export function causalAttention(tf: Tf, q: Tensor, k: Tensor, v: Tensor, mask: Tensor2D | Tensor4D, scale: number): Tensor {
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask)
  return tf.matMul(tf.softmax(scores), v)
}

/** Rows of the output head's logits computed at once by `headNll`. */
export const HEAD_CHUNK = 1024

/**
 * Next-token negative log-likelihood straight from the final hidden states: h [N, D], the head
 * matrix w [V, D] (lm_head, or the tied embeddings), targets int32 [N] → [N] nats.
 *
 * The [N, V] logits are the largest tensor of a training step (N·V floats: 0.8 GB for 4,096
 * tokens of a 50k vocabulary), and tfjs would keep them and several copies until the backward pass
 * ends. Here they are computed `chunk` rows at a time and never kept; the gradient recomputes each
 * chunk's logits and accumulates dW, so a step holds one chunk of logits at a time.
 */
export function headNll(tf: Tf, h: Tensor2D, w: Tensor2D, targets: Tensor1D, chunk = HEAD_CHUNK): Tensor1D {
  const [N, D] = h.shape
  const V = w.shape[0]
  const t32 = tf.cast(targets, 'int32') as Tensor1D
  const chunks: [number, number][] = []
  for (let s = 0; s < N; s += chunk) chunks.push([s, Math.min(chunk, N - s)])
  const f = customGrad(tf, ([hh, ww], save) => {
    save([hh as Tensor, ww as Tensor, t32])
    const value = tf.tidy(() =>
      tf.concat(
        // A tidy per chunk: one chunk's logits (and logSumExp's temporaries) alive at a time.
        chunks.map(([s, n]) =>
          tf.tidy(() => {
            const logits = matMulNT(tf, tf.slice(hh as Tensor2D, [s, 0], [n, D]), ww as Tensor2D)
            const picked = tf.gather(tf.reshape(logits, [-1]), tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), tf.slice(t32, [s], [n])))
            return tf.sub(tf.logSumExp(logits, 1), picked)
          }),
        ),
      ),
    )
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sh, sw, st] = saved as [Tensor2D, Tensor2D, Tensor1D]
        let dW: Tensor2D = tf.zeros([V, D])
        const dh: Tensor[] = []
        for (const [s, n] of chunks) {
          const [dhChunk, dWNext] = tf.tidy(() => {
            const hc = tf.slice(sh, [s, 0], [n, D])
            const probs = tf.softmax(matMulNT(tf, hc, sw))
            // One-hot as int32, then cast: wasm's OneHot with a float32 dtype writes the int32
            // bit pattern (1 reads as 1.4e-45), a tfjs 4.22 bug.
            const oneHot = tf.cast(tf.oneHot(tf.slice(st, [s], [n]), V), 'float32')
            const g = tf.mul(tf.sub(probs, oneHot), tf.expandDims(tf.slice(dy, [s], [n]), 1)) as Tensor2D
            return [tf.matMul(g, sw), tf.add(dW, matMulTN(tf, g, hc))] as [Tensor2D, Tensor2D]
          })
          dW.dispose()
          dW = dWNext
          dh.push(dhChunk)
        }
        const dhAll = tf.concat(dh)
        tf.dispose(dh)
        return [dhAll, dW]
      },
    }
  })
  return f(h, w) as Tensor1D
}

/**
 * Mean of `values` weighted by `weights` (≥ 0: 1 for tokens that count, 0 for padding; or a
 * per-token weight): Σ w·x / Σ w, and 0 when every weight is 0 — so an all-padding batch adds no
 * loss and no gradient (the divisor is kept away from 0, and the numerator then is exactly 0).
 */
export function weightedMean(tf: Tf, values: Tensor1D, weights: Tensor1D): Scalar {
  return tf.div(tf.sum(tf.mul(values, weights)), tf.maximum(tf.sum(weights), 1e-30)) as Scalar
}
