/**
 * A model's `config.json`, read into one typed object per architecture family. Only the fields
 * the forward pass needs are kept as typed fields; the original object is kept too, so a saved
 * model carries every field it came with (with `vocab_size` and `torch_dtype` updated).
 */
import { EngineError } from '../common/errors'
import { type FloatDtype, TORCH_DTYPE, dtypeFromTorch } from './dtype'

/** The `model_type` values we run, and the family each belongs to. */
export const SUPPORTED_MODEL_TYPES = { gpt2: 'gpt2', llama: 'llama', mistral: 'llama', qwen2: 'llama', qwen3: 'llama' } as const
export type ModelType = keyof typeof SUPPORTED_MODEL_TYPES

interface CommonConfig {
  modelType: ModelType
  vocabSize: number
  hiddenSize: number
  numLayers: number
  numHeads: number
  /** Key/value heads of the attention (fewer than `numHeads` for grouped-query attention; GPT-2: `numHeads`). */
  numKvHeads: number
  headDim: number
  /** The width of the MLP's hidden layer (GPT-2's `n_inner`, the Llama family's `intermediate_size`). */
  mlpSize: number
  /** The longest sequence the model was trained for (positions it has embeddings or was tuned for). */
  maxPositions: number
  /** Whether the output head shares the input embedding matrix. */
  tied: boolean
  /** How the weights are stored (`torch_dtype`); computation is always float32. */
  dtype: FloatDtype
  bosTokenId: number | null
  eosTokenId: number | null
  /** The config.json object as read. */
  raw: Record<string, unknown>
}

export interface Gpt2Config extends CommonConfig {
  arch: 'gpt2'
  layerNormEps: number
}

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }

export interface LlamaConfig extends CommonConfig {
  arch: 'llama'
  rmsNormEps: number
  ropeTheta: number
  ropeScaling: RopeScaling | null
  /** Bias on the q, k and v projections (Qwen2; Llama with `attention_bias`). */
  qkvBias: boolean
  /** Bias on the output projection (Llama with `attention_bias`). */
  oBias: boolean
  mlpBias: boolean
  /** Qwen3's RMSNorm of each query and key head before the rotary embedding. */
  qkNorm: boolean
  /** Mistral's sliding attention window; we attend over whole sequences, so longer inputs are refused. */
  slidingWindow: number | null
}

export type ModelConfig = Gpt2Config | LlamaConfig

function configError(file: string, problem: string, hint?: string): EngineError {
  return new EngineError('bad-input', `${file}: ${problem}.`, { file, hint: hint ?? 'Use the config.json that came with the model.' })
}

/** Parses a config.json object; `file` names it in errors. */
export function parseModelConfig(raw: unknown, file: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw configError(file, 'it is not a JSON object')
  const c = raw as Record<string, unknown>
  const modelType = c.model_type
  if (typeof modelType !== 'string' || !(modelType in SUPPORTED_MODEL_TYPES)) {
    throw new EngineError('bad-input', `${file}: model_type ${JSON.stringify(modelType ?? null)} is not supported.`, {
      file,
      hint: `Vernacular runs these model types: ${Object.keys(SUPPORTED_MODEL_TYPES).join(', ')} (GPT-2; Llama, TinyLlama, SmolLM/SmolLM2; Mistral; Qwen2/2.5; Qwen3).`,
    })
  }
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw configError(file, `"${key}" must be a positive integer (found ${JSON.stringify(c[key] ?? null)})`)
    return v
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(file, `"${key}" must be a number (found ${JSON.stringify(c[key] ?? null)})`)
    return v
  }
  const optId = (key: string): number | null => {
    const v = c[key]
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
    if (Array.isArray(v) && typeof v[0] === 'number') return v[0]
    return null
  }
  const dtypeName = c.torch_dtype ?? c.dtype ?? 'float32'
  const dtype = dtypeFromTorch(dtypeName)
  if (!dtype) throw configError(file, `torch_dtype ${JSON.stringify(dtypeName)} is not one of float32, float16, bfloat16`)
  const mt = modelType as ModelType

  if (mt === 'gpt2') {
    const hiddenSize = int('n_embd')
    const numHeads = int('n_head')
    if (hiddenSize % numHeads !== 0) throw configError(file, `n_embd (${hiddenSize}) is not a multiple of n_head (${numHeads})`)
    const act = c.activation_function ?? 'gelu_new'
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
      throw configError(file, `activation_function "${String(act)}" is not supported`, 'GPT-2 models use gelu_new; others are not supported yet.')
    }
    for (const flag of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn', 'add_cross_attention']) {
      if (c[flag] === true) throw configError(file, `"${flag}": true is not supported`, 'Vernacular runs standard GPT-2 models.')
    }
    if (c.scale_attn_weights === false) throw configError(file, '"scale_attn_weights": false is not supported', 'Vernacular runs standard GPT-2 models.')
    return {
      arch: 'gpt2',
      modelType: mt,
      vocabSize: int('vocab_size'),
      hiddenSize,
      numLayers: int('n_layer'),
      numHeads,
      numKvHeads: numHeads,
      headDim: hiddenSize / numHeads,
      mlpSize: c.n_inner == null ? 4 * hiddenSize : int('n_inner'),
      maxPositions: int('n_positions', c.n_ctx as number),
      layerNormEps: num('layer_norm_epsilon', 1e-5),
      tied: c.tie_word_embeddings !== false,
      dtype,
      bosTokenId: optId('bos_token_id'),
      eosTokenId: optId('eos_token_id'),
      raw: c,
    }
  }

  const hiddenSize = int('hidden_size')
  const numHeads = int('num_attention_heads')
  const numKvHeads = int('num_key_value_heads', numHeads)
  if (numHeads % numKvHeads !== 0) throw configError(file, `num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`)
  const headDim = c.head_dim == null ? hiddenSize / numHeads : int('head_dim')
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw configError(file, `the head dimension (${headDim}) must be an even integer`)
  const act = c.hidden_act ?? 'silu'
  if (act !== 'silu') throw configError(file, `hidden_act "${String(act)}" is not supported`, 'Llama-family models use silu; others are not supported yet.')
  let ropeScaling: RopeScaling | null = null
  const rs = c.rope_scaling as Record<string, unknown> | null | undefined
  if (rs != null) {
    const type = rs.rope_type ?? rs.type
    const f = (key: string) => {
      const v = rs[key]
      if (typeof v !== 'number' || !(v > 0)) throw configError(file, `rope_scaling.${key} must be a positive number`)
      return v
    }
    if (type === 'linear') ropeScaling = { type: 'linear', factor: f('factor') }
    else if (type === 'llama3') {
      ropeScaling = { type: 'llama3', factor: f('factor'), lowFreqFactor: f('low_freq_factor'), highFreqFactor: f('high_freq_factor'), originalMaxPositions: f('original_max_position_embeddings') }
    } else if (type !== 'default') {
      throw configError(file, `rope_scaling type ${JSON.stringify(type)} is not supported`, 'Supported: none, "linear" and "llama3".')
    }
  }
  const attentionBias = c.attention_bias === true
  const qkvBias = mt === 'qwen2' ? true : attentionBias
  const slidingWindow =
    mt === 'mistral' && typeof c.sliding_window === 'number'
      ? c.sliding_window
      : (mt === 'qwen2' || mt === 'qwen3') && c.use_sliding_window === true && typeof c.sliding_window === 'number'
        ? c.sliding_window
        : null
  return {
    arch: 'llama',
    modelType: mt,
    vocabSize: int('vocab_size'),
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    mlpSize: int('intermediate_size'),
    maxPositions: int('max_position_embeddings', 2048),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling,
    qkvBias,
    oBias: mt === 'qwen2' ? false : attentionBias,
    mlpBias: c.mlp_bias === true,
    qkNorm: mt === 'qwen3',
    slidingWindow,
    tied: c.tie_word_embeddings === true,
    dtype,
    bosTokenId: optId('bos_token_id'),
    eosTokenId: optId('eos_token_id'),
    raw: c,
  }
}

/** The config.json object for a model with a (possibly) new vocabulary size and storage type. */
export function configJson(config: ModelConfig, changes: { vocabSize?: number; dtype?: FloatDtype } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.raw }
  if (changes.vocabSize !== undefined) out.vocab_size = changes.vocabSize
  if (changes.dtype !== undefined) out.torch_dtype = TORCH_DTYPE[changes.dtype]
  return out
}
