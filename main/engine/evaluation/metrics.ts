/**
 * The metrics' arithmetic, as lm-evaluation-harness computes it (lm_eval/api/metrics.py and the
 * multiple-choice branch of `ConfigurableTask.process_results` in lm_eval/api/task.py).
 */

/** The index of the largest value, the first one on a tie (numpy's `argmax`). */
export function argmax(values: readonly number[]): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i
  return best
}

/** Characters as Python's `len` counts them: Unicode code points, not UTF-16 units. */
export function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

export function mean(values: readonly number[]): number {
  let sum = 0
  for (const v of values) sum += v
  return sum / values.length
}

/**
 * The standard error of the mean (`mean_stderr`): the sample standard deviation (n − 1 in the
 * denominator) over √n; for a 0/1 metric with mean p, √(p (1 − p) / (n − 1)). Null for fewer than
 * two values, where the harness has none either.
 */
export function meanStderr(values: readonly number[]): number | null {
  const n = values.length
  if (n < 2) return null
  const mu = mean(values)
  let ss = 0
  for (const v of values) ss += (v - mu) ** 2
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n)
}
