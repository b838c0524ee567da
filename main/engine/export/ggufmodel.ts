/**
 * A checkpoint as llama.cpp reads it from GGUF: tensors under llama.cpp's names and layouts, the
 * architecture's hyperparameters, `general.*` facts from the model card, and the tokenizer as
 * `tokenizer.ggml.*` (ggufvocab.ts).
 *
 * GPT-2 (arch `gpt2`): Conv1D weights are stored [in, out]; ggml wants [out, in] row-major (a row
 * per output), so they are transposed, as convert_hf_to_gguf.py does. The tied head is written
 * as `output.weight` too (a copy of the token embeddings), as that script does.
 *
 * Llama (arch `llama`): linear weights are already [out, in]. llama.cpp's rotary embedding rotates
 * adjacent pairs (x[2i], x[2i+1]) where Hugging Face rotates halves (x[i], x[i+d/2]), so the rows
 * of each query and key head are reordered: new row 2i+j of a head is old row j·d/2+i.
 */
import type { ExportDtype } from '../contract'
import { EngineError } from '../common/errors'
import type { HfCheckpoint } from '../model/checkpoint'
import type { ModelConfig } from '../model/config'
import { type FloatDtype, toFloat32 } from '../model/dtype'
import { readTensorBytes } from '../model/safetensors'
import type { Tokenizer } from '../tokenizer/tokenizer'
import type { CardFacts } from './card'
import { type GgmlType, type GgufTensor, type GgufValue, ggmlTypeFits, kv } from './gguf'
import { type GgufSpecials, ggufVocab } from './ggufvocab'

export type GgufDtype = Extract<ExportDtype, 'f32' | 'f16' | 'q8_0'>
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16', 'q8_0']

/** llama.cpp's `general.file_type` (llama_ftype) for each dtype. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, q8_0: 7 }

/** The file name of a GGUF export. */
export function ggufFileName(projectName: string, step: number, dtype: GgufDtype): string {
  const safe = projectName.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'model'
  return `${safe}-step-${step}-${dtype}.gguf`
}

/** Why a checkpoint cannot be written as GGUF yet, or null. */
export function ggufUnsupported(config: ModelConfig): string | null {
  if (config.arch === 'gpt2') return null
  if (config.modelType !== 'llama' && config.modelType !== 'mistral') return `GGUF export of ${config.modelType} models is not built yet (GPT-2 and Llama are)`
  if (config.qkvBias || config.oBias || config.mlpBias || config.qkNorm) return 'GGUF export of Llama models with biases or q/k norms is not built yet'
  if (config.ropeScaling) return `GGUF export of Llama models with ${config.ropeScaling.type} rope scaling is not built yet`
  return null
}

/** The tensor type a weight of this shape gets: 1-D tensors (norms, biases) stay F32, as convert_hf_to_gguf.py keeps them. */
function tensorType(shape: readonly number[], dtype: GgufDtype): GgmlType {
  if (shape.length < 2 || dtype === 'f32') return 'F32'
  if (dtype === 'f16') return 'F16'
  return ggmlTypeFits(shape, 'Q8_0') ? 'Q8_0' : 'F16'
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number
  return out
}

/** Reorders the rows of each head from rotate-half to adjacent-pair layout (convert_hf_to_gguf.py's `permute`). */
export function permuteRope(data: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(data.length)
  const half = headDim / 2
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + j * half + i) * cols
        const to = (h * headDim + 2 * i + j) * cols
        out.set(data.subarray(from, from + cols), to)
      }
    }
  }
  return out
}

interface Planned {
  name: string
  shape: number[]
  /** Our tensor name, and the transformation to apply. */
  source: string
  transform: 'none' | 'transpose' | { rope: number }
}

/** The tensors llama.cpp expects, in order, with where each comes from. */
export function plannedTensors(config: ModelConfig): Planned[] {
  const out: Planned[] = []
  const add = (name: string, shape: number[], source: string, transform: Planned['transform'] = 'none') => out.push({ name, shape, source, transform })
  const V = config.vocabSize
  const D = config.hiddenSize
  const M = config.mlpSize
  if (config.arch === 'gpt2') {
    add('token_embd.weight', [V, D], 'wte.weight')
    add('position_embd.weight', [config.maxPositions, D], 'wpe.weight')
    for (let i = 0; i < config.numLayers; i++) {
      const h = `h.${i}.`
      const b = `blk.${i}.`
      add(b + 'attn_norm.weight', [D], h + 'ln_1.weight')
      add(b + 'attn_norm.bias', [D], h + 'ln_1.bias')
      add(b + 'attn_qkv.weight', [3 * D, D], h + 'attn.c_attn.weight', 'transpose')
      add(b + 'attn_qkv.bias', [3 * D], h + 'attn.c_attn.bias')
      add(b + 'attn_output.weight', [D, D], h + 'attn.c_proj.weight', 'transpose')
      add(b + 'attn_output.bias', [D], h + 'attn.c_proj.bias')
      add(b + 'ffn_norm.weight', [D], h + 'ln_2.weight')
      add(b + 'ffn_norm.bias', [D], h + 'ln_2.bias')
      add(b + 'ffn_up.weight', [M, D], h + 'mlp.c_fc.weight', 'transpose')
      add(b + 'ffn_up.bias', [M], h + 'mlp.c_fc.bias')
      add(b + 'ffn_down.weight', [D, M], h + 'mlp.c_proj.weight', 'transpose')
      add(b + 'ffn_down.bias', [D], h + 'mlp.c_proj.bias')
    }
    add('output_norm.weight', [D], 'ln_f.weight')
    add('output_norm.bias', [D], 'ln_f.bias')
    add('output.weight', [V, D], config.tied ? 'wte.weight' : 'lm_head.weight')
    return out
  }
  const hd = config.headDim
  const q = config.numHeads * hd
  const kvDim = config.numKvHeads * hd
  add('token_embd.weight', [V, D], 'embed_tokens.weight')
  for (let i = 0; i < config.numLayers; i++) {
    const l = `layers.${i}.`
    const b = `blk.${i}.`
    add(b + 'attn_norm.weight', [D], l + 'input_layernorm.weight')
    add(b + 'attn_q.weight', [q, D], l + 'self_attn.q_proj.weight', { rope: config.numHeads })
    add(b + 'attn_k.weight', [kvDim, D], l + 'self_attn.k_proj.weight', { rope: config.numKvHeads })
    add(b + 'attn_v.weight', [kvDim, D], l + 'self_attn.v_proj.weight')
    add(b + 'attn_output.weight', [D, q], l + 'self_attn.o_proj.weight')
    add(b + 'ffn_norm.weight', [D], l + 'post_attention_layernorm.weight')
    add(b + 'ffn_gate.weight', [M, D], l + 'mlp.gate_proj.weight')
    add(b + 'ffn_up.weight', [M, D], l + 'mlp.up_proj.weight')
    add(b + 'ffn_down.weight', [D, M], l + 'mlp.down_proj.weight')
  }
  add('output_norm.weight', [D], 'norm.weight')
  if (!config.tied) add('output.weight', [V, D], 'lm_head.weight')
  return out
}

/** The GGUF tensors of a checkpoint: llama.cpp's names, layouts and, for `dtype`, types. */
export function ggufTensors(ckpt: HfCheckpoint, dtype: GgufDtype): GgufTensor[] {
  const byName = new Map(ckpt.tensors.map((t) => [t.spec.name, t]))
  return plannedTensors(ckpt.config).map((p) => ({
    name: p.name,
    shape: p.shape,
    type: tensorType(p.shape, dtype),
    data: async () => {
      const t = byName.get(p.source)
      if (!t) throw new EngineError('bad-input', `${ckpt.dir} has no tensor ${p.source}, which ${p.name} is made from.`, { file: ckpt.dir, hint: 'Export a checkpoint that training wrote.' })
      const values = toFloat32(await readTensorBytes(t.info), t.info.dtype as FloatDtype)
      if (p.transform === 'transpose') return transpose(values, p.shape[1] as number, p.shape[0] as number)
      if (p.transform !== 'none') return permuteRope(values, p.transform.rope, (ckpt.config as { headDim: number }).headDim, p.shape[1] as number)
      return values
    },
  }))
}

/** Shapes and types only: enough for the file size. */
export function ggufTensorShapes(config: ModelConfig, dtype: GgufDtype): Pick<GgufTensor, 'name' | 'shape' | 'type'>[] {
  return plannedTensors(config).map((p) => ({ name: p.name, shape: p.shape, type: tensorType(p.shape, dtype) }))
}

/** The architecture's hyperparameters as llama.cpp reads them. */
function hyperparameters(config: ModelConfig): [string, GgufValue][] {
  const a = config.arch
  const out: [string, GgufValue][] = [
    [`${a}.context_length`, kv.u32(config.maxPositions)],
    [`${a}.embedding_length`, kv.u32(config.hiddenSize)],
    [`${a}.block_count`, kv.u32(config.numLayers)],
    [`${a}.feed_forward_length`, kv.u32(config.mlpSize)],
    [`${a}.attention.head_count`, kv.u32(config.numHeads)],
  ]
  if (config.arch === 'gpt2') {
    out.push([`${a}.attention.layer_norm_epsilon`, kv.f32(config.layerNormEps)])
    return out
  }
  out.push(
    [`${a}.attention.head_count_kv`, kv.u32(config.numKvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(config.rmsNormEps)],
    [`${a}.rope.freq_base`, kv.f32(config.ropeTheta)],
    [`${a}.rope.dimension_count`, kv.u32(config.headDim)],
    [`${a}.attention.key_length`, kv.u32(config.headDim)],
    [`${a}.attention.value_length`, kv.u32(config.headDim)],
    [`${a}.vocab_size`, kv.u32(config.vocabSize)],
  )
  return out
}

/** `general.*`: what the file is, from the model card's facts. */
function general(config: ModelConfig, facts: CardFacts, dtype: GgufDtype): [string, GgufValue][] {
  const out: [string, GgufValue][] = [
    ['general.architecture', kv.str(config.arch)],
    ['general.type', kv.str('model')],
    ['general.name', kv.str(`${facts.projectName} (step ${facts.step})`)],
    ['general.basename', kv.str(facts.projectName)],
    ['general.finetune', kv.str(`${facts.run}-step-${facts.step}`)],
    ['general.description', kv.str(`${facts.base.name} adapted to ${facts.language} with Vernacular (run ${facts.run}, step ${facts.step}).`)],
    ['general.organization', kv.str('Vernacular')],
    ['general.license', kv.str(facts.base.licence ?? 'other')],
    ['general.languages', kv.strings(facts.settings && facts.settings.englishShare > 0 ? [facts.language, 'en'] : [facts.language])],
    ['general.tags', kv.strings(['vernacular', 'language-adaptation', facts.language])],
    ['general.base_model.count', kv.u32(1)],
    ['general.base_model.0.name', kv.str(facts.base.name)],
  ]
  if (facts.base.hubId) out.push(['general.base_model.0.repo_url', kv.str(`https://huggingface.co/${facts.base.name}`)])
  out.push(['general.file_type', kv.u32(FILE_TYPE[dtype])], ['general.quantization_version', kv.u32(2)], ['general.alignment', kv.u32(32)])
  return out
}

/** All the metadata of the GGUF export of a checkpoint. */
export function ggufMetadata(config: ModelConfig, tokenizer: Tokenizer, facts: CardFacts, dtype: GgufDtype, specials: GgufSpecials = {}): [string, GgufValue][] {
  return [...general(config, facts, dtype), ...hyperparameters(config), ...ggufVocab(tokenizer, config, specials)]
}

/** An Ollama Modelfile for the file: a base model, so no chat template. */
export function ollamaModelfile(fileName: string, config: ModelConfig, stop: string | null): string {
  const lines = [
    `# Ollama: ollama create NAME -f Modelfile`,
    `# A base (not instruction-tuned) model: it continues text; there is no chat template.`,
    `FROM ./${fileName}`,
    `PARAMETER num_ctx ${config.maxPositions}`,
    `PARAMETER temperature 0.7`,
    `PARAMETER top_p 0.9`,
    `PARAMETER repeat_penalty 1.1`,
  ]
  if (stop) lines.push(`PARAMETER stop ${JSON.stringify(stop)}`)
  lines.push('TEMPLATE "{{ .Prompt }}"')
  return lines.join('\n') + '\n'
}
