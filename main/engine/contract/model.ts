/** Models: Hugging Face folders, logits and scores, memory estimates, embedding surgery, the project's base model. */
import { z } from 'zod'
import { type HeldoutScore, wordLanguage } from './evaluation'
import { jobMethod, method } from './jobs'
import { type ExtendMode, MAX_PAD_MULTIPLE, MAX_SEQ_LEN, type RecomputeSetting, VOCABULARY_MODES, batchSize, fsPath, newTokenCount } from './values'

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

/**
 * What `model score` reports: the held-out scores of `eval bpb` (the same computation), with the
 * fields `model score` has always had.
 */
export interface ScoreResult extends HeldoutScore {
  /** The documents (lines) scored; the same as `documents`. */
  lines: number
  /**
   * The token each line is scored after, lm-evaluation-harness's prefix token: the BOS, or the EOS
   * where the model has no BOS; null if it has neither (then each line's first token is not scored).
   */
  bos: string | null
  /** Whether `bos` is the model's BOS or, for want of one, its EOS. */
  prefix: 'bos' | 'eos' | null
  /** Lines whose first token is not scored: 0 unless the model has neither BOS nor EOS. */
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
  /** How many tokens the extended tokenizer added or replaced (its vocab-changes.json `count`). */
  count: number
  init: EmbeddingInitMethod
  rowsBefore: number
  rowsAfter: number
  appended: number
  overwritten: number
  padding: { from: number; to: number } | null
  matrices: string[]
  /** How long the resize took. */
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
  device: {
    kind: 'gpu' | 'cpu'
    name: string
    memoryBytes: number | null
    backend: string
    /** webgpu: the adapter's largest buffer (`maxBufferSize`); every tensor, the embedding included, has to fit in one. */
    maxBufferBytes?: number
  }
  /** Whether the estimate fits the device's memory, and on webgpu the largest weight one buffer (null when the memory is unknown). */
  fits: boolean | null
  /** The estimate with each layer's activations recomputed in the backward pass (the training setting `recompute`), and whether it fits. */
  recomputed?: MemoryEstimateResult | null
  fitsRecomputed?: boolean | null
  /** The project's `recompute` setting, and whether a run would recompute with it on this device (null while no model is known). */
  recompute?: { setting: RecomputeSetting; on: boolean | null }
  /** Resized models in the project (models/<mode>-<count>-<init>/). */
  resized: ResizeSummary[]
}

/** A file of a Hub repository: its size and, for an LFS file, the sha256 the Hub gives. */
export interface HubFile {
  path: string
  bytes: number
  sha256: string | null
}

/** What `model download` leaves: the model folder and where in the Hugging Face cache it came from. */
export interface HubDownloadResult {
  repo: string
  /** The revision asked for (a branch, tag or commit) and the commit it named. */
  revision: string
  commit: string
  /** The model folder: `out` if given, else the snapshot. */
  folder: string
  /** The cache's `snapshots/<commit>/` for the repository. */
  snapshot: string
  /** The cache's `models--ORG--NAME/`. */
  cache: string
  files: HubFile[]
  totalBytes: number
  /** Bytes fetched over the network in this run (the rest were cached or resumed). */
  fetchedBytes: number
  /** Bytes of partial files left by an earlier run that this run resumed after. */
  resumedBytes: number
}

/** A model on the Hub before it is downloaded: its size, and whether training it fits this machine. */
export interface HubModelInfo {
  repo: string
  revision: string
  commit: string
  gated: boolean
  files: HubFile[]
  totalBytes: number
  /** Whether every file is already in the cache. */
  cached: boolean
  /** The model as its config.json describes it; null with `problem` if we cannot train it. */
  model: { architecture: string; modelType: string; family: 'gpt2' | 'llama'; parameters: number; vocabulary: number; layers: number; maxPositions: number; dtype: string } | null
  problem: string | null
  training: BaseModelStatus['training']
  estimate: MemoryEstimateResult | null
  recomputed: MemoryEstimateResult | null
  device: BaseModelStatus['device']
  fits: boolean | null
  fitsRecomputed: boolean | null
}

export const MODEL_SCORE_JOB = 'model-score'
export const MODEL_RESIZE_JOB = 'model-resize'
export const MODEL_DOWNLOAD_JOB = 'model-download'

export interface ModelJobs {
  [MODEL_SCORE_JOB]: { result: ScoreResult; labels: Record<string, never> }
  /** A resize for a vocab-changes.json; a project's resize is labelled with its tokenizer and init. */
  [MODEL_RESIZE_JOB]: { result: ResizeSummary; labels: { mode?: ExtendMode; count?: string; init?: EmbeddingInitMethod } }
  /** A download from the Hub, labelled with the repository and revision. */
  [MODEL_DOWNLOAD_JOB]: { result: HubDownloadResult; labels: { repo: string; revision?: string } }
}

const resizeInit = z.enum(EMBEDDING_INIT_VALUES).default('mean')
const padMultiple = z.number().int().min(1).max(MAX_PAD_MULTIPLE).optional()
export const hubRepoId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/, 'a Hub repository id is ORG/NAME')
export const hubRevision = z.string().trim().min(1).max(200).regex(/^[^\s]+$/, 'a revision has no spaces').optional()

export const modelMethods = {
  'model.info': method<ModelInfo>()(z.object({ model: fsPath }).strict()),
  'model.logits': method<{ logits: number[][] }>()(z.object({ model: fsPath, ids: z.array(z.number().int().min(0)).min(1).max(4096) }).strict()),
  /** The same as `eval.bpb`, with the fields `model score` has always reported. */
  'model.score': jobMethod(MODEL_SCORE_JOB)(z.object({ model: fsPath, tokenizer: fsPath, text: fsPath, lang: wordLanguage }).strict()),
  'model.estimate': method<MemoryEstimateResult>()(
    z
      .object({ model: fsPath, batch: batchSize, seqLen: z.number().int().min(2).max(MAX_SEQ_LEN), optimizer: z.enum(OPTIMIZER_VALUES).default('adamw'), recompute: z.boolean().default(false) })
      .strict(),
  ),
  'model.resize': jobMethod(MODEL_RESIZE_JOB)(
    z
      .object({
        model: fsPath,
        changes: fsPath,
        init: resizeInit,
        out: fsPath,
        seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
        padMultiple,
      })
      .strict(),
  ),
  /** A Hub model's files, size and commit, and whether training it fits this machine (with the project's batch and length if `dir` is given). */
  'model.hubInfo': method<HubModelInfo>()(z.object({ repo: hubRepoId, revision: hubRevision, dir: fsPath.optional() }).strict()),
  /** Downloads a Hub model into the Hugging Face cache (and `out`, if given); with `dir`, the job is the project's and the model becomes its base model. */
  'model.download': jobMethod(MODEL_DOWNLOAD_JOB)(z.object({ repo: hubRepoId, revision: hubRevision, out: fsPath.optional(), dir: fsPath.optional() }).strict()),
  'baseModel.status': method<BaseModelStatus>()(z.object({ dir: fsPath }).strict()),
  /** Records a Hugging Face model folder as the project's base model, after checking it loads. */
  'baseModel.set': method<BaseModelStatus>()(z.object({ dir: fsPath, path: fsPath }).strict()),
  /** Resizes the base model for the project's extended tokenizer tokenizer/<mode>-<count>/. */
  'baseModel.resize': jobMethod(MODEL_RESIZE_JOB)(z.object({ dir: fsPath, mode: z.enum(VOCABULARY_MODES), count: newTokenCount, init: resizeInit, padMultiple }).strict()),
}
