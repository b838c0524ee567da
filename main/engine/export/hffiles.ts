/**
 * The small JSON files of an exported Hugging Face folder, made from what the checkpoint carries
 * and from the tokenizer itself, so that `AutoTokenizer` and `generate` find what they need:
 *
 *   config.json               the checkpoint's, with `torch_dtype` of the export (and `architectures`)
 *   tokenizer_config.json     the base's settings (if any), `added_tokens_decoder` from tokenizer.json,
 *                             the special tokens, `model_max_length`, `tokenizer_class`
 *   special_tokens_map.json   bos / eos / unk / pad, as the tokenizer has them
 *   generation_config.json    bos / eos ids, and `suppress_tokens` for padding rows no token uses
 *
 * Only tokenizer.json's `added_tokens` are listed as added tokens: the tokens continued BPE learned
 * live in the BPE vocabulary, and listing them as added tokens would change how text is split.
 */
import type { ModelConfig } from '../model/config'
import { configJson } from '../model/config'
import type { FloatDtype } from '../model/dtype'
import type { Tokenizer } from '../tokenizer/tokenizer'

type Json = Record<string, unknown>

/** The transformers class of each model type we run. */
const ARCHITECTURES: Record<ModelConfig['modelType'], string> = {
  gpt2: 'GPT2LMHeadModel',
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const
type SpecialKey = (typeof SPECIAL_KEYS)[number]

/** config.json of the export: the checkpoint's fields, its storage type, and the class transformers loads. */
export function exportConfig(config: ModelConfig, dtype: FloatDtype): Json {
  const out = configJson(config, { dtype })
  if (!Array.isArray(out.architectures) || out.architectures.length === 0) out.architectures = [ARCHITECTURES[config.modelType]]
  return out
}

/** A special token as tokenizer_config.json or special_tokens_map.json name it: a string or `{content, …}`. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content
  return null
}

/**
 * The special tokens of the export: those the base's tokenizer_config.json or special_tokens_map.json
 * name, else the config's bos / eos ids and the BPE model's unk token; each kept only if the
 * tokenizer has it.
 */
export function specialTokens(tok: Tokenizer, config: ModelConfig, tokenizerConfig: Json | null, specialMap: Json | null): Partial<Record<SpecialKey, string>> {
  const out: Partial<Record<SpecialKey, string>> = {}
  const byId = (id: number | null) => (id === null ? null : (tok.idToToken(id) ?? null))
  const unk = typeof tok.json.model.unk_token === 'string' ? tok.json.model.unk_token : null
  const fallback: Record<SpecialKey, string | null> = { bos_token: byId(config.bosTokenId), eos_token: byId(config.eosTokenId), unk_token: unk, pad_token: null }
  for (const key of SPECIAL_KEYS) {
    const name = tokenContent(tokenizerConfig?.[key]) ?? tokenContent(specialMap?.[key]) ?? fallback[key]
    if (name !== null && tok.tokenToId(name) !== undefined) out[key] = name
  }
  return out
}

/** `added_tokens_decoder` as transformers writes it: every added token of tokenizer.json by id. */
export function addedTokensDecoder(tok: Tokenizer): Json {
  const out: Json = {}
  for (const t of [...tok.added].sort((a, b) => a.id - b.id)) {
    out[String(t.id)] = { content: t.content, lstrip: t.lstrip, normalized: t.normalized, rstrip: t.rstrip, single_word: t.singleWord, special: t.special }
  }
  return out
}

/** tokenizer_config.json: the base's settings (chat template and all) with this tokenizer's added and special tokens. */
export function exportTokenizerConfig(tok: Tokenizer, config: ModelConfig, base: Json | null, specials: Partial<Record<SpecialKey, string>>): Json {
  const rest: Json = { ...(base ?? {}) }
  delete rest.added_tokens_decoder
  for (const key of SPECIAL_KEYS) {
    const name = specials[key]
    if (name !== undefined) rest[key] = name
    else if (tokenContent(rest[key]) !== null && tok.tokenToId(tokenContent(rest[key]) as string) === undefined) delete rest[key]
  }
  rest.model_max_length ??= config.maxPositions
  rest.clean_up_tokenization_spaces ??= false
  rest.tokenizer_class ??= 'PreTrainedTokenizerFast'
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)))
  return { added_tokens_decoder: addedTokensDecoder(tok), ...sorted }
}

/** special_tokens_map.json: each special token, with its flags when it is an added token. */
export function exportSpecialTokensMap(tok: Tokenizer, specials: Partial<Record<SpecialKey, string>>): Json {
  const out: Json = {}
  for (const key of SPECIAL_KEYS) {
    const name = specials[key]
    if (name === undefined) continue
    const added = tok.added.find((t) => t.content === name)
    out[key] = added ? { content: added.content, lstrip: added.lstrip, normalized: added.normalized, rstrip: added.rstrip, single_word: added.singleWord } : name
  }
  return out
}

/** generation_config.json: the base's (or bos / eos from the config), never sampling padding rows. */
export function exportGenerationConfig(config: ModelConfig, base: Json | null, padding: { from: number; to: number } | null): Json {
  const out: Json = base ? { ...base } : { _from_model_config: true }
  if (config.bosTokenId !== null) out.bos_token_id ??= config.bosTokenId
  if (config.eosTokenId !== null) out.eos_token_id ??= config.eosTokenId
  if (padding && padding.to > padding.from) {
    const given = Array.isArray(out.suppress_tokens) ? (out.suppress_tokens as unknown[]).filter((x): x is number => typeof x === 'number') : []
    const ids = new Set(given)
    for (let id = padding.from; id < padding.to; id++) ids.add(id)
    out.suppress_tokens = [...ids].sort((a, b) => a - b)
  }
  return out
}
