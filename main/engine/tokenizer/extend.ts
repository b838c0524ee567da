/**
 * Extending a base tokenizer with target-language tokens learned by continued BPE, in the two ways
 * the papers use:
 * - add N (SambaLingo): append the N new tokens and their merges; the vocabulary grows by N;
 * - replace N (Csaki et al. 2023): free the N least-frequent base tokens on a reference mix of
 *   English and target text (leaves of the merge graph only, never special, byte or
 *   single-character tokens) and give their ids to N new tokens; the vocabulary size is kept.
 * The result is a tokenizer.json (everything but the model's vocabulary and merges as the base had
 * it) and vocab-changes.json, which says for every new token how the base splits it: what the
 * model's embedding initialisation needs.
 */
import type { ExtendMode } from '../contract'
import { vocabFingerprint } from '../common/fingerprint'
import { EngineError } from '../common/errors'
import { Heap } from '../common/heap'
import { BpeModel } from './bpe'
import { learnContinuedBpe, type LearnResult } from './learn'
import { Tokenizer, type TokenizerJson } from './tokenizer'
import { CappedCounts, DEFAULT_MAX_WORDS, type CountStats } from './wordcount'

export type { ExtendMode }

export interface WordCounts {
  counts: Map<string, number>
  lines: number
  bytes: number
  /** How the counts were bounded: the corpus size, whether a sample was counted, what the word cap dropped. */
  stats?: CountStats
}

export interface AddedTokenChange {
  id: number
  token: string
  /** What the token stands for in text. */
  text: string
  bytes: number[]
  /** The token's string split by the base tokenizer: the base embedding rows to average. */
  decomposition: number[]
  kind: 'char' | 'merge'
  /** The merge that makes it, as final ids, or null for a character token. */
  merge: [number, number] | null
  /** Occurrences in the training words when it was learned. */
  count: number
}

export interface RemovedTokenChange {
  id: number
  token: string
  text: string
  /** Occurrences in the reference text under the base tokenizer. */
  frequency: number
}

export interface VocabChanges {
  format: 'vernacular-vocab-changes'
  version: 1
  mode: ExtendMode
  count: number
  minCount: number
  /**
   * The base tokenizer. `vocabSha256` fingerprints its vocabulary (every id and token, added tokens
   * included, one `id\ttoken\n` line each in id order), so that a model step can check it was given
   * changes made for its own tokenizer.
   */
  base: { vocabSha256: string; family: string; vocabSize: number; modelVocab: number; merges: number }
  tokenizer: { vocabSha256: string; vocabSize: number; modelVocab: number; merges: number }
  corpus: { lines: number; bytes: number; words: number; distinctWords: number }
  /**
   * How the word counts were bounded (wordcount.ts): the corpus's size, whether only a sample was
   * counted (then `corpus` describes the sample), and what the distinct-word cap dropped.
   */
  counting?: CountStats
  reference: { lines: number; bytes: number; tokens: number } | null
  added: AddedTokenChange[]
  removed: RemovedTokenChange[]
  /** Replace mode: each freed id, the base token that had it and the new token that has it now. */
  idMap: { id: number; removed: string; added: string }[]
  createdAt: string
}

export interface ExtendResult {
  tokenizer: Tokenizer
  json: string
  changes: VocabChanges
  learn: LearnResult
}

/**
 * Counts the words (as the tokenizer pre-tokenizes them) of some lines, keeping at most
 * `maxWords` distinct words (the rarest are dropped beyond: see wordcount.ts).
 */
export async function countWords(
  tok: Tokenizer,
  lines: AsyncIterable<string> | Iterable<string>,
  signal?: AbortSignal,
  onLine?: (bytes: number, distinctWords: number) => void,
  options: { maxWords?: number } = {},
): Promise<WordCounts> {
  const table = new CappedCounts(options.maxWords ?? DEFAULT_MAX_WORDS)
  const add = (w: string) => table.add(w)
  let n = 0
  let bytes = 0
  for await (const line of lines) {
    n++
    bytes += Buffer.byteLength(line, 'utf8')
    tok.forEachWordOf(line, add)
    if ((n & 1023) === 0) {
      if (signal?.aborted) throw new EngineError('cancelled', 'cancelled')
      onLine?.(bytes, table.size + table.prunedWords)
      await new Promise((r) => setImmediate(r))
    }
  }
  return {
    counts: table.toMap(),
    lines: n,
    bytes,
    stats: { corpusBytes: bytes, sampled: false, prunedWords: table.prunedWords, prunedOccurrences: table.prunedOccurrences, prunes: table.prunes, pruneFloor: table.floor, maxWords: table.maxWords },
  }
}

/** Base-token frequencies on reference text. */
export async function countTokens(tok: Tokenizer, lines: AsyncIterable<string> | Iterable<string>, signal?: AbortSignal): Promise<{ freq: Float64Array; lines: number; bytes: number; tokens: number }> {
  const freq = new Float64Array(tok.vocabSize)
  let n = 0
  let bytes = 0
  let tokens = 0
  for await (const line of lines) {
    n++
    bytes += Buffer.byteLength(line, 'utf8')
    for (const id of tok.encode(line)) {
      freq[id]!++
      tokens++
    }
    if ((n & 1023) === 0) {
      if (signal?.aborted) throw new EngineError('cancelled', 'cancelled')
      await new Promise((r) => setImmediate(r))
    }
  }
  return { freq, lines: n, bytes, tokens }
}

const utf8 = new TextDecoder('utf-8', { fatal: false })

/** Base tokens that replace mode may never free. */
export function protectedTokens(tok: Tokenizer): Set<number> {
  const keep = new Set<number>()
  for (const t of tok.added) keep.add(t.id)
  for (const id of tok.model.byteIds) if (id >= 0) keep.add(id)
  if (tok.model.unkId >= 0) keep.add(tok.model.unkId)
  for (const [t, id] of tok.model.vocab) {
    if (t.length <= 2 && [...t].length === 1) keep.add(id)
    else {
      const text = utf8.decode(tok.tokenBytes(id))
      if ([...text].length <= 1) keep.add(id)
    }
  }
  return keep
}

/** Token ids by frequency: rarest first, later (rarer in training) ids first on ties. */
class RarestFirst extends Heap {
  constructor(private readonly freq: Float64Array) {
    super()
  }
  protected before(x: number, y: number): boolean {
    const freq = this.freq
    return freq[x]! < freq[y]! || (freq[x] === freq[y] && x > y)
  }
}

/**
 * Chooses `count` base tokens to free: the least frequent leaves of the merge graph, found
 * iteratively (freeing a token drops the merges that make it, which may turn their operands into
 * leaves). Returns fewer than `count` if no more can be freed.
 */
export function chooseRemovals(tok: Tokenizer, freq: Float64Array, count: number): number[] {
  const model = tok.model
  const keep = protectedTokens(tok)
  const uses = new Int32Array(tok.vocabSize)
  const producers = new Map<number, number[]>()
  model.mergeList.forEach(([a, b], r) => {
    uses[a]!++
    uses[b]!++
    const into = model.vocab.get(model.tokens[a]! + model.tokens[b]!)!
    let list = producers.get(into)
    if (!list) producers.set(into, (list = []))
    list.push(r)
  })
  const heap = new RarestFirst(freq)
  for (const id of model.vocab.values()) if (uses[id] === 0 && !keep.has(id)) heap.push(id)
  const removed: number[] = []
  const gone = new Set<number>()
  while (removed.length < count) {
    const id = heap.pop()
    if (id === undefined) break
    if (gone.has(id)) continue
    gone.add(id)
    removed.push(id)
    for (const r of producers.get(id) ?? []) {
      const [a, b] = model.mergeList[r]!
      for (const x of [a, b]) {
        uses[x]!--
        if (uses[x] === 0 && !keep.has(x) && !gone.has(x)) heap.push(x)
      }
    }
  }
  return removed
}

export interface ExtendOptions {
  mode: ExtendMode
  count: number
  minCount?: number
  /** Replace mode: base-token frequencies on the reference mix. */
  reference?: { freq: Float64Array; lines: number; bytes: number; tokens: number }
  signal?: AbortSignal
  onProgress?: (learned: number) => void
  /** While the learner segments the distinct words: how many it has done. */
  onPrepare?: (words: number) => void
}

/** Learns and applies `count` new tokens; everything happens in memory, nothing is written. */
export async function extendTokenizer(base: Tokenizer, words: WordCounts, options: ExtendOptions): Promise<ExtendResult> {
  const { mode, count } = options
  const minCount = options.minCount ?? 2
  if (!Number.isInteger(count) || count < 1) throw new EngineError('bad-input', `count must be a positive whole number, not ${count}`)
  if (words.counts.size === 0) throw new EngineError('bad-input', 'the corpus is empty: there is no text to learn tokens from', { hint: 'Give files with target-language text.' })
  const model = base.model

  // replace: free ids first, then learn from what is left of the base
  let removed: number[] = []
  let startModel = model
  if (mode === 'replace') {
    if (!options.reference) throw new Error('replace mode needs reference frequencies')
    removed = chooseRemovals(base, options.reference.freq, count)
    if (removed.length < count) {
      throw new EngineError('bad-input', `only ${removed.length} base tokens can be freed, fewer than the ${count} asked for`, {
        hint: `Replace at most ${removed.length} tokens, or use add mode. Special, byte and single-character tokens, and tokens other merges need, are never removed.`,
      })
    }
    const gone = new Set(removed)
    const vocab = new Map<string, number>()
    for (const [t, id] of model.vocab) if (!gone.has(id)) vocab.set(t, id)
    const merges = model.mergeList.filter(([a, b]) => vocab.has(model.tokens[a]! + model.tokens[b]!))
    startModel = new BpeModel(vocab, merges, model.options)
  }

  const firstId = base.vocabSize
  const learn = await learnContinuedBpe(startModel, words.counts, firstId, { maxTokens: count, minCount, ...(options.signal ? { signal: options.signal } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.onPrepare ? { onPrepare: options.onPrepare } : {}) })
  if (learn.tokens.length < count) {
    throw new EngineError('bad-input', `the corpus yields only ${learn.tokens.length} new tokens, fewer than the ${count} asked for (${learn.exhausted ?? 'no more pairs'})`, {
      hint: `Ask for at most ${learn.tokens.length} tokens, lower the minimum count (now ${minCount}), or add more target text.`,
    })
  }

  // final ids: add mode keeps the provisional ones; replace mode takes the freed ids in order
  const freed = [...removed].sort((a, b) => a - b)
  const finalId = (provisional: number) => (mode === 'add' || provisional < firstId ? provisional : freed[provisional - firstId]!)

  const json = structuredClone(base.json) as TokenizerJson
  const vocabEntries: [string, number][] = []
  for (const [t, id] of startModel.vocab) vocabEntries.push([t, id])
  if (mode === 'add') {
    // Hugging Face gives an added token that is not in the model's vocabulary the id after the
    // model's vocabulary; with new tokens in the model, Llama 3's <|begin_of_text|> would move from
    // 128000 to 128000 + N. Listing the added tokens in the model's vocabulary too (as Llama 2's
    // <s> is) keeps every id where it was.
    for (const t of base.added) if (!startModel.vocab.has(t.content)) vocabEntries.push([t.content, t.id])
  }
  for (const t of learn.tokens) vocabEntries.push([t.token, finalId(t.id)])
  vocabEntries.sort((a, b) => a[1] - b[1])
  json.model.vocab = Object.fromEntries(vocabEntries)
  const stringMerges = (base.json.model.merges as unknown[]).every((m) => typeof m === 'string')
  const tokenString = new Map<number, string>()
  for (const t of learn.tokens) tokenString.set(t.id, t.token)
  const str = (id: number) => tokenString.get(id) ?? startModel.tokens[id]!
  const mergePairs: [string, string][] = startModel.mergeList.map(([a, b]) => [startModel.tokens[a]!, startModel.tokens[b]!])
  for (const t of learn.tokens) if (t.kind === 'merge') mergePairs.push([str(t.left), str(t.right)])
  const canSpace = stringMerges && mergePairs.every(([a, b]) => !a.includes(' ') && !b.includes(' '))
  json.model.merges = canSpace ? mergePairs.map(([a, b]) => `${a} ${b}`) : mergePairs
  const text = JSON.stringify(json, null, 2)
  const tokenizer = Tokenizer.fromJSON(text, 'extended tokenizer.json')

  const added: AddedTokenChange[] = learn.tokens.map((t) => {
    const id = finalId(t.id)
    const bytes = tokenizer.tokenBytes(id)
    return {
      id,
      token: t.token,
      text: utf8.decode(bytes),
      bytes: Array.from(bytes),
      decomposition: model.encodeWord(t.token),
      kind: t.kind,
      merge: t.kind === 'merge' ? [finalId(t.left), finalId(t.right)] : null,
      count: t.count,
    }
  })
  const removedChanges: RemovedTokenChange[] = removed.map((id) => ({
    id,
    token: model.tokens[id]!,
    text: utf8.decode(base.tokenBytes(id)),
    frequency: options.reference?.freq[id] ?? 0,
  }))
  const byId = new Map(removedChanges.map((r) => [r.id, r]))
  const changes: VocabChanges = {
    format: 'vernacular-vocab-changes',
    version: 1,
    mode,
    count,
    minCount,
    base: { vocabSha256: vocabFingerprint(base), family: base.family, vocabSize: base.vocabSize, modelVocab: model.size, merges: model.mergeList.length },
    tokenizer: { vocabSha256: vocabFingerprint(tokenizer), vocabSize: tokenizer.vocabSize, modelVocab: tokenizer.model.size, merges: tokenizer.model.mergeList.length },
    corpus: { lines: words.lines, bytes: words.bytes, words: learn.totalWords, distinctWords: learn.distinctWords },
    ...(words.stats ? { counting: words.stats } : {}),
    reference: options.reference ? { lines: options.reference.lines, bytes: options.reference.bytes, tokens: options.reference.tokens } : null,
    added,
    removed: removedChanges,
    idMap: mode === 'replace' ? added.map((a) => ({ id: a.id, removed: byId.get(a.id)!.token, added: a.token })) : [],
    createdAt: new Date().toISOString(),
  }
  return { tokenizer, json: text, changes, learn }
}

/** A tokenizer that knows the first `k` learned tokens of an add-mode result (for the sweep). */
export function prefixTokenizer(base: Tokenizer, learn: { tokens: LearnResult['tokens'] }, k: number): Tokenizer {
  if (k === 0) return base
  const vocab = new Map(base.model.vocab)
  const merges = base.model.mergeList.slice()
  for (const t of learn.tokens.slice(0, k)) {
    vocab.set(t.token, t.id)
    if (t.kind === 'merge') merges.push([t.left, t.right])
  }
  return base.withModel(new BpeModel(vocab, merges, base.model.options))
}

