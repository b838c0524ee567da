/** Tokenizers: fertility, continued-BPE extension, the sweep over vocabulary sizes, the preview. */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import { type ExtendMode, MAX_NEW_TOKENS, MAX_PREVIEW_CHARS, VOCABULARY_MODES, fsPath, newTokenCount, sweepCounts } from './values'

export interface Fertility {
  lines: number
  words: number
  chars: number
  bytes: number
  tokens: number
  tokensPerWord: number
  charsPerToken: number
  bytesPerToken: number
  /** Share of words split into two or more tokens. */
  continuedWordShare: number
  tokensPerLine: number
}

export interface TokenizerSummary {
  path: string
  family: string
  vocabSize: number
  modelVocab: number
  merges: number
  byteFallback: boolean
  specialTokens: { id: number; content: string }[]
}

export interface ExtendSummary {
  out: string
  tokenizerFile: string
  changesFile: string
  mode: ExtendMode
  count: number
  family: string
  baseVocabSize: number
  vocabSize: number
  added: number
  /** Of the added tokens: single characters the base could only spell as bytes. */
  addedChars: number
  removed: number
  /** Share of added tokens used in the final segmentation of the training words. */
  reachableShare: number
  corpus: { lines: number; bytes: number; words: number; distinctWords: number }
  seconds: { count: number; learn: number; total: number }
  warnings: string[]
}

export interface SweepPoint {
  count: number
  vocabSize: number
  target: Fertility
  english: Fertility | null
}

export interface SweepResult {
  family: string
  baseVocabSize: number
  /** New tokens learned in the one training run; counts above it could not be evaluated. */
  learned: number
  exhausted: string | null
  skipped: number[]
  points: SweepPoint[]
  corpus: { lines: number; bytes: number; distinctWords: number }
  targetLanguage: string
  seconds: { count: number; learn: number; evaluate: number }
}

export interface VocabStatus {
  base: TokenizerSummary | null
  /** Why the base tokenizer cannot be used, if it cannot. */
  baseProblem: string | null
  sweep: SweepResult | null
  outputs: ExtendSummary[]
  plan: { mode: ExtendMode; count: number }
}

export interface PreviewToken {
  id: number
  /** What the token stands for in the text. */
  text: string
  start: number
  end: number
  /** One of the learned tokens. */
  isNew: boolean
  special: boolean
}

export interface PreviewResult {
  count: number
  base: PreviewToken[]
  extended: PreviewToken[] | null
}

export const TOKENIZER_EXTEND_JOB = 'tokenizer-extend'
export const TOKENIZER_SWEEP_JOB = 'tokenizer-sweep'
export const VOCAB_SWEEP_JOB = 'vocab-sweep'
export const VOCAB_EXTEND_JOB = 'vocab-extend'

export interface TokenizerJobs {
  /** Extends a tokenizer.json from files. */
  [TOKENIZER_EXTEND_JOB]: { result: ExtendSummary; labels: Record<string, never> }
  /** A sweep over vocabulary sizes on files. */
  [TOKENIZER_SWEEP_JOB]: { result: SweepResult; labels: Record<string, never> }
  /** A sweep on a project's corpora, kept in the project. */
  [VOCAB_SWEEP_JOB]: { result: SweepResult; labels: Record<string, never> }
  /** An extended tokenizer of a project, in tokenizer/<mode>-<count>/. */
  [VOCAB_EXTEND_JOB]: { result: ExtendSummary; labels: { mode: ExtendMode; count: string } }
}

/** The memory budget of word counting (docs/performance.md, "Tokenizer learning"); defaults in tokenizer/wordcount.ts. */
const countBudgetParams = {
  /** Distinct words kept while counting; the rarest are dropped beyond. */
  maxWords: z.number().int().min(1000).optional(),
  /** Text counted at most, MiB; a larger corpus is counted on a seeded sample of this size. 0 = all of it. */
  sampleMb: z.number().min(0).optional(),
}

export const tokenizerMethods = {
  'tokenizer.info': method<TokenizerSummary>()(z.object({ tokenizer: fsPath }).strict()),
  /** Ids of each line of a text file (empty lines give empty lists). */
  'tokenizer.encode': method<{ ids: number[][]; tokens: number }>()(z.object({ tokenizer: fsPath, text: fsPath, addSpecialTokens: z.boolean().default(false) }).strict()),
  'tokenizer.fertility': method<Fertility>()(z.object({ tokenizer: fsPath, text: fsPath, lang: z.string().min(1).max(35).default('und') }).strict()),
  /** Learns `count` tokens by continued BPE and writes `out`/tokenizer.json and `out`/vocab-changes.json. */
  'tokenizer.extend': jobMethod(TOKENIZER_EXTEND_JOB)(
    z
      .object({
        base: fsPath,
        corpus: z.array(fsPath).min(1, 'Give at least one corpus file.'),
        mode: z.enum(VOCABULARY_MODES),
        count: newTokenCount,
        reference: z.array(fsPath).optional(),
        out: fsPath,
        minCount: z.number().int().min(1).optional(),
        ...countBudgetParams,
      })
      .strict(),
  ),
  /** Fertility on held-out target and English text for several numbers of added tokens, from one learning run. */
  'tokenizer.sweep': jobMethod(TOKENIZER_SWEEP_JOB)(
    z
      .object({
        base: fsPath,
        corpus: z.array(fsPath).min(1, 'Give at least one corpus file.'),
        heldoutTarget: fsPath,
        heldoutEnglish: fsPath.optional(),
        counts: sweepCounts,
        lang: z.string().min(1).max(35).default('und'),
        minCount: z.number().int().min(1).optional(),
      })
      .strict(),
  ),
  'vocab.status': method<VocabStatus>()(z.object({ dir: fsPath }).strict()),
  /** Copies a tokenizer.json into the project as its base tokenizer, after checking it can be used. */
  'vocab.setBase': method<VocabStatus>()(z.object({ dir: fsPath, path: fsPath }).strict()),
  /** The result is also kept in the project. */
  'vocab.sweep': jobMethod(VOCAB_SWEEP_JOB)(z.object({ dir: fsPath, counts: sweepCounts }).strict()),
  'vocab.extend': jobMethod(VOCAB_EXTEND_JOB)(z.object({ dir: fsPath, mode: z.enum(VOCABULARY_MODES), count: newTokenCount, ...countBudgetParams }).strict()),
  /** How `text` splits under the base tokenizer and with the first `count` tokens of the last sweep. */
  'vocab.preview': method<PreviewResult>()(z.object({ dir: fsPath, text: z.string().max(MAX_PREVIEW_CHARS), count: z.number().int().min(0).max(MAX_NEW_TOKENS) }).strict()),
}
