/**
 * The tokenizer as llama.cpp reads it from GGUF (`tokenizer.ggml.*`):
 *
 * - Byte-level BPE (GPT-2, Llama 3): model `gpt2`; tokens in the byte-level alphabet as
 *   tokenizer.json has them, the merges as "left right" in rank order, and the pre-tokenizer's name
 *   (`gpt-2` for GPT-2's regex, `llama-bpe` for Llama 3's), which picks llama.cpp's splitting regex.
 * - SentencePiece-style BPE with byte fallback (Llama 2): model `llama`. llama.cpp merges the
 *   adjacent pair whose concatenation has the highest score (ties: leftmost), where BPE merges the
 *   pair of lowest merge rank. Each token that a merge makes gets score −rank (of its first merge),
 *   so the two orders agree, learned tokens included; tokens no merge makes (characters, bytes,
 *   special tokens) get 0, and are never the product of merging two pieces.
 *
 * Token types: 1 normal, 2 unknown, 3 control (special added tokens), 4 user-defined (other added
 * tokens), 5 unused (padding rows past the tokenizer, named `[PAD<id>]`), 6 byte (`<0xXX>`).
 */
import { EngineError } from '../common/errors'
import type { ModelConfig } from '../model/config'
import type { Tokenizer } from '../tokenizer/tokenizer'
import { type GgufValue, kv } from './gguf'

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/

/** The start of Llama 3's pre-tokenizer pattern (what llama.cpp calls `llama-bpe`). */
const LLAMA3_PATTERN_START = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"

type Json = Record<string, unknown>

/** llama.cpp's name for a byte-level tokenizer's pre-tokenizer, or null when it knows none we can name. */
export function bytePreName(tok: Tokenizer): string | null {
  const pre = tok.json.pre_tokenizer as Json | null | undefined
  if (tok.json.normalizer) return null
  if (pre?.type === 'ByteLevel' && pre.use_regex !== false) return 'gpt-2'
  if (pre?.type === 'Sequence' && Array.isArray(pre.pretokenizers)) {
    const [split, byteLevel] = pre.pretokenizers as Json[]
    const pattern = (split?.pattern as Json | undefined)?.Regex
    if (split?.type === 'Split' && typeof pattern === 'string' && pattern.startsWith(LLAMA3_PATTERN_START) && byteLevel?.type === 'ByteLevel' && byteLevel.use_regex === false) return 'llama-bpe'
  }
  return null
}

/** Whether a SentencePiece-style tokenizer puts "▁" before the text (llama.cpp's add_space_prefix). */
function addsSpacePrefix(tok: Tokenizer): boolean {
  const walk = (n: unknown): boolean => {
    const j = n as Json | null | undefined
    if (!j) return false
    if (j.type === 'Sequence') return ((j.normalizers ?? j.pretokenizers) as unknown[] | undefined)?.some(walk) ?? false
    if (j.type === 'Prepend') return j.prepend === '▁'
    if (j.type === 'Metaspace') return j.prepend_scheme !== 'never' && j.add_prefix_space !== false
    return false
  }
  return walk(tok.json.normalizer) || walk(tok.json.pre_tokenizer)
}

/** Scores for llama.cpp's SentencePiece merging: −(first merge rank) for each merge's product, 0 otherwise. */
export function mergeScores(tok: Tokenizer, rows: number): Float32Array {
  const scores = new Float32Array(rows)
  const seen = new Uint8Array(rows)
  const model = tok.model
  model.mergeList.forEach(([a, b], rank) => {
    const id = model.vocab.get((model.tokens[a] as string) + (model.tokens[b] as string))
    if (id === undefined || seen[id]) return
    seen[id] = 1
    scores[id] = -rank
  })
  return scores
}

export interface GgufSpecials {
  bos_token?: string
  eos_token?: string
  unk_token?: string
  pad_token?: string
}

/** `tokenizer.ggml.*` for the tokenizer of a model with `config.vocabSize` embedding rows. */
export function ggufVocab(tok: Tokenizer, config: ModelConfig, specials: GgufSpecials = {}): [string, GgufValue][] {
  const spm = !tok.byteLevel
  if (spm && !tok.model.options.byteFallback) {
    throw new EngineError('unavailable', 'GGUF export needs a byte-level BPE tokenizer or a SentencePiece-style one with byte fallback; this tokenizer is neither.', { hint: 'Export as a Hugging Face folder (--format hf).' })
  }
  const pre = spm ? 'default' : bytePreName(tok)
  if (pre === null) {
    throw new EngineError('unavailable', "GGUF export does not know llama.cpp's name for this tokenizer's pre-tokenizer (GPT-2's and Llama 3's are known).", { hint: 'Export as a Hugging Face folder (--format hf).' })
  }
  const rows = Math.max(config.vocabSize, tok.vocabSize)
  const tokens: string[] = []
  const types: number[] = []
  const unkId = spm && typeof tok.json.model.unk_token === 'string' ? tok.tokenToId(tok.json.model.unk_token) : undefined
  for (let id = 0; id < rows; id++) {
    const t = tok.idToToken(id)
    if (t === undefined) {
      tokens.push(`[PAD${id}]`)
      types.push(TOKEN_TYPE.unused)
      continue
    }
    tokens.push(t)
    const added = tok.addedById.get(id)
    if (added) types.push(added.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined)
    else if (id === unkId) types.push(TOKEN_TYPE.unknown)
    else if (spm && BYTE_TOKEN.test(t)) types.push(TOKEN_TYPE.byte)
    else types.push(TOKEN_TYPE.normal)
  }
  const out: [string, GgufValue][] = [
    ['tokenizer.ggml.model', kv.str(spm ? 'llama' : 'gpt2')],
    ['tokenizer.ggml.pre', kv.str(pre)],
    ['tokenizer.ggml.tokens', kv.strings(tokens)],
    ['tokenizer.ggml.token_type', kv.i32s(types)],
  ]
  if (spm) {
    out.push(['tokenizer.ggml.scores', kv.f32s(Array.from(mergeScores(tok, rows)))])
    out.push(['tokenizer.ggml.add_space_prefix', kv.bool(addsSpacePrefix(tok))])
  } else {
    const m = tok.model
    out.push(['tokenizer.ggml.merges', kv.strings(m.mergeList.map(([a, b]) => `${m.tokens[a]} ${m.tokens[b]}`))])
  }
  const id = (name: string | undefined) => (name === undefined ? undefined : tok.tokenToId(name))
  const bos = config.bosTokenId ?? id(specials.bos_token)
  const eos = config.eosTokenId ?? id(specials.eos_token)
  const pad = id(specials.pad_token)
  if (bos !== undefined && bos !== null) out.push(['tokenizer.ggml.bos_token_id', kv.u32(bos)])
  if (eos !== undefined && eos !== null) out.push(['tokenizer.ggml.eos_token_id', kv.u32(eos)])
  if (unkId !== undefined) out.push(['tokenizer.ggml.unknown_token_id', kv.u32(unkId)])
  if (pad !== undefined) out.push(['tokenizer.ggml.padding_token_id', kv.u32(pad)])
  out.push(['tokenizer.ggml.add_bos_token', kv.bool(spm)], ['tokenizer.ggml.add_eos_token', kv.bool(false)])
  return out
}
