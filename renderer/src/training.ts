/**
 * The Replay mix and Training steps' reading of what the user typed (the training settings, a run's
 * name), the arithmetic of the planned settings (tokens per language, passes over the corpus, time
 * at a measured speed), and the engine's metrics laid out as chart series. Nothing here measures:
 * losses, speeds and token counts are the engine's; the plan is only the settings multiplied out.
 */
import { runName, trainingSettings, type RunStatus, type StepMetrics, type TrainingSettings } from '../../main/engine/contract'

export type SettingKey = keyof TrainingSettings
export type NumberSettingKey = Exclude<SettingKey, 'documentMasking' | 'recompute'>

export interface SettingField {
  key: NumberSettingKey
  label: string
  /** What it does, in a sentence. */
  help: string
  /** Whole numbers, or decimals such as 1e-4. */
  kind: 'int' | 'decimal'
  /** Shown under "Advanced". */
  advanced: boolean
}

/** The number fields of the training settings, in the order the form shows them. */
export const SETTING_FIELDS: readonly SettingField[] = [
  { key: 'steps', label: 'Steps', help: 'Optimizer updates the run makes.', kind: 'int', advanced: false },
  { key: 'sequenceLength', label: 'Sequence length', help: 'Tokens in each training sequence (at most the model’s context).', kind: 'int', advanced: false },
  { key: 'batchSize', label: 'Batch size', help: 'Sequences in each micro-batch: what the memory estimate uses.', kind: 'int', advanced: false },
  { key: 'learningRate', label: 'Learning rate', help: 'The peak, reached after the warm-up and then lowered along a cosine.', kind: 'decimal', advanced: false },
  { key: 'checkpointEvery', label: 'Checkpoint every', help: 'Steps between checkpoints (one is written at the end too).', kind: 'int', advanced: false },
  {
    key: 'gradientAccumulation',
    label: 'Gradient accumulation',
    help: 'Micro-batches per step: a step trains on batch × sequence length × this many tokens, with the memory of one micro-batch.',
    kind: 'int',
    advanced: true,
  },
  { key: 'warmupSteps', label: 'Warm-up steps', help: 'Steps over which the learning rate rises from 0 to its peak.', kind: 'int', advanced: true },
  { key: 'weightDecay', label: 'Weight decay', help: 'AdamW’s decoupled weight decay, 0 to 1.', kind: 'decimal', advanced: true },
  { key: 'evalEvery', label: 'Held-out evaluation every', help: 'Steps between measurements of bits per byte on held-out text (0: only at the end).', kind: 'int', advanced: true },
  { key: 'keepCheckpoints', label: 'Checkpoints kept', help: 'The newest this many are kept; pinned ones are kept besides.', kind: 'int', advanced: true },
  {
    key: 'embeddingOnlySteps',
    label: 'Embedding-only steps',
    help: 'A first stage that trains only the embeddings and the output head, so the new rows settle before the rest moves (Chinese-LLaMA, EEVE).',
    kind: 'int',
    advanced: true,
  },
  { key: 'seed', label: 'Seed', help: 'Seeds the order of the training sequences: the same seed draws the same batches.', kind: 'int', advanced: true },
]

export type SettingCheck = { ok: true; value: number } | { ok: false; message: string }

/** One training setting as typed, checked against the contract's schema for it. */
export function readSetting(field: Pick<SettingField, 'key' | 'label' | 'kind'>, text: string): SettingCheck {
  const trimmed = text.trim().replace(/[_\s,]/g, '')
  const pattern = field.kind === 'int' ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i
  if (!pattern.test(trimmed)) return { ok: false, message: field.kind === 'int' ? `Enter the ${field.label.toLowerCase()} as a whole number.` : `Enter the ${field.label.toLowerCase()} as a number, such as 0.0001 or 1e-4.` }
  const value = Number(trimmed)
  const checked = trainingSettings.shape[field.key].safeParse(value)
  if (checked.success) return { ok: true, value }
  const issue = checked.error.issues[0]
  const what = `The ${field.label.toLowerCase()}`
  if (issue?.code === 'too_small') return { ok: false, message: issue.inclusive === false ? `${what} must be more than ${String(issue.minimum)}.` : `${what} must be at least ${String(issue.minimum)}.` }
  if (issue?.code === 'too_big') return { ok: false, message: `${what} can be at most ${Number(issue.maximum).toLocaleString('en')}.` }
  return { ok: false, message: `${what} must be a whole number.` }
}

/** A setting as the form shows it (no digit grouping, so it reads back the same). */
export function settingText(value: number): string {
  return String(value)
}

export type NameCheck = { ok: true; name: string } | { ok: false; message: string }

/** A run's name as typed, checked with the contract's schema. */
export function readRunName(text: string): NameCheck {
  const checked = runName.safeParse(text.trim())
  return checked.success ? { ok: true, name: checked.data } : { ok: false, message: checked.error.issues[0]?.message ?? 'Check the run’s name.' }
}

/** The name a new run is offered: `main` for the first, then `run-2`, `run-3` … (the first free one). */
export function nextRunName(existing: readonly string[]): string {
  const taken = new Set(existing)
  if (!taken.has('main')) return 'main'
  for (let n = 2; ; n++) if (!taken.has(`run-${n}`)) return `run-${n}`
}

export interface TokenPlan {
  /** batch × sequence length × gradient accumulation. */
  perStep: number
  total: number
  target: number
  english: number
}

/** The tokens the planned settings train on, split by the planned English share (settings multiplied out; the mixture draws whole sequences). */
export function plannedTokens(t: Pick<TrainingSettings, 'steps' | 'batchSize' | 'sequenceLength' | 'gradientAccumulation'>, englishShare: number): TokenPlan {
  const perStep = t.batchSize * t.sequenceLength * t.gradientAccumulation
  const total = perStep * t.steps
  const english = total * englishShare
  return { perStep, total, target: total - english, english }
}

/** How many times `planned` tokens go over a corpus of `corpusTokens` (null when its size is unknown or 0). */
export function passes(planned: number, corpusTokens: number | null | undefined): number | null {
  if (corpusTokens === null || corpusTokens === undefined || !(corpusTokens > 0)) return null
  return planned / corpusTokens
}

/** Passes over a text: "2.35×", "120×", "0.0011×" (small ones keep two significant digits). */
export function formatPasses(value: number, locale = 'en'): string {
  if (!Number.isFinite(value)) return '—'
  const digits = value === 0 || value >= 0.01 ? { maximumFractionDigits: value >= 10 ? 0 : 2, minimumFractionDigits: value >= 10 ? 0 : 2 } : { maximumSignificantDigits: 2 }
  return `${new Intl.NumberFormat([locale, 'en'], digits).format(value)}×`
}

/** Seconds of training steps for `tokens` at a speed the engine measured (null without one). */
export function secondsAt(tokens: number, tokensPerSecond: number | null | undefined): number | null {
  if (tokensPerSecond === null || tokensPerSecond === undefined || !(tokensPerSecond > 0)) return null
  return tokens / tokensPerSecond
}

/** The run whose last step measured a speed, newest first in the manifest's order (null when none has one). */
export function lastMeasuredRun(runs: readonly RunStatus[]): RunStatus | null {
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i]!
    if (run.last && run.last.tokensPerSecond > 0) return run
  }
  return null
}

export const RUN_STATE_LABELS: Record<RunStatus['state'], string> = {
  planned: 'Planned',
  running: 'Training',
  paused: 'Paused',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
}

/** States a run can be resumed from (from its newest checkpoint, with its own settings). */
export function canResume(state: RunStatus['state']): boolean {
  return state === 'paused' || state === 'interrupted' || state === 'failed'
}

/** uPlot's data: x values, then each series' values (null where a step has none). */
export type ChartData = [number[], ...(number | null)[][]]

/** Training loss per language at each step (nats per token). */
export function lossSeries(metrics: readonly StepMetrics[]): ChartData {
  return [metrics.map((m) => m.step), metrics.map((m) => m.lossTarget), metrics.map((m) => m.lossEnglish)]
}

/** Held-out bits per byte per language, at the steps that measured it, from the run's baseline at step 0 when it has one. */
export function heldoutSeries(metrics: readonly StepMetrics[], baseline: RunStatus['baseline'] = null): ChartData {
  const measured = metrics.filter((m) => m.heldout !== undefined)
  const start = baseline ? [{ step: 0, heldout: baseline }] : []
  const points = [...start, ...measured]
  return [points.map((m) => m.step), points.map((m) => m.heldout?.target ?? null), points.map((m) => m.heldout?.english ?? null)]
}

/** The learning rate at each step. */
export function lrSeries(metrics: readonly StepMetrics[]): ChartData {
  return [metrics.map((m) => m.step), metrics.map((m) => m.lr)]
}

/** The last value a series has (null when it has none). */
export function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]
    if (v !== null && v !== undefined && Number.isFinite(v)) return v
  }
  return null
}
