/**
 * Hugging Face tensor names, in one place: which tensors a configuration has, their shapes as
 * stored, and how stored names map to ours.
 *
 * Our names are the Hugging Face names without the hub's module prefix (`transformer.` for
 * GPT-2, `model.` for the Llama family); `lm_head.weight` has none. Linear layers of the Llama
 * family are stored PyTorch-style as [out, in]; we hold them as [in, out] so that the forward pass
 * is a plain 2-D product (the fast path on the wasm backend), and transpose on load and save.
 * GPT-2's Conv1D weights are already [in, out].
 */
import type { ModelConfig } from './config'

export type ParamKind = 'embedding' | 'head' | 'position' | 'matrix' | 'bias' | 'norm'

export interface ParamSpec {
  /** Our name: the HF name without module prefix. */
  name: string
  /** The shape as stored in the checkpoint. */
  shape: number[]
  /** Stored [out, in] and held [in, out]. */
  transposed: boolean
  kind: ParamKind
}

/** The name of the input embedding matrix. */
export function embeddingName(config: ModelConfig): string {
  return config.arch === 'gpt2' ? 'wte.weight' : 'embed_tokens.weight'
}

export const HEAD_NAME = 'lm_head.weight'

export function modulePrefix(config: ModelConfig): string {
  return config.arch === 'gpt2' ? 'transformer.' : 'model.'
}

/** Every tensor a model with this configuration has, in the order HF's state_dict lists them. */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = []
  const add = (name: string, shape: number[], kind: ParamKind, transposed = false) => specs.push({ name, shape, kind, transposed })
  const V = config.vocabSize
  const D = config.hiddenSize
  if (config.arch === 'gpt2') {
    add('wte.weight', [V, D], 'embedding')
    add('wpe.weight', [config.maxPositions, D], 'position')
    for (let i = 0; i < config.numLayers; i++) {
      const p = `h.${i}.`
      add(p + 'ln_1.weight', [D], 'norm')
      add(p + 'ln_1.bias', [D], 'bias')
      add(p + 'attn.c_attn.weight', [D, 3 * D], 'matrix')
      add(p + 'attn.c_attn.bias', [3 * D], 'bias')
      add(p + 'attn.c_proj.weight', [D, D], 'matrix')
      add(p + 'attn.c_proj.bias', [D], 'bias')
      add(p + 'ln_2.weight', [D], 'norm')
      add(p + 'ln_2.bias', [D], 'bias')
      add(p + 'mlp.c_fc.weight', [D, config.mlpSize], 'matrix')
      add(p + 'mlp.c_fc.bias', [config.mlpSize], 'bias')
      add(p + 'mlp.c_proj.weight', [config.mlpSize, D], 'matrix')
      add(p + 'mlp.c_proj.bias', [D], 'bias')
    }
    add('ln_f.weight', [D], 'norm')
    add('ln_f.bias', [D], 'bias')
  } else {
    const qDim = config.numHeads * config.headDim
    const kvDim = config.numKvHeads * config.headDim
    const I = config.mlpSize
    add('embed_tokens.weight', [V, D], 'embedding')
    for (let i = 0; i < config.numLayers; i++) {
      const p = `layers.${i}.`
      add(p + 'self_attn.q_proj.weight', [qDim, D], 'matrix', true)
      if (config.qkvBias) add(p + 'self_attn.q_proj.bias', [qDim], 'bias')
      add(p + 'self_attn.k_proj.weight', [kvDim, D], 'matrix', true)
      if (config.qkvBias) add(p + 'self_attn.k_proj.bias', [kvDim], 'bias')
      add(p + 'self_attn.v_proj.weight', [kvDim, D], 'matrix', true)
      if (config.qkvBias) add(p + 'self_attn.v_proj.bias', [kvDim], 'bias')
      add(p + 'self_attn.o_proj.weight', [D, qDim], 'matrix', true)
      if (config.oBias) add(p + 'self_attn.o_proj.bias', [D], 'bias')
      if (config.qkNorm) {
        add(p + 'self_attn.q_norm.weight', [config.headDim], 'norm')
        add(p + 'self_attn.k_norm.weight', [config.headDim], 'norm')
      }
      add(p + 'mlp.gate_proj.weight', [I, D], 'matrix', true)
      if (config.mlpBias) add(p + 'mlp.gate_proj.bias', [I], 'bias')
      add(p + 'mlp.up_proj.weight', [I, D], 'matrix', true)
      if (config.mlpBias) add(p + 'mlp.up_proj.bias', [I], 'bias')
      add(p + 'mlp.down_proj.weight', [D, I], 'matrix', true)
      if (config.mlpBias) add(p + 'mlp.down_proj.bias', [D], 'bias')
      add(p + 'input_layernorm.weight', [D], 'norm')
      add(p + 'post_attention_layernorm.weight', [D], 'norm')
    }
    add('norm.weight', [D], 'norm')
  }
  if (!config.tied) add(HEAD_NAME, [V, D], 'head', false)
  return specs
}

/** The shape we hold a parameter in. */
export function heldShape(spec: ParamSpec): number[] {
  return spec.transposed ? [spec.shape[1] as number, spec.shape[0] as number] : spec.shape
}

/** Buffers some checkpoints carry that are not parameters (causal masks, rotary tables). */
function isBuffer(config: ModelConfig, name: string): boolean {
  if (config.arch === 'gpt2') return /^h\.\d+\.attn\.(masked_)?bias$/.test(name)
  return /^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(name)
}

/**
 * Our name for a stored tensor name, or null for a buffer to skip. A tied model's `lm_head.weight`
 * (older saves wrote it) maps to `tiedHead` so the caller can skip it.
 */
export function canonicalName(config: ModelConfig, stored: string): string | null {
  const prefix = modulePrefix(config)
  const name = stored.startsWith(prefix) ? stored.slice(prefix.length) : stored
  if (isBuffer(config, name)) return null
  return name
}

/** The name to store a parameter under, as `save_pretrained` writes it. */
export function storedName(config: ModelConfig, name: string): string {
  return name === HEAD_NAME ? name : modulePrefix(config) + name
}
