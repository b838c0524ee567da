/** Continual pretraining: runs of a project, their settings, progress, metrics and checkpoints. */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import type { ProjectSummary } from './app'
import { type RunState, replayMix, trainingSettings } from './manifest'
import { type RecomputeSetting, fsPath } from './values'

/** Everything a run trains with: the manifest's training settings and replay share, with the run's overrides. */
export interface RunSettings {
  sequenceLength: number
  /** Sequences per micro-batch. */
  batchSize: number
  /** Micro-batches per optimizer step. */
  gradientAccumulation: number
  steps: number
  learningRate: number
  warmupSteps: number
  weightDecay: number
  seed: number
  checkpointEvery: number
  keepCheckpoints: number
  evalEvery: number
  /** The first steps train only the embeddings and the output head. */
  embeddingOnlySteps: number
  documentMasking: boolean
  /** Recompute activations in the backward pass: on, off, or auto (also when absent: when a step would not fit the device's memory otherwise). */
  recompute?: RecomputeSetting
  /** Planned share of English replay tokens, 0 … 1. */
  englishShare: number
}

/** One line of a run's metrics.jsonl: one optimizer step. */
export interface StepMetrics {
  step: number
  /** Mean next-token loss of the step (nats per token). */
  loss: number
  /** The same over the step's target-language and English sequences (null when it had none). */
  lossTarget: number | null
  lossEnglish: number | null
  lr: number
  gradNorm: number
  tokensPerSecond: number
  /** Tokens trained on so far, per language. */
  tokensTarget: number
  tokensEnglish: number
  elapsedSeconds: number
  /** Whether the step recomputed activations in the backward pass (the run's `recompute` setting, resolved); absent in runs from before the setting. */
  recompute?: boolean
  /** Every `evalEvery` steps (and at the end): bits per byte on the held-out samples. */
  heldout?: { target: number | null; english: number | null }
}

export interface RunStatus {
  name: string
  dir: string
  /** `interrupted`: marked running, but no live worker holds it (resume it). */
  state: RunState | 'interrupted'
  step: number
  steps: number
  tokensTarget: number
  tokensEnglish: number
  plannedReplayShare: number
  realisedReplayShare: number
  /** Passes over each language's training text so far ("target text seen 3.2×"). */
  epochsTarget: number
  epochsEnglish: number
  checkpoints: { step: number; dir: string; pinned: boolean }[]
  settings: RunSettings | null
  /** Why the run failed, when it did. */
  failure: string | null
  /** Set when the run was trained elsewhere and its checkpoints imported (`vernacular runs import`). */
  imported: { from: string; at: string } | null
  last: StepMetrics | null
  /** Held-out bits per byte of the model the run started from, before its first step (null until measured). */
  baseline: { target: number | null; english: number | null } | null
}

export const TRAIN_JOB = 'train'

export interface TrainingJobs {
  /** Trains a run in a worker process until done, paused or cancelled; the result is the run's status. */
  [TRAIN_JOB]: { result: RunStatus; labels: { run: string } }
}

const t = trainingSettings.shape
/** Settings one run may override (`vernacular train --steps …`); flags are not written back to the manifest. */
export const runOverrides = z
  .object({
    sequenceLength: t.sequenceLength,
    batchSize: t.batchSize,
    gradientAccumulation: t.gradientAccumulation.unwrap(),
    steps: t.steps,
    learningRate: t.learningRate,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    seed: t.seed,
    checkpointEvery: t.checkpointEvery,
    keepCheckpoints: t.keepCheckpoints.unwrap(),
    evalEvery: t.evalEvery.unwrap(),
    embeddingOnlySteps: t.embeddingOnlySteps.unwrap(),
    documentMasking: t.documentMasking.unwrap(),
    recompute: t.recompute.unwrap(),
    englishShare: replayMix.shape.englishShare,
  })
  .partial()
  .strict()

export type RunOverrides = z.output<typeof runOverrides>

/** A change to a project's planned training settings and replay share (only the fields given change). */
export const trainingPatch = z
  .object({ training: runOverrides.omit({ englishShare: true }).optional(), replay: z.object({ englishShare: replayMix.shape.englishShare }).strict().optional() })
  .strict()

export const runName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'A run name has letters, digits, dots, dashes and underscores (at most 64), starting with a letter or digit.')

export const trainingMethods = {
  /** Starts (or with `resume`, continues) a run; the job follows its worker. */
  'train.start': jobMethod(TRAIN_JOB)(z.object({ dir: fsPath, run: runName.default('main'), overrides: runOverrides.default({}), resume: z.boolean().default(false) }).strict()),
  /** Asks the run's worker, wherever it runs, to write a checkpoint and pause. */
  'train.pause': method<RunStatus>()(z.object({ dir: fsPath, run: runName }).strict()),
  /** Asks the run's worker to write a checkpoint and stop for good (or cancels a paused run). */
  'train.cancel': method<RunStatus>()(z.object({ dir: fsPath, run: runName }).strict()),
  'train.status': method<RunStatus>()(z.object({ dir: fsPath, run: runName.default('main') }).strict()),
  /** Every run of the project, in the manifest's order. */
  'train.runs': method<RunStatus[]>()(z.object({ dir: fsPath }).strict()),
  /** The metrics lines of a run (for charts). */
  'train.metrics': method<StepMetrics[]>()(z.object({ dir: fsPath, run: runName }).strict()),
  /** Changes the project's planned training settings and English replay share in its manifest. */
  'project.setTraining': method<ProjectSummary>()(z.object({ dir: fsPath }).extend(trainingPatch.shape).strict()),
  /** Keeps a checkpoint whatever `keepCheckpoints` says (or stops keeping it). */
  'train.pin': method<RunStatus>()(z.object({ dir: fsPath, run: runName, step: z.number().int().min(0), pinned: z.boolean() }).strict()),
}
