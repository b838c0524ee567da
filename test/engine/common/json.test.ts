import { describe, expect, it } from 'vitest'
import { locateJsonError, parseJson } from '../../../main/engine/common/json'

describe('locateJsonError', () => {
  it('accepts every document JSON.parse accepts', () => {
    for (const doc of ['{}', '[]', '0', '-1.5e+3', '"a\\u00e9\\n"', '{"a": [1, {"b": null}], "c": true, "d": false}', '\ufeff{"bom": 1}', '  [ ]  ']) {
      expect(locateJsonError(doc)).toBeNull()
    }
  })

  it('points at the first error', () => {
    expect(locateJsonError('{\n  "a": 1,\n  "b": oops\n}')).toMatchObject({ line: 3, column: 8 })
    expect(locateJsonError('{"a": 1,}')).toMatchObject({ line: 1, column: 9, problem: expect.stringContaining('quoted') })
    expect(locateJsonError('[1, 2')).toMatchObject({ problem: expect.stringContaining('ends too early') })
    expect(locateJsonError('{"a": "line\nbreak"}')).toMatchObject({ line: 1, column: 12, problem: expect.stringContaining('control character') })
    expect(locateJsonError('{} {}')).toMatchObject({ column: 4, problem: expect.stringContaining('after the end') })
    expect(locateJsonError('{"a": 01}')).toMatchObject({ column: 8 })
  })

  it('agrees with JSON.parse on random corruptions of a real document', () => {
    const doc = JSON.stringify({ name: 'Magyar', n: [1, 2.5, -3e2], nested: { ok: true, none: null, s: 'é"\\' } }, null, 2)
    let seed = 7
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n)
    for (let k = 0; k < 500; k++) {
      const at = rand(doc.length)
      const mutated = doc.slice(0, at) + '{}[],:"x0 '[rand(10)] + doc.slice(at + rand(2))
      let valid = true
      try {
        JSON.parse(mutated)
      } catch {
        valid = false
      }
      expect(locateJsonError(mutated) === null).toBe(valid)
    }
  })

  it('parseJson names the place', () => {
    expect(() => parseJson('{"x": ]')).toThrow(/line 1, column 7/)
    expect(() => parseJson('   ')).toThrow(/empty/)
  })
})
