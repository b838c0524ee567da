import { describe, expect, it } from 'vitest'
import { DEFAULT_TRAINING } from '../../main/engine/contract'
import {
  SETTING_FIELDS,
  canResume,
  formatPasses,
  heldoutSeries,
  lastMeasuredRun,
  lastValue,
  lossSeries,
  lrSeries,
  nextRunName,
  passes,
  plannedTokens,
  readRunName,
  readSetting,
  secondsAt,
} from '../../renderer/src/training'
import { runStatus, stepMetrics } from './fakes'

const field = (key: string) => SETTING_FIELDS.find((f) => f.key === key)!

describe('training settings as typed', () => {
  it('has a field for every number setting of the manifest (document masking and recompute have their own controls)', () => {
    const keys = Object.keys(DEFAULT_TRAINING).filter((k) => k !== 'documentMasking' && k !== 'recompute')
    expect(SETTING_FIELDS.map((f) => f.key).sort()).toEqual(keys.sort())
  })

  it('reads whole numbers and decimals, and says what the contract refuses', () => {
    expect(readSetting(field('steps'), ' 1_000 ')).toEqual({ ok: true, value: 1000 })
    expect(readSetting(field('learningRate'), '1e-4')).toEqual({ ok: true, value: 0.0001 })
    expect(readSetting(field('learningRate'), '0.0003')).toEqual({ ok: true, value: 0.0003 })
    expect(readSetting(field('steps'), '1.5')).toEqual({ ok: false, message: 'Enter the steps as a whole number.' })
    expect(readSetting(field('steps'), '0')).toEqual({ ok: false, message: 'The steps must be at least 1.' })
    expect(readSetting(field('sequenceLength'), '4')).toEqual({ ok: false, message: 'The sequence length must be at least 8.' })
    expect(readSetting(field('learningRate'), '0')).toEqual({ ok: false, message: 'The learning rate must be more than 0.' })
    expect(readSetting(field('weightDecay'), '2')).toEqual({ ok: false, message: 'The weight decay can be at most 1.' })
    expect(readSetting(field('learningRate'), 'fast')).toMatchObject({ ok: false, message: expect.stringContaining('as a number') })
    expect(readSetting(field('seed'), '-3')).toEqual({ ok: true, value: -3 })
    expect(readSetting(field('evalEvery'), '0')).toEqual({ ok: true, value: 0 })
  })

  it('checks a run’s name with the contract, and offers a free one', () => {
    expect(readRunName(' main ')).toEqual({ ok: true, name: 'main' })
    expect(readRunName('no spaces')).toMatchObject({ ok: false })
    expect(nextRunName([])).toBe('main')
    expect(nextRunName(['main', 'run-2'])).toBe('run-3')
  })
})

describe('the plan multiplied out', () => {
  it('splits the planned tokens by the English share', () => {
    const plan = plannedTokens({ steps: 6, batchSize: 2, sequenceLength: 32, gradientAccumulation: 2 }, 0.25)
    expect(plan).toEqual({ perStep: 128, total: 768, target: 576, english: 192 })
    expect(plannedTokens({ steps: 6, batchSize: 2, sequenceLength: 32, gradientAccumulation: 1 }, 0).english).toBe(0)
  })

  it('gives passes over a corpus and time at a measured speed only when they are known', () => {
    expect(passes(576, 288)).toBe(2)
    expect(passes(576, null)).toBeNull()
    expect(passes(576, 0)).toBeNull()
    expect(secondsAt(768, 256)).toBe(3)
    expect(secondsAt(768, null)).toBeNull()
  })

  it('writes passes over a text with the digits that matter', () => {
    expect(formatPasses(2.345)).toBe('2.35×')
    expect(formatPasses(120.4)).toBe('120×')
    expect(formatPasses(0.00112)).toBe('0.0011×')
    expect(formatPasses(0)).toBe('0.00×')
  })

  it('takes the speed of the newest run that measured one', () => {
    const a = runStatus({ name: 'a', last: stepMetrics(6, { tokensPerSecond: 1000 }) })
    const b = runStatus({ name: 'b', last: null })
    expect(lastMeasuredRun([a, b])?.name).toBe('a')
    expect(lastMeasuredRun([b])).toBeNull()
  })

  it('resumes paused, interrupted and failed runs', () => {
    expect(['paused', 'interrupted', 'failed'].every((s) => canResume(s as never))).toBe(true)
    expect(['running', 'done', 'cancelled', 'planned'].some((s) => canResume(s as never))).toBe(false)
  })
})

describe('chart series', () => {
  const metrics = [stepMetrics(1, { lossEnglish: null }), stepMetrics(2), stepMetrics(3, { heldout: { target: 4.5, english: null } }), stepMetrics(4, { lr: 5e-5 })]

  it('lays out losses per language, held-out bits per byte where measured, and the learning rate', () => {
    expect(lossSeries(metrics)).toEqual([
      [1, 2, 3, 4],
      [10.1, 10, 9.9, 9.8].map((v, i) => metrics[i]!.lossTarget),
      [null, metrics[1]!.lossEnglish, metrics[2]!.lossEnglish, metrics[3]!.lossEnglish],
    ])
    expect(heldoutSeries(metrics)).toEqual([[3], [4.5], [null]])
    expect(heldoutSeries(metrics, { target: 6.9, english: 2.4 })).toEqual([[0, 3], [6.9, 4.5], [2.4, null]])
    expect(lrSeries(metrics)).toEqual([
      [1, 2, 3, 4],
      [1e-4, 1e-4, 1e-4, 5e-5],
    ])
    expect(lastValue([1, 2, null])).toBe(2)
    expect(lastValue([null])).toBeNull()
  })
})
