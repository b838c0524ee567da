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
import { EngineError } from '../common/errors'
import { Heap } from '../common/heap'
import { BpeModel } from './bpe'

export interface LearnOptions {
  /** How many new tokens to learn at most. */
  maxTokens: number
  /** A merge (or a missing character) needs at least this many occurrences; default 2. */
  minCount?: number
  signal?: AbortSignal
  onProgress?: (learned: number) => void
  /** While the distinct words are segmented by the base (before the first merge): how many are done. */
  onPrepare?: (words: number) => void
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

/**
 * Pair statistics: each pair of token ids gets a dense, stable index (its "slot") in typed arrays
 * of left id, right id and weighted count, plus the words it occurs in (appended, possibly stale;
 * checked on use). An open-addressing hash index finds a pair's slot. Typed arrays instead of a Map
 * keyed by a large number keep every update on V8's fast path.
 */
class PairTable {
  left = new Int32Array(1 << 16)
  right = new Int32Array(1 << 16)
  count = new Float64Array(1 << 16)
  where: (number[] | undefined)[] = []
  size = 0
  private index = new Int32Array(1 << 17).fill(-1)
  private mask = (1 << 17) - 1

  private static hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0
  }

  /** The slot of (a, b), created if absent. */
  slot(a: number, b: number): number {
    let i = PairTable.hash(a, b) & this.mask
    for (;;) {
      const s = this.index[i]!
      if (s === -1) break
      if (this.left[s] === a && this.right[s] === b) return s
      i = (i + 1) & this.mask
    }
    const s = this.size++
    if (s >= this.left.length) this.growSlots()
    this.left[s] = a
    this.right[s] = b
    this.index[i] = s
    if (this.size * 2 > this.mask) this.growIndex()
    return s
  }

  private growSlots(): void {
    const cap = this.left.length * 2
    const grow = <T extends Int32Array | Float64Array>(x: T, make: (n: number) => T): T => {
      const y = make(cap)
      y.set(x)
      return y
    }
    this.left = grow(this.left, (n) => new Int32Array(n))
    this.right = grow(this.right, (n) => new Int32Array(n))
    this.count = grow(this.count, (n) => new Float64Array(n))
  }

  private growIndex(): void {
    const cap = (this.mask + 1) * 2
    this.index = new Int32Array(cap).fill(-1)
    this.mask = cap - 1
    for (let s = 0; s < this.size; s++) {
      let i = PairTable.hash(this.left[s]!, this.right[s]!) & this.mask
      while (this.index[i] !== -1) i = (i + 1) & this.mask
      this.index[i] = s
    }
  }

  /** Adds `delta` occurrences of (a, b); a positive change records word `w` as holding the pair. */
  add(a: number, b: number, delta: number, w: number): number {
    const i = this.slot(a, b)
    this.count[i]! += delta
    if (delta > 0) {
      let list = this.where[i]
      if (!list) this.where[i] = list = []
      if (list[list.length - 1] !== w) list.push(w)
    }
    return i
  }
}

/**
 * Max-heap of (count, slot), ties to the smaller pair (left id, then right id), with lazy deletion by
 * the caller. The heap's items are indices of entries in a pool (an entry is reused once taken).
 */
class PairHeap extends Heap {
  private counts = new Float64Array(1 << 12)
  private slots = new Int32Array(1 << 12)
  private free: number[] = []
  private used = 0
  constructor(private readonly table: PairTable) {
    super(1 << 12)
  }
  protected before(e: number, f: number): boolean {
    const a = this.counts[e]!
    const b = this.counts[f]!
    if (a !== b) return a > b
    const t = this.table
    const se = this.slots[e]!
    const sf = this.slots[f]!
    const le = t.left[se]!
    const lf = t.left[sf]!
    return le < lf || (le === lf && t.right[se]! < t.right[sf]!)
  }
  /** Queues `slot` with the count it has now. */
  add(count: number, slot: number): void {
    let e = this.free.pop()
    if (e === undefined) {
      e = this.used++
      if (e === this.counts.length) this.growPool()
    }
    this.counts[e] = count
    this.slots[e] = slot
    this.push(e)
  }
  /** The first (count, slot), removed; null when empty. */
  take(): [number, number] | null {
    const e = this.pop()
    if (e === undefined) return null
    this.free.push(e)
    return [this.counts[e]!, this.slots[e]!]
  }
  private growPool(): void {
    const counts = new Float64Array(this.counts.length * 2)
    counts.set(this.counts)
    this.counts = counts
    const slots = new Int32Array(this.slots.length * 2)
    slots.set(this.slots)
    this.slots = slots
  }
}

/**
 * Learns up to `maxTokens` tokens on `words` (word → count) starting from `base`.
 * `firstId` is the provisional id of the first new token (the base's vocabulary size).
 */
export async function learnContinuedBpe(base: BpeModel, words: Map<string, number>, firstId: number, options: LearnOptions): Promise<LearnResult> {
  // Learning is CPU-bound; it yields to the event loop every few milliseconds so that progress
  // reaches the app and cancellation is seen while it runs.
  let lastYield = performance.now()
  const breathe = async () => {
    if (performance.now() - lastYield < 50) return
    await new Promise((r) => setImmediate(r))
    lastYield = performance.now()
    if (options.signal?.aborted) throw new EngineError('cancelled', 'learning was cancelled')
  }
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

  // 2. base segmentation of every distinct word, all in one flat array (word w's symbols are
  // sym[off[w] .. off[w] + len[w]); merging shortens len[w] in place): no object per word
  let sym = new Int32Array(1 << 16)
  let symLen = 0
  let off = new Int32Array(1 << 12)
  let len = new Int32Array(1 << 12)
  let wcount = new Float64Array(1 << 12)
  let nWords = 0
  let totalWords = 0
  const ignoreMerges = base.options.ignoreMerges
  const kept = new Uint8Array(words.size) // by position in `words`: whether learning has the word
  let seen = 0
  for (const [w, c] of words) {
    if ((++seen & 4095) === 0) {
      options.onPrepare?.(seen)
      await breathe()
    }
    totalWords += c
    const ids = startModel.encodeWord(w)
    if (ids.length < 2) continue // nothing to merge
    if (ignoreMerges && startModel.vocab.has(w)) continue
    kept[seen - 1] = 1
    if (nWords === off.length) {
      const grow = <T extends Int32Array | Float64Array>(x: T): T => {
        const y = new (x.constructor as new (n: number) => T)(x.length * 2)
        y.set(x)
        return y
      }
      off = grow(off)
      len = grow(len)
      wcount = grow(wcount)
    }
    if (symLen + ids.length > sym.length) {
      const y = new Int32Array(Math.max(sym.length * 2, symLen + ids.length))
      y.set(sym)
      sym = y
    }
    off[nWords] = symLen
    len[nWords] = ids.length
    wcount[nWords] = c
    for (const id of ids) sym[symLen++] = id
    nWords++
  }
  // the words learning may change, by index (the segmentation's lookup table is made on first use)
  const wordOf = (): string[] => {
    const list: string[] = []
    let i = 0
    for (const w of words.keys()) if (kept[i++]) list.push(w)
    return list
  }

  // tokens that may not take part in a merge: byte-fallback pieces and <unk>
  const isFrozen = new Uint8Array(Math.max(nextId, startModel.tokens.length) + options.maxTokens + 1)
  for (const id of base.byteIds) if (id >= 0) isFrozen[id] = 1
  if (base.unkId >= 0) isFrozen[base.unkId] = 1

  // 3. pair counts and where each pair occurs
  const table = new PairTable()
  for (let w = 0; w < nWords; w++) {
    const o = off[w]!
    const end = o + len[w]!
    const c = wcount[w]!
    for (let i = o; i + 1 < end; i++) {
      const a = sym[i]!
      const b = sym[i + 1]!
      if (isFrozen[a] || isFrozen[b]) continue
      table.add(a, b, c, w)
    }
  }
  const heap = new PairHeap(table)
  for (let i = 0; i < table.size; i++) if (table.count[i]! >= minCount) heap.add(table.count[i]!, i)

  // 4. merge loop
  const stamp = new Int32Array(nWords).fill(-1)
  let changedStamp = new Int32Array(table.left.length).fill(-1)
  const changed: number[] = []
  let exhausted: string | null = null
  let skippedExisting = 0
  let merges = 0
  const touch = (a: number, b: number, delta: number, w: number) => {
    if (isFrozen[a] || isFrozen[b]) return
    const i = table.add(a, b, delta, w)
    if (i >= changedStamp.length) {
      const grown = new Int32Array(changedStamp.length * 2).fill(-1)
      grown.set(changedStamp)
      changedStamp = grown
    }
    if (changedStamp[i] !== merges) {
      changedStamp[i] = merges
      changed.push(i)
    }
  }
  while (tokens.length < options.maxTokens) {
    const top = heap.take()
    if (!top) {
      exhausted = `no pair of tokens occurs ${minCount} times or more any more`
      break
    }
    const [count, slot] = top
    const current = table.count[slot]!
    if (current !== count) {
      if (current >= minCount) heap.add(current, slot)
      continue
    }
    if (count < minCount) {
      exhausted = `no pair of tokens occurs ${minCount} times or more any more`
      break
    }
    const a = table.left[slot]!
    const b = table.right[slot]!
    const joined = strings[a]! + strings[b]!
    if (vocab.has(joined)) {
      // the string already names a token that base merges may use: merging here could make
      // Hugging Face's encoder diverge from this segmentation, so the pair stays apart
      table.count[slot] = 0
      skippedExisting++
      continue
    }
    const id = nextId++
    vocab.set(joined, id)
    strings[id] = joined
    tokens.push({ id, token: joined, kind: 'merge', left: a, right: b, count })
    merges++
    // Apply to every word holding the pair, updating only the pairs around each occurrence
    // (as Hugging Face's Word::merge does; overlapping runs such as "a a a" come out right
    // because the left neighbour is read after it has been rewritten).
    const list = table.where[slot] ?? []
    table.where[slot] = undefined
    changed.length = 0
    for (const w of list) {
      if (stamp[w] === merges) continue
      stamp[w] = merges
      const o = off[w]!
      const c = wcount[w]!
      const n = o + len[w]!
      let k = o
      let r = o
      let hit = false
      while (r < n) {
        if (r + 1 < n && sym[r] === a && sym[r + 1] === b) {
          hit = true
          if (k > o) {
            touch(sym[k - 1]!, a, -c, w)
            touch(sym[k - 1]!, id, c, w)
          }
          sym[k++] = id
          r += 2
          if (r < n) {
            touch(id, sym[r]!, c, w)
            touch(b, sym[r]!, -c, w)
          }
        } else sym[k++] = sym[r++]!
      }
      if (hit) len[w] = k - o
    }
    table.count[slot] = 0
    for (const i of changed) {
      const c = table.count[i]!
      if (c >= minCount && i !== slot) heap.add(c, i)
    }
    if ((merges & 255) === 0) {
      options.onProgress?.(tokens.length)
      await breathe()
    }
  }
  options.onProgress?.(tokens.length)

  let index: Map<string, number> | null = null
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
      if (!index) {
        index = new Map()
        wordOf().forEach((w, i) => index!.set(w, i))
      }
      const w = index.get(word)
      return w === undefined ? startModel.encodeWord(word) : Array.from(sym.subarray(off[w]!, off[w]! + len[w]!))
    },
  }
}
