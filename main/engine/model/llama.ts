/**
 * The Llama family (`LlamaForCausalLM`; also Mistral, Qwen2 and Qwen3, which differ only in flags),
 * forward pass top to bottom as in Touvron et al. 2023: token embeddings, then pre-RMSNorm blocks
 * of grouped-query causal self-attention with rotary position embeddings and a SwiGLU MLP, a final
 * RMSNorm; the output head (tied or not) is applied by the caller, see model.ts.
 *
 * Linear weights are held as [in, out] (transposed from PyTorch's [out, in] on load).
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'
import type { LlamaConfig } from './config'
import { type ParamLookup, layerParams } from './gpt2'
import type { FlatLayout } from './layout'
import { type KvInput, appendKv, causalAttention, causalMask, documentMask, embed, linear, rmsNorm, silu } from './ops'
import { type Block, recomputed } from './recompute'

/**
 * Rotary frequencies, computed in float32 step by step as transformers does
 * (`1 / theta^(2i/d)`), with Llama 3's long-context rescaling when configured.
 */
export function ropeInvFreq(config: LlamaConfig): Float32Array {
  const d = config.headDim
  const f = Math.fround
  const inv = new Float32Array(d / 2)
  for (let i = 0; i < d / 2; i++) inv[i] = f(1 / f(Math.pow(config.ropeTheta, f((2 * i) / d))))
  const s = config.ropeScaling
  if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor
    const highWavelen = s.originalMaxPositions / s.highFreqFactor
    for (let i = 0; i < inv.length; i++) {
      const freq = inv[i] as number
      const wavelen = (2 * Math.PI) / freq
      if (wavelen < highWavelen) continue
      if (wavelen > lowWavelen) inv[i] = freq / s.factor
      else {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
        inv[i] = (1 - smooth) * (freq / s.factor) + smooth * freq
      }
    }
  }
  return inv
}

/**
 * cos and sin tables [T, headDim] in HF's rotate-half layout (the half-size table repeated), for
 * positions from … from+T−1 (0 … T−1 by default).
 */
export function ropeTables(config: LlamaConfig, T: number, from = 0): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(config)
  const half = inv.length
  const d = config.headDim
  const scale = config.ropeScaling?.type === 'linear' ? 1 / config.ropeScaling.factor : 1
  const cos = new Float32Array(T * d)
  const sin = new Float32Array(T * d)
  for (let t = 0; t < T; t++) {
    const pos = Math.fround((from + t) * scale)
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(pos * (inv[i] as number))
      const c = Math.cos(angle)
      const s = Math.sin(angle)
      cos[t * d + i] = c
      cos[t * d + half + i] = c
      sin[t * d + i] = s
      sin[t * d + half + i] = s
    }
  }
  return { cos, sin }
}

/**
 * cos and sin tables [B·T, headDim] for the position ids of a layout (row b, position t at
 * b·T + t): each row is `ropeTables`' row for that position id, the same numbers bit for bit.
 */
export function ropeTablesAt(config: LlamaConfig, positions: Int32Array): { cos: Float32Array; sin: Float32Array } {
  let maxPos = 0
  for (const p of positions) maxPos = Math.max(maxPos, p)
  const table = ropeTables(config, maxPos + 1)
  const d = config.headDim
  const cos = new Float32Array(positions.length * d)
  const sin = new Float32Array(positions.length * d)
  positions.forEach((p, i) => {
    cos.set(table.cos.subarray(p * d, (p + 1) * d), i * d)
    sin.set(table.sin.subarray(p * d, (p + 1) * d), i * d)
  })
  return { cos, sin }
}

/** x·cos + rotate_half(x)·sin on the last axis, where rotate_half(x) = [−x₂, x₁]. */
function applyRope(tf: Tf, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [x1, x2] = tf.split(x, 2, x.rank - 1) as [Tensor, Tensor]
  const rotated = tf.concat([tf.neg(x2), x1], x.rank - 1)
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin))
}

/**
 * ids [B, T] (int32) → final hidden states [B, T, D]. With a layout (packed documents, see
 * layout.ts) each token is rotated by its position id and attends within its document only;
 * without one, positions 0 … T−1 and plain causal attention. With `kv` (decoding, see ops.ts
 * `KvInput`; not with a layout) the tokens are at positions offset … offset+T−1 and attend to the
 * cached keys and values (keys already rotated) of the positions before them too. `recompute`: each
 * block's activations are recomputed in the backward pass instead of kept (recompute.ts; not with `kv`).
 */
export function llamaHidden(tf: Tf, config: LlamaConfig, p: ParamLookup, ids: Tensor2D, layout?: FlatLayout, kv?: KvInput, recompute = false): Tensor {
  const [B, T] = ids.shape
  const H = config.numHeads
  const Hkv = config.numKvHeads
  const g = H / Hkv
  const hd = config.headDim
  const eps = config.rmsNormEps
  const w1 = (name: string) => p(name) as Tensor1D
  const w2 = (name: string) => p(name) as Tensor2D

  let x = embed(tf, w2('embed_tokens.weight'), ids)

  // Rotations of positions 0 … T−1 [T, hd], or per row and position id [B, 1, T, hd]; either
  // broadcasts over the heads of q and k [B, heads, T, hd] (rope is applied before the query heads
  // are stacked, below).
  const offset = kv?.offset ?? 0
  const tables = layout ? ropeTablesAt(config, layout.positions) : ropeTables(config, T, offset)
  const tableShape = layout ? [B, 1, T, hd] : [T, hd]
  const cos = tf.tensor(tables.cos, tableShape)
  const sin = tf.tensor(tables.sin, tableShape)
  // Query heads that share a key/value head are stacked along the sequence axis, so grouped-query
  // attention needs no copies of k and v: q [B, Hkv, g·T, hd] against k, v [B, Hkv, T, hd]. The
  // mask is shared by the rows [g·T, T], or per row with a layout [B, 1, g·T, T].
  const mask = layout ? documentMask(tf, layout, g) : causalMask(tf, T, g, offset)

  for (let i = 0; i < config.numLayers; i++) {
    const l = `layers.${i}.`
    // Self-attention on the RMS-normalised input; then the SwiGLU MLP: down(silu(gate(n)) · up(n)).
    // With `recompute` the block is one op whose backward pass runs it again (recompute.ts), so
    // that its intermediates are not held until the backward pass.
    const block: Block = (x, p, [m, c, s]) => {
      const w1 = (name: string) => p(l + name) as Tensor1D
      const w2 = (name: string) => p(l + name) as Tensor2D
      const bias = (name: string, present: boolean) => (present ? w1(name) : undefined)
      const cosT = c as Tensor
      const sinT = s as Tensor
      const n = rmsNorm(tf, x, w1('input_layernorm.weight'), eps)
      const q = linear(tf, n, w2('self_attn.q_proj.weight'), bias('self_attn.q_proj.bias', config.qkvBias))
      const k = linear(tf, n, w2('self_attn.k_proj.weight'), bias('self_attn.k_proj.bias', config.qkvBias))
      const v = linear(tf, n, w2('self_attn.v_proj.weight'), bias('self_attn.v_proj.bias', config.qkvBias))
      // Qwen3 normalises each query and key head (RMSNorm over the head's dimensions) before rope.
      const qHeads = config.qkNorm ? rmsNorm(tf, tf.reshape(q, [B, T, H, hd]), w1('self_attn.q_norm.weight'), eps) : tf.reshape(q, [B, T, H, hd])
      const kHeads = config.qkNorm ? rmsNorm(tf, tf.reshape(k, [B, T, Hkv, hd]), w1('self_attn.k_norm.weight'), eps) : tf.reshape(k, [B, T, Hkv, hd])
      const qh = applyRope(tf, tf.transpose(qHeads, [0, 2, 1, 3]), cosT, sinT)
      const kh = applyRope(tf, tf.transpose(kHeads, [0, 2, 1, 3]), cosT, sinT)
      const [keys, values] = appendKv(tf, kv, i, kh, tf.transpose(tf.reshape(v, [B, T, Hkv, hd]), [0, 2, 1, 3]))
      const y = causalAttention(tf, tf.reshape(qh, [B, Hkv, g * T, hd]), keys, values, m as Tensor2D | Tensor4D, 1 / Math.sqrt(hd))
      const merged = tf.reshape(tf.transpose(tf.reshape(y, [B, H, T, hd]), [0, 2, 1, 3]), [B, T, H * hd])
      const h = tf.add(x, linear(tf, merged, w2('self_attn.o_proj.weight'), bias('self_attn.o_proj.bias', config.oBias)))

      const mn = rmsNorm(tf, h, w1('post_attention_layernorm.weight'), eps)
      const gate = silu(tf, linear(tf, mn, w2('mlp.gate_proj.weight'), bias('mlp.gate_proj.bias', config.mlpBias)))
      const up = linear(tf, mn, w2('mlp.up_proj.weight'), bias('mlp.up_proj.bias', config.mlpBias))
      return tf.add(h, linear(tf, tf.mul(gate, up), w2('mlp.down_proj.weight'), bias('mlp.down_proj.bias', config.mlpBias)))
    }
    const constants = [mask, cos, sin]
    x = recompute && !kv ? recomputed(tf, block, x, p, layerParams(config, l), constants) : block(x, p, constants)
  }
  return rmsNorm(tf, x, w1('norm.weight'), eps)
}
