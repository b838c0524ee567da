/**
 * Scale out: a run handed to an existing distributed trainer (PyTorch FSDP with torchrun, or
 * LLaMA-Factory) as a self-contained bundle, and the checkpoints of such an external run brought
 * back as a run of the project, for evaluation and comparison like a local one.
 */
import { z } from 'zod'
import { jobMethod } from './jobs'
import { runName, runOverrides } from './training'
import { fsPath } from './values'

/** The distributed trainers a bundle is written for. */
export const HANDOFF_TARGETS = ['fsdp', 'llamafactory'] as const
export type HandoffTarget = (typeof HANDOFF_TARGETS)[number]

export const HANDOFF_JOB = 'handoff'
export const RUNS_IMPORT_JOB = 'runs-import'

export interface HandoffFile {
  /** Relative to the bundle, with forward slashes. */
  name: string
  bytes: number
}

export interface HandoffResult {
  /** The bundle folder (absolute). */
  out: string
  target: HandoffTarget
  run: string
  /** Whether the run was created (as `planned`, with the project's settings) by this hand-off. */
  created: boolean
  /** Every file of the bundle. */
  files: HandoffFile[]
  /** What to run in the bundle folder, on the cluster (one GPU; the bundle's README gives the rest). */
  command: string
  /** What to run here afterwards to bring the checkpoints back (with the folder the cluster wrote). */
  importCommand: string
  /** Tokens per optimizer step on one GPU (batch × sequence length × gradient accumulation). */
  tokensPerStep: number
  seconds: number
}

export interface ImportedCheckpoint {
  step: number
  /** Where it now is in the project (absolute). */
  dir: string
  /** The external folder it came from (absolute). */
  from: string
}

export interface RunsImportResult {
  run: string
  /** The external run's folder (absolute). */
  from: string
  checkpoints: ImportedCheckpoint[]
  /** Folders that looked like checkpoints but were not imported, each with the reason. */
  skipped: { folder: string; reason: string }[]
  /** Metrics lines brought with them (train.py's metrics.jsonl, or LLaMA-Factory's trainer_log.jsonl). */
  metrics: number
  seconds: number
}

export interface HandoffJobs {
  [HANDOFF_JOB]: { result: HandoffResult; labels: { run: string; target: HandoffTarget } }
  [RUNS_IMPORT_JOB]: { result: RunsImportResult; labels: { run: string } }
}

export const handoffMethods = {
  /**
   * Writes run `run` (created as `planned` with the project's settings when it does not exist) as a
   * bundle for `target` in `out` (`overrides` change the settings of a run created now, as `train.start`'s do): the resized model and tokenizer, the token files, the launch
   * scripts, `vernacular-run.json` and a README. A non-empty `out` that no hand-off wrote is
   * refused unless `force` (which replaces it).
   */
  'handoff.write': jobMethod(HANDOFF_JOB)(
    z
      .object({ dir: fsPath, run: runName.default('main'), out: fsPath, target: z.enum(HANDOFF_TARGETS).default('fsdp'), overrides: runOverrides.default({}), force: z.boolean().default(false) })
      .strict(),
  ),
  /**
   * Registers the checkpoints of an external run (Hugging Face folders named `step-<n>`,
   * `checkpoint-<n>` or `global_step<n>`, in `from` or below it) as run `run` of the project, with
   * their checksums. Their tokenizer must be the project's extended tokenizer.
   */
  'runs.import': jobMethod(RUNS_IMPORT_JOB)(z.object({ dir: fsPath, from: fsPath, run: runName }).strict()),
}
