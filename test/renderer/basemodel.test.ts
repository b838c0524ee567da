import { describe, expect, it } from 'vitest'
import type { BaseModelStatus } from '../../main/engine/contract'
import { fitsDevice, memoryParts, readTokenizerKey, readWholeNumber, tokenizerKey, trainingSeqLen } from '../../renderer/src/basemodel'
import { byteTicks } from '../../renderer/src/charts'
import { formatCompact } from '../../renderer/src/format'

const GiB = 1024 ** 3
const MiB = 1024 ** 2

describe('formatCompact', () => {
  it('writes model sizes as they are usually written', () => {
    expect(formatCompact(3_349_312)).toBe('3.35M')
    expect(formatCompact(124_439_808)).toBe('124M')
    expect(formatCompact(1_100_048_384)).toBe('1.1B')
    expect(formatCompact(6_738_415_616)).toBe('6.74B')
    expect(formatCompact(999)).toBe('999')
  })
})

describe('byteTicks', () => {
  it('gives round ticks in the largest unit the maximum reaches', () => {
    expect(byteTicks(5.7 * GiB)).toEqual({ ticks: [0, 2, 4, 6].map((t) => t * GiB), unit: { name: 'GiB', size: GiB } })
    const small = byteTicks(266 * MiB)
    expect(small.unit.name).toBe('MiB')
    expect(small.ticks.at(-1)).toBeGreaterThanOrEqual(266 * MiB)
    expect(small.ticks.every((t) => Number.isInteger(t / MiB))).toBe(true)
  })

  it('copes with nothing at all', () => {
    expect(byteTicks(0).ticks).toEqual([0, 1])
  })
})

describe('readWholeNumber', () => {
  it('reads a whole number in range', () => {
    expect(readWholeNumber(' 8 ', 1, 4096, 'batch size')).toEqual({ ok: true, value: 8 })
    expect(readWholeNumber('1,024', 1, 4096, 'batch size')).toEqual({ ok: true, value: 1024 })
  })

  it('says what is wrong', () => {
    expect(readWholeNumber('', 1, 10, 'batch size')).toEqual({ ok: false, message: 'Enter the batch size as a whole number.' })
    expect(readWholeNumber('2.5', 1, 10, 'batch size')).toMatchObject({ ok: false })
    expect(readWholeNumber('0', 1, 10, 'batch size')).toEqual({ ok: false, message: 'The batch size must be at least 1.' })
    expect(readWholeNumber('11', 1, 10, 'batch size')).toEqual({ ok: false, message: 'The batch size can be at most 10.' })
  })
})

describe('the base model helpers', () => {
  const device = (memoryBytes: number | null): BaseModelStatus['device'] => ({ kind: 'cpu', name: 'CPU', memoryBytes, backend: 'wasm' })

  it('names the parts of an estimate in stacking order', () => {
    const parts = memoryParts({ parameters: 1, weights: 4, gradients: 4, optimizer: 8, activations: 100, total: 116 })
    expect(parts.map((p) => [p.key, p.bytes])).toEqual([
      ['weights', 4],
      ['gradients', 4],
      ['optimizer', 8],
      ['activations', 100],
    ])
  })

  it('says whether a total fits the device, or that it cannot say', () => {
    expect(fitsDevice(4 * GiB, device(4 * GiB))).toBe(true)
    expect(fitsDevice(4 * GiB + 1, device(4 * GiB))).toBe(false)
    expect(fitsDevice(1, device(null))).toBeNull()
  })

  it('cuts the training sequence to the model’s context, as the engine does', () => {
    const status = { training: { batch: 8, seqLen: 2048, optimizer: 'adamw' }, info: { maxPositions: 1024 } } as BaseModelStatus
    expect(trainingSeqLen(status)).toBe(1024)
    expect(trainingSeqLen({ ...status, info: null })).toBe(2048)
  })

  it('names extended tokenizers', () => {
    expect(tokenizerKey('add', 200)).toBe('add-200')
    expect(readTokenizerKey('add-200')).toEqual({ mode: 'add', count: 200 })
    expect(readTokenizerKey('replace-5000')).toEqual({ mode: 'replace', count: 5000 })
    expect(readTokenizerKey('base')).toBeNull()
  })
})
