/**
 * The Base model step's reading of what the user typed (the batch and sequence length of the
 * "what if" estimate) and its naming of the engine's memory estimate. Nothing here computes a
 * measurement: the bytes, and whether they fit, are the engine's.
 */
import type { BaseModelStatus, ExtendMode, MemoryEstimateResult } from '../../main/engine/contract'

/** The row multiple offered for padding the resized embedding matrices. */
export const PAD_MULTIPLE = 64

export type MemoryPartKey = 'weights' | 'gradients' | 'optimizer' | 'activations'

export interface MemoryPart {
  key: MemoryPartKey
  label: string
  /** What the part is, in a few words. */
  note: string
}

/** The parts of a training step's memory, in the order the bar stacks them. */
export const MEMORY_PARTS: readonly MemoryPart[] = [
  { key: 'weights', label: 'Weights', note: 'the parameters in float32, 4 bytes each' },
  { key: 'gradients', label: 'Gradients', note: '4 bytes per parameter' },
  { key: 'optimizer', label: 'Optimiser state', note: 'AdamW’s two moments, 8 bytes per parameter' },
  { key: 'activations', label: 'Activations', note: 'kept from the forward pass for the backward pass; grow with batch × sequence length' },
]

/** Each part of an estimate with its bytes, in stacking order. */
export function memoryParts(estimate: MemoryEstimateResult): (MemoryPart & { bytes: number })[] {
  return MEMORY_PARTS.map((part) => ({ ...part, bytes: estimate[part.key] }))
}

/**
 * Whether `total` bytes fit the device (null when its memory is unknown); the engine says the same
 * for its own estimate (`fits`), this answers it for the user's "what if" batch and sequence length.
 */
export function fitsDevice(total: number, device: BaseModelStatus['device']): boolean | null {
  return device.memoryBytes === null ? null : total <= device.memoryBytes
}

export type WholeNumberCheck = { ok: true; value: number } | { ok: false; message: string }

/** A whole number from `min` to `max` typed by the user; `what` names it in the message. */
export function readWholeNumber(text: string, min: number, max: number, what: string): WholeNumberCheck {
  const trimmed = text.trim().replace(/[_\s,]/g, '')
  if (!/^\d+$/.test(trimmed)) return { ok: false, message: `Enter the ${what} as a whole number.` }
  const value = Number(trimmed)
  if (!Number.isSafeInteger(value) || value < min) return { ok: false, message: `The ${what} must be at least ${min.toLocaleString('en')}.` }
  if (value > max) return { ok: false, message: `The ${what} can be at most ${max.toLocaleString('en')}.` }
  return { ok: true, value }
}

/** The sequence length training uses: the project's, cut to what the model can read at once (as the engine's estimate does). */
export function trainingSeqLen(status: BaseModelStatus): number {
  const max = status.info?.maxPositions
  return max === undefined ? status.training.seqLen : Math.min(status.training.seqLen, max)
}

/** The key of an extended tokenizer (`tokenizer/<mode>-<count>/`), as the resize form's choice. */
export function tokenizerKey(mode: ExtendMode, count: number): string {
  return `${mode}-${count}`
}

/** The mode and count of a key made by `tokenizerKey`; null when it is not one. */
export function readTokenizerKey(key: string): { mode: ExtendMode; count: number } | null {
  const match = /^(add|replace)-(\d+)$/.exec(key)
  if (!match) return null
  return { mode: match[1] as ExtendMode, count: Number(match[2]) }
}
