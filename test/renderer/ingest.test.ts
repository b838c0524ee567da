import { describe, expect, it } from 'vitest'
import { ingestOptions } from '../../main/engine/contract'
import { appendPath, DEFAULT_INGEST_OPTIONS, ingestFormFrom, parsePathList, readIngestForm, readPaths } from '../../renderer/src/ingest'

describe('ingest form', () => {
  it('starts from the contract defaults, shares shown as percentages', () => {
    expect(DEFAULT_INGEST_OPTIONS).toEqual(ingestOptions.parse({}))
    const form = ingestFormFrom()
    expect(form.scriptThresholdPercent).toBe(50)
    expect(form.heldoutPercent).toBe(2)
    expect(form.minChars).toBe(20)
    expect(readIngestForm(form)).toEqual({ ok: true, options: DEFAULT_INGEST_OPTIONS })
  })

  it('turns percentages back into shares without float noise, and numbers typed as text into numbers', () => {
    const check = readIngestForm({ ...ingestFormFrom(), scriptThresholdPercent: '7', heldoutPercent: 0.5, minChars: ' 40 ', jsonlField: ' body ' })
    expect(check).toEqual({ ok: true, options: { ...DEFAULT_INGEST_OPTIONS, scriptThreshold: 0.07, heldoutFraction: 0.005, minChars: 40, jsonlField: 'body' } })
  })

  it('names the field and the bound the user typed, in percent where the field is a percentage', () => {
    const check = readIngestForm({ ...ingestFormFrom(), heldoutPercent: 60, scriptThresholdPercent: -1, minChars: '', minHeldout: 2.5, csvColumn: '  ' })
    expect(check).toEqual({
      ok: false,
      errors: {
        heldoutPercent: 'Enter at most 50%.',
        scriptThresholdPercent: 'Enter at least 0%.',
        minChars: 'Enter a number.',
        minHeldout: 'Enter a whole number.',
        csvColumn: 'Enter a name.',
      },
    })
  })
})

describe('paths', () => {
  it('reads one path per line, trimmed, each once', () => {
    expect(parsePathList(' /a/b.txt \r\n\n/c/\n/a/b.txt\n  ')).toEqual(['/a/b.txt', '/c/'])
    expect(parsePathList('')).toEqual([])
  })

  it('checks them with the schema of corpus.add', () => {
    expect(readPaths('/a\n/b')).toEqual({ ok: true, paths: ['/a', '/b'] })
    expect(readPaths(' \n ')).toEqual({ ok: false, message: 'Give at least one file or folder.' })
    expect(readPaths('/a\n/b\u0000c')).toEqual({ ok: false, message: 'The path contains a NUL character. (line 2 of the list)' })
  })

  it('appends a picked folder on a line of its own', () => {
    expect(appendPath('', '/data')).toBe('/data')
    expect(appendPath('/a\n\n', '/data')).toBe('/a\n/data')
    expect(appendPath('/data\n', '/data')).toBe('/data\n')
  })
})
