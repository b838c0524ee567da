/**
 * The Compare step's reading of a Comparison (`eval.results`, `eval.compare`): the rows of its
 * table, the points of its forgetting chart and the series of its bits-per-byte chart, the samples
 * side by side, and the tolerance as typed. Nothing here measures anything: bits per byte, task
 * results, token counts and the suggested checkpoint are the engine's; the gain and change against
 * the base are the engine's `relativeChanges` (main/engine/evaluation/project.ts), worked out the
 * same way from the same two numbers (a test holds the two together).
 */
import type { CheckpointEvaluation, Comparison, Evaluation, MultipleChoiceResult, SampleEvaluation } from '../../main/engine/contract'
import type { ChartData } from './training'

/** Names a checkpoint of a run ("main@200"), for keys, choices and test ids. */
export function checkpointKey(run: string, step: number): string {
  return `${run}@${step}`
}

/** A checkpoint's key read back; null when it is not one. */
export function readCheckpointKey(key: string): { run: string; step: number } | null {
  const at = key.lastIndexOf('@')
  if (at <= 0) return null
  const step = Number(key.slice(at + 1))
  return Number.isInteger(step) && step >= 0 ? { run: key.slice(0, at), step } : null
}

/**
 * The target gain (how far its bits per byte fell below the base's, relative to the base's) and
 * the English change (how far English bits per byte rose, relative; forgetting): the engine's
 * `relativeChanges`. Null where either model has no held-out text for the language.
 */
export function relativeChanges(base: Evaluation, e: Evaluation): { targetGain: number | null; englishChange: number | null } {
  const rel = (b: Evaluation['target'], x: Evaluation['target']) => (b && x ? (x.bitsPerByte - b.bitsPerByte) / b.bitsPerByte : null)
  const t = rel(base.target, e.target)
  return { targetGain: t === null ? null : -t, englishChange: rel(base.english, e.english) }
}

/** One row of the comparison table: the base model (run and step null) or a checkpoint of a run. */
export interface CompareRow {
  /** `base`, or the checkpoint's key. */
  key: string
  run: string | null
  step: number | null
  tokensTarget: number | null
  tokensEnglish: number | null
  /** Held-out bits per byte per language (null: the project has no held-out text for it). */
  target: number | null
  english: number | null
  targetGain: number | null
  englishChange: number | null
  tasks: Readonly<Record<string, MultipleChoiceResult>>
  /** The checkpoint the engine suggests. */
  suggested: boolean
  /** Whether the English change stays within the tolerance (null for the base, or when unmeasured). */
  withinTolerance: boolean | null
}

/**
 * The table's rows: the base model (every run is evaluated against the same base, so the first
 * run's), then each run's checkpoints by step, in the comparison's order of runs.
 */
export function compareRows(c: Comparison): CompareRow[] {
  const first = c.runs[0]
  if (!first) return []
  const rows: CompareRow[] = [
    {
      key: 'base',
      run: null,
      step: null,
      tokensTarget: null,
      tokensEnglish: null,
      target: first.base.target?.bitsPerByte ?? null,
      english: first.base.english?.bitsPerByte ?? null,
      targetGain: null,
      englishChange: null,
      tasks: first.base.tasks,
      suggested: false,
      withinTolerance: null,
    },
  ]
  for (const r of c.runs) {
    for (const cp of sortedCheckpoints(r.checkpoints)) {
      const { targetGain, englishChange } = relativeChanges(r.base, cp)
      rows.push({
        key: checkpointKey(r.run, cp.step),
        run: r.run,
        step: cp.step,
        tokensTarget: cp.tokensTarget,
        tokensEnglish: cp.tokensEnglish,
        target: cp.target?.bitsPerByte ?? null,
        english: cp.english?.bitsPerByte ?? null,
        targetGain,
        englishChange,
        tasks: cp.tasks,
        suggested: c.best !== null && c.best.run === r.run && c.best.step === cp.step,
        withinTolerance: englishChange === null ? null : englishChange <= c.maxEnglishChange,
      })
    }
  }
  return rows
}

function sortedCheckpoints(checkpoints: readonly CheckpointEvaluation[]): CheckpointEvaluation[] {
  return [...checkpoints].sort((a, b) => a.step - b.step)
}

/** The tasks any model of the comparison was evaluated on, by name. */
export function taskNames(c: Comparison): string[] {
  const names = new Set<string>()
  for (const r of c.runs) for (const e of [r.base, ...r.checkpoints]) for (const t of Object.keys(e.tasks)) names.add(t)
  return [...names].sort()
}

/** How many checkpoints the comparison holds (those evaluated). */
export function checkpointCount(c: Comparison): number {
  return c.runs.reduce((n, r) => n + r.checkpoints.length, 0)
}

/** A point of the forgetting chart: a checkpoint's English change (x) and target gain (y); the base is (0, 0) at step null. */
export interface ForgettingPoint {
  step: number | null
  englishChange: number
  targetGain: number
}

/** One line per run through its checkpoints by step, from the base at (0, 0); runs without a measured point are left out. */
export function forgettingLines(c: Comparison): { run: string; points: ForgettingPoint[] }[] {
  return c.runs.flatMap((r) => {
    const points: ForgettingPoint[] = []
    for (const cp of sortedCheckpoints(r.checkpoints)) {
      const { targetGain, englishChange } = relativeChanges(r.base, cp)
      if (targetGain !== null && englishChange !== null) points.push({ step: cp.step, englishChange, targetGain })
    }
    return points.length ? [{ run: r.run, points: [{ step: null, englishChange: 0, targetGain: 0 }, ...points] }] : []
  })
}

/**
 * Round ticks for an axis of changes that covers `values` and 0 (steps of 1, 2, 2.5 or 5 times a
 * power of ten, about `count` of them): 0, 0.05, 0.1 … or −0.02, 0, 0.02 …
 */
export function ticksAround(values: readonly number[], count = 5): number[] {
  const finite = values.filter(Number.isFinite)
  const min = Math.min(0, ...finite)
  let max = Math.max(0, ...finite)
  if (max === min) max = min + 0.01
  const rough = (max - min) / count
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power
  const ticks: number[] = []
  for (let i = Math.floor(min / step + 1e-9); ; i++) {
    // Rounded to the step's precision so 0.1 + 0.2 does not show as 0.30000000000000004.
    const value = Number((i * step).toPrecision(12))
    ticks.push(value)
    if (value >= max - step * 1e-9) break
  }
  return ticks
}

/** A series of the bits-per-byte chart: one run, one language. */
export interface BitsPerByteSeries {
  run: string
  role: 'target' | 'english'
  label: string
}

/**
 * Held-out bits per byte over the steps, for uPlot: the steps of every run (0 stands for the base
 * model, where every run starts), then one series per run and language (null where a run has no
 * checkpoint at a step).
 */
export function bitsPerByteSeries(c: Comparison, targetLabel: string): { data: ChartData; series: BitsPerByteSeries[] } {
  const steps = [...new Set([0, ...c.runs.flatMap((r) => r.checkpoints.map((cp) => cp.step))])].sort((a, b) => a - b)
  if (c.runs.length === 0) return { data: [[]], series: [] }
  const series: BitsPerByteSeries[] = []
  const values: (number | null)[][] = []
  for (const r of c.runs) {
    for (const role of ['target', 'english'] as const) {
      const at = new Map<number, number>()
      const base = r.base[role]
      if (base) at.set(0, base.bitsPerByte)
      for (const cp of r.checkpoints) {
        const l = cp[role]
        if (l) at.set(cp.step, l.bitsPerByte)
      }
      if (at.size === 0) continue
      series.push({ run: r.run, role, label: `${r.run}: ${role === 'target' ? targetLabel : 'English'}` })
      values.push(steps.map((s) => at.get(s) ?? null))
    }
  }
  return { data: [steps, ...values], series }
}

/** A prompt's continuations by the base model and by a checkpoint, side by side. */
export interface SampleRow {
  id: string
  lang: string
  prompt: string
  base: Pick<SampleEvaluation, 'greedy' | 'topP'> | null
  checkpoint: Pick<SampleEvaluation, 'greedy' | 'topP'>
}

/** The checkpoint's samples in its order, each with the base's for the same prompt (matched by id). */
export function sampleRows(base: Evaluation, checkpoint: Evaluation): SampleRow[] {
  return checkpoint.samples.map((s) => {
    const b = base.samples.find((x) => x.id === s.id)
    return { id: s.id, lang: s.lang, prompt: s.prompt, base: b ? { greedy: b.greedy, topP: b.topP } : null, checkpoint: { greedy: s.greedy, topP: s.topP } }
  })
}

/** The most English bits per byte may rise, as the contract allows it (1000%). */
export const MAX_TOLERANCE = 10

export type ToleranceCheck = { ok: true; value: number } | { ok: false; message: string }

/** The tolerance typed as a percentage ("5", "2.5 %", "0") as a fraction (0.05). */
export function readTolerance(text: string): ToleranceCheck {
  const trimmed = text.trim().replace(/\s*%$/, '').replace(',', '.')
  if (trimmed === '') return { ok: false, message: 'Enter how far English may get worse, in percent (for example 5).' }
  const value = Number(trimmed)
  if (!Number.isFinite(value)) return { ok: false, message: `“${text.trim()}” is not a number of percent.` }
  if (value < 0) return { ok: false, message: 'The tolerance cannot be below 0%.' }
  if (value > MAX_TOLERANCE * 100) return { ok: false, message: `The tolerance can be at most ${MAX_TOLERANCE * 100}%.` }
  return { ok: true, value: Number((value / 100).toPrecision(12)) }
}

/** A tolerance (a fraction) as the field shows it: 0.05 → "5". */
export function toleranceText(value: number): string {
  return String(Number((value * 100).toPrecision(12)))
}
