import { describe, expect, it } from 'vitest'
import type { CheckpointEvaluation, Comparison, Evaluation, MultipleChoiceResult } from '../../main/engine/contract'
import { bestRule, relativeChanges as engineRelativeChanges, suggestBest } from '../../main/engine/evaluation/project'
import {
  bitsPerByteSeries,
  checkpointCount,
  checkpointKey,
  compareRows,
  forgettingLines,
  readCheckpointKey,
  readTolerance,
  relativeChanges,
  sampleRows,
  taskNames,
  ticksAround,
  toleranceText,
} from '../../renderer/src/compare'

const lang = (bitsPerByte: number) => ({ bitsPerByte, bytePerplexity: 2 ** bitsPerByte, wordPerplexity: null, documents: 50, bytes: 10_000, tokens: 4000 })
const task = (acc: number, n = 20): MultipleChoiceResult => ({ n, acc, accNorm: acc + 0.05, accStderr: 0.1, accNormStderr: 0.1 })
const BASE: Evaluation = {
  target: lang(3.2),
  english: lang(1.6),
  tasks: { 'hu-cloze': task(0.3) },
  samples: [
    { id: 'hu-1', lang: 'hu', prompt: 'Mentés', greedy: ' base g', topP: ' base p' },
    { id: 'en-1', lang: 'en', prompt: 'Open', greedy: ' base g en', topP: ' base p en' },
  ],
}
function checkpoint(step: number, target: number | null, english: number | null): CheckpointEvaluation {
  return {
    step,
    dir: `/p/runs/x/checkpoints/step-${step}`,
    target: target === null ? null : lang(target),
    english: english === null ? null : lang(english),
    tasks: { 'hu-cloze': task(0.4), 'en-cloze': task(0.5) },
    samples: [
      { id: 'en-1', lang: 'en', prompt: 'Open', greedy: ` ${step} g en`, topP: ` ${step} p en` },
      { id: 'hu-1', lang: 'hu', prompt: 'Mentés', greedy: ` ${step} g`, topP: ` ${step} p` },
      { id: 'th-1', lang: 'th', prompt: 'เปิด', greedy: ' ?', topP: ' ?' },
    ],
    tokensTarget: step * 48,
    tokensEnglish: step * 16,
  }
}
function comparison(maxEnglishChange = 0.05): Comparison {
  const runs = [
    { run: 'main', base: BASE, checkpoints: [checkpoint(4, 2.4, 1.66), checkpoint(2, 2.8, 1.62)] },
    { run: 'no-replay', base: BASE, checkpoints: [checkpoint(2, 2.6, 1.7), checkpoint(4, 2.9, null)] },
  ]
  return { runs, best: suggestBest(runs, 'hu', maxEnglishChange), rule: bestRule('hu', maxEnglishChange), maxEnglishChange, limit: null }
}

describe('the comparison table', () => {
  it('has the base first, then each run’s checkpoints by step, with the suggested one marked', () => {
    const c = comparison()
    const rows = compareRows(c)
    expect(rows.map((r) => r.key)).toEqual(['base', 'main@2', 'main@4', 'no-replay@2', 'no-replay@4'])
    expect(rows[0]).toMatchObject({ run: null, step: null, target: 3.2, english: 1.6, targetGain: null, englishChange: null, tokensTarget: null, suggested: false, withinTolerance: null })
    expect(rows[2]).toMatchObject({ run: 'main', step: 4, target: 2.4, english: 1.66, tokensTarget: 192, tokensEnglish: 64, suggested: true, withinTolerance: true })
    expect(rows[3]).toMatchObject({ withinTolerance: false, suggested: false })
    // English not measured: no change, and the tolerance cannot say.
    expect(rows[4]).toMatchObject({ english: null, englishChange: null, withinTolerance: null })
    expect(rows[2]!.tasks['en-cloze']!.acc).toBe(0.5)
    expect(compareRows({ ...c, runs: [] })).toEqual([])
    expect(checkpointCount(c)).toBe(4)
    expect(taskNames(c)).toEqual(['en-cloze', 'hu-cloze'])
  })

  it('works out the gain and the change as the engine does', () => {
    const c = comparison()
    for (const r of c.runs) for (const cp of r.checkpoints) expect(relativeChanges(r.base, cp)).toEqual(engineRelativeChanges(r.base, cp))
    expect(relativeChanges(BASE, checkpoint(9, null, null))).toEqual(engineRelativeChanges(BASE, checkpoint(9, null, null)))
    const row = compareRows(c).find((r) => r.key === 'main@4')!
    expect(row.targetGain).toBeCloseTo(0.25, 12)
    expect(row.englishChange).toBeCloseTo(0.0375, 12)
  })

  it('names checkpoints by run and step, and reads the names back', () => {
    expect(checkpointKey('run-2', 40)).toBe('run-2@40')
    expect(readCheckpointKey('run-2@40')).toEqual({ run: 'run-2', step: 40 })
    expect(readCheckpointKey('base')).toBeNull()
    expect(readCheckpointKey('@4')).toBeNull()
    expect(readCheckpointKey('main@x')).toBeNull()
  })
})

describe('the charts', () => {
  it('draws one forgetting line per run from the base at the origin, through its measured checkpoints by step', () => {
    const lines = forgettingLines(comparison())
    expect(lines.map((l) => l.run)).toEqual(['main', 'no-replay'])
    expect(lines[0]!.points.map((p) => p.step)).toEqual([null, 2, 4])
    expect(lines[0]!.points[0]).toEqual({ step: null, englishChange: 0, targetGain: 0 })
    expect(lines[0]!.points[2]!.targetGain).toBeCloseTo(0.25, 12)
    // Step 4 of no-replay has no English: it is left out of the chart (the table shows a dash).
    expect(lines[1]!.points.map((p) => p.step)).toEqual([null, 2])
    const unmeasured = comparison()
    unmeasured.runs[1]!.checkpoints = [checkpoint(4, 2.2, null)]
    expect(forgettingLines(unmeasured).map((l) => l.run)).toEqual(['main'])
  })

  it('gives bits per byte over the steps, one series per run and language, from the base at step 0', () => {
    const { data, series } = bitsPerByteSeries(comparison(), 'Hungarian')
    expect(data[0]).toEqual([0, 2, 4])
    expect(series).toEqual([
      { run: 'main', role: 'target', label: 'main: Hungarian' },
      { run: 'main', role: 'english', label: 'main: English' },
      { run: 'no-replay', role: 'target', label: 'no-replay: Hungarian' },
      { run: 'no-replay', role: 'english', label: 'no-replay: English' },
    ])
    expect(data.slice(1)).toEqual([
      [3.2, 2.8, 2.4],
      [1.6, 1.62, 1.66],
      [3.2, 2.6, 2.9],
      [1.6, 1.7, null],
    ])
    // Runs with checkpoints at other steps: null where a run has none.
    const c = comparison()
    c.runs[1]!.checkpoints = [checkpoint(3, 2.5, 1.7)]
    expect(bitsPerByteSeries(c, 'Hungarian').data).toEqual([
      [0, 2, 3, 4],
      [3.2, 2.8, null, 2.4],
      [1.6, 1.62, null, 1.66],
      [3.2, null, 2.5, null],
      [1.6, null, 1.7, null],
    ])
    expect(bitsPerByteSeries({ ...c, runs: [] }, 'Hungarian')).toEqual({ data: [[]], series: [] })
  })

  it('makes round ticks around the changes and 0', () => {
    expect(ticksAround([0.0375, 0.25])).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.25])
    expect(ticksAround([-0.03, 0.05])).toEqual([-0.04, -0.02, 0, 0.02, 0.04, 0.06])
    expect(ticksAround([])).toEqual([0, 0.002, 0.004, 0.006, 0.008, 0.01])
    expect(ticksAround([0.1, NaN])).toEqual([0, 0.02, 0.04, 0.06, 0.08, 0.1])
  })
})

describe('samples side by side', () => {
  it('pairs each of the checkpoint’s prompts with the base’s continuation of the same prompt', () => {
    const rows = sampleRows(BASE, checkpoint(4, 2.4, 1.66))
    expect(rows.map((r) => r.id)).toEqual(['en-1', 'hu-1', 'th-1'])
    expect(rows[1]).toEqual({ id: 'hu-1', lang: 'hu', prompt: 'Mentés', base: { greedy: ' base g', topP: ' base p' }, checkpoint: { greedy: ' 4 g', topP: ' 4 p' } })
    expect(rows[2]!.base).toBeNull()
  })
})

describe('the tolerance as typed', () => {
  it('reads a percentage as a fraction, and says what is wrong', () => {
    expect(readTolerance('5')).toEqual({ ok: true, value: 0.05 })
    expect(readTolerance(' 2.5 % ')).toEqual({ ok: true, value: 0.025 })
    expect(readTolerance('7,5')).toEqual({ ok: true, value: 0.075 })
    expect(readTolerance('0')).toEqual({ ok: true, value: 0 })
    expect(readTolerance('')).toMatchObject({ ok: false, message: expect.stringContaining('in percent') })
    expect(readTolerance('lots')).toEqual({ ok: false, message: '“lots” is not a number of percent.' })
    expect(readTolerance('-1')).toEqual({ ok: false, message: 'The tolerance cannot be below 0%.' })
    expect(readTolerance('1001')).toEqual({ ok: false, message: 'The tolerance can be at most 1000%.' })
    expect(toleranceText(0.05)).toBe('5')
    expect(toleranceText(0.025)).toBe('2.5')
    expect(toleranceText(0.07)).toBe('7')
  })
})
