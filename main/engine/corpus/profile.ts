import type { SplitProfile } from '../contract'
import { newScriptCounts, scriptName } from './scripts'
import type { WordCounter } from './words'

/**
 * The profile of one split of a corpus, built document by document and mergeable: counts, script
 * histogram, length histogram and the most frequent words.
 */

/** Distinct words counted exactly before the rarest are pruned (memory stays bounded). */
const WORD_CAP = 200_000
const TOP_WORDS_KEPT = 200
/** Documents whose words are all tallied before sampling starts. */
const EXACT_WORD_DOCS = 10_000
/**
 * Then one document in this many, chosen by hash, weighted by as many: a 2 GB corpus's top words
 * still come from ~40,000 documents (millions of words), at a quarter of the cost of one in 16.
 */
const TALLY_ONE_IN = 64

/** Contiguous doubling buckets from 16 up to the longest, zeros included. */
function histogram(lengths: Map<number, number>): SplitProfile['lengthHistogram'] {
  const max = Math.max(0, ...lengths.keys())
  const out: SplitProfile['lengthHistogram'] = []
  for (let upTo = 16; upTo <= max; upTo *= 2) out.push({ upTo, documents: lengths.get(upTo) ?? 0 })
  return out
}

export function emptyProfile(): SplitProfile {
  return { documents: 0, characters: 0, bytes: 0, words: 0, scripts: {}, lengthHistogram: [], topWords: [] }
}

/** Bucket upper bounds: 16, 32, 64, … characters. */
function bucketFor(length: number): number {
  let upTo = 16
  while (upTo < length) upTo *= 2
  return upTo
}

export class ProfileBuilder {
  private documents = 0
  private characters = 0
  private bytes = 0
  private words = 0
  private readonly scripts = newScriptCounts()
  private readonly lengths = new Map<number, number>()
  /** Word → its weighted count (a box, so that counting a word seen before is one lookup). */
  private wordCounts = new Map<string, { n: number }>()

  constructor(private readonly counter: WordCounter) {}

  /**
   * Adds a cleaned document. Every word is counted; the per-word tally for `topWords` takes every
   * document up to EXACT_WORD_DOCS, then one in TALLY_ONE_IN chosen by hash (`hashHi`), weighted
   * by as many, which keeps large ingests fast and the ranking stable.
   */
  add(text: string, bytes: number, chars: { characters: number; spacedWords: number }, hashHi: number): void {
    this.documents++
    this.characters += chars.characters
    this.bytes += bytes
    const bucket = bucketFor(chars.characters)
    this.lengths.set(bucket, (this.lengths.get(bucket) ?? 0) + 1)
    const weight = this.documents <= EXACT_WORD_DOCS ? 1 : ProfileBuilder.mayTally(hashHi) ? TALLY_ONE_IN : 0
    if (weight === 0) {
      this.words += this.counter.segmenter ? this.counter.count(text) : chars.spacedWords
      return
    }
    this.words += this.counter.count(text, (w) => this.tally(w, weight))
    if (this.wordCounts.size > WORD_CAP) this.prune()
  }

  /**
   * `add` for a document whose counts were taken elsewhere (a worker thread): `tally` is called
   * only when the document's words are tallied (it calls `onWord` with each lower-cased word, as
   * the word counter does, and returns their number), and `words` is its word count otherwise
   * (what `add` would have counted: the segmenter's count, or the spaced words).
   */
  addCounted(bytes: number, characters: number, words: number, hashHi: number, tally: (onWord: (word: string) => void) => number): void {
    this.documents++
    this.characters += characters
    this.bytes += bytes
    const bucket = bucketFor(characters)
    this.lengths.set(bucket, (this.lengths.get(bucket) ?? 0) + 1)
    const weight = this.documents <= EXACT_WORD_DOCS ? 1 : ProfileBuilder.mayTally(hashHi) ? TALLY_ONE_IN : 0
    if (weight === 0) {
      this.words += words
      return
    }
    this.words += tally((w) => this.tally(w, weight))
    if (this.wordCounts.size > WORD_CAP) this.prune()
  }

  private tally(word: string, weight: number): void {
    const box = this.wordCounts.get(word)
    if (box) box.n += weight
    // A new word is kept as a copy of its own: the word given is often a slice of a larger
    // string (a document, a range's word list), which a key would otherwise keep alive.
    else this.wordCounts.set(ownCopy(word), { n: weight })
  }

  /** Whether `addCounted` will tally the words of the next document of this hash (for workers: see pipeline.ts). */
  static mayTally(hashHi: number): boolean {
    return hashHi % TALLY_ONE_IN === 0
  }

  /** Documents whose words are all tallied before sampling starts. */
  static readonly exactDocuments = EXACT_WORD_DOCS

  /** Adds letters counted elsewhere (the script check already counted them). */
  addScripts(byScript: Uint32Array): void {
    for (let i = 0; i < byScript.length; i++) this.scripts[i] = (this.scripts[i] as number) + (byScript[i] as number)
  }

  private prune(): void {
    const sorted = [...this.wordCounts].sort((a, b) => b[1].n - a[1].n).slice(0, WORD_CAP / 2)
    this.wordCounts = new Map(sorted)
  }

  build(): SplitProfile {
    const scripts: Record<string, number> = {}
    for (let i = 1; i < this.scripts.length; i++) {
      const n = this.scripts[i] as number
      if (n > 0) scripts[scriptName(i)] = n
    }
    const lengthHistogram = histogram(this.lengths)
    const topWords = topOf(new Map([...this.wordCounts].map(([w, b]) => [w, b.n])))
    return { documents: this.documents, characters: this.characters, bytes: this.bytes, words: this.words, scripts, lengthHistogram, topWords }
  }
}

/**
 * A string that shares no memory with `s`'s parent: V8 makes substrings of 13 units or more as
 * views of the string they were cut from. Concatenating flattens into a new string, of which the
 * slice is a view.
 */
function ownCopy(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1)
}

/** Sums profiles (sources into a role); top words are summed over what each kept. */
export function mergeProfiles(profiles: SplitProfile[]): SplitProfile {
  const out = emptyProfile()
  const lengths = new Map<number, number>()
  const words = new Map<string, number>()
  for (const p of profiles) {
    out.documents += p.documents
    out.characters += p.characters
    out.bytes += p.bytes
    out.words += p.words
    for (const [s, n] of Object.entries(p.scripts)) out.scripts[s] = (out.scripts[s] ?? 0) + n
    for (const b of p.lengthHistogram) lengths.set(b.upTo, (lengths.get(b.upTo) ?? 0) + b.documents)
    for (const w of p.topWords) words.set(w.word, (words.get(w.word) ?? 0) + w.count)
  }
  out.lengthHistogram = histogram(lengths)
  out.topWords = topOf(words)
  return out
}

/** The most frequent words, ties in alphabetical order. */
function topOf(counts: Map<string, number>): SplitProfile['topWords'] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_WORDS_KEPT)
    .map(([word, count]) => ({ word, count }))
}
