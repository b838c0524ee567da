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

/**
 * Round tick values from 0 up to at least `max` (about `count` of them, steps of 1, 2 or 5 times a
 * power of ten): 0, 0.5, 1 … or 0, 2000, 4000 … The last tick is the top of the scale.
 */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1]
  const rough = max / Math.max(1, count)
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power
  const ticks: number[] = []
  for (let i = 0; ; i++) {
    // Rounded to the step's precision so 0.1 + 0.2 does not show as 0.30000000000000004.
    const value = Number((i * step).toPrecision(12))
    ticks.push(value)
    if (value >= max) break
  }
  return ticks
}

/** A function from `[domainMin, domainMax]` to `[rangeMin, rangeMax]`; the middle of the range when the domain is a point. */
export function linearScale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): (value: number) => number {
  const span = domainMax - domainMin
  if (!(Math.abs(span) > 0) || !Number.isFinite(span)) return () => (rangeMin + rangeMax) / 2
  return (value) => rangeMin + ((value - domainMin) / span) * (rangeMax - rangeMin)
}

/** A binary unit for an axis of bytes, and its size. */
export interface ByteUnit {
  name: 'B' | 'KiB' | 'MiB' | 'GiB' | 'TiB'
  size: number
}

const BYTE_UNITS: readonly ByteUnit[] = [
  { name: 'TiB', size: 1024 ** 4 },
  { name: 'GiB', size: 1024 ** 3 },
  { name: 'MiB', size: 1024 ** 2 },
  { name: 'KiB', size: 1024 },
  { name: 'B', size: 1 },
]

/**
 * Ticks for an axis of bytes from 0 up to at least `maxBytes`, round in the largest binary unit
 * the maximum reaches (0, 2, 4, 6 GiB rather than 0, 1.86, 3.73 GiB), and that unit.
 */
export function byteTicks(maxBytes: number, count = 5): { ticks: number[]; unit: ByteUnit } {
  const unit = BYTE_UNITS.find((u) => maxBytes >= u.size) ?? BYTE_UNITS.at(-1)!
  return { ticks: niceTicks(maxBytes / unit.size, count).map((tick) => tick * unit.size), unit }
}
