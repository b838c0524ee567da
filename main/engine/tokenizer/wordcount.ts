/**
 * Word counts for vocabulary learning in bounded memory (docs/performance.md, "Tokenizer
 * learning"). Two budgets bound what counting holds, whatever the size of the corpus:
 *
 * - `sampleBytes`: a corpus larger than this is counted on a seeded sample of about this much text,
 *   drawn as whole blocks of its files (1/4096 of the corpus, 64 KiB to 1 MiB) chosen uniformly at random (each line belongs to the
 *   block its first byte is in, so the blocks partition the lines and the sample is a fair one of
 *   the whole corpus, not its first megabytes). Only the sampled blocks are read.
 *   Files that cannot be read at an offset (.gz, .jsonl, .csv, .tsv) are streamed whole and their
 *   lines kept with the sample's probability. SentencePiece does the same with
 *   `input_sentence_size` (a reservoir sample of sentences, 0 = all), though it reads everything.
 * - `maxWords`: the table of counts keeps at most this many distinct words. When it would hold
 *   more, the rarest words so far are dropped (every word at or below the smallest count that
 *   brings the table down to 3/4 of the budget), as word2vec's ReduceVocab does. A word that
 *   survives loses nothing; one dropped and seen again starts from zero.
 *
 * Both are deterministic: the same corpus, budgets and seed give the same counts.
 */
import { open, stat } from 'node:fs/promises'
import { isUtf8 } from 'node:buffer'
import { EngineError } from '../common/errors'
import { mulberry32 } from '../common/rng'
import { join } from 'node:path'
import type { CorpusRole } from '../contract'
import { formatOf } from '../corpus/readers'
import { readRoleState, roleDir } from '../corpus/store'
import { corpusLines, textFileLines } from '../corpus/text'

/** Default text budget: ~256 MiB of text are counted at most (a sample beyond). */
export const DEFAULT_SAMPLE_BYTES = 256 * 1024 * 1024
/** Default distinct-word budget: 1,000,000 words (~500 MB at the peak of learning, ~15 s to learn on). */
export const DEFAULT_MAX_WORDS = 1_000_000
export const DEFAULT_SAMPLE_SEED = 1
/**
 * Sampling unit: a block of a file's bytes, lines assigned to the block where they start; about
 * 1/4096 of the corpus, from 64 KiB to 1 MiB (512 KiB blocks for 2 GiB).
 */
export function sampleBlockBytes(corpusBytes: number): number {
  return Math.min(1024 * 1024, Math.max(64 * 1024, 2 ** Math.round(Math.log2(Math.max(1, corpusBytes / 4096)))))
}

export interface CountBudget {
  /** At most this many distinct words are kept while counting (the rarest are dropped beyond). */
  maxWords?: number
  /** A corpus larger than this (bytes) is counted on a seeded sample of about this size; 0 = no sampling. */
  sampleBytes?: number
  /** Seed of the sample. */
  seed?: number
}

export interface CountStats {
  /** Text in the corpus, bytes (as stored). */
  corpusBytes: number
  /** True when only a sample was counted. */
  sampled: boolean
  /** Distinct words dropped by the cap (counted again if they came back), and their occurrences. */
  prunedWords: number
  prunedOccurrences: number
  /** Prunes made; the last threshold (words with this count or fewer were dropped). */
  prunes: number
  pruneFloor: number
  maxWords: number
}

/**
 * A word → count table that holds at most `maxWords` words: a Map from word to a slot, and the
 * counts in a typed array (a word already seen costs one lookup, not a lookup and a store). Keys
 * are copied on insertion, so that the table never keeps a whole line alive through a sliced
 * string.
 */
export class CappedCounts {
  private readonly index = new Map<string, number>()
  private count = new Float64Array(1 << 12)
  private readonly free: number[] = []
  private used = 0
  prunedWords = 0
  prunedOccurrences = 0
  prunes = 0
  floor = 0
  constructor(readonly maxWords: number) {
    if (!(maxWords >= 1)) throw new EngineError('bad-input', `the word budget must be at least 1, not ${maxWords}`)
  }

  /** Distinct words held. */
  get size(): number {
    return this.index.size
  }

  add(w: string, c = 1): void {
    const i = this.index.get(w)
    if (i !== undefined) {
      this.count[i]! += c
      return
    }
    let j = this.free.pop()
    if (j === undefined) {
      j = this.used++
      if (j === this.count.length) {
        const grown = new Float64Array(this.count.length * 2)
        grown.set(this.count)
        this.count = grown
      }
    }
    this.count[j] = c
    this.index.set(flat(w), j)
    if (this.index.size > this.maxWords) this.prune()
  }

  /** Drops every word at or below the smallest count that leaves at most 3/4 of the budget. */
  prune(): void {
    const index = this.index
    const count = this.count
    const keep = Math.floor(this.maxWords * 0.75)
    const hist = new Float64Array(65)
    for (const i of index.values()) {
      const c = count[i]!
      hist[c < 64 ? c : 64]!++
    }
    let left = index.size
    let t = 0
    while (t < 64 && left > keep) left -= hist[++t]!
    if (left > keep) {
      // more than the budget of words seen over 64 times: find the cut among them exactly
      const big: number[] = []
      for (const i of index.values()) if (count[i]! > 64) big.push(count[i]!)
      big.sort((a, b) => b - a)
      t = Math.max(64, big[keep]!) // words counted at most this many times go
    }
    for (const [w, i] of index) {
      const c = count[i]!
      if (c <= t) {
        index.delete(w)
        this.free.push(i)
        this.prunedWords++
        this.prunedOccurrences += c
      }
    }
    this.prunes++
    this.floor = t
  }

  get(w: string): number | undefined {
    const i = this.index.get(w)
    return i === undefined ? undefined : this.count[i]
  }

  /** The counts as a Map, word → count, in the order the surviving words were first kept. */
  toMap(): Map<string, number> {
    const out = new Map<string, number>()
    for (const [w, i] of this.index) out.set(w, this.count[i]!)
    return out
  }
}

/**
 * A copy of a string that does not hold on to a longer one (V8 keeps a slice of 13 or more
 * characters as a view of its parent): the concatenation is flattened into a new string of its own
 * length, and the slice of it refers to that, not to the line the word came from.
 */
function flat(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1)
}

// ---- sampling ----------------------------------------------------------------------------------

interface Block {
  file: number
  start: number
  end: number
}

/** Whether a file can be sampled by reading byte ranges (plain uncompressed text, one line each). */
function seekable(path: string): boolean {
  const kind = formatOf(path)
  if (kind) return kind.format === 'txt' && !kind.compressed
  return !path.toLowerCase().endsWith('.gz')
}

/** Chooses the blocks of a sample: `sampleBytes` worth of all the blocks of the files (a seeded shuffle), in file order. */
function chooseBlocks(sizes: number[], sampleBytes: number, seed: number): Block[] {
  const all: Block[] = []
  const block = sampleBlockBytes(sizes.reduce((a, b) => a + b, 0))
  sizes.forEach((size, file) => {
    for (let start = 0; start < size; start += block) all.push({ file, start, end: Math.min(size, start + block) })
  })
  const want = Math.min(all.length, Math.round(sampleBytes / block))
  const rand = mulberry32(seed)
  const idx = all.map((_, i) => i)
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(rand() * (idx.length - i))
    const t = idx[i]!
    idx[i] = idx[j]!
    idx[j] = t
  }
  return idx
    .slice(0, want)
    .sort((a, b) => a - b)
    .map((i) => all[i]!)
}

/** The lines that start in [block.start, block.end) of a file, read from disk (each through `parse` if given). */
async function* blockLines(path: string, block: Block, signal?: AbortSignal, parse?: (line: string) => Iterable<string>): AsyncGenerator<string> {
  const fh = await open(path, 'r')
  try {
    const from = Math.max(0, block.start - 1)
    let buf = Buffer.alloc(block.end - from + 64 * 1024)
    let { bytesRead } = await fh.read(buf, 0, buf.length, from)
    let n = bytesRead
    // the last line may run on past the block: read until its newline (or the end of the file)
    let searchFrom = block.end - from
    while (n === buf.length && buf.indexOf(10, searchFrom) < 0) {
      searchFrom = n
      const more = Buffer.alloc(buf.length * 2)
      buf.copy(more, 0, 0, n)
      buf = more
      ;({ bytesRead } = await fh.read(buf, n, buf.length - n, from + n))
      n += bytesRead
      if (bytesRead === 0) break
    }
    if (signal?.aborted) throw new EngineError('cancelled', 'cancelled')
    let pos = 0
    if (block.start > 0) {
      // a line that began in the block before belongs to it
      const nl = buf.indexOf(10, 0)
      if (nl < 0 || nl >= n) return
      pos = nl + 1
    }
    const stop = block.end - from
    while (pos < n && pos < stop) {
      let nl = buf.indexOf(10, pos)
      if (nl < 0 || nl > n) nl = n
      let line = buf.subarray(pos, nl)
      if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1)
      if (from + pos === 0 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3)
      if (!isUtf8(line)) {
        throw new EngineError('bad-input', `${path}: invalid UTF-8 in the line at byte ${from + pos}`, {
          file: path,
          hint: 'Convert the file to UTF-8 first, for example with `iconv -f latin2 -t utf-8 FILE > FILE.utf8`.',
        })
      }
      if (line.length > 0) {
        if (parse) yield* parse(line.toString('utf8'))
        else yield line.toString('utf8')
      }
      pos = nl + 1
    }
  } finally {
    await fh.close()
  }
}

export interface SampledText {
  lines: AsyncGenerator<string>
  /** Bytes the lines come from: what progress is measured against (the sample's, when sampled). */
  plannedBytes: number
  corpusBytes: number
  sampled: boolean
}

/**
 * Lines of text files for counting: all of them when they fit `sampleBytes` (or it is 0), else a
 * seeded sample of about `sampleBytes` (see the top of this file).
 */
export async function sampleFileLines(paths: string[], budget: CountBudget = {}, signal?: AbortSignal): Promise<SampledText> {
  const sampleBytes = budget.sampleBytes ?? DEFAULT_SAMPLE_BYTES
  const seed = budget.seed ?? DEFAULT_SAMPLE_SEED
  const sizes: number[] = []
  for (const p of paths) sizes.push(await stat(p).then((s) => (s.isFile() ? s.size : 0), () => 0))
  const corpusBytes = sizes.reduce((a, b) => a + b, 0)
  if (sampleBytes <= 0 || corpusBytes <= sampleBytes) {
    async function* all() {
      for (const p of paths) yield* textFileLines(p, signal)
    }
    return { lines: all(), plannedBytes: corpusBytes, corpusBytes, sampled: false }
  }
  const share = sampleBytes / corpusBytes
  const seekSizes = paths.map((p, i) => (seekable(p) ? sizes[i]! : 0))
  const blocks = chooseBlocks(seekSizes, Math.round(seekSizes.reduce((a, b) => a + b, 0) * share), seed)
  const streamed = paths.map((p, i) => (seekable(p) ? 0 : sizes[i]!)).reduce((a, b) => a + b, 0)
  async function* sample() {
    let b = 0
    const keep = mulberry32(seed ^ 0x5bd1e995)
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!
      if (seekable(path)) {
        if (sizes[i] === 0) yield* textFileLines(path, signal) // not a regular file: let the reader say why
        for (; b < blocks.length && blocks[b]!.file === i; b++) yield* blockLines(path, blocks[b]!, signal)
      } else {
        for await (const line of textFileLines(path, signal)) if (keep() < share) yield line
      }
    }
  }
  return { lines: sample(), plannedBytes: blocks.reduce((a, x) => a + (x.end - x.start), 0) + streamed * share, corpusBytes, sampled: true }
}

/** A shard line ({"h", "line", "text"}) as the lines of its document. */
function* shardDocumentLines(line: string): Generator<string> {
  const text = (JSON.parse(line) as { text: string }).text
  for (const l of text.split('\n')) if (l.length > 0) yield l
}

/**
 * Lines of one split of a project's ingested corpus role for counting: all of them (as
 * `corpusLines` gives them) when they fit `sampleBytes`, else the documents of a seeded sample of
 * blocks of its shard files (JSON lines, one document each).
 */
export async function sampleCorpusLines(projectDir: string, role: CorpusRole, split: 'train' | 'heldout', budget: CountBudget = {}, signal?: AbortSignal): Promise<SampledText> {
  const sampleBytes = budget.sampleBytes ?? DEFAULT_SAMPLE_BYTES
  const state = await readRoleState(projectDir, role)
  const dir = roleDir(projectDir, role)
  const shards = (state?.sources ?? []).flatMap((s) => s.shards[split].map((x) => join(dir, x)))
  const sizes: number[] = []
  for (const p of shards) sizes.push(await stat(p).then((s) => s.size, () => 0))
  const corpusBytes = sizes.reduce((a, b) => a + b, 0)
  const plain = shards.every((p) => p.endsWith('.jsonl'))
  if (sampleBytes <= 0 || corpusBytes <= sampleBytes || !plain) {
    // small enough, or shards this reader cannot seek in: every document (counting still caps the words)
    return { lines: corpusLines(projectDir, role, split, signal), plannedBytes: corpusBytes, corpusBytes, sampled: false }
  }
  const blocks = chooseBlocks(sizes, sampleBytes, budget.seed ?? DEFAULT_SAMPLE_SEED)
  async function* sample() {
    for (const b of blocks) yield* blockLines(shards[b.file]!, b, signal, shardDocumentLines)
  }
  return { lines: sample(), plannedBytes: blocks.reduce((a, x) => a + (x.end - x.start), 0), corpusBytes, sampled: true }
}

/** A budget from the API's parameters (MiB of text), unset ones left to the defaults. */
export function countBudgetOf(maxWords?: number, sampleMb?: number): CountBudget {
  return { ...(maxWords !== undefined ? { maxWords } : {}), ...(sampleMb !== undefined ? { sampleBytes: Math.round(sampleMb * 1024 * 1024) } : {}) }
}

/** The defaults filled in. */
export function countBudget(budget: CountBudget = {}): Required<CountBudget> {
  return { maxWords: budget.maxWords ?? DEFAULT_MAX_WORDS, sampleBytes: budget.sampleBytes ?? DEFAULT_SAMPLE_BYTES, seed: budget.seed ?? DEFAULT_SAMPLE_SEED }
}
