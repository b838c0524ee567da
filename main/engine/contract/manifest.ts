/**
 * The project manifest, `vernacular.json` (format `vernacular-project`, schema version 1): what a
 * project is on disk. The engine reads and writes it under a lock (project/manifest.ts); the
 * renderer receives it in project summaries and events.
 */
import { z } from 'zod'
import { TRAINING_RECIPES, recipeValues } from './recipes'
import { MAX_NEW_TOKENS, MAX_SEQ_LEN, RECOMPUTE_VALUES, ROLE_VALUES, VOCABULARY_MODES, batchSize, isoDate, projectName } from './values'

export const MANIFEST_FORMAT = 'vernacular-project'
export const MANIFEST_SCHEMA_VERSION = 1
export const MANIFEST_FILE = 'vernacular.json'

export const corpusEntry = z.object({
  id: z.string().min(1),
  role: z.enum(ROLE_VALUES),
  sources: z.array(z.string()),
  addedAt: isoDate,
})

/**
 * What a run records of its state. `interrupted` is never stored: it is a `running` run whose lock
 * no live worker holds (the app shows it with Resume).
 */
export const RUN_STATES = ['planned', 'running', 'paused', 'done', 'failed', 'cancelled'] as const

export const runEntry = z.object({
  id: z.string().min(1),
  name: z.string(),
  createdAt: isoDate,
  status: z.enum(RUN_STATES),
  dir: z.string(),
})

export const vocabularyPlan = z.object({
  /** `add`: append new tokens (SambaLingo); `replace`: reuse the ids of rare base tokens (Csaki et al.). */
  mode: z.enum(VOCABULARY_MODES),
  count: z.number().int().min(0).max(MAX_NEW_TOKENS),
})

export const replayMix = z.object({
  /** Share of training tokens drawn from the English replay corpus (0 … 1). */
  englishShare: z.number().min(0).max(1),
})

/** Training settings; the fields added after schema version 1 first shipped have defaults, so older manifests still read. */
export const trainingSettings = z.object({
  /** Tokens per sequence. */
  sequenceLength: z.number().int().min(8).max(MAX_SEQ_LEN),
  /** Sequences per micro-batch (what the memory estimate uses). */
  batchSize,
  /** Micro-batches per optimizer step: a step trains on batchSize × sequenceLength × gradientAccumulation tokens. */
  gradientAccumulation: z.number().int().min(1).max(4096).default(1),
  learningRate: z.number().positive().max(1),
  warmupSteps: z.number().int().min(0),
  /** Optimizer steps. */
  steps: z.number().int().min(1),
  weightDecay: z.number().min(0).max(1),
  checkpointEvery: z.number().int().min(1),
  /** Checkpoints kept (the newest; pinned ones are kept besides). */
  keepCheckpoints: z.number().int().min(1).max(1000).default(3),
  /** Held-out bits per byte every this many steps (0: only at the end). */
  evalEvery: z.number().int().min(0).default(50),
  /** A first stage that trains only the embeddings and the output head (Chinese-LLaMA, EEVE). */
  embeddingOnlySteps: z.number().int().min(0).default(0),
  /** Attention within each packed document only, positions restarting per document (SambaLingo). */
  documentMasking: z.boolean().default(true),
  /** Recompute each layer's activations in the backward pass (less memory, about one more forward pass); `auto` (also when absent): when a step would not fit otherwise. */
  recompute: z.enum(RECOMPUTE_VALUES).optional(),
  seed: z.number().int(),
})

/** Unknown top-level fields are kept as they are, so nothing another tool stored is lost on save. */
/**
 * How the project is evaluated. `limit`: score only the first N documents of each language's
 * held-out split and the first N items of each task (lm-evaluation-harness's `--limit`), for a
 * quick check; the results are cached apart from full ones and always marked as limited. Null:
 * everything.
 */
export const evaluationSettings = z.object({
  limit: z.number().int().min(1).max(10_000_000).nullable().default(null),
})

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
  /** Absent in manifests written before it existed: then no limit. */
  evaluation: evaluationSettings.default({ limit: null }),
  runs: z.array(runEntry),
})

export type ProjectManifest = z.infer<typeof projectManifest>
export type VocabularyPlan = z.infer<typeof vocabularyPlan>
export type ReplayMix = z.infer<typeof replayMix>
export type EvaluationSettings = z.output<typeof evaluationSettings>
export type TrainingSettings = z.output<typeof trainingSettings>
export type RunState = (typeof RUN_STATES)[number]

export const DEFAULT_VOCABULARY: VocabularyPlan = { mode: 'add', count: 5000 }
const SMALL = recipeValues(TRAINING_RECIPES.small)
/** A new project's replay share and training settings: the small-model defaults (recipes.ts, with their sources). */
export const DEFAULT_REPLAY: ReplayMix = { englishShare: SMALL.englishShare }
export const DEFAULT_TRAINING: TrainingSettings = {
  sequenceLength: SMALL.sequenceLength,
  batchSize: SMALL.batchSize,
  gradientAccumulation: SMALL.gradientAccumulation,
  learningRate: SMALL.learningRate,
  warmupSteps: SMALL.warmupSteps,
  steps: SMALL.steps,
  weightDecay: SMALL.weightDecay,
  checkpointEvery: SMALL.checkpointEvery,
  keepCheckpoints: SMALL.keepCheckpoints,
  evalEvery: SMALL.evalEvery,
  embeddingOnlySteps: SMALL.embeddingOnlySteps,
  documentMasking: SMALL.documentMasking,
  recompute: SMALL.recompute,
  seed: SMALL.seed,
}
