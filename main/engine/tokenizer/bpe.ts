/**
 * The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback, unknown-token fusing
 * and `ignore_merges`, applied to one pre-token ("word") at a time exactly as Hugging Face's
 * `BPE::merge_word` does: the lowest-ranked adjacent pair merges first, leftmost on ties.
 */
import { Heap } from '../common/heap'

export const ID_LIMIT = 1 << 22

/** Words with more symbols than this are merged with a heap instead of repeated scans. */
const LONG_WORD = 48

/** Candidate merges of a long word as rank * 2^26 + position: lowest rank first, leftmost on ties. */
class MergeQueue extends Heap {
  protected before(a: number, b: number): boolean {
    return a < b
  }
}

/**
 * Merge lookup by pair of ids: open addressing over typed arrays (a Map keyed by a*2^22+b would
 * use heap numbers as keys, several times slower). `rank` and `into` of (a, b), or -1.
 */
export class MergeIndex {
  private readonly left: Int32Array
  private readonly right: Int32Array
  readonly rank: Int32Array
  readonly into: Int32Array
  private readonly mask: number

  constructor(capacity: number) {
    let size = 1024
    while (size < capacity * 2) size *= 2
    this.left = new Int32Array(size).fill(-1)
    this.right = new Int32Array(size)
    this.rank = new Int32Array(size)
    this.into = new Int32Array(size)
    this.mask = size - 1
  }

  private static hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0
  }

  /** Adds (a, b) unless present (the first, lowest-ranked merge of a pair wins, as in Hugging Face). */
  set(a: number, b: number, rank: number, into: number): void {
    let i = MergeIndex.hash(a, b) & this.mask
    for (;;) {
      const l = this.left[i]!
      if (l === -1) break
      if (l === a && this.right[i] === b) return
      i = (i + 1) & this.mask
    }
    this.left[i] = a
    this.right[i] = b
    this.rank[i] = rank
    this.into[i] = into
  }

  /** Slot of (a, b), or -1. */
  find(a: number, b: number): number {
    let i = MergeIndex.hash(a, b) & this.mask
    for (;;) {
      const l = this.left[i]!
      if (l === -1) return -1
      if (l === a && this.right[i] === b) return i
      i = (i + 1) & this.mask
    }
  }
}

export interface BpeOptions {
  unkToken: string | null
  byteFallback: boolean
  fuseUnk: boolean
  ignoreMerges: boolean
}

export interface WordEncoding {
  ids: number[]
  /** UTF-16 unit span of each token within the word. */
  starts: number[]
  ends: number[]
}

const BYTE_TOKEN = /^<0x([0-9A-F]{2})>$/

export class BpeModel {
  /** token string → id */
  readonly vocab: Map<string, number>
  /** id → token string (sparse array) */
  readonly tokens: string[]
  /** (left, right) → rank and merged id */
  readonly merges: MergeIndex
  /** merges in rank order, as ids */
  readonly mergeList: [number, number][]
  /** id of `<0xNN>` for each byte, or -1 */
  readonly byteIds: Int32Array
  readonly unkId: number
  private cache = new Map<string, number[]>()

  constructor(vocab: Map<string, number>, merges: [number, number][], readonly options: BpeOptions) {
    this.vocab = vocab
    this.tokens = []
    for (const [t, id] of vocab) this.tokens[id] = t
    this.merges = new MergeIndex(merges.length)
    this.mergeList = merges
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r]!
      const merged = vocab.get(this.tokens[a]! + this.tokens[b]!)
      if (merged === undefined) throw new Error(`merge ${r} makes ${JSON.stringify(this.tokens[a]! + this.tokens[b]!)}, which is not in the vocabulary`)
      this.merges.set(a, b, r, merged)
    }
    this.byteIds = new Int32Array(256).fill(-1)
    for (const [t, id] of vocab) {
      const m = BYTE_TOKEN.exec(t)
      if (m) this.byteIds[parseInt(m[1]!, 16)] = id
    }
    this.unkId = options.unkToken !== null ? (vocab.get(options.unkToken) ?? -1) : -1
  }

  get size(): number {
    return this.vocab.size
  }

  /** Initial symbols of a word: characters, byte-fallback tokens, (fused) unknowns. */
  private symbols(word: string, spans: boolean): WordEncoding {
    const ids: number[] = []
    const starts: number[] = []
    const ends: number[] = []
    let unkFrom = -1
    let unkTo = -1
    const flushUnk = () => {
      if (unkFrom < 0) return
      ids.push(this.unkId)
      if (spans) {
        starts.push(unkFrom)
        ends.push(unkTo)
      }
      unkFrom = -1
    }
    let i = 0
    while (i < word.length) {
      const c = word.charCodeAt(i)
      const len = c >= 0xd800 && c <= 0xdbff && i + 1 < word.length ? 2 : 1
      const ch = len === 1 ? word[i]! : word.slice(i, i + 2)
      const id = this.vocab.get(ch)
      if (id !== undefined) {
        flushUnk()
        ids.push(id)
        if (spans) {
          starts.push(i)
          ends.push(i + len)
        }
      } else {
        let done = false
        if (this.options.byteFallback) {
          const bytes = new TextEncoder().encode(ch)
          if (bytes.every((b) => this.byteIds[b]! >= 0)) {
            for (const b of bytes) {
              ids.push(this.byteIds[b]!)
              if (spans) {
                starts.push(i)
                ends.push(i + len)
              }
            }
            done = true
          }
        }
        if (!done && this.unkId >= 0) {
          if (unkFrom >= 0 && this.options.fuseUnk) unkTo = i + len
          else {
            flushUnk()
            unkFrom = i
            unkTo = i + len
          }
        }
      }
      i += len
    }
    flushUnk()
    return { ids, starts, ends }
  }

  /** Applies the ranked merges to a symbol sequence in place. */
  mergeSymbols(enc: WordEncoding, spans: boolean): void {
    if (enc.ids.length > LONG_WORD) {
      this.mergeLongWord(enc, spans)
      return
    }
    const { ids, starts, ends } = enc
    const merges = this.merges
    const rank = merges.rank
    for (;;) {
      let best = Infinity
      let at = -1
      let slot = -1
      for (let k = 0; k + 1 < ids.length; k++) {
        const i = merges.find(ids[k]!, ids[k + 1]!)
        if (i >= 0 && rank[i]! < best) {
          best = rank[i]!
          at = k
          slot = i
        }
      }
      if (at < 0) return
      ids.splice(at, 2, merges.into[slot]!)
      if (spans) {
        ends.splice(at, 2, ends[at + 1]!)
        starts.splice(at + 1, 1)
      }
    }
  }

  /**
   * The same merges for a long word (a line without spaces, say) in O(n log n): symbols in a linked
   * list and candidate pairs in a min-heap on (rank, position), as Hugging Face's `merge_all` does;
   * a popped pair that no longer holds is skipped.
   */
  private mergeLongWord(enc: WordEncoding, spans: boolean): void {
    const n = enc.ids.length
    const id = Int32Array.from(enc.ids)
    const end = spans ? Int32Array.from(enc.ends) : null
    const next = new Int32Array(n)
    const prev = new Int32Array(n)
    const alive = new Uint8Array(n).fill(1)
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1
      prev[i] = i - 1
    }
    const merges = this.merges
    // candidate pairs, packed as rank * 2^26 + position (positions < 2^26)
    const heap = new MergeQueue(n)
    const POS = 1 << 26
    const consider = (i: number) => {
      const j = next[i]!
      if (j < 0) return
      const slot = merges.find(id[i]!, id[j]!)
      if (slot >= 0) heap.push(merges.rank[slot]! * POS + i)
    }
    for (let i = 0; i + 1 < n; i++) consider(i)
    while (heap.size > 0) {
      const top = heap.pop()!
      const rank = Math.floor(top / POS)
      const i = top - rank * POS
      const j = next[i]!
      if (!alive[i] || j < 0) continue
      const slot = merges.find(id[i]!, id[j]!)
      if (slot < 0 || merges.rank[slot] !== rank) continue
      id[i] = merges.into[slot]!
      if (end) end[i] = end[j]!
      alive[j] = 0
      next[i] = next[j]!
      if (next[j]! >= 0) prev[next[j]!] = i
      if (prev[i]! >= 0) consider(prev[i]!)
      consider(i)
    }
    const ids: number[] = []
    const starts: number[] = []
    const ends: number[] = []
    for (let i = 0; i >= 0 && i < n; i = next[i]!) {
      ids.push(id[i]!)
      if (spans) {
        starts.push(enc.starts[i]!)
        ends.push(end![i]!)
      }
    }
    enc.ids.splice(0, enc.ids.length, ...ids)
    if (spans) {
      enc.starts.splice(0, enc.starts.length, ...starts)
      enc.ends.splice(0, enc.ends.length, ...ends)
    }
  }

  /** Token ids of one word. */
  encodeWord(word: string): number[] {
    const hit = this.cache.get(word)
    if (hit) return hit
    let ids: number[]
    const direct = this.options.ignoreMerges ? this.vocab.get(word) : undefined
    if (direct !== undefined) ids = [direct]
    else {
      const enc = this.symbols(word, false)
      this.mergeSymbols(enc, false)
      ids = enc.ids
    }
    if (this.cache.size > 200_000) this.cache.clear()
    this.cache.set(word, ids)
    return ids
  }

  /** Token ids of one word with each token's span in the word. */
  encodeWordWithSpans(word: string): WordEncoding {
    const direct = this.options.ignoreMerges ? this.vocab.get(word) : undefined
    if (direct !== undefined) return { ids: [direct], starts: [0], ends: [word.length] }
    const enc = this.symbols(word, true)
    this.mergeSymbols(enc, true)
    return enc
  }

}
