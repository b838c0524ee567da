/**
 * The API contract: every request the renderer (or any other client) can make of the engine, the
 * shape of each result, and the events the engine pushes. It is the seam between the renderer and
 * the engine; the desktop app carries it over Electron IPC, web mode over a loopback WebSocket,
 * and the renderer cannot tell which.
 *
 * Requests are validated with these schemas at the process boundary before they reach the engine.
 * Results and events are produced by the engine itself and described here as types.
 *
 * This file may import nothing but zod: the renderer bundles it.
 */
import { z } from 'zod'

// ---------------------------------------------------------------------------------------------
// Shared value schemas
// ---------------------------------------------------------------------------------------------

/** A BCP-47 language tag (`hu`, `th`, `pt-BR`, `sr-Latn`), canonicalised by `Intl`. */
export const languageTag = z
  .string()
  .trim()
  .min(1, 'Enter a language code such as "hu" or "th".')
  .max(64)
  .refine(
    (s) => {
      try {
        return Intl.getCanonicalLocales(s).length === 1
      } catch {
        return false
      }
    },
    { message: 'Not a BCP-47 language tag; use a code such as "hu", "th" or "pt-BR".' },
  )
  .transform((s) => Intl.getCanonicalLocales(s)[0] as string)

export const projectName = z
  .string()
  .trim()
  .min(1, 'The project needs a name.')
  .max(120, 'Keep the project name under 120 characters.')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { message: 'The name contains control characters.' })

/** A filesystem path as the user typed it; the engine resolves it (and `~`). */
export const fsPath = z
  .string()
  .trim()
  .min(1, 'Enter a folder path.')
  .max(4096)
  .refine((s) => !s.includes('\u0000'), { message: 'The path contains a NUL character.' })

export const ROLE_VALUES = ['target', 'english'] as const
export const VOCABULARY_MODES = ['add', 'replace'] as const

// ---------------------------------------------------------------------------------------------
// The project manifest (vernacular.json), schema version 1
// ---------------------------------------------------------------------------------------------

export const MANIFEST_FORMAT = 'vernacular-project'
export const MANIFEST_SCHEMA_VERSION = 1
export const MANIFEST_FILE = 'vernacular.json'

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an ISO date' })

export const corpusEntry = z.object({
  id: z.string().min(1),
  role: z.enum(ROLE_VALUES),
  sources: z.array(z.string()),
  addedAt: isoDate,
})

export const runEntry = z.object({
  id: z.string().min(1),
  name: z.string(),
  createdAt: isoDate,
  status: z.enum(['planned', 'running', 'done', 'failed', 'cancelled']),
  dir: z.string(),
})

export const vocabularyPlan = z.object({
  /** `add`: append new tokens (SambaLingo); `replace`: reuse the ids of rare base tokens (Csaki et al.). */
  mode: z.enum(VOCABULARY_MODES),
  count: z.number().int().min(0).max(200_000),
})

export const replayMix = z.object({
  /** Share of training tokens drawn from the English replay corpus (0 … 1). */
  englishShare: z.number().min(0).max(1),
})

export const trainingSettings = z.object({
  sequenceLength: z.number().int().min(8).max(131_072),
  batchSize: z.number().int().min(1).max(4096),
  learningRate: z.number().positive().max(1),
  warmupSteps: z.number().int().min(0),
  steps: z.number().int().min(1),
  weightDecay: z.number().min(0).max(1),
  checkpointEvery: z.number().int().min(1),
  seed: z.number().int(),
})

/** Unknown top-level fields are kept as they are, so nothing another tool stored is lost on save. */
export const projectManifest = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  id: z.string().min(1),
  name: projectName,
  language: z.string().min(1),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** The Vernacular version that last wrote the file. */
  writtenBy: z.string(),
  /** Paths are relative to the project folder when inside it, absolute otherwise. */
  baseModel: z.object({ path: z.string() }).nullable(),
  baseTokenizer: z.object({ path: z.string() }).nullable(),
  corpora: z.array(corpusEntry),
  vocabulary: vocabularyPlan,
  replay: replayMix,
  training: trainingSettings,
  runs: z.array(runEntry),
})

export type ProjectManifest = z.infer<typeof projectManifest>
export type VocabularyPlan = z.infer<typeof vocabularyPlan>
export type ReplayMix = z.infer<typeof replayMix>
export type TrainingSettings = z.infer<typeof trainingSettings>

export const DEFAULT_VOCABULARY: VocabularyPlan = { mode: 'add', count: 5000 }
export const DEFAULT_REPLAY: ReplayMix = { englishShare: 0.25 }
export const DEFAULT_TRAINING: TrainingSettings = {
  sequenceLength: 512,
  batchSize: 8,
  learningRate: 1e-4,
  warmupSteps: 100,
  steps: 1000,
  weightDecay: 0.1,
  checkpointEvery: 200,
  seed: 42,
}

// ---------------------------------------------------------------------------------------------
// Corpora
// ---------------------------------------------------------------------------------------------

export type CorpusRole = (typeof ROLE_VALUES)[number]
export const SPLITS = ['train', 'heldout'] as const
export type Split = (typeof SPLITS)[number]

/** How ingest reads and cleans text. Every field has a default; the ones used are recorded. */
export const ingestOptions = z
  .object({
    /** `.txt` files: one document per line, documents separated by blank lines, or detect. */
    txtMode: z.enum(['auto', 'line', 'blank']).default('auto'),
    /** The JSONL field that holds the text. */
    jsonlField: z.string().min(1).max(200).default('text'),
    /** The CSV/TSV column (header name) that holds the text. */
    csvColumn: z.string().min(1).max(200).default('text'),
    /** Invalid UTF-8: reject the file (naming line and byte), or replace with U+FFFD and count. */
    invalidUtf8: z.enum(['reject', 'replace']).default('reject'),
    /** Documents shorter than this many characters (after cleaning) are set aside. */
    minChars: z.number().int().min(0).max(1_000_000).default(20),
    /** Minimum share of letters in the language's script(s); documents below are set aside. */
    scriptThreshold: z.number().min(0).max(1).default(0.5),
    /** Share of documents held out for evaluation, chosen by document hash. */
    heldoutFraction: z.number().min(0).max(0.5).default(0.02),
    /** At least this many held-out documents, when the corpus has them. */
    minHeldout: z.number().int().min(0).max(1_000_000).default(50),
  })
  .strict()

export type IngestOptions = z.output<typeof ingestOptions>

export const REMOVAL_REASONS = ['empty', 'too-short', 'no-letters', 'wrong-script', 'duplicate'] as const
export type RemovalReason = (typeof REMOVAL_REASONS)[number]

export interface SplitProfile {
  documents: number
  characters: number
  /** UTF-8 bytes of the cleaned text. */
  bytes: number
  /** Words as Intl.Segmenter counts them for the language (Thai has no spaces). */
  words: number
  /** Letters per Unicode script (ISO 15924 code, or `other`). */
  scripts: Record<string, number>
  /**
   * Documents by length in characters, in contiguous doubling buckets (16, 32, 64, … up to the
   * longest document): a bucket counts lengths above the previous `upTo` and up to its own.
   */
  lengthHistogram: { upTo: number; documents: number }[]
  /**
   * The most frequent words (lower-cased). Exact for the first 10,000 documents of each source and
   * split; beyond that estimated from one document in sixteen (chosen by hash).
   */
  topWords: { word: string; count: number }[]
}

export interface SourceStats {
  path: string
  format: 'txt' | 'jsonl' | 'csv' | 'tsv'
  compressed: boolean
  bytes: number
  sha256: string
  documentsRead: number
  kept: number
  /** Documents set aside, by reason; a reason not listed means none. */
  removed: Partial<Record<RemovalReason, number>>
  invalidBytesReplaced: number
}

export interface RoleStats {
  role: CorpusRole
  /** The language its text is checked against (the project's language, or `en`). */
  language: string
  options: IngestOptions
  sources: SourceStats[]
  train: SplitProfile
  heldout: SplitProfile
  /** The sum over sources; a reason not listed means none. */
  removed: Partial<Record<RemovalReason, number>>
  /** Where the set-aside documents are, with their reasons (relative to the project). */
  rejectsDir: string
  updatedAt: string
  /**
   * Tokens the text comes to under the project's base tokenizer, estimated from the bytes per
   * token measured on a sample of it; null when the project has no base tokenizer yet.
   */
  tokens: TokenEstimate | null
}

export interface TokenEstimate {
  /** The base tokenizer measured, as `family, N tokens`. */
  tokenizer: string
  bytesPerToken: number
  /** Bytes of text the ratio was measured on. */
  sampledBytes: number
  train: number
  heldout: number
}

export interface CorpusStats {
  /** The project folder, absolute. */
  dir: string
  roles: RoleStats[]
}

export interface CorpusDocument {
  text: string
  source: string
  /** 1-based line of the document's start in its source file. */
  line: number
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export interface ProjectSummary {
  /** Absolute path of the project folder. */
  dir: string
  manifest: ProjectManifest
}

export interface RecentProject {
  dir: string
  name: string
  language: string
  openedAt: string
  /** `ok` when the manifest could be read just now; otherwise what is wrong with it. */
  status: 'ok' | 'missing' | 'unreadable'
  problem?: string
}

export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu'
export const BACKEND_NAMES: readonly BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu']

export interface BackendAttempt {
  name: BackendName
  ok: boolean
  /** Why it was or was not chosen, in words a user can act on. */
  reason: string
}

export interface BackendReport {
  /** The backend in use. */
  name: BackendName
  /** The name tfjs gives it (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string
  /** Why this one: the override that chose it, or the fallback order and what failed before it. */
  why: string
  /** `VERNACULAR_BACKEND`, the setting, or `auto`. */
  requestedBy: 'env' | 'setting' | 'auto'
  attempts: BackendAttempt[]
}

export interface GpuInfo {
  name: string
  memoryBytes: number | null
  driver: string | null
  source: string
}

export interface DoctorReport {
  vernacularVersion: string
  node: string
  electron: string | null
  platform: string
  arch: string
  cpu: { model: string; cores: number }
  memory: { totalBytes: number; freeBytes: number }
  gpus: GpuInfo[]
  backend: BackendReport
  settingsFile: string
  warnings: string[]
}

export interface BenchmarkResult {
  backend: BackendName
  size: number
  gflops: number
  seconds: number
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobProgress {
  /** 0 … 1, or null while the total is unknown. */
  fraction: number | null
  message: string
  /** Seconds left, estimated from the rate so far; null until there is a rate. */
  etaSeconds: number | null
}

export interface JobSnapshot {
  id: string
  /** Grows with every change of the job, so a client can drop snapshots older than one it has. */
  revision: number
  kind: string
  title: string
  /** The project the job works on, if any. */
  projectDir: string | null
  /** What the job is about, for clients to place it (an ingest job has `role`). */
  labels: Record<string, string>
  state: JobState
  progress: JobProgress
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  error: { code: string; message: string; hint?: string } | null
  result: unknown
  logFile: string | null
}

export interface AppInfo {
  name: 'Vernacular'
  version: string
  /** `cli` only for in-process use by the command line; the renderer sees desktop or web. */
  mode: 'desktop' | 'web' | 'cli'
  platform: string
  /** Where "New project" suggests putting projects. */
  defaultProjectsDir: string
  capabilities: {
    /** A native folder picker (desktop only). */
    pickDirectory: boolean
    /** Showing a folder in the system file manager (desktop only). */
    revealPath: boolean
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: fertility, extension, sweep, preview
// ---------------------------------------------------------------------------------------------

export type ExtendMode = (typeof VOCABULARY_MODES)[number]

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

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

export const EMBEDDING_INIT_VALUES = ['mean', 'random'] as const
export type EmbeddingInitMethod = (typeof EMBEDDING_INIT_VALUES)[number]
export const OPTIMIZER_VALUES = ['adamw', 'sgd'] as const

export interface ModelInfo {
  dir: string
  /** The transformers class, e.g. LlamaForCausalLM. */
  architecture: string
  modelType: string
  /** Which of our two forward passes runs it. */
  family: 'gpt2' | 'llama'
  parameters: number
  /** Embedding rows (config.json `vocab_size`). */
  vocabulary: number
  layers: number
  dims: { hidden: number; intermediate: number; heads: number; kvHeads: number; headDim: number }
  maxPositions: number
  /** How the weights are stored: float32, float16 or bfloat16. */
  dtype: string
  tied: boolean
  weightFiles: string[]
  weightBytes: number
  tokenizer: { file: string; vocabSize: number; family: string; vocabSha256: string } | null
  /** Why the folder's tokenizer.json cannot be used, if it cannot. */
  tokenizerProblem: string | null
}

export interface ScoreResult {
  /** Tokens scored (predicted), over all lines. */
  tokens: number
  /** UTF-8 bytes of the scored lines. */
  bytes: number
  /** Summed next-token negative log-likelihood, in nats. */
  nll: number
  bitsPerByte: number
  lines: number
  /** The token each line began with, or null if the tokenizer has none (then each line's first token is not scored). */
  bos: string | null
  unscoredFirstTokens: number
  nllPerToken: number
}

export interface MemoryEstimateResult {
  parameters: number
  weights: number
  gradients: number
  optimizer: number
  activations: number
  total: number
}

export interface ResizeSummary {
  out: string
  mode: ExtendMode
  init: EmbeddingInitMethod
  rowsBefore: number
  rowsAfter: number
  appended: number
  overwritten: number
  padding: { from: number; to: number } | null
  matrices: string[]
  seconds: number
}

export interface BaseModelStatus {
  /** The folder as the manifest records it (absolute), or null before one is chosen. */
  path: string | null
  info: ModelInfo | null
  /** Why the chosen folder cannot be used, if it cannot. */
  problem: string | null
  /** How the model's tokenizer relates to the project's base tokenizer. */
  tokenizer: 'same' | 'different' | 'model-has-none' | 'project-has-none' | null
  training: { batch: number; seqLen: number; optimizer: 'adamw' }
  estimate: MemoryEstimateResult | null
  /** Where training would run and how much memory it has. */
  device: { kind: 'gpu' | 'cpu'; name: string; memoryBytes: number | null; backend: string }
  /** Whether the estimate fits the device's memory (null when the memory is unknown). */
  fits: boolean | null
  /** Resized models in the project (models/<mode>-<count>-<init>/). */
  resized: ResizeSummary[]
}

// ---------------------------------------------------------------------------------------------
// Methods: one entry each, `params` validated at the boundary
// ---------------------------------------------------------------------------------------------

const empty = z.object({}).strict()

export const methods = {
  'app.info': { params: empty },
  'system.doctor': { params: empty },
  'system.benchmark': {
    params: z
      .object({
        /** Square matrix size for the matMul benchmark. */
        size: z.number().int().min(16).max(8192).default(512),
        repeats: z.number().int().min(1).max(1000).default(20),
      })
      .strict(),
  },
  'project.create': { params: z.object({ dir: fsPath, name: projectName, language: languageTag }).strict() },
  'project.open': { params: z.object({ dir: fsPath }).strict() },
  /** Opens the bundled demo project, creating it in the user's Vernacular folder the first time. */
  'project.openDemo': { params: empty },
  'project.rename': { params: z.object({ dir: fsPath, name: projectName }).strict() },
  'project.recent': { params: empty },
  'project.forget': { params: z.object({ dir: fsPath }).strict() },
  'corpus.add': {
    params: z
      .object({ dir: fsPath, role: z.enum(ROLE_VALUES), paths: z.array(fsPath).min(1, 'Give at least one file or folder.').max(10_000), options: ingestOptions.partial().optional() })
      .strict(),
  },
  'corpus.stats': { params: z.object({ dir: fsPath }).strict() },
  /** Documents drawn at random; the same `seed` gives the same documents. */
  'corpus.sample': {
    params: z
      .object({ dir: fsPath, role: z.enum(ROLE_VALUES), split: z.enum(SPLITS).default('heldout'), n: z.number().int().min(1).max(100).default(5), seed: z.number().int().optional() })
      .strict(),
  },
  'tokenizer.info': { params: z.object({ tokenizer: fsPath }).strict() },
  /** Ids of each line of a text file (empty lines give empty lists). */
  'tokenizer.encode': { params: z.object({ tokenizer: fsPath, text: fsPath, addSpecialTokens: z.boolean().default(false) }).strict() },
  'tokenizer.fertility': { params: z.object({ tokenizer: fsPath, text: fsPath, lang: z.string().min(1).max(35).default('und') }).strict() },
  /** Learns `count` tokens by continued BPE and writes `out`/tokenizer.json and `out`/vocab-changes.json. */
  'tokenizer.extend': {
    params: z
      .object({
        base: fsPath,
        corpus: z.array(fsPath).min(1, 'Give at least one corpus file.'),
        mode: z.enum(VOCABULARY_MODES),
        count: z.number().int().min(1).max(200_000),
        reference: z.array(fsPath).optional(),
        out: fsPath,
        minCount: z.number().int().min(1).optional(),
      })
      .strict(),
  },
  /** Fertility on held-out target and English text for several numbers of added tokens, from one learning run. */
  'tokenizer.sweep': {
    params: z
      .object({
        base: fsPath,
        corpus: z.array(fsPath).min(1, 'Give at least one corpus file.'),
        heldoutTarget: fsPath,
        heldoutEnglish: fsPath.optional(),
        counts: z.array(z.number().int().min(0).max(200_000)).min(1).max(50),
        lang: z.string().min(1).max(35).default('und'),
        minCount: z.number().int().min(1).optional(),
      })
      .strict(),
  },
  'vocab.status': { params: z.object({ dir: fsPath }).strict() },
  /** Copies a tokenizer.json into the project as its base tokenizer, after checking it can be used. */
  'vocab.setBase': { params: z.object({ dir: fsPath, path: fsPath }).strict() },
  'vocab.sweep': { params: z.object({ dir: fsPath, counts: z.array(z.number().int().min(0).max(200_000)).min(1).max(50) }).strict() },
  'vocab.extend': { params: z.object({ dir: fsPath, mode: z.enum(VOCABULARY_MODES), count: z.number().int().min(1).max(200_000) }).strict() },
  /** How `text` splits under the base tokenizer and with the first `count` tokens of the last sweep. */
  'vocab.preview': { params: z.object({ dir: fsPath, text: z.string().max(20_000), count: z.number().int().min(0).max(200_000) }).strict() },
  'model.info': { params: z.object({ model: fsPath }).strict() },
  'model.logits': { params: z.object({ model: fsPath, ids: z.array(z.number().int().min(0)).min(1).max(4096) }).strict() },
  'model.score': { params: z.object({ model: fsPath, tokenizer: fsPath, text: fsPath }).strict() },
  'model.estimate': {
    params: z
      .object({ model: fsPath, batch: z.number().int().min(1).max(4096), seqLen: z.number().int().min(2).max(131_072), optimizer: z.enum(OPTIMIZER_VALUES).default('adamw') })
      .strict(),
  },
  'model.resize': {
    params: z
      .object({
        model: fsPath,
        changes: fsPath,
        init: z.enum(EMBEDDING_INIT_VALUES).default('mean'),
        out: fsPath,
        seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
        padMultiple: z.number().int().min(1).max(4096).optional(),
      })
      .strict(),
  },
  'baseModel.status': { params: z.object({ dir: fsPath }).strict() },
  /** Records a Hugging Face model folder as the project's base model, after checking it loads. */
  'baseModel.set': { params: z.object({ dir: fsPath, path: fsPath }).strict() },
  /** Resizes the base model for the project's extended tokenizer tokenizer/<mode>-<count>/. */
  'baseModel.resize': {
    params: z
      .object({ dir: fsPath, mode: z.enum(VOCABULARY_MODES), count: z.number().int().min(1).max(200_000), init: z.enum(EMBEDDING_INIT_VALUES).default('mean'), padMultiple: z.number().int().min(1).max(4096).optional() })
      .strict(),
  },
  'jobs.list': { params: z.object({ projectDir: fsPath.optional() }).strict() },
  'jobs.get': { params: z.object({ id: z.string().min(1) }).strict() },
  'jobs.cancel': { params: z.object({ id: z.string().min(1) }).strict() },
  'shell.pickDirectory': { params: z.object({ title: z.string().max(200).optional(), defaultPath: z.string().max(4096).optional() }).strict() },
  'shell.revealPath': { params: z.object({ path: fsPath }).strict() },
} as const

export type MethodName = keyof typeof methods
export const METHOD_NAMES = Object.keys(methods) as MethodName[]

/** What callers pass (defaults may be omitted). */
export type ParamsIn<M extends MethodName> = z.input<(typeof methods)[M]['params']>
/** What the engine receives after validation (defaults filled in, strings trimmed). */
export type Params<M extends MethodName> = z.output<(typeof methods)[M]['params']>

export interface Results {
  'app.info': AppInfo
  'system.doctor': DoctorReport
  'system.benchmark': { job: JobSnapshot }
  'project.create': ProjectSummary
  'project.open': ProjectSummary
  'project.openDemo': ProjectSummary
  'project.rename': ProjectSummary
  'project.recent': RecentProject[]
  'project.forget': RecentProject[]
  /** The job ingests; its result, when done, is the role's `RoleStats`. */
  'corpus.add': { job: JobSnapshot }
  'corpus.stats': CorpusStats
  'corpus.sample': { documents: CorpusDocument[] }
  'tokenizer.info': TokenizerSummary
  'tokenizer.encode': { ids: number[][]; tokens: number }
  'tokenizer.fertility': Fertility
  /** The job's result, when done, is an `ExtendSummary`. */
  'tokenizer.extend': { job: JobSnapshot }
  /** The job's result, when done, is a `SweepResult`. */
  'tokenizer.sweep': { job: JobSnapshot }
  'vocab.status': VocabStatus
  'vocab.setBase': VocabStatus
  /** The job's result, when done, is a `SweepResult`; it is also kept in the project. */
  'vocab.sweep': { job: JobSnapshot }
  /** The job's result, when done, is an `ExtendSummary`. */
  'vocab.extend': { job: JobSnapshot }
  'vocab.preview': PreviewResult
  'model.info': ModelInfo
  'model.logits': { logits: number[][] }
  /** The job's result, when done, is a `ScoreResult`. */
  'model.score': { job: JobSnapshot }
  'model.estimate': MemoryEstimateResult
  /** The job's result, when done, is a `ResizeSummary`. */
  'model.resize': { job: JobSnapshot }
  'baseModel.status': BaseModelStatus
  'baseModel.set': BaseModelStatus
  /** The job's result, when done, is a `ResizeSummary`. */
  'baseModel.resize': { job: JobSnapshot }
  'jobs.list': JobSnapshot[]
  'jobs.get': JobSnapshot
  'jobs.cancel': JobSnapshot
  'shell.pickDirectory': { path: string | null }
  'shell.revealPath': { ok: true }
}

export type Result<M extends MethodName> = Results[M]

// ---------------------------------------------------------------------------------------------
// Events pushed by the engine
// ---------------------------------------------------------------------------------------------

export type EngineEvent =
  | { type: 'job'; job: JobSnapshot }
  | { type: 'project'; dir: string; manifest: ProjectManifest }

// ---------------------------------------------------------------------------------------------
// Wire format (WebSocket and HTTP; IPC carries the same request and reply objects)
// ---------------------------------------------------------------------------------------------

export interface WireError {
  code: string
  message: string
  hint?: string
  file?: string
  details?: string[]
}

export const wireRequest = z
  .object({
    id: z.union([z.number().int(), z.string().max(64)]),
    method: z.string().min(1).max(64),
    params: z.unknown().optional(),
  })
  .strict()

export type WireRequest = z.infer<typeof wireRequest>

export type WireReply =
  | { kind: 'reply'; id: number | string; ok: true; result: unknown }
  | { kind: 'reply'; id: number | string | null; ok: false; error: WireError }

export type WireMessage = WireReply | { kind: 'event'; event: EngineEvent }

/** The object the renderer talks to, whichever transport carries it. */
export interface VernacularApi {
  call<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<Result<M>>
  onEvent(listener: (event: EngineEvent) => void): () => void
}

/** What the desktop preload exposes on `window.vernacular`. Replies carry errors as values. */
export interface PreloadBridge {
  invoke(method: string, params: unknown): Promise<WireReply>
  onEvent(listener: (event: EngineEvent) => void): () => void
}

/** Raised on the renderer side when a call fails; carries the engine's error. */
export class ApiError extends Error {
  readonly code: string
  readonly hint?: string
  readonly file?: string
  readonly details?: string[]
  constructor(error: WireError) {
    super(error.message)
    this.name = 'ApiError'
    this.code = error.code
    if (error.hint !== undefined) this.hint = error.hint
    if (error.file !== undefined) this.file = error.file
    if (error.details !== undefined) this.details = error.details
  }
}
