import { describe, expect, it } from 'vitest'
import { compileOnig, translateOnigPattern } from '../../../main/engine/tokenizer/regex'

const all = (pattern: string, text: string) => [...text.matchAll(compileOnig(pattern, 'test'))].map((m) => m[0])

describe('Oniguruma patterns in JavaScript', () => {
  it('gives \\s the Unicode White_Space meaning (NEL yes, BOM no), inside and outside classes', () => {
    expect(all('\\s+', 'a\u0085b')).toEqual(['\u0085'])
    expect(all('\\s+', 'a\ufeffb')).toEqual([])
    expect(all('[^\\s\\p{L}]+', 'a\ufeff\u0085,b')).toEqual(['\ufeff', ','])
    expect(all('\\S+', 'ab\u0085cd')).toEqual(['ab', 'cd'])
  })

  it('scopes (?i:...) to its group', () => {
    expect(all("(?i:'s|'ll)|x", "IT'S we'LL X x")).toEqual(["'S", "'LL", 'x'])
  })

  it('treats \\d as any decimal digit', () => {
    expect(all('\\d+', 'a12๑๒b٣')).toEqual(['12๑๒', '٣'])
  })

  it('turns possessive quantifiers into atomic groups', () => {
    // `a?+a` can never match "a": the possessive ?+ keeps the a and never gives it back
    expect(all('b(?:a?+a)', 'ba baa')).toEqual(['baa'])
    expect(all('[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+', ' hello,world')).toEqual([' hello', ',world'])
    expect(translateOnigPattern('x*+')).toContain('(?=')
  })

  it('names the pattern when it cannot be used', () => {
    expect(() => compileOnig('(?<=a+', 'pre_tokenizer.pattern')).toThrow(/pre_tokenizer\.pattern/)
  })
})
