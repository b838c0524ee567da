/**
 * Learning-rate schedules: the learning rate of each optimiser update, by its index `step`
 * (0 for the first update, as `AdamW.step` counts them before the update).
 */

export interface LrSchedule {
  lrAt(step: number): number
}

export interface WarmupCosineOptions {
  /** The learning rate at the end of the warm-up. */
  peak: number
  /** Updates of linear warm-up from 0 (0: none, start at the peak). */
  warmupSteps: number
  /** Updates in the whole run: the cosine reaches the floor here and stays there. */
  totalSteps: number
  /** The floor as a fraction of the peak (default 0.1). */
  floorRatio?: number
}

/**
 * Linear warm-up from 0, then a half cosine from the peak down to a floor — Hugging Face's
 * `get_cosine_with_min_lr_schedule_with_warmup` (num_cycles 0.5, min_lr_rate = floorRatio),
 * with LambdaLR's convention that update `step` uses the factor at `step`:
 *
 *   step < W:      lr = peak · step / W
 *   W ≤ step:      p  = min(1, (step − W) / max(1, S − W))
 *                  lr = peak · (r + (1 − r) · ½ · (1 + cos(π · p)))
 *
 * with W = warmupSteps, S = totalSteps, r = floorRatio. The first update of a warm-up thus has
 * learning rate 0 (it still fills AdamW's moments), the update at W has the peak, the update at S
 * and every later one has the floor.
 */
export function warmupCosine(opts: WarmupCosineOptions): LrSchedule & { readonly options: Required<WarmupCosineOptions> } {
  const options = { floorRatio: 0.1, ...opts }
  const { peak, warmupSteps: W, totalSteps: S, floorRatio: r } = options
  if (!(peak >= 0) || !Number.isSafeInteger(W) || W < 0 || !Number.isSafeInteger(S) || S < W || !(r >= 0 && r <= 1)) {
    throw new Error(`a learning-rate schedule needs peak ≥ 0, 0 ≤ warmupSteps ≤ totalSteps (integers) and 0 ≤ floorRatio ≤ 1 (got ${JSON.stringify(options)})`)
  }
  return {
    options,
    lrAt(step: number): number {
      if (step < W) return (peak * step) / W
      const p = Math.min(1, (step - W) / Math.max(1, S - W))
      return peak * (r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * p)))
    },
  }
}

/** The same learning rate for every update. */
export function constantLr(lr: number): LrSchedule {
  return { lrAt: () => lr }
}
