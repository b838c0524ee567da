/**
 * GPT-2 (`GPT2LMHeadModel`), forward pass top to bottom as in Radford et al. 2019:
 * token + learned position embeddings, then pre-LayerNorm blocks of causal self-attention and a
 * `gelu_new` MLP, a final LayerNorm, and the output head tied to the token embeddings (applied by
 * the caller, see model.ts). Weights are held as Hugging Face stores them (Conv1D: [in, out]).
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'
import type { Gpt2Config, ModelConfig } from './config'
import type { FlatLayout } from './layout'
import { paramSpecs } from './names'
import { type KvInput, appendKv, causalAttention, causalMask, documentMask, embed, geluNew, layerNorm, linear, splitLast } from './ops'
import { type Block, recomputed } from './recompute'

export type ParamLookup = (name: string) => Tensor

/** The parameters of one block: those whose names start with its prefix (`h.3.`, `layers.3.`). */
export function layerParams(config: ModelConfig, prefix: string): string[] {
  return paramSpecs(config)
    .map((s) => s.name)
    .filter((n) => n.startsWith(prefix))
}

/**
 * ids [B, T] (int32) → final hidden states [B, T, D]. With a layout (packed documents, see
 * layout.ts) each token gets the position embedding of its position id and attends within its
 * document only; without one, positions 0 … T−1 and plain causal attention. With `kv` (decoding,
 * see ops.ts `KvInput`; not with a layout) the tokens are at positions offset … offset+T−1 and
 * attend to the cached keys and values of the positions before them too. `recompute`: each block's
 * activations are recomputed in the backward pass instead of kept (recompute.ts; not with `kv`).
 */
export function gpt2Hidden(tf: Tf, config: Gpt2Config, p: ParamLookup, ids: Tensor2D, layout?: FlatLayout, kv?: KvInput, recompute = false): Tensor {
  const [B, T] = ids.shape
  const D = config.hiddenSize
  const H = config.numHeads
  const hd = config.headDim
  const eps = config.layerNormEps
  const w1 = (name: string) => p(name) as Tensor1D
  const w2 = (name: string) => p(name) as Tensor2D

  // Embeddings: the token's row plus its position's row (gathered by position id with a layout,
  // by `embed`, whose scatter-add gradient sums the rows of positions that occur more than once).
  const offset = kv?.offset ?? 0
  const positions = layout ? embed(tf, w2('wpe.weight'), tf.tensor2d(layout.positions, [B, T], 'int32')) : tf.slice(w2('wpe.weight'), [offset, 0], [T, D])
  let x = tf.add(embed(tf, w2('wte.weight'), ids), positions)

  const mask = layout ? documentMask(tf, layout) : causalMask(tf, T, 1, offset)
  const toHeads = (t: Tensor) => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3])

  for (let i = 0; i < config.numLayers; i++) {
    const l = `h.${i}.`
    // Causal self-attention on the normalised input, added back to the residual stream; then the
    // MLP: expand, gelu_new, project back. With `recompute` the block is one op whose backward pass
    // runs it again (recompute.ts), so that its intermediates are not held until the backward pass.
    const block: Block = (x, p, [m]) => {
      const w1 = (name: string) => p(l + name) as Tensor1D
      const w2 = (name: string) => p(l + name) as Tensor2D
      const a = layerNorm(tf, x, w1('ln_1.weight'), w1('ln_1.bias'), eps)
      const qkv = linear(tf, a, w2('attn.c_attn.weight'), w1('attn.c_attn.bias'))
      const [q, k, v] = splitLast(tf, qkv, 3) as [Tensor, Tensor, Tensor]
      const [keys, values] = appendKv(tf, kv, i, toHeads(k), toHeads(v))
      const y = causalAttention(tf, toHeads(q), keys, values, m as Tensor2D | Tensor4D, 1 / Math.sqrt(hd))
      const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, D])
      const h = tf.add(x, linear(tf, merged, w2('attn.c_proj.weight'), w1('attn.c_proj.bias')))

      const n = layerNorm(tf, h, w1('ln_2.weight'), w1('ln_2.bias'), eps)
      const hidden = geluNew(tf, linear(tf, n, w2('mlp.c_fc.weight'), w1('mlp.c_fc.bias')))
      return tf.add(h, linear(tf, hidden, w2('mlp.c_proj.weight'), w1('mlp.c_proj.bias')))
    }
    x = recompute && !kv ? recomputed(tf, block, x, p, layerParams(config, l), [mask]) : block(x, p, [mask])
  }
  return layerNorm(tf, x, w1('ln_f.weight'), w1('ln_f.bias'), eps)
}
