import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../../../main/engine/common/rng'
import { splitGpt2 } from '../../../main/engine/tokenizer/gpt2split'
import { GPT2_PATTERN, splitText } from '../../../main/engine/tokenizer/pretokenizers'
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

describe("GPT-2's pattern by a scan", () => {
  const re = compileOnig(GPT2_PATTERN, 'test')
  const scan = (t: string) => {
    const out: string[] = []
    splitGpt2(t, out)
    return out
  }

  it('gives the regex pieces on random text of the characters the alternatives turn on', () => {
    const rand = mulberry32(3)
    // contraction letters, spaces of several kinds, letters, numbers (Nd, No, Nl), marks, astral
    // letters and others, lone surrogates
    const alphabet = ["'", "'", 's', 't', 'r', 'e', 'v', 'm', 'l', 'd', 'S', ' ', ' ', ' ', '\n', '\t', '\r', '\u00a0', '\u2028', '\u3000', 'a', 'é', 'ő', 'Ж', 'ก', '漢', '1', '²', 'Ⅻ', '٣', '\u0301', '.', ',', '-', '"', '😀', '𝐀', '𝟙', '\ud800', '\udc00', '\u200b', '\u0085', '\u000b']
    for (let k = 0; k < 50_000; k++) {
      const n = Math.floor(rand() * 12)
      let s = ''
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)]
      expect(scan(s)).toEqual(splitText(s, re, 'Isolated'))
    }
  })

  it('gives the regex pieces on the demo corpora', async () => {
    const root = join(__dirname, '../../../resources/demo/corpora')
    let lines = 0
    for (const lang of await fs.readdir(root)) {
      for (const f of await fs.readdir(join(root, lang))) {
        for (const line of (await fs.readFile(join(root, lang, f), 'utf8')).split('\n').slice(0, 3000)) {
          expect(scan(line)).toEqual(splitText(line, re, 'Isolated'))
          lines++
        }
      }
    }
    expect(lines).toBeGreaterThan(3000)
    expect(scan("  I'm here,  they'll  see 2024's\n\n  x ")).toEqual([' ', " I", "'m", ' here', ',', ' ', ' they', "'ll", ' ', ' see', ' 2024', "'s", '\n\n ', ' x', ' '])
  })
})
