/**
 * Normalizers from tokenizer.json: Sequence, NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace,
 * Strip, StripAccents. Each behaves as Hugging Face's does; anything else is refused by name.
 */
import { EngineError } from '../common/errors'
import { NormalizedString, codePoints } from './normalized'
import { compileOnig, escapeRegExp } from './regex'

export type Normalizer = (s: NormalizedString) => void

type Json = Record<string, unknown>

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' })

function unicodeForm(form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): Normalizer {
  return (s) => {
    const whole = s.text.normalize(form)
    if (whole === s.text) return
    if (!s.tracked) {
      s.text = whole
      return
    }
    // Normalise grapheme by grapheme so that each result keeps its own span; composition never
    // crosses a grapheme boundary in practice, and if it did we fall back to the whole piece.
    const segs = [...graphemes.segment(s.text)]
    let joined = ''
    for (const g of segs) joined += g.segment.normalize(form)
    if (joined === whole) s.mapSegments(segs, (g) => g.normalize(form))
    else s.rebuild([{ text: whole, from: 0, to: s.text.length }])
  }
}

/** A pattern from tokenizer.json: `{String: "..."}` or `{Regex: "..."}`. */
export function patternRegExp(pattern: unknown, where: string): RegExp {
  const p = pattern as Json | null
  if (p && typeof p.String === 'string') return new RegExp(escapeRegExp(p.String), 'gu')
  if (p && typeof p.Regex === 'string') return compileOnig(p.Regex, where)
  throw new EngineError('bad-input', `${where}: pattern must be {"String": ...} or {"Regex": ...}`)
}

function replace(pattern: RegExp, content: string): Normalizer {
  return (s) => {
    if (!s.tracked) {
      s.text = s.text.replace(pattern, () => content)
      return
    }
    pattern.lastIndex = 0
    if (!pattern.test(s.text)) return
    pattern.lastIndex = 0
    const parts: { text: string; from: number; to: number }[] = []
    let last = 0
    for (const m of s.text.matchAll(pattern)) {
      if (m[0].length === 0) continue
      if (m.index > last) parts.push({ text: s.text.slice(last, m.index), from: last, to: m.index })
      parts.push({ text: content, from: m.index, to: m.index + m[0].length })
      last = m.index + m[0].length
    }
    if (last < s.text.length) parts.push({ text: s.text.slice(last), from: last, to: s.text.length })
    s.rebuild(parts)
  }
}

export function buildNormalizer(json: unknown, where = 'normalizer'): Normalizer | null {
  if (json === null || json === undefined) return null
  const n = json as Json
  switch (n.type) {
    case 'Sequence': {
      const list = (n.normalizers as unknown[] | undefined) ?? []
      const parts = list.map((x, i) => buildNormalizer(x, `${where}.normalizers[${i}]`)).filter((x): x is Normalizer => x !== null)
      return (s) => {
        for (const p of parts) p(s)
      }
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return unicodeForm(n.type)
    case 'Lowercase':
      return (s) => {
        const lower = s.text.toLowerCase()
        if (lower === s.text) return
        if (!s.tracked) s.text = lower
        else s.mapSegments(codePoints(s.text), (c) => c.toLowerCase())
      }
    case 'Prepend': {
      const prepend = String(n.prepend ?? '')
      return (s) => {
        if (s.text.length === 0) return
        if (!s.tracked) {
          s.text = prepend + s.text
          return
        }
        s.rebuild([
          { text: prepend, from: 0, to: 0 },
          { text: s.text, from: 0, to: s.text.length },
        ])
      }
    }
    case 'Replace':
      return replace(patternRegExp(n.pattern, `${where}.pattern`), String(n.content ?? ''))
    case 'Strip': {
      const left = n.strip_left !== false
      const right = n.strip_right !== false
      return (s) => {
        let a = 0
        let b = s.text.length
        if (left) while (a < b && /\s/u.test(s.text[a]!)) a++
        if (right) while (b > a && /\s/u.test(s.text[b - 1]!)) b--
        if (a === 0 && b === s.text.length) return
        const t = s.slice(a, b)
        s.text = t.text
        s.start = t.start
        s.end = t.end
      }
    }
    case 'StripAccents':
      return (s) => {
        // Hugging Face removes every combining mark (Mn, Mc, Me), not only non-spacing ones
        if (!/\p{M}/u.test(s.text)) return
        s.mapSegments(codePoints(s.text), (c) => (/\p{M}/u.test(c) ? '' : c))
      }
    default:
      throw new EngineError('bad-input', `${where}: the normalizer type ${JSON.stringify(n.type)} is not supported yet`, {
        hint: 'Supported normalizers: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, StripAccents.',
      })
  }
}
