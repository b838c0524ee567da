/**
 * The tokenizer operations behind the CLI and the app: encode, fertility, extend (add | replace)
 * and the vocabulary-size sweep. Each takes files, reports progress through a job context when it
 * runs as a job, and writes nothing until its result is complete.
 */
import { join } from 'node:path'
import { MAX_NEW_TOKENS, type ExtendSummary, type Fertility, type SweepPoint, type SweepResult, type TokenizerSummary } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import { countTokens, countWords, extendTokenizer, prefixTokenizer, type ExtendMode, type WordCounts } from './extend'
import { fertility } from './fertility'

export type { ExtendSummary, SweepPoint, SweepResult, TokenizerSummary }
import type { LearnedToken } from './learn'
import { learnContinuedBpe } from './learn'
import { writeOutputDir } from '../common/outputdir'
import { textFileLines, textFilesLines } from '../corpus/text'
import { countBudget, sampleFileLines, type CountBudget, type SampledText } from './wordcount'
import { Tokenizer } from './tokenizer'

export function summarize(tok: Tokenizer, path: string): TokenizerSummary {
  return {
    path,
    family: tok.family,
    vocabSize: tok.vocabSize,
    modelVocab: tok.model.size,
    merges: tok.model.mergeList.length,
    byteFallback: tok.model.options.byteFallback,
    specialTokens: tok.added.filter((t) => t.special).map((t) => ({ id: t.id, content: t.content })),
  }
}

export type Progress = Pick<JobContext, 'progress' | 'signal' | 'log' | 'commit'>

const quiet: Progress = { progress: () => undefined, signal: new AbortController().signal, log: () => undefined }

/**
 * Progress of counting words and then learning, as a share of the time the two are expected to
 * take, so that the fraction grows at a steady rate and the app's ETA holds (no jump when counting
 * ends). Counting's speed is measured as it goes; learning is expected to take LEARN_WORD_S a
 * distinct word (segmenting it, its pairs) and LEARN_TOKEN_S a learned token, measured on a 2-core
 * machine (docs/performance.md). The distinct words to come are extrapolated from how they grew
 * over the text so far (Heaps' law, its exponent measured between half the text read and all of
 * it), up to the word budget. The fraction never goes back.
 */
export const LEARN_WORD_S = 13e-6
export const LEARN_TOKEN_S = 50e-6

export class CountLearnProgress {
  private readonly t0 = performance.now()
  private readonly seen: { bytes: number; words: number }[] = []
  private last: number
  private countSeconds = 0
  private learnSeconds = 0
  private words = 0
  constructor(
    private readonly ctx: Progress,
    private readonly from: number,
    private readonly to: number,
    private readonly plannedBytes: number,
    private readonly maxWords: number,
    private readonly tokens: number,
  ) {
    this.last = from
  }

  private emit(share: number, message: string): void {
    const f = Math.max(this.last, this.from + (this.to - this.from) * Math.min(1, Math.max(0, share)))
    this.last = f
    this.ctx.progress({ fraction: f, message })
  }

  private elapsed(): number {
    return (performance.now() - this.t0) / 1000
  }

  /** While counting: `bytes` of text read, `words` distinct words met. */
  counted = (bytes: number, words: number): void => {
    const t = this.elapsed()
    this.seen.push({ bytes, words })
    let estimate = words
    if (bytes > 0 && bytes < this.plannedBytes) {
      const half = this.seen.find((x) => x.bytes >= bytes / 2)
      const beta = half && half.bytes < bytes && half.words > 0 ? Math.min(1, Math.max(0, Math.log(words / half.words) / Math.log(bytes / half.bytes))) : 0.7
      estimate = words * (this.plannedBytes / bytes) ** beta
    }
    const learn = LEARN_WORD_S * Math.min(this.maxWords, estimate) + LEARN_TOKEN_S * this.tokens
    const left = bytes > 0 ? (t * Math.max(0, this.plannedBytes - bytes)) / bytes : 0
    this.emit(t / (t + left + learn), `Counting words: ${(bytes / 1e6).toFixed(1)} MB`)
  }

  /** Counting is done: `words` distinct words to learn on. */
  counting(words: number): void {
    this.countSeconds = this.elapsed()
    this.words = words
    this.learnSeconds = LEARN_WORD_S * words + LEARN_TOKEN_S * this.tokens
  }

  private learnedShare(seconds: number): number {
    return (this.countSeconds + seconds) / (this.countSeconds + this.learnSeconds)
  }

  onPrepare = (done: number): void => this.emit(this.learnedShare(LEARN_WORD_S * Math.min(done, this.words)), `Preparing ${this.words.toLocaleString('en')} words…`)
  onProgress = (n: number): void => this.emit(this.learnedShare(LEARN_WORD_S * this.words + LEARN_TOKEN_S * Math.min(n, this.tokens)), `Learned ${n} of ${this.tokens} tokens`)
}

/** Counts corpus words, keeping at most `maxWords` distinct words, with progress. */
export async function countCorpusWords(tok: Tokenizer, lines: AsyncIterable<string>, progress: CountLearnProgress, ctx: Progress, maxWords?: number): Promise<WordCounts> {
  const words = await countWords(tok, lines, ctx.signal, progress.counted, maxWords !== undefined ? { maxWords } : {})
  if (words.lines === 0) throw new EngineError('bad-input', 'the corpus is empty: there is no text to learn tokens from', { hint: 'Give files with target-language text, one document or sentence per line.' })
  progress.counting(words.counts.size)
  return words
}

/** Records in the counts how they were sampled (counting itself knows only what it read). */
function noteSample(words: WordCounts, text: Pick<SampledText, 'corpusBytes' | 'sampled'> | undefined): WordCounts {
  if (text && words.stats) words.stats = { ...words.stats, corpusBytes: text.sampled ? text.corpusBytes : words.bytes, sampled: text.sampled }
  return words
}

/** Share of learned tokens that the final segmentation of the training words uses. */
export function reachableShare(learn: { tokens: LearnedToken[]; segment(word: string): number[] }, words: Map<string, number>): number {
  if (learn.tokens.length === 0) return 1
  const ids = new Set(learn.tokens.map((t) => t.id))
  const used = new Set<number>()
  for (const w of words.keys()) for (const id of learn.segment(w)) if (ids.has(id)) used.add(id)
  return used.size / ids.size
}

export interface ExtendInput {
  base: string
  corpus: string[]
  mode: ExtendMode
  count: number
  reference?: string[]
  out: string
  minCount?: number
  /** Memory budget of the word counts (defaults in wordcount.ts). */
  budget?: CountBudget
}

export interface ExtensionRun {
  base: Tokenizer
  mode: ExtendMode
  count: number
  minCount?: number
  /** The target training text (read once). */
  corpus: AsyncIterable<string>
  /** Bytes the corpus lines come to (the sample's when sampled): what counting progress is measured against. */
  corpusBytes: number
  /** When `corpus` is a sample (sampleFileLines, sampleCorpusLines): the whole corpus's size. */
  sample?: Pick<SampledText, 'corpusBytes' | 'sampled'>
  /** At most this many distinct words are counted (default in wordcount.ts). */
  maxWords?: number
  /** Replace mode: the English and target text whose base-token frequencies choose the tokens to free. */
  reference: AsyncIterable<string> | null
  out: string
  /** Also write summary.json (a project lists its extended tokenizers from it). */
  withSummary: boolean
  warnings: string[]
}

/** Counts, learns and writes one extended tokenizer: the work behind `tokenizer extend` and the Vocabulary step. */
export async function runExtension(run: ExtensionRun, ctx: Progress = quiet): Promise<ExtendSummary> {
  const t0 = performance.now()
  const { base, mode, count, out } = run
  ctx.progress({ fraction: 0, message: 'Counting words…' })
  const maxWords = countBudget({ ...(run.maxWords !== undefined ? { maxWords: run.maxWords } : {}) }).maxWords
  // replace mode also counts base tokens on the reference text (its fraction stands still meanwhile)
  const progress = new CountLearnProgress(ctx, 0, 0.95, run.corpusBytes, maxWords, count)
  const words = noteSample(await countCorpusWords(base, run.corpus, progress, ctx, maxWords), run.sample)
  let reference
  if (mode === 'replace' && run.reference) {
    ctx.progress({ message: 'Counting base tokens on the reference text…' })
    reference = await countTokens(base, run.reference, ctx.signal)
  }
  const tCount = performance.now()
  ctx.progress({ message: `Learning ${count} tokens…` })
  const result = await extendTokenizer(base, words, {
    mode,
    count,
    ...(run.minCount !== undefined ? { minCount: run.minCount } : {}),
    ...(reference ? { reference } : {}),
    signal: ctx.signal,
    onPrepare: progress.onPrepare,
    onProgress: progress.onProgress,
  })
  const tLearn = performance.now()
  // A cancel that arrived as learning finished still wins; once writing starts, it is too late.
  if (ctx.signal.aborted) throw new EngineError('cancelled', 'the extension was cancelled')
  ctx.commit?.()
  ctx.progress({ fraction: 0.96, message: 'Writing…' })
  const summary: ExtendSummary = {
    out,
    tokenizerFile: join(out, 'tokenizer.json'),
    changesFile: join(out, 'vocab-changes.json'),
    mode,
    count,
    family: base.family,
    baseVocabSize: base.vocabSize,
    vocabSize: result.tokenizer.vocabSize,
    added: result.changes.added.length,
    addedChars: result.changes.added.filter((a) => a.kind === 'char').length,
    removed: result.changes.removed.length,
    reachableShare: reachableShare(result.learn, words.counts),
    corpus: result.changes.corpus,
    seconds: { count: (tCount - t0) / 1000, learn: (tLearn - tCount) / 1000, total: (performance.now() - t0) / 1000 },
    warnings: run.warnings,
  }
  const files: Record<string, string> = { 'tokenizer.json': result.json + '\n', 'vocab-changes.json': JSON.stringify(result.changes, null, 1) + '\n' }
  if (run.withSummary) files['summary.json'] = JSON.stringify(summary, null, 2) + '\n'
  await writeOutputDir(out, files, ['tokenizer.json', 'vocab-changes.json', 'summary.json'])
  for (const w of run.warnings) ctx.log(`warning: ${w}`)
  return summary
}

export async function extendFiles(input: ExtendInput, ctx: Progress = quiet): Promise<ExtendSummary> {
  const warnings: string[] = []
  let reference: string[] | null = null
  if (input.mode === 'replace') {
    reference = input.reference ?? []
    if (reference.length === 0) {
      reference = input.corpus
      warnings.push('No --reference text was given, so base-token frequencies were counted on the target corpus alone; English tokens were not protected. Give English and target text with --reference.')
    }
  }
  const text = await sampleFileLines(input.corpus, input.budget, ctx.signal)
  return runExtension(
    {
      base: await Tokenizer.fromFile(input.base),
      mode: input.mode,
      count: input.count,
      ...(input.minCount !== undefined ? { minCount: input.minCount } : {}),
      ...(input.budget?.maxWords !== undefined ? { maxWords: input.budget.maxWords } : {}),
      corpus: text.lines,
      corpusBytes: text.plannedBytes,
      sample: text,
      reference: reference ? textFilesLines(reference, ctx.signal) : null,
      out: input.out,
      withSummary: false,
      warnings,
    },
    ctx,
  )
}

export interface SweepInput {
  base: Tokenizer
  /** Training text for the one learning run. */
  corpus: AsyncIterable<string>
  corpusBytes: number
  heldoutTarget: string[]
  heldoutEnglish: string[] | null
  counts: number[]
  targetLanguage: string
  minCount?: number
  /** At most this many distinct words are counted (default in wordcount.ts). */
  maxWords?: number
}

export async function sweep(input: SweepInput, ctx: Progress = quiet): Promise<SweepResult & { learnedTokens: LearnedToken[] }> {
  const counts = [...new Set(input.counts)].sort((a, b) => a - b)
  if (counts.length === 0) throw new EngineError('bad-input', 'give at least one vocabulary size to evaluate, for example --counts 0,1000,5000')
  if (counts.some((c) => !Number.isInteger(c) || c < 0 || c > MAX_NEW_TOKENS)) throw new EngineError('bad-input', `vocabulary sizes must be whole numbers from 0 to ${MAX_NEW_TOKENS}: ${counts.join(', ')}`)
  if (input.heldoutTarget.length === 0) throw new EngineError('bad-input', 'the held-out target text is empty', { hint: 'Give held-out target-language text, one line per sentence or document.' })
  const t0 = performance.now()
  const max = counts[counts.length - 1]!
  const maxWords = countBudget({ ...(input.maxWords !== undefined ? { maxWords: input.maxWords } : {}) }).maxWords
  // counting and learning take the first 60% of the job; fertility the rest
  const progress = new CountLearnProgress(ctx, 0, 0.6, input.corpusBytes, maxWords, max)
  const words = await countCorpusWords(input.base, input.corpus, progress, ctx, maxWords)
  const tCount = performance.now()
  const base = input.base
  ctx.progress({ message: `Learning up to ${max} tokens…` })
  const learn = await learnContinuedBpe(base.model, words.counts, base.vocabSize, {
    maxTokens: max,
    ...(input.minCount !== undefined ? { minCount: input.minCount } : {}),
    signal: ctx.signal,
    onPrepare: progress.onPrepare,
    onProgress: progress.onProgress,
  })
  const tLearn = performance.now()
  const points: SweepPoint[] = []
  const skipped: number[] = []
  const usable = counts.filter((c) => (c <= learn.tokens.length ? true : (skipped.push(c), false)))
  for (let i = 0; i < usable.length; i++) {
    const c = usable[i]!
    ctx.progress({ fraction: 0.6 + 0.4 * (i / usable.length), message: `Measuring fertility with ${c} new tokens` })
    if (ctx.signal.aborted) throw new EngineError('cancelled', 'cancelled')
    const tok = prefixTokenizer(base, learn, c)
    const target = await fertility(tok, input.heldoutTarget, input.targetLanguage, ctx.signal)
    const english = input.heldoutEnglish ? await fertility(tok, input.heldoutEnglish, 'en', ctx.signal) : null
    points.push({ count: c, vocabSize: base.vocabSize + c, target, english })
    await new Promise((r) => setImmediate(r))
  }
  return {
    family: base.family,
    baseVocabSize: base.vocabSize,
    learned: learn.tokens.length,
    exhausted: learn.tokens.length < max ? learn.exhausted : null,
    skipped,
    points,
    corpus: { lines: words.lines, bytes: words.bytes, distinctWords: words.counts.size },
    targetLanguage: input.targetLanguage,
    seconds: { count: (tCount - t0) / 1000, learn: (tLearn - tCount) / 1000, evaluate: (performance.now() - tLearn) / 1000 },
    learnedTokens: learn.tokens,
  }
}

/** Reads whole (small) text files into lines. */
export async function readAllLines(paths: string[], signal?: AbortSignal): Promise<string[]> {
  const out: string[] = []
  for await (const l of textFilesLines(paths, signal)) out.push(l)
  return out
}

export async function sweepFiles(
  input: { base: string; corpus: string[]; heldoutTarget: string; heldoutEnglish?: string; counts: number[]; lang?: string; minCount?: number; budget?: CountBudget },
  ctx: Progress = quiet,
): Promise<SweepResult> {
  const base = await Tokenizer.fromFile(input.base)
  const heldoutTarget = await readAllLines([input.heldoutTarget], ctx.signal)
  const heldoutEnglish = input.heldoutEnglish ? await readAllLines([input.heldoutEnglish], ctx.signal) : null
  const text = await sampleFileLines(input.corpus, input.budget, ctx.signal)
  const { learnedTokens: _, ...result } = await sweep(
    {
      base,
      corpus: text.lines,
      corpusBytes: text.plannedBytes,
      ...(input.budget?.maxWords !== undefined ? { maxWords: input.budget.maxWords } : {}),
      heldoutTarget,
      heldoutEnglish,
      counts: input.counts,
      targetLanguage: input.lang ?? 'und',
      ...(input.minCount !== undefined ? { minCount: input.minCount } : {}),
    },
    ctx,
  )
  return result
}

export async function encodeFile(tokenizer: string, text: string, addSpecialTokens: boolean): Promise<{ ids: number[][]; tokens: number }> {
  const tok = await Tokenizer.fromFile(tokenizer)
  const ids: number[][] = []
  let tokens = 0
  for await (const line of textFileLines(text, undefined, true)) {
    const e = tok.encode(line, { addSpecialTokens })
    tokens += e.length
    ids.push(e)
  }
  return { ids, tokens }
}

export async function fertilityFile(tokenizer: string, text: string, lang: string): Promise<Fertility> {
  const tok = await Tokenizer.fromFile(tokenizer)
  return fertility(tok, textFilesLines([text]), lang)
}
