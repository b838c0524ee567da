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
import { pickTargets } from './pick'

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
  const y = b ? addBias(tf, y2, b) : y2
  return tf.reshape(y, [...lead, outDim])
}

/**
 * y [N, C] + b [C], with b's gradient (the column sums of dY) as the product ones [1, N] · dY:
 * wasm's `Sum` over a leading axis transposes its input first, and bias gradients were 5% of a
 * GPT-2 step; the product is a plain 2-D one. Other backends sum.
 */
export function addBias(tf: Tf, y: Tensor2D, b: Tensor1D): Tensor2D {
  if (!explicitTranspose(tf)) return tf.add(y, b)
  const N = y.shape[0]
  const f = customGrad(tf, ([yy, bb]) => ({
    value: tf.add(yy as Tensor, bb as Tensor),
    gradFunc: (dy: Tensor) => [dy, tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, N]) as Tensor2D, dy as Tensor2D), [-1]))],
  }))
  return f(y, b) as Tensor2D
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
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), 2 * c)
  // 0.5·(1 + tanh(u)) = sigmoid(2u): wasm's Sigmoid (XNNPACK, vectorised) is ~25× faster than its
  // Tanh (scalar), which was 4% of a GPT-2 step.
  return tf.mul(x, tf.sigmoid(inner))
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
  if (q.rank === 4 && (q.shape[2] as number) * (k.shape[2] as number) >= SLICED_ATTENTION_MIN && slicedMatMulAvailable(tf)) return slicedAttention(tf, q, k, v, mask, scale)
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask)
  return tf.matMul(tf.softmax(scores), v)
}

/** Query × key positions from which `slicedAttention` pays off on wasm (below, its per-slice kernel calls cost more than they save). */
export const SLICED_ATTENTION_MIN = 32 * 32

/**
 * `causalAttention` as one op whose products are plain 2-D matMuls, one per (row, kv head) slice
 * (`slicedMatMul`): wasm's batched matMul runs ~3 GFLOP/s whatever the layout, its 2-D matMul
 * (XNNPACK) ~10× that (docs/performance.md). The transposed operands are transposed once for all
 * slices, and the gradient is written out
 * (dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Σ dP∘P)·scale, dQ = dS·K, dK = dSᵀ·Q) so that it needs
 * no transposed product either. The same values as the batched form up to float32 rounding.
 */
export function slicedAttention(tf: Tf, q: Tensor, k: Tensor, v: Tensor, mask: Tensor2D | Tensor4D, scale: number): Tensor {
  const [B, Hkv, Tq, hd] = q.shape as [number, number, number, number]
  const T = k.shape[2] as number
  const N = B * Hkv
  const perSlice = (a: Tensor, b: Tensor): Tensor => slicedMatMul(tf, a, b)
  const f = customGrad(tf, ([qq, kk, vv], save) => {
    const value = tf.tidy(() => {
      const q3 = tf.reshape(qq as Tensor, [N, Tq, hd])
      const scores = tf.reshape(perSlice(q3, tf.transpose(tf.reshape(kk as Tensor, [N, T, hd]), [0, 2, 1])), [B, Hkv, Tq, T])
      const probs = tf.reshape(tf.softmax(tf.add(tf.mul(scores, scale), mask)), [N, Tq, T])
      save([qq as Tensor, kk as Tensor, vv as Tensor, probs])
      return tf.reshape(perSlice(probs, tf.reshape(vv as Tensor, [N, T, hd])), [B, Hkv, Tq, hd])
    })
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sq, sk, sv, probs] = saved as [Tensor, Tensor, Tensor, Tensor]
        return tf.tidy(() => {
          const dO = tf.reshape(dy, [N, Tq, hd])
          const q3 = tf.reshape(sq, [N, Tq, hd])
          const k3 = tf.reshape(sk, [N, T, hd])
          const dV = perSlice(tf.transpose(probs, [0, 2, 1]), dO)
          const dP = perSlice(dO, tf.transpose(tf.reshape(sv, [N, T, hd]), [0, 2, 1]))
          const dS = tf.mul(tf.mul(probs, tf.sub(dP, tf.sum(tf.mul(dP, probs), 2, true))), scale)
          const dQ = perSlice(dS, k3)
          const dK = perSlice(tf.transpose(dS, [0, 2, 1]), q3)
          return [tf.reshape(dQ, [B, Hkv, Tq, hd]), tf.reshape(dK, [B, Hkv, T, hd]), tf.reshape(dV, [B, Hkv, T, hd])]
        })
      },
    }
  })
  return f(q, k, v)
}

/** The wasm backend's internals `slicedMatMul` uses (tfjs-backend-wasm 4.22, `BackendWasm`). */
interface WasmBackendInternals {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined }
  dataIdNextNumber: number
  makeOutput(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' }
  wasm: {
    HEAPU8: Uint8Array
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void }
  }
}

const SLICED_MATMUL = 'VernacularSlicedMatMul'
const wasmMatMuls = new WeakMap<object, (...args: unknown[]) => void>()

/** Whether `slicedMatMul` runs on the current backend (wasm, with the internals it needs). */
export function slicedMatMulAvailable(tf: Tf): boolean {
  if (tf.getBackend() !== 'wasm') return false
  const b = tf.backend() as unknown as Partial<WasmBackendInternals>
  if (!b.dataIdMap || typeof b.dataIdNextNumber !== 'number' || typeof b.makeOutput !== 'function' || typeof b.wasm?.cwrap !== 'function' || typeof b.wasm.tfjs?.registerTensor !== 'function') return false
  if (!tf.getKernel(SLICED_MATMUL, 'wasm')) {
    tf.registerKernel({ kernelName: SLICED_MATMUL, backendName: 'wasm', kernelFunc: slicedMatMulKernel as unknown as Parameters<Tf['registerKernel']>[0]['kernelFunc'] })
  }
  return true
}

/**
 * The wasm kernel of `slicedMatMul`: for each slice i, the backend's own 2-D matMul (its XNNPACK
 * path, taken for a plain product of batch 1) on views of a, b and the output at slice i's offset
 * in wasm memory, registered under fresh tensor ids for the call and unregistered after (the views
 * own no memory). No copies: `Slice` and `Gather` on wasm cost more than the products they feed.
 */
function slicedMatMulKernel(args: { inputs: { a: { dataId: object; shape: number[] }; b: { dataId: object; shape: number[] } }; backend: WasmBackendInternals }) {
  const { inputs, backend } = args
  const [N, m, k] = inputs.a.shape as [number, number, number]
  const n = inputs.b.shape[2] as number
  let matMul = wasmMatMuls.get(backend)
  if (!matMul) {
    matMul = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'])
    wasmMatMuls.set(backend, matMul)
  }
  const a = backend.dataIdMap.get(inputs.a.dataId)
  const b = backend.dataIdMap.get(inputs.b.dataId)
  const out = backend.makeOutput([N, m, n], 'float32')
  const o = backend.dataIdMap.get(out.dataId)
  if (!a || !b || !o) throw new Error('slicedMatMul: a tensor has no data on the wasm backend')
  const shape = (dims: number[]) => new Uint8Array(new Int32Array(dims).buffer)
  const aShape = shape([1, m, k])
  const bShape = shape([1, k, n])
  const reg = backend.wasm.tfjs
  for (let i = 0; i < N; i++) {
    const ia = backend.dataIdNextNumber++
    const ib = backend.dataIdNextNumber++
    const io = backend.dataIdNextNumber++
    reg.registerTensor(ia, m * k, a.memoryOffset + 4 * i * m * k)
    reg.registerTensor(ib, k * n, b.memoryOffset + 4 * i * k * n)
    reg.registerTensor(io, m * n, o.memoryOffset + 4 * i * m * n)
    try {
      matMul(ia, aShape, 3, ib, bShape, 3, 0, 0, io)
    } finally {
      reg.disposeData(ia)
      reg.disposeData(ib)
      reg.disposeData(io)
    }
  }
  return out
}

/** a [N, m, k] · b [N, k, n] → [N, m, n] as N plain 2-D products (wasm only: see `slicedMatMulAvailable`). No gradient of its own. */
export function slicedMatMul(tf: Tf, a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) throw new Error(`slicedMatMul: shapes ${a.shape} and ${b.shape} do not multiply`)
  if (!slicedMatMulAvailable(tf)) throw new Error(`slicedMatMul runs on the wasm backend only (this is ${tf.getBackend()})`)
  return tf.engine().runKernel(SLICED_MATMUL, { a, b }, {}) as Tensor
}

const SPLIT_LAST = 'VernacularSplitLast'

/**
 * `n` equal pieces of x along its last axis (GPT-2's q, k, v from one projection), with the
 * gradient a concat. On wasm, `tf.split` goes through `Slice`, which copies its whole input into a
 * fresh JavaScript array once per piece (docs/performance.md, "Kernels wasm lacks or gets wrong");
 * here a kernel copies each row's piece straight within wasm memory.
 */
export function splitLast(tf: Tf, x: Tensor, n: number): Tensor[] {
  if (!slicedMatMulAvailable(tf) || x.dtype !== 'float32') return tf.split(x, n, x.rank - 1)
  if (!tf.getKernel(SPLIT_LAST, 'wasm')) tf.registerKernel({ kernelName: SPLIT_LAST, backendName: 'wasm', kernelFunc: splitLastKernel as unknown as Parameters<Tf['registerKernel']>[0]['kernelFunc'] })
  const C = x.shape[x.rank - 1] as number
  if (C % n !== 0) throw new Error(`splitLast: ${C} values do not split into ${n} equal pieces`)
  const w = C / n
  const pads = (p: number): [number, number][] => x.shape.map((_, i) => (i < x.rank - 1 ? [0, 0] : [p * w, C - (p + 1) * w]))
  // One op per piece, each with its gradient padded back to the whole width (tfjs adds the three).
  return Array.from({ length: n }, (_, p) =>
    customGrad(tf, ([xx]) => ({
      value: tf.engine().runKernel(SPLIT_LAST, { x: xx as Tensor }, { n, p }) as Tensor,
      gradFunc: (dy: Tensor) => tf.pad(dy, pads(p)),
    }))(x),
  )
}

/** The wasm kernel of one piece of `splitLast`: piece p of n of every row, copied within wasm memory. */
function splitLastKernel(args: { inputs: { x: { dataId: object; shape: number[] } }; backend: WasmBackendInternals; attrs: { n: number; p: number } }) {
  const { inputs, backend, attrs } = args
  const shape = inputs.x.shape
  const C = shape[shape.length - 1] as number
  const w = C / attrs.n
  const rows = shape.reduce((a, b) => a * b, 1) / C
  const out = backend.makeOutput([...shape.slice(0, -1), w], 'float32')
  // The heap's buffer is taken after the output is allocated: an allocation may grow it.
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer)
  const x = (backend.dataIdMap.get(inputs.x.dataId) as { memoryOffset: number }).memoryOffset / 4 + attrs.p * w
  const dst = (backend.dataIdMap.get(out.dataId) as { memoryOffset: number }).memoryOffset / 4
  for (let r = 0; r < rows; r++) heap.copyWithin(dst + r * w, x + r * C, x + r * C + w)
  return out
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
  // On wasm and cpu the head is transposed once per pass (not once per chunk), and dW is
  // accumulated transposed, dWᵀ = Σ hcᵀ·g, so that what is transposed is each [n, D] chunk of
  // hidden states and the [D, V] sum once, not each [n, V] chunk of the gradient.
  const explicit = explicitTranspose(tf)
  const f = customGrad(tf, ([hh, ww], save) => {
    save([hh as Tensor, ww as Tensor, t32])
    const value = tf.tidy(() => {
      const wT = explicit ? tf.transpose(ww as Tensor2D) : null
      return tf.concat(
        // A tidy per chunk: one chunk's logits (and logSumExp's temporaries) alive at a time.
        chunks.map(([s, n]) =>
          tf.tidy(() => {
            const hc = tf.slice(hh as Tensor2D, [s, 0], [n, D])
            const logits = wT ? tf.matMul(hc, wT) : matMulNT(tf, hc, ww as Tensor2D)
            const picked = pickTargets(tf, logits as Tensor2D, tf.slice(t32, [s], [n]))
            return tf.sub(logSumExp(tf, logits as Tensor2D), picked)
          }),
        ),
      )
    })
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sh, sw, st] = saved as [Tensor2D, Tensor2D, Tensor1D]
        const wT = explicit ? tf.transpose(sw) : null
        let dW: Tensor2D = explicit ? tf.zeros([D, V]) : tf.zeros([V, D])
        const dh: Tensor[] = []
        for (const [s, n] of chunks) {
          const [dhChunk, dWNext] = tf.tidy(() => {
            const hc = tf.slice(sh, [s, 0], [n, D])
            const probs = tf.softmax(wT ? tf.matMul(hc, wT) : matMulNT(tf, hc, sw))
            // One-hot as int32, then cast: wasm's OneHot with a float32 dtype writes the int32
            // bit pattern (1 reads as 1.4e-45), a tfjs 4.22 bug.
            const oneHot = tf.cast(tf.oneHot(tf.slice(st, [s], [n]), V), 'float32')
            const g = tf.mul(tf.sub(probs, oneHot), tf.expandDims(tf.slice(dy, [s], [n]), 1)) as Tensor2D
            const part = explicit ? tf.matMul(tf.transpose(hc), g) : matMulTN(tf, g, hc)
            return [tf.matMul(g, sw), tf.add(dW, part)] as [Tensor2D, Tensor2D]
          })
          dW.dispose()
          dW = dWNext
          dh.push(dhChunk)
        }
        wT?.dispose()
        const dhAll = tf.concat(dh)
        tf.dispose(dh)
        if (explicit) {
          const dWT = dW
          dW = tf.transpose(dWT)
          dWT.dispose()
        }
        return [dhAll, dW]
      },
    }
  })
  return f(h, w) as Tensor1D
}

/**
 * log Σ exp(x) over the last axis of logits [n, V] → [n], as max(x) − log(softmax(x) at the max):
 * softmax(x)ᵢ = exp(xᵢ − lse), so at the largest xᵢ it is exp(max − lse), at least 1/V (no
 * underflow). wasm's Softmax kernel is several times faster than its Exp, which tf.logSumExp uses
 * (docs/performance.md). Not differentiated (headNll has its own gradient).
 */
export function logSumExp(tf: Tf, logits: Tensor2D): Tensor1D {
  if (!explicitTranspose(tf)) return tf.logSumExp(logits, 1) as Tensor1D
  return tf.tidy(() => tf.sub(tf.max(logits, 1), tf.log(tf.max(tf.softmax(logits), 1)))) as Tensor1D
}

/**
 * Mean of `values` weighted by `weights` (≥ 0: 1 for tokens that count, 0 for padding; or a
 * per-token weight): Σ w·x / Σ w, and 0 when every weight is 0 — so an all-padding batch adds no
 * loss and no gradient (the divisor is kept away from 0, and the numerator then is exactly 0).
 */
export function weightedMean(tf: Tf, values: Tensor1D, weights: Tensor1D): Scalar {
  return tf.div(tf.sum(tf.mul(values, weights)), tf.maximum(tf.sum(weights), 1e-30)) as Scalar
}
