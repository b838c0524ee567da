import { describe, expect, it } from 'vitest'
import { barFractions, columnBars } from '../../renderer/src/charts'
import { lengthBucketLabel, removalRows, removedTotal, scriptShares, sourceFormatLabel } from '../../renderer/src/profile'

describe('bar scaling', () => {
  it('scales to the largest value, or to a given maximum', () => {
    expect(barFractions([1, 4, 2])).toEqual([0.25, 1, 0.5])
    expect(barFractions([0.2, 0.5], 1)).toEqual([0.2, 0.5])
    expect(barFractions([0, 0])).toEqual([0, 0])
    expect(barFractions([])).toEqual([])
    expect(barFractions([-1, Number.NaN, 2])).toEqual([0, 0, 1])
  })

  it('lays columns side by side, standing on the bottom edge', () => {
    const bars = columnBars([5, 10], 200, 100, 0.5)
    expect(bars).toEqual([
      { x: 25, y: 50, width: 50, height: 50, center: 50 },
      { x: 125, y: 0, width: 50, height: 100, center: 150 },
    ])
    expect(columnBars([], 200, 100)).toEqual([])
    expect(columnBars([0], 100, 80)[0]).toMatchObject({ y: 80, height: 0 })
  })
})

describe('profile helpers', () => {
  it('lists every removal reason in the contract order, a missing one as none', () => {
    expect(removalRows({ duplicate: 3, empty: 1 }).map((r) => [r.reason, r.count])).toEqual([
      ['empty', 1],
      ['too-short', 0],
      ['no-letters', 0],
      ['wrong-script', 0],
      ['duplicate', 3],
    ])
    expect(removedTotal({ duplicate: 3, empty: 1 })).toBe(4)
    expect(removedTotal({})).toBe(0)
  })

  it('orders scripts by letters with their shares', () => {
    expect(scriptShares({ Cyrl: 25, Latn: 75, Grek: 0 })).toEqual([
      { code: 'Latn', letters: 75, share: 0.75 },
      { code: 'Cyrl', letters: 25, share: 0.25 },
    ])
    expect(scriptShares({ other: 5, Thai: 5 }).map((s) => s.code)).toEqual(['Thai', 'other'])
    expect(scriptShares({})).toEqual([])
  })

  it('labels length buckets, an open last bucket from the one before it', () => {
    const buckets = [{ upTo: 100 }, { upTo: 10_000 }, { upTo: null }]
    expect(lengthBucketLabel(buckets, 0, 'en')).toBe('≤ 100 chars')
    expect(lengthBucketLabel(buckets, 1, 'en')).toBe('≤ 10,000 chars')
    expect(lengthBucketLabel(buckets, 2, 'en')).toBe('> 10,000 chars')
    expect(lengthBucketLabel([{ upTo: Number.POSITIVE_INFINITY }], 0, 'en')).toBe('longer')
    expect(lengthBucketLabel(buckets, 1, 'de')).toBe('≤ 10.000 chars')
  })

  it('names a source’s format with its compression', () => {
    expect(sourceFormatLabel({ format: 'jsonl', compressed: true })).toBe('jsonl · gz')
    expect(sourceFormatLabel({ format: 'txt', compressed: false })).toBe('txt')
  })
})
