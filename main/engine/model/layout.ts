/**
 * How the documents packed into a batch's rows are laid out, for document masking (as SambaLingo
 * trains): `segments[b][t]` numbers the document position t of row b belongs to, and
 * `positions[b][t]` is its position within that document (restarting at 0 where each document
 * begins). Token i then attends to token j only when j ≤ i and both are in the same segment, and
 * its position embedding (GPT-2) or rotation (rope) is that of its position id rather than of t.
 * The data pipeline makes these (training/mixture.ts, `PackedSequence`); they are plain data, not
 * learned. Without a layout a row is one document at positions 0 … T−1.
 */
import { EngineError } from '../common/errors'

/** Rows of equal length: a [B, T] batch as plain numbers. */
export type Rows = readonly (readonly number[])[]

/** [B][T] rows of plain numbers or Int32Arrays (as the data pipeline makes them). */
export type LayoutRows = readonly (readonly number[] | Int32Array)[]

export interface SequenceLayout {
  /** [B][T]: the document (segment) number of each position within its row. */
  segments: LayoutRows
  /** [B][T]: each position's position id, its position within its document (0 where one begins). */
  positions: LayoutRows
}

/** A checked layout, flattened row-major to [B·T]. */
export interface FlatLayout {
  B: number
  T: number
  segments: Int32Array
  positions: Int32Array
}

/**
 * Checks a layout against a batch of B rows of T tokens (and position ids against the
 * `maxPositions` the model has) and flattens it.
 */
export function flattenLayout(layout: SequenceLayout, B: number, T: number, maxPositions: number): FlatLayout {
  const flat = (rows: LayoutRows, what: 'segments' | 'positions'): Int32Array => {
    if (rows.length !== B) throw layoutError(`The layout's ${what} have ${rows.length} rows; the batch has ${B}.`)
    const out = new Int32Array(B * T)
    for (let b = 0; b < B; b++) {
      const row = rows[b] as readonly number[] | Int32Array
      if (row.length !== T) throw layoutError(`Row ${b} of the layout's ${what} has ${row.length} positions; the batch's rows have ${T}.`)
      for (let t = 0; t < T; t++) {
        const x = row[t] as number
        if (!Number.isInteger(x) || x < 0) throw layoutError(`The layout's ${what} must be integers ≥ 0 (row ${b}, position ${t} has ${x}).`)
        if (what === 'positions' && x >= maxPositions) {
          throw layoutError(`Position id ${x} (row ${b}, position ${t}) is beyond the positions this model has (0 … ${maxPositions - 1}).`, 'Use shorter documents, or cut them into parts whose positions restart at 0.')
        }
        out[b * T + t] = x
      }
    }
    return out
  }
  return { B, T, segments: flat(layout.segments, 'segments'), positions: flat(layout.positions, 'positions') }
}

function layoutError(message: string, hint = 'Give segments and positions of the same shape as the token ids ([rows][positions]).'): EngineError {
  return new EngineError('invalid-request', message, { hint })
}

/** The first `n` positions of each row of a layout (for the inputs of a next-token batch). */
export function layoutPrefix(layout: SequenceLayout, n: number): SequenceLayout {
  const cut = (rows: LayoutRows): LayoutRows => rows.map((r) => Int32Array.from({ length: n }, (_, i) => r[i] as number))
  return { segments: cut(layout.segments), positions: cut(layout.positions) }
}

/**
 * The additive attention mask of a layout for `groups` query blocks stacked along the sequence
 * axis (grouped-query attention, see ops.ts `causalAttention`): [B, 1, groups·T, T] row-major,
 * 0 where query row r (position r mod T) may attend to key j — j ≤ r mod T in the same segment —
 * and −1e30 elsewhere (the value `causalMask` uses).
 */
export function documentMaskData(layout: FlatLayout, groups = 1): Float32Array {
  const { B, T, segments } = layout
  const block = T * T
  const m = new Float32Array(B * groups * block)
  const one = new Float32Array(block)
  for (let b = 0; b < B; b++) {
    one.fill(-1e30)
    const row = b * T
    for (let i = 0; i < T; i++) {
      const s = segments[row + i]
      for (let j = 0; j <= i; j++) if (segments[row + j] === s) one[i * T + j] = 0
    }
    for (let g = 0; g < groups; g++) m.set(one, (b * groups + g) * block)
  }
  return m
}
