/**
 * Geometry for the small SVG charts: where each bar goes. Nothing here computes a measurement; the
 * values are the engine's, the charts only scale them to the space they have.
 */

/** Each value as a share (0 … 1) of `scaleMax` (the largest value when omitted); all 0 when nothing is above 0. */
export function barFractions(values: readonly number[], scaleMax?: number): number[] {
  const max = scaleMax ?? Math.max(0, ...values.filter(Number.isFinite))
  if (!(max > 0) || !Number.isFinite(max)) return values.map(() => 0)
  return values.map((value) => (Number.isFinite(value) && value > 0 ? Math.min(1, value / max) : 0))
}

export interface ColumnBar {
  x: number
  y: number
  width: number
  height: number
  /** The middle of the bar, for its label. */
  center: number
}

/**
 * Vertical bars side by side in a plot `width` × `height` (origin top left, bars standing on the
 * bottom edge), each `gap` (a share of its slot) apart from the next. The tallest value fills the height.
 */
export function columnBars(values: readonly number[], width: number, height: number, gap = 0.2): ColumnBar[] {
  if (values.length === 0) return []
  const slot = width / values.length
  const barWidth = slot * (1 - gap)
  return barFractions(values).map((fraction, index) => {
    const barHeight = fraction * height
    const x = index * slot + (slot - barWidth) / 2
    return { x, y: height - barHeight, width: barWidth, height: barHeight, center: x + barWidth / 2 }
  })
}
