import { describe, expect, it } from 'vitest'
import type { PreviewToken } from '../../main/engine/contract'
import { linearScale, niceTicks } from '../../renderer/src/charts'
import { formatChange, formatDecimal, formatSeconds } from '../../renderer/src/format'
import {
  fallbackSentence,
  formatCounts,
  pickSentence,
  previewPieces,
  readCount,
  readCounts,
  readExtendCount,
  relativeChange,
  textRuns,
  type PreviewPiece,
} from '../../renderer/src/vocab'

function token(start: number, end: number, text: string, overrides: Partial<PreviewToken> = {}): PreviewToken {
  return { id: start, text, start, end, isNew: false, special: false, ...overrides }
}

const chipTexts = (pieces: PreviewPiece[]) => pieces.map((p) => (p.kind === 'token' ? p.text : `[${p.text}]`))

describe('sweep sizes', () => {
  it('reads comma, semicolon or space separated whole numbers, sorted and without repeats', () => {
    expect(readCounts('0, 1000, 2000, 5000, 10000')).toEqual({ ok: true, counts: [0, 1000, 2000, 5000, 10000] })
    expect(readCounts(' 5000;200  0,200,')).toEqual({ ok: true, counts: [0, 200, 5000] })
    expect(readCounts('5k, 1_000')).toEqual({ ok: true, counts: [1000, 5000] })
    expect(formatCounts([0, 1000])).toBe('0, 1000')
    expect(readCounts(formatCounts([0, 200, 1000]))).toEqual({ ok: true, counts: [0, 200, 1000] })
  })

  it('says what is wrong with sizes it cannot use', () => {
    expect(readCounts('  ')).toMatchObject({ ok: false })
    expect(readCounts('0, 1.5')).toEqual({ ok: false, message: '“1.5” is not a whole number of tokens.' })
    expect(readCounts('-5')).toMatchObject({ ok: false, message: expect.stringContaining('-5') })
    expect(readCounts('300000')).toMatchObject({ ok: false, message: expect.stringContaining('200,000') })
    expect(readCounts(Array.from({ length: 51 }, (_, i) => i).join(','))).toMatchObject({ ok: false, message: expect.stringContaining('at most 50') })
  })

  it('reads the count to extend by: 1 or more', () => {
    expect(readCount('2k')).toBe(2000)
    expect(readCount('x')).toBeNull()
    expect(readExtendCount('200')).toEqual({ ok: true, count: 200 })
    expect(readExtendCount('0')).toMatchObject({ ok: false })
    expect(readExtendCount('')).toMatchObject({ ok: false })
    expect(readExtendCount('200001')).toMatchObject({ ok: false })
  })

  it('compares with the base only when there is one', () => {
    expect(relativeChange(2, 4)).toBe(-0.5)
    expect(relativeChange(2, null)).toBeNull()
    expect(relativeChange(2, 0)).toBeNull()
  })
})

describe('token preview', () => {
  it('lays the tokens over the text they cover', () => {
    const text = 'A magyar'
    const pieces = previewPieces(text, [token(0, 1, 'A'), token(1, 5, ' mag', { isNew: true }), token(5, 8, 'yar')])
    expect(chipTexts(pieces)).toEqual(['A', ' mag', 'yar'])
    expect(pieces.map((p) => (p.kind === 'token' ? p.index : -1))).toEqual([0, 1, 2])
  })

  it('shows a character split into byte tokens once, on its first token', () => {
    // GPT-2 spells ő as two byte tokens that both point at the character; " ű" likewise with its space.
    const text = 'ő ű'
    const pieces = previewPieces(text, [token(0, 1, '\uFFFD'), token(0, 1, '\uFFFD'), token(1, 3, ' \uFFFD'), token(2, 3, '\uFFFD')])
    expect(chipTexts(pieces)).toEqual(['ő', '', ' ű', ''])
    expect(pieces.every((p) => p.kind === 'token' && p.partial)).toBe(true)
    expect(chipTexts(pieces).join('')).toBe(text)
  })

  it('keeps text no token covers apart from the chips, and never reads past the text', () => {
    const pieces = previewPieces('  ab  ', [token(2, 3, 'a'), token(3, 99, 'b')])
    expect(chipTexts(pieces)).toEqual(['[  ]', 'a', 'b  '])
    expect(previewPieces('', [])).toEqual([])
    expect(chipTexts(previewPieces('abc', []))).toEqual(['[abc]'])
  })

  it('does not call a real U+FFFD in the text a byte piece', () => {
    const [piece] = previewPieces('\uFFFD', [token(0, 1, '\uFFFD')])
    expect(piece).toMatchObject({ kind: 'token', partial: false })
  })

  it('marks whitespace for a visible sign and keeps the characters', () => {
    const runs = textRuns(' nyelv\n\tx')
    expect(runs).toEqual([
      { text: ' ', sign: '·', name: 'space' },
      { text: 'nyelv', sign: null, name: null },
      { text: '\n', sign: '↵', name: 'line break' },
      { text: '\t', sign: '→', name: 'tab' },
      { text: 'x', sign: null, name: null },
    ])
    expect(runs.map((r) => r.text).join('')).toBe(' nyelv\n\tx')
  })

  it('picks a sentence of reasonable length from a document', () => {
    expect(pickSentence('Rövid. Ez a mondat elég hosszú ahhoz, hogy előnézetben megmutassuk. Még egy.')).toBe('Ez a mondat elég hosszú ahhoz, hogy előnézetben megmutassuk.')
    expect(pickSentence('  Cím  ')).toBe('Cím')
    expect(pickSentence('')).toBeNull()
    const long = pickSentence('szó '.repeat(100), 40)
    expect(long?.endsWith('…')).toBe(true)
    expect(long!.length).toBeLessThanOrEqual(41)
    expect(fallbackSentence('hu')).toMatch(/ő/)
    expect(fallbackSentence('hu-HU')).toBe(fallbackSentence('hu'))
    expect(fallbackSentence('th')).toBe('')
  })
})

describe('sweep chart and numbers', () => {
  it('chooses round ticks that reach the largest value', () => {
    expect(niceTicks(10000, 5)).toEqual([0, 2000, 4000, 6000, 8000, 10000])
    expect(niceTicks(3.98, 5)).toEqual([0, 1, 2, 3, 4])
    expect(niceTicks(1000, 5)).toEqual([0, 200, 400, 600, 800, 1000])
    expect(niceTicks(0.3, 3)).toEqual([0, 0.1, 0.2, 0.3])
    expect(niceTicks(0)).toEqual([0, 1])
  })

  it('scales linearly, and to the middle when the domain is a point', () => {
    const y = linearScale(0, 4, 200, 0)
    expect(y(0)).toBe(200)
    expect(y(2)).toBe(100)
    expect(linearScale(5, 5, 0, 100)(5)).toBe(50)
  })

  it('formats fertility and its change', () => {
    expect(formatDecimal(3.9759, 2)).toBe('3.98')
    expect(formatChange(-0.4566)).toBe('-45.7%')
    expect(formatChange(0.003)).toBe('+0.3%')
    expect(formatChange(0)).toBe('0%')
    expect(formatSeconds(2.345)).toBe('2.3 s')
    expect(formatSeconds(59.7)).toBe('1 min')
    expect(formatSeconds(125)).toBe('2 min 5 s')
  })
})
