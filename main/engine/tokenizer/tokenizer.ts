/**
 * A Hugging Face tokenizer.json, read into the pipeline Hugging Face runs:
 * added tokens → normalizer → pre-tokenizer → BPE model → post-processor, and decoder back.
 * Only BPE models are supported (byte-level as in GPT-2, Llama 3 and Qwen; SentencePiece-style
 * with byte fallback as in Llama 2, Mistral and TinyLlama); other families are refused by name.
 * The parsed JSON is kept, so that an extended tokenizer is written back with everything else as
 * the base had it.
 */
import { readFile } from 'node:fs/promises'
import { EngineError } from '../common/errors'
import { parseJson } from '../common/json'
import { fromByteLevel } from './bytelevel'
import { BpeModel, ID_LIMIT } from './bpe'
import { buildDecoder, type Decoder } from './decoders'
import { NormalizedString } from './normalized'
import { buildNormalizer, type Normalizer } from './normalizers'
import { buildPostProcessor, type PostProcessor } from './postprocessors'
import { buildPreTokenizer, buildTextPreTokenizer, buildTextWordSplit, type PreTokenizer, type PreTokenizerInfo, type TextPreTokenizer } from './pretokenizers'
import { escapeRegExp } from './regex'

export type TokenizerFamily = 'byte-level-bpe' | 'sentencepiece-bpe' | 'bpe'

export interface AddedToken {
  /** The id Hugging Face gives it (see the constructor). */
  id: number
  content: string
  special: boolean
  normalized: boolean
  lstrip: boolean
  rstrip: boolean
  singleWord: boolean
}

export interface TokenizerJson {
  version?: string
  added_tokens?: Record<string, unknown>[]
  normalizer?: unknown
  pre_tokenizer?: unknown
  post_processor?: unknown
  decoder?: unknown
  model: Record<string, unknown> & { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] }
  [key: string]: unknown
}

export interface EncodeOptions {
  /** Add the post-processor's special tokens (Llama's `<s>`); off by default. */
  addSpecialTokens?: boolean
}

export interface DetailedEncoding {
  ids: number[]
  /** [start, end) of each token in the input, in UTF-16 units. */
  offsets: [number, number][]
  /** true for added/special tokens matched in the text */
  added: boolean[]
}

const wordChar = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u
const whitespace = /\p{White_Space}/u

function bad(file: string, message: string, hint?: string): EngineError {
  return new EngineError('bad-input', `${file}: ${message}`, {
    file,
    hint: hint ?? 'Use the tokenizer.json that ships with the base model on the Hugging Face hub (the "fast" tokenizer file).',
  })
}

export class Tokenizer {
  readonly family: TokenizerFamily
  readonly model: BpeModel
  readonly added: AddedToken[]
  readonly addedById = new Map<number, AddedToken>()
  readonly specialIds = new Set<number>()
  /** The SentencePiece word-start mark (`▁`), or null for byte-level tokenizers. */
  readonly wordMarker: string | null
  /** Whether splitting a piece before each word mark leaves BPE's result unchanged (no token holds the mark after other text). */
  readonly markerSplitSafe: boolean
  private readonly normalizer: Normalizer | null
  private readonly preTokenizer: PreTokenizer | null
  /** The same pre-tokenizer on plain strings, for encoding without alignment (null: not available for this one). */
  private readonly textPreTokenizer: TextPreTokenizer | null
  /** For byte-level pre-tokenizers: words as they are in the text, and their byte-level spelling (encodeEach caches ids by the former). */
  private readonly textWords: { split: TextPreTokenizer; spell: (word: string) => string } | null
  private readonly idsByTextWord = new Map<string, number[]>()
  private readonly postProcessor: PostProcessor | null
  private readonly decoder: Decoder | null
  private readonly rawAdded: RegExp | null
  private readonly normAdded: RegExp | null
  private readonly addedByContent = new Map<string, AddedToken>()
  readonly byteLevel: boolean

  private constructor(
    readonly json: TokenizerJson,
    readonly file: string,
  ) {
    const m = json.model
    if (m.type !== 'BPE') {
      const family = typeof m.type === 'string' ? m.type : 'unknown'
      throw new EngineError('bad-input', `${file}: ${family} tokenizers are not supported yet; Vernacular adapts BPE tokenizers`, {
        file,
        hint: 'Supported: byte-level BPE (GPT-2, Llama 3, Qwen 2/3, SmolLM) and SentencePiece-style BPE with byte fallback (Llama 2, Mistral, TinyLlama). WordPiece (BERT) and Unigram (T5, XLM-R) models are not supported yet.',
      })
    }
    if (m.dropout !== null && m.dropout !== undefined && m.dropout !== 0) throw bad(file, 'BPE dropout is set; encoding would be random', 'Set model.dropout to null.')
    for (const k of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
      if (typeof m[k] === 'string' && m[k] !== '') throw bad(file, `model.${k} (${JSON.stringify(m[k])}) is not supported yet`)
    }
    // vocabulary
    if (!m.vocab || typeof m.vocab !== 'object' || Array.isArray(m.vocab)) throw bad(file, 'model.vocab must be an object of token → id')
    const vocab = new Map<string, number>()
    for (const [t, id] of Object.entries(m.vocab)) {
      if (!Number.isInteger(id) || id < 0 || id >= ID_LIMIT) throw bad(file, `model.vocab: token ${JSON.stringify(t)} has an invalid id ${JSON.stringify(id)}`)
      vocab.set(t, id)
    }
    if (!Array.isArray(m.merges)) throw bad(file, 'model.merges must be a list')
    const merges: [number, number][] = []
    m.merges.forEach((x: unknown, i: number) => {
      let pair: unknown[]
      if (typeof x === 'string') {
        pair = x.split(' ')
      } else pair = Array.isArray(x) ? x : []
      if (pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw bad(file, `model.merges[${i}]: expected "a b" or ["a", "b"], found ${JSON.stringify(x)}`)
      const a = vocab.get(pair[0])
      const b = vocab.get(pair[1])
      if (a === undefined || b === undefined) throw bad(file, `model.merges[${i}]: token ${JSON.stringify(a === undefined ? pair[0] : pair[1])} is not in the vocabulary`)
      merges.push([a, b])
    })
    try {
      this.model = new BpeModel(vocab, merges, {
        unkToken: typeof m.unk_token === 'string' ? m.unk_token : null,
        byteFallback: m.byte_fallback === true,
        fuseUnk: m.fuse_unk === true,
        ignoreMerges: m.ignore_merges === true,
      })
    } catch (e) {
      throw bad(file, `model.merges: ${(e as Error).message}`)
    }
    // pipeline
    const info: PreTokenizerInfo = { byteLevel: false, metaspace: null }
    this.normalizer = buildNormalizer(json.normalizer)
    this.preTokenizer = buildPreTokenizer(json.pre_tokenizer, info)
    this.textPreTokenizer = buildTextPreTokenizer(json.pre_tokenizer)
    this.textWords = buildTextWordSplit(json.pre_tokenizer)
    this.postProcessor = buildPostProcessor(json.post_processor)
    this.decoder = buildDecoder(json.decoder)
    this.byteLevel = info.byteLevel
    this.wordMarker = info.metaspace ?? findReplaceMarker(json.normalizer)
    this.family = info.byteLevel ? 'byte-level-bpe' : this.wordMarker !== null || m.byte_fallback === true ? 'sentencepiece-bpe' : 'bpe'
    let safe = this.wordMarker !== null
    if (safe) {
      const marker = this.wordMarker!
      for (const t of vocab.keys()) {
        const at = t.indexOf(marker)
        if (at < 0) continue
        // the mark may only lead the token (possibly repeated)
        let k = 0
        while (t.startsWith(marker, k)) k += marker.length
        if (t.indexOf(marker, k) >= 0) {
          safe = false
          break
        }
      }
    }
    this.markerSplitSafe = safe
    // Added tokens. Hugging Face does not take their ids from the file: a token whose content is in
    // the model's vocabulary gets that id; any other gets the next id after the model's vocabulary
    // (its number of entries) and the added tokens so far. The same rule here keeps us id for id.
    const list = json.added_tokens ?? []
    if (!Array.isArray(list)) throw bad(file, 'added_tokens must be a list')
    const modelCount = vocab.size
    let maxAdded = -1
    const seen = new Set<string>()
    this.added = []
    list.forEach((t, i) => {
      if (!t || typeof t !== 'object' || typeof t.content !== 'string' || !Number.isInteger(t.id)) throw bad(file, `added_tokens[${i}]: needs an integer id and a content string`)
      if (seen.has(t.content)) return
      seen.add(t.content)
      const id = vocab.get(t.content) ?? (maxAdded < 0 ? modelCount : maxAdded >= modelCount ? maxAdded + 1 : modelCount)
      maxAdded = Math.max(maxAdded, id)
      this.added.push({
        id,
        content: t.content,
        special: t.special === true,
        normalized: t.normalized === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        singleWord: t.single_word === true,
      })
    })
    for (const t of this.added) {
      this.addedById.set(t.id, t)
      this.addedByContent.set(t.content, t)
      if (t.special) this.specialIds.add(t.id)
    }
    const alternation = (toks: AddedToken[]) => {
      const contents = toks.map((t) => t.content).filter((c) => c.length > 0)
      if (contents.length === 0) return null
      contents.sort((a, b) => b.length - a.length)
      return new RegExp(contents.map(escapeRegExp).join('|'), 'gu')
    }
    this.rawAdded = alternation(this.added.filter((t) => !t.normalized))
    this.normAdded = alternation(this.added.filter((t) => t.normalized))
  }

  static fromJSON(text: string, file = 'tokenizer.json'): Tokenizer {
    let json: unknown
    try {
      json = parseJson(text)
    } catch (e) {
      throw bad(file, `not valid JSON (${(e as Error).message}); the file may be truncated`)
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad(file, 'expected a JSON object')
    const model = (json as TokenizerJson).model as unknown
    if (!model || typeof model !== 'object') {
      throw bad(file, 'there is no "model" section; this is not a Hugging Face tokenizer.json', 'tokenizer_config.json and special_tokens_map.json are not enough; use tokenizer.json.')
    }
    if (typeof (model as Record<string, unknown>).type !== 'string') {
      // Old files omit model.type; infer BPE from merges like Hugging Face does.
      const mm = model as Record<string, unknown>
      if (Array.isArray(mm.merges)) mm.type = 'BPE'
      else if (Array.isArray(mm.vocab)) mm.type = 'Unigram'
      else if (typeof mm.continuing_subword_prefix === 'string' && typeof mm.max_input_chars_per_word === 'number') mm.type = 'WordPiece'
      else throw bad(file, 'model.type is missing and cannot be inferred')
    }
    return new Tokenizer(json as TokenizerJson, file)
  }

  static async fromFile(file: string): Promise<Tokenizer> {
    return Tokenizer.fromJSON(await readTokenizerText(file), file)
  }


  /** The same pipeline with another BPE model (the sweep's prefixes of the learned merges). */
  withModel(model: BpeModel): Tokenizer {
    const t = Object.create(Tokenizer.prototype) as Tokenizer
    // Its own cache of ids by word: the other model splits words otherwise.
    Object.assign(t, this, { model, cachedVocabSize: -1, idsByTextWord: new Map<string, number[]>() })
    return t
  }

  private cachedVocabSize = -1

  /** Number of embedding rows the ids need: highest id + 1. */
  get vocabSize(): number {
    if (this.cachedVocabSize >= 0) return this.cachedVocabSize
    let max = -1
    for (const id of this.model.vocab.values()) if (id > max) max = id
    for (const t of this.added) if (t.id > max) max = t.id
    this.cachedVocabSize = max + 1
    return max + 1
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.tokens[id]
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.vocab.get(token)
  }

  /** The bytes a token stands for in text (byte-level letters decoded, `▁` as a space, `<0xNN>` as its byte). */
  tokenBytes(id: number): Uint8Array {
    const added = this.addedById.get(id)
    if (added) return new TextEncoder().encode(added.content)
    const t = this.model.tokens[id]
    if (t === undefined) return new Uint8Array()
    if (this.byteLevel) return fromByteLevel(t)
    const m = /^<0x([0-9A-F]{2})>$/.exec(t)
    if (m && this.model.options.byteFallback) return Uint8Array.of(parseInt(m[1]!, 16))
    return new TextEncoder().encode(this.wordMarker ? t.split(this.wordMarker).join(' ') : t)
  }

  // ---- splitting -------------------------------------------------------------------------

  /** Splits a piece at the added tokens `re` matches; returns pieces and the added token of each match. */
  private splitAdded(piece: NormalizedString, re: RegExp | null): { piece: NormalizedString; token: AddedToken | null }[] {
    if (!re) return [{ piece, token: null }]
    const text = piece.text
    re.lastIndex = 0
    if (!re.test(text)) return [{ piece, token: null }]
    re.lastIndex = 0
    const out: { piece: NormalizedString; token: AddedToken | null }[] = []
    let last = 0
    for (const m of text.matchAll(re)) {
      const tok = this.addedByContent.get(m[0])!
      let a = m.index
      let b = a + m[0].length
      if (a < last) continue
      if (tok.singleWord) {
        const before = a > 0 ? text[a - 1]! : ''
        const after = b < text.length ? text[b]! : ''
        if ((before && wordChar.test(before)) || (after && wordChar.test(after))) continue
      }
      if (tok.lstrip) while (a > last && whitespace.test(text[a - 1]!)) a--
      if (tok.rstrip) while (b < text.length && whitespace.test(text[b]!)) b++
      if (a > last) out.push({ piece: piece.slice(last, a), token: null })
      out.push({ piece: piece.slice(a, b), token: tok })
      last = b
    }
    if (last < text.length) out.push({ piece: piece.slice(last, text.length), token: null })
    return out
  }

  /** The words BPE sees for this text (model alphabet), without added tokens: what a BPE learner counts. */
  words(text: string): string[] {
    const out: string[] = []
    this.forEachWord(text, false, (w) => out.push(w), null)
    return out
  }

  /** Calls `onWord` with each word BPE sees for this text, as `words` lists them, without an array. */
  forEachWordOf(text: string, onWord: (word: string) => void): void {
    this.forEachWord(text, false, onWord, null)
  }

  /**
   * The walk over a text that encoding and learning share: each BPE word (in the model's alphabet)
   * as the units [from, from + word.length) of a normalised piece, and each added token with its
   * piece, in order. Alignment to the input is tracked only when `track` is set.
   */
  private forEachWord(
    text: string,
    track: boolean,
    onWord: (word: string, piece: NormalizedString, from: number) => void,
    onAdded: ((t: AddedToken, piece: NormalizedString) => void) | null,
    /** Hand on words as they are in the text, unspelled (only with `textWords`, untracked). */
    unspelled = false,
  ): void {
    const root = NormalizedString.from(text, 0, track)
    const marker = this.markerSplitSafe ? this.wordMarker! : null
    for (const a of this.splitAdded(root, this.rawAdded)) {
      if (a.token) {
        onAdded?.(a.token, a.piece)
        continue
      }
      this.normalizer?.(a.piece)
      for (const b of this.splitAdded(a.piece, this.normAdded)) {
        if (b.token) {
          onAdded?.(b.token, b.piece)
          continue
        }
        // Without alignment, pre-tokenize plain strings (the piece handed on is then the whole normalised piece, which such callers ignore).
        const words: (string | NormalizedString)[] =
          unspelled && this.textWords ? this.textWords.split([b.piece.text]) : !track && this.textPreTokenizer ? this.textPreTokenizer([b.piece.text]) : this.preTokenizer ? this.preTokenizer([b.piece]) : [b.piece]
        for (const word of words) {
          const w = typeof word === 'string' ? b.piece : word
          const t = typeof word === 'string' ? word : word.text
          if (t.length === 0) continue
          if (!marker) {
            onWord(t, w, 0)
            continue
          }
          // SentencePiece style: split before each word mark that follows other text; BPE's result
          // is the same (markerSplitSafe) and words stay short and cacheable
          let from = 0
          let at = t.indexOf(marker, 1)
          while (at >= 0) {
            if (!t.startsWith(marker, at - marker.length)) {
              onWord(t.slice(from, at), w, from)
              from = at
            }
            at = t.indexOf(marker, at + marker.length)
          }
          onWord(from === 0 ? t : t.slice(from), w, from)
        }
      }
    }
  }

  // ---- encoding --------------------------------------------------------------------------

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = []
    this.encodeEach(text, (id) => void ids.push(id))
    return options.addSpecialTokens && this.postProcessor ? this.postProcessor(ids) : ids
  }

  /** The ids of `text` (no post-processor tokens), one by one: encoding into a buffer without an array per text. */
  encodeEach(text: string, onId: (id: number) => void): void {
    const model = this.model
    const tw = this.textWords
    if (tw && !this.markerSplitSafe) {
      // Byte-level: ids by the word as it is in the text (one lookup; spelled and merged once).
      const cache = this.idsByTextWord
      this.forEachWord(
        text,
        false,
        (w) => {
          let ids = cache.get(w)
          if (ids === undefined) {
            ids = model.encodeWord(tw.spell(w))
            if (cache.size > 200_000) cache.clear()
            cache.set(w, ids)
          }
          for (let i = 0; i < ids.length; i++) onId(ids[i]!)
        },
        (t) => onId(t.id),
        true,
      )
      return
    }
    this.forEachWord(
      text,
      false,
      (w) => {
        const ids = model.encodeWord(w)
        for (let i = 0; i < ids.length; i++) onId(ids[i]!)
      },
      (t) => onId(t.id),
    )
  }

  /** Ids with the span of the input each token covers (no post-processor tokens). */
  encodeDetailed(text: string): DetailedEncoding {
    const ids: number[] = []
    const offsets: [number, number][] = []
    const added: boolean[] = []
    this.forEachWord(
      text,
      true,
      (word, piece, from) => {
        const enc = this.model.encodeWordWithSpans(word)
        for (let i = 0; i < enc.ids.length; i++) {
          ids.push(enc.ids[i]!)
          offsets.push(piece.span(from + enc.starts[i]!, from + enc.ends[i]!))
          added.push(false)
        }
      },
      (token, piece) => {
        ids.push(token.id)
        offsets.push(piece.span(0, piece.text.length))
        added.push(true)
      },
    )
    return { ids, offsets, added }
  }

  // ---- decoding --------------------------------------------------------------------------

  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const tokens: string[] = []
    for (const id of ids) {
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue
      const t = this.idToToken(id)
      if (t !== undefined) tokens.push(t)
    }
    if (!this.decoder) return tokens.join(' ')
    return this.decoder(tokens).join('')
  }
}

/** The content of a `Replace " " → X` normalizer (SentencePiece's `▁`), if the normalizer has one. */
function findReplaceMarker(json: unknown): string | null {
  if (!json || typeof json !== 'object') return null
  const n = json as Record<string, unknown>
  if (n.type === 'Sequence' && Array.isArray(n.normalizers)) {
    for (const x of n.normalizers) {
      const found = findReplaceMarker(x)
      if (found !== null) return found
    }
    return null
  }
  if (n.type === 'Replace') {
    const p = n.pattern as Record<string, unknown> | undefined
    if (p && p.String === ' ' && typeof n.content === 'string' && n.content.length > 0) return n.content
  }
  return null
}

/** The text of a tokenizer.json, with errors that say what is wrong with the path. */
export async function readTokenizerText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new EngineError('not-found', `${file}: no such file`, { file, hint: 'Give the path of a tokenizer.json.' })
    if (code === 'EISDIR') throw new EngineError('bad-input', `${file} is a folder`, { file, hint: 'Give the tokenizer.json inside it.' })
    throw new EngineError('io', `${file}: ${(e as Error).message}`, { file })
  }
}
