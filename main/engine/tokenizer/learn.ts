/**
 * Continued BPE: learn new merges on top of a base tokenizer, so that every learned token is
 * reachable. Each distinct word of the target corpus (pre-tokenized exactly as the base does) is
 * first segmented by the base merges; new merges are then learned greedily from the pair counts of
 * that segmentation. Counts are updated incrementally (only the words holding the merged pair are
 * touched) and the best pair comes from a lazy max-heap, so a merge costs what it changes, not a
 * recount of the corpus.
 *
 * Because every new merge ranks after all base merges, and a new token is never an operand of a
 * base merge, Hugging Face's encoder applies exactly the base merges first and then the new ones in
 * learned order: the segmentation it produces for a training word is the one this learner ends with.
 *
 * SentencePiece-style tokenizers with byte fallback spell characters missing from the vocabulary
 * as `<0xNN>` bytes; merging byte tokens would make tokens no decoder understands, so such
 * characters are added first as tokens of their own (if they occur `minCount` times).
 */
import { EngineError } from '../errors'
import { BpeModel, ID_LIMIT } from './bpe'

export interface LearnOptions {
  /** How many new tokens to learn at most. */
  maxTokens: number
  /** A merge (or a missing character) needs at least this many occurrences; default 2. */
  minCount?: number
  signal?: AbortSignal
  onProgress?: (learned: number) => void
}

export interface LearnedToken {
  /** Provisional id (base vocabulary size onwards, in learning order). */
  id: number
  /** The token in the model's alphabet. */
  token: string
  kind: 'char' | 'merge'
  /** For merges: the two tokens it joins (ids of base or earlier learned tokens). */
  left: number
  right: number
  /** Occurrences in the training words when it was learned (char: occurrences of the character). */
  count: number
}

export interface LearnResult {
  tokens: LearnedToken[]
  /** Why learning stopped short of maxTokens, or null. */
  exhausted: string | null
  /** The model the learner started from, with learned characters added (what later merges refer to). */
  startModel: BpeModel
  distinctWords: number
  totalWords: number
  /** Final segmentation of each distinct word, ids. */
  segment(word: string): number[]
  /** Candidate merges skipped because the joined string already names another token. */
  skippedExisting: number
}

/** Max-heap of (count, key), ties to the smaller key, with lazy deletion by the caller. */
class PairHeap {
  private counts: number[] = []
  private keys: number[] = []
  get size(): number {
    return this.counts.length
  }
  private above(i: number, j: number): boolean {
    const a = this.counts[i]!
    const b = this.counts[j]!
    return a > b || (a === b && this.keys[i]! < this.keys[j]!)
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i]!
    this.counts[i] = this.counts[j]!
    this.counts[j] = c
    const k = this.keys[i]!
    this.keys[i] = this.keys[j]!
    this.keys[j] = k
  }
  push(count: number, key: number): void {
    this.counts.push(count)
    this.keys.push(key)
    let i = this.counts.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.above(i, p)) break
      this.swap(i, p)
      i = p
    }
  }
  pop(): [number, number] | null {
    const n = this.counts.length
    if (n === 0) return null
    const top: [number, number] = [this.counts[0]!, this.keys[0]!]
    const lastC = this.counts.pop()!
    const lastK = this.keys.pop()!
    if (n > 1) {
      this.counts[0] = lastC
      this.keys[0] = lastK
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < n - 1 && this.above(l, m)) m = l
        if (r < n - 1 && this.above(r, m)) m = r
        if (m === i) break
        this.swap(i, m)
        i = m
      }
    }
    return top
  }
}

/**
 * Learns up to `maxTokens` tokens on `words` (word → count) starting from `base`.
 * `firstId` is the provisional id of the first new token (the base's vocabulary size).
 */
export function learnContinuedBpe(base: BpeModel, words: Map<string, number>, firstId: number, options: LearnOptions): LearnResult {
  const minCount = options.minCount ?? 2
  const tokens: LearnedToken[] = []
  let nextId = firstId

  // 1. characters the base cannot spell except as bytes or <unk>
  const vocab = new Map(base.vocab)
  if (base.options.byteFallback || base.unkId >= 0) {
    const missing = new Map<string, number>()
    for (const [w, c] of words) {
      for (const ch of w) if (!vocab.has(ch)) missing.set(ch, (missing.get(ch) ?? 0) + c)
    }
    const chars = [...missing].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    for (const [ch, c] of chars) {
      if (tokens.length >= options.maxTokens) break
      const id = nextId++
      vocab.set(ch, id)
      tokens.push({ id, token: ch, kind: 'char', left: -1, right: -1, count: c })
    }
  }
  const startModel = tokens.length > 0 ? new BpeModel(vocab, base.mergeList, base.options) : base
  const strings: string[] = startModel.tokens.slice()

  // 2. base segmentation of every distinct word
  const wordList: string[] = []
  const counts: number[] = []
  const syms: Int32Array[] = []
  let totalWords = 0
  const ignoreMerges = base.options.ignoreMerges
  for (const [w, c] of words) {
    totalWords += c
    const ids = startModel.encodeWord(w)
    if (ids.length < 2) continue // nothing to merge
    if (ignoreMerges && startModel.vocab.has(w)) continue
    wordList.push(w)
    counts.push(c)
    syms.push(Int32Array.from(ids))
  }

  // tokens that may not take part in a merge: byte-fallback pieces and <unk>
  const frozen = new Set<number>()
  for (const id of base.byteIds) if (id >= 0) frozen.add(id)
  if (base.unkId >= 0) frozen.add(base.unkId)

  // 3. pair counts and where each pair occurs
  const pairCount = new Map<number, number>()
  const where = new Map<number, number[]>()
  for (let w = 0; w < syms.length; w++) {
    const s = syms[w]!
    const c = counts[w]!
    for (let i = 0; i + 1 < s.length; i++) {
      const a = s[i]!
      const b = s[i + 1]!
      if (frozen.has(a) || frozen.has(b)) continue
      const key = a * ID_LIMIT + b
      pairCount.set(key, (pairCount.get(key) ?? 0) + c)
      let list = where.get(key)
      if (!list) where.set(key, (list = []))
      if (list[list.length - 1] !== w) list.push(w)
    }
  }
  const heap = new PairHeap()
  for (const [key, c] of pairCount) if (c >= minCount) heap.push(c, key)

  // 4. merge loop
  const stamp = new Int32Array(syms.length).fill(-1)
  const changed = new Set<number>()
  let exhausted: string | null = null
  let skippedExisting = 0
  let merges = 0
  const addPair = (a: number, b: number, c: number, w: number) => {
    if (frozen.has(a) || frozen.has(b)) return
    const key = a * ID_LIMIT + b
    pairCount.set(key, (pairCount.get(key) ?? 0) + c)
    changed.add(key)
    if (c > 0) {
      let list = where.get(key)
      if (!list) where.set(key, (list = []))
      if (list[list.length - 1] !== w) list.push(w)
    }
  }
  while (tokens.length < options.maxTokens) {
    const top = heap.pop()
    if (!top) {
      exhausted = `no pair of tokens occurs ${minCount} times or more any more`
      break
    }
    const [count, key] = top
    const current = pairCount.get(key) ?? 0
    if (current !== count) {
      if (current >= minCount) heap.push(current, key)
      continue
    }
    if (count < minCount) {
      exhausted = `no pair of tokens occurs ${minCount} times or more any more`
      break
    }
    const a = Math.floor(key / ID_LIMIT)
    const b = key - a * ID_LIMIT
    const joined = strings[a]! + strings[b]!
    if (vocab.has(joined)) {
      // the string already names a token that base merges may use: merging here could make
      // Hugging Face's encoder diverge from this segmentation, so the pair stays apart
      pairCount.set(key, 0)
      skippedExisting++
      continue
    }
    const id = nextId++
    vocab.set(joined, id)
    strings[id] = joined
    tokens.push({ id, token: joined, kind: 'merge', left: a, right: b, count })
    merges++
    // apply to every word holding the pair
    const list = where.get(key) ?? []
    where.delete(key)
    changed.clear()
    for (const w of list) {
      if (stamp[w] === merges) continue
      stamp[w] = merges
      const s = syms[w]!
      let has = false
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { has = true; break }
      if (!has) continue
      const c = counts[w]!
      for (let i = 0; i + 1 < s.length; i++) addPair(s[i]!, s[i + 1]!, -c, w)
      const out: number[] = []
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(id)
          i++
        } else out.push(s[i]!)
      }
      const ns = Int32Array.from(out)
      syms[w] = ns
      for (let i = 0; i + 1 < ns.length; i++) addPair(ns[i]!, ns[i + 1]!, c, w)
    }
    pairCount.delete(key)
    for (const k of changed) {
      const c = pairCount.get(k) ?? 0
      if (c <= 0) pairCount.delete(k)
      else if (c >= minCount && k !== key) heap.push(c, k)
    }
    if ((merges & 255) === 0) {
      if (options.signal?.aborted) throw new EngineError('cancelled', 'learning was cancelled')
      options.onProgress?.(tokens.length)
    }
  }
  options.onProgress?.(tokens.length)

  const finalSeg = new Map<string, number[]>()
  for (let w = 0; w < wordList.length; w++) finalSeg.set(wordList[w]!, Array.from(syms[w]!))
  return {
    tokens,
    exhausted,
    startModel,
    distinctWords: words.size,
    totalWords,
    skippedExisting,
    segment(word: string): number[] {
      if (ignoreMerges) {
        const direct = vocab.get(word)
        if (direct !== undefined) return [direct]
      }
      return finalSeg.get(word) ?? startModel.encodeWord(word)
    },
  }
}
