/**
 * Pre-tokenizers from tokenizer.json: Split (with Hugging Face's five delimiter behaviours),
 * ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence. A
 * pre-tokenizer turns one normalised piece into several; BPE never merges across them.
 */
import { EngineError } from '../common/errors'
import { BYTE_TO_CHAR } from './bytelevel'
import { NormalizedString } from './normalized'
import { splitGpt2 } from './gpt2split'
import { compileOnig, escapeRegExp } from './regex'
import { patternRegExp } from './normalizers'

export type PreTokenizer = (pieces: NormalizedString[]) => NormalizedString[]

type Json = Record<string, unknown>
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous'

export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/** Splits `s` at the matches of `re` the way `NormalizedString::split` does. */
export function splitBy(s: NormalizedString, re: RegExp, behavior: SplitBehavior, invert = false): NormalizedString[] {
  const pieces: NormalizedString[] = []
  for (const [a, b] of splitRanges(s.text, re, behavior, invert)) if (b > a) pieces.push(a === 0 && b === s.text.length ? s : s.slice(a, b))
  return pieces
}

/** The same on a plain string (encoding without alignment): the non-empty pieces. */
export function splitText(text: string, re: RegExp, behavior: SplitBehavior, invert = false, out: string[] = []): string[] {
  if (behavior === 'Isolated' && !invert) {
    // The common case (GPT-2's and Llama 3's patterns): matches and the text between them, in order.
    let last = 0
    re.lastIndex = 0
    for (const m of text.matchAll(re)) {
      const a = m.index
      const t = m[0]
      if (t.length === 0) continue
      if (a > last) out.push(text.slice(last, a))
      out.push(t)
      last = a + t.length
    }
    if (last < text.length) out.push(last === 0 ? text : text.slice(last))
    return out
  }
  for (const [a, b] of splitRanges(text, re, behavior, invert)) if (b > a) out.push(a === 0 && b === text.length ? text : text.slice(a, b))
  return out
}

/** The [from, to) pieces `NormalizedString::split` makes of `text` (some may be empty). */
function splitRanges(text: string, re: RegExp, behavior: SplitBehavior, invert: boolean): [number, number][] {
  // [from, to, isMatch] covering the whole string
  const ranges: [number, number, boolean][] = []
  let last = 0
  re.lastIndex = 0
  for (const m of text.matchAll(re)) {
    const a = m.index
    const b = a + m[0].length
    if (a === b) continue
    if (a > last) ranges.push([last, a, false])
    ranges.push([a, b, true])
    last = b
  }
  if (last < text.length) ranges.push([last, text.length, false])
  if (invert) for (const r of ranges) r[2] = !r[2]

  // As NormalizedString::split: a delimiter merges with its neighbour only when that neighbour is
  // not a delimiter itself; Contiguous joins runs of delimiters.
  const out: [number, number][] = []
  switch (behavior) {
    case 'Removed':
      for (const [a, b, m] of ranges) if (!m) out.push([a, b])
      break
    case 'Isolated':
      for (const [a, b] of ranges) out.push([a, b])
      break
    case 'MergedWithPrevious': {
      let previousMatch = false
      for (const [a, b, m] of ranges) {
        const last = out[out.length - 1]
        if (m && !previousMatch && last) last[1] = b
        else out.push([a, b])
        previousMatch = m
      }
      break
    }
    case 'MergedWithNext': {
      let nextMatch = false
      for (let i = ranges.length - 1; i >= 0; i--) {
        const [a, b, m] = ranges[i]!
        const first = out[out.length - 1]
        if (m && !nextMatch && first) first[0] = a
        else out.push([a, b])
        nextMatch = m
      }
      out.reverse()
      break
    }
    case 'Contiguous': {
      let previousMatch = false
      for (const [a, b, m] of ranges) {
        const last = out[out.length - 1]
        if (m === previousMatch && last) last[1] = b
        else out.push([a, b])
        previousMatch = m
      }
      break
    }
  }
  return out
}

const byteLevelCache = new Map<string, string>()

/** A word in the byte-level alphabet (no alignment); words repeat, so their spellings are remembered (bounded). */
export function byteLevelText(text: string): string {
  const hit = byteLevelCache.get(text)
  if (hit !== undefined) return hit
  // straight into code units, one string made at the end: no NormalizedString, no parts (word
  // counting spends its time here on the long tail of words the cache does not hold)
  if (byteLevelUnits.length < text.length * 4) byteLevelUnits = new Uint16Array(text.length * 4)
  const u = byteLevelUnits
  let n = 0
  let ascii = true
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) {
      u[n++] = BYTE_TO_UNIT[c]!
      if (c < 0x21 || c > 0x7e) ascii = false
      continue
    }
    ascii = false
    let cp = c
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d < 0xe000) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
      }
    }
    if (cp < 0x800) {
      u[n++] = BYTE_TO_UNIT[0xc0 | (cp >> 6)]!
    } else if (cp < 0x10000) {
      u[n++] = BYTE_TO_UNIT[0xe0 | (cp >> 12)]!
      u[n++] = BYTE_TO_UNIT[0x80 | ((cp >> 6) & 63)]!
    } else {
      u[n++] = BYTE_TO_UNIT[0xf0 | (cp >> 18)]!
      u[n++] = BYTE_TO_UNIT[0x80 | ((cp >> 12) & 63)]!
      u[n++] = BYTE_TO_UNIT[0x80 | ((cp >> 6) & 63)]!
    }
    u[n++] = BYTE_TO_UNIT[0x80 | (cp & 63)]!
  }
  if (ascii) return text
  const out = String.fromCharCode.apply(null, u.subarray(0, n) as unknown as number[])
  if (byteLevelCache.size > 100_000) byteLevelCache.clear()
  byteLevelCache.set(text, out)
  return out
}
let byteLevelUnits = new Uint16Array(256)
/** BYTE_TO_CHAR as UTF-16 code units (every byte-level letter is one). */
const BYTE_TO_UNIT = Uint16Array.from(BYTE_TO_CHAR, (ch) => ch.charCodeAt(0))

/** Rewrites a piece into the byte-level alphabet: one unit per UTF-8 byte, each aligned to its character. */
export function byteLevelTransform(s: NormalizedString): void {
  const text = s.text
  if (!s.tracked) {
    const hit = byteLevelCache.get(text)
    if (hit !== undefined) {
      s.text = hit
      return
    }
  }
  let ascii = true
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) {
      ascii = false
      break
    }
  }
  if (ascii) return
  const parts: { text: string; from: number; to: number }[] = []
  let i = 0
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    let enc: string
    if (cp < 0x80) enc = BYTE_TO_CHAR[cp]!
    else if (cp < 0x800) enc = BYTE_TO_CHAR[0xc0 | (cp >> 6)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!
    else if (cp < 0x10000) enc = BYTE_TO_CHAR[0xe0 | (cp >> 12)]! + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!
    else enc = BYTE_TO_CHAR[0xf0 | (cp >> 18)]! + BYTE_TO_CHAR[0x80 | ((cp >> 12) & 63)]! + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!
    parts.push({ text: enc, from: i, to: i + ch.length })
    i += ch.length
  }
  if (!s.tracked) {
    let out = ''
    for (const p of parts) out += p.text
    if (byteLevelCache.size > 100_000) byteLevelCache.clear()
    byteLevelCache.set(text, out)
    s.text = out
  } else s.rebuild(parts)
}

/** Applies `f` to every piece; empty pieces are dropped, as PreTokenizedString::split does. */
function perPiece(f: (s: NormalizedString) => NormalizedString[]): PreTokenizer {
  return (pieces) => {
    const out: NormalizedString[] = []
    for (const p of pieces) for (const q of f(p)) if (q.text.length > 0) out.push(q)
    return out
  }
}

const BEHAVIORS = new Set(['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'])

export interface PreTokenizerInfo {
  byteLevel: boolean
  metaspace: string | null
}

export function buildPreTokenizer(json: unknown, info: PreTokenizerInfo, where = 'pre_tokenizer'): PreTokenizer | null {
  if (json === null || json === undefined) return null
  const p = json as Json
  switch (p.type) {
    case 'Sequence': {
      const list = (p.pretokenizers as unknown[] | undefined) ?? []
      const parts = list.map((x, i) => buildPreTokenizer(x, info, `${where}.pretokenizers[${i}]`)).filter((x): x is PreTokenizer => x !== null)
      return (pieces) => parts.reduce((acc, f) => f(acc), pieces)
    }
    case 'Split': {
      const behavior = String(p.behavior ?? 'Isolated')
      if (!BEHAVIORS.has(behavior)) throw new EngineError('bad-input', `${where}.behavior: unknown split behaviour ${JSON.stringify(behavior)}`)
      const re = patternRegExp(p.pattern, `${where}.pattern`)
      const invert = p.invert === true
      return perPiece((s) => splitBy(s, re, behavior as SplitBehavior, invert))
    }
    case 'ByteLevel': {
      info.byteLevel = true
      const addPrefixSpace = p.add_prefix_space === true
      const re = p.use_regex === false ? null : compileOnig(GPT2_PATTERN, where)
      return perPiece((s) => {
        if (addPrefixSpace && s.text.length > 0 && !s.text.startsWith(' ')) s.rebuild([{ text: ' ', from: 0, to: 0 }, { text: s.text, from: 0, to: s.text.length }])
        const pieces = re ? splitBy(s, re, 'Isolated') : [s]
        for (const q of pieces) byteLevelTransform(q)
        return pieces
      })
    }
    case 'Metaspace': {
      const replacement = String(p.replacement ?? '▁')
      info.metaspace = replacement
      const scheme = typeof p.prepend_scheme === 'string' ? p.prepend_scheme : p.add_prefix_space === false ? 'never' : 'always'
      if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') throw new EngineError('bad-input', `${where}.prepend_scheme: unknown value ${JSON.stringify(scheme)}`)
      const split = p.split !== false
      const space = / /g
      const rep = new RegExp(escapeRegExp(replacement), 'gu')
      return perPiece((s) => {
        if (s.text.includes(' ')) {
          const parts: { text: string; from: number; to: number }[] = []
          let last = 0
          for (const m of s.text.matchAll(space)) {
            if (m.index > last) parts.push({ text: s.text.slice(last, m.index), from: last, to: m.index })
            parts.push({ text: replacement, from: m.index, to: m.index + 1 })
            last = m.index + 1
          }
          if (last < s.text.length) parts.push({ text: s.text.slice(last), from: last, to: s.text.length })
          s.rebuild(parts)
        }
        const prepend = scheme === 'always' || (scheme === 'first' && s.origin === 0)
        // like NormalizedString::prepend, nothing is prepended to an empty piece
        if (prepend && s.text.length > 0 && !s.text.startsWith(replacement)) s.rebuild([{ text: replacement, from: 0, to: 0 }, { text: s.text, from: 0, to: s.text.length }])
        return split ? splitBy(s, rep, 'MergedWithNext') : [s]
      })
    }
    case 'Digits': {
      const re = /\p{N}/gu
      const individual = p.individual_digits === true
      return perPiece((s) => splitBy(s, re, individual ? 'Isolated' : 'Contiguous'))
    }
    case 'WhitespaceSplit': {
      const re = /\p{White_Space}+/gu
      return perPiece((s) => splitBy(s, re, 'Removed'))
    }
    case 'Whitespace': {
      const re = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu
      return perPiece((s) => splitBy(s, re, 'Removed', true))
    }
    case 'Punctuation': {
      const behavior = String(p.behavior ?? 'Isolated')
      if (!BEHAVIORS.has(behavior)) throw new EngineError('bad-input', `${where}.behavior: unknown split behaviour ${JSON.stringify(behavior)}`)
      const re = /[\p{P}!-/:-@[-`{-~]/gu
      return perPiece((s) => splitBy(s, re, behavior as SplitBehavior))
    }
    default:
      throw new EngineError('bad-input', `${where}: the pre-tokenizer type ${JSON.stringify(p.type)} is not supported yet`, {
        hint: 'Supported pre-tokenizers: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation.',
      })
  }
}

/**
 * A pre-tokenizer on plain strings, for encoding and counting words without alignment: the same
 * pieces as `buildPreTokenizer`'s, without a NormalizedString per piece (a third of the time of
 * encoding went there). Null where a part needs alignment or the piece's position (Metaspace's
 * `first` scheme): then the general pre-tokenizer is used.
 */
export type TextPreTokenizer = (pieces: string[]) => string[]

export function buildTextPreTokenizer(json: unknown): TextPreTokenizer | null {
  if (json === null || json === undefined) return (pieces) => pieces
  const p = json as Json
  const each =
    (f: (text: string, out: string[]) => void): TextPreTokenizer =>
    (pieces) => {
      const out: string[] = []
      for (const t of pieces) f(t, out)
      return out
    }
  const splitter = (re: RegExp, behavior: SplitBehavior, invert = false) => each((t, out) => void splitText(t, re, behavior, invert, out))
  switch (p.type) {
    case 'Sequence': {
      const parts = ((p.pretokenizers as unknown[] | undefined) ?? []).map((x) => buildTextPreTokenizer(x))
      if (parts.some((x) => x === null)) return null
      return (pieces) => (parts as TextPreTokenizer[]).reduce((acc, f) => f(acc), pieces)
    }
    case 'Split':
      return splitter(patternRegExp(p.pattern, 'pre_tokenizer.pattern'), String(p.behavior ?? 'Isolated') as SplitBehavior, p.invert === true)
    case 'ByteLevel': {
      const split = byteLevelSplit(p)
      return (pieces) => split(pieces).map(byteLevelText)
    }
    case 'Metaspace': {
      const replacement = String(p.replacement ?? '▁')
      const scheme = typeof p.prepend_scheme === 'string' ? p.prepend_scheme : p.add_prefix_space === false ? 'never' : 'always'
      if (scheme !== 'always' && scheme !== 'never') return null
      const split = p.split !== false
      const rep = new RegExp(escapeRegExp(replacement), 'gu')
      return each((text, out) => {
        let t = text.includes(' ') ? text.replaceAll(' ', replacement) : text
        if (scheme === 'always' && t.length > 0 && !t.startsWith(replacement)) t = replacement + t
        if (split) splitText(t, rep, 'MergedWithNext', false, out)
        else if (t.length > 0) out.push(t)
      })
    }
    case 'Digits':
      return splitter(/\p{N}/gu, p.individual_digits === true ? 'Isolated' : 'Contiguous')
    case 'WhitespaceSplit':
      return splitter(/\p{White_Space}+/gu, 'Removed')
    case 'Whitespace':
      return splitter(/[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu, 'Removed', true)
    case 'Punctuation':
      return splitter(/[\p{P}!-/:-@[-`{-~]/gu, String(p.behavior ?? 'Isolated') as SplitBehavior)
    default:
      return null
  }
}

/** ByteLevel's splitting alone (the prefix space and GPT-2's pattern), without the byte-level spelling. */
function byteLevelSplit(p: Json): TextPreTokenizer {
  const addPrefixSpace = p.add_prefix_space === true
  const useRegex = p.use_regex !== false
  return (pieces) => {
    const out: string[] = []
    for (const text of pieces) {
      const t = addPrefixSpace && text.length > 0 && !text.startsWith(' ') ? ' ' + text : text
      // GPT-2's pattern, by a scan that gives the regex's pieces (gpt2split.ts)
      if (useRegex) splitGpt2(t, out)
      else if (t.length > 0) out.push(t)
    }
    return out
  }
}

/**
 * For a byte-level pre-tokenizer (ByteLevel, or a Sequence that ends with it): the splitting into
 * words as they are in the text, and the byte-level spelling to apply to each. Encoding caches ids
 * by the word as it is in the text, so a word seen before costs one lookup and no spelling. Null
 * for other pre-tokenizers.
 */
export function buildTextWordSplit(json: unknown): { split: TextPreTokenizer; spell: (word: string) => string } | null {
  if (json === null || json === undefined) return null
  const p = json as Json
  if (p.type === 'ByteLevel') return { split: byteLevelSplit(p), spell: byteLevelText }
  if (p.type !== 'Sequence') return null
  const list = (p.pretokenizers as unknown[] | undefined) ?? []
  const last = list.at(-1) as Json | undefined
  if (!last || last.type !== 'ByteLevel' || list.slice(0, -1).some((x) => (x as Json).type === 'ByteLevel')) return null
  const before = list.slice(0, -1).map((x) => buildTextPreTokenizer(x))
  if (before.some((x) => x === null)) return null
  const parts = [...(before as TextPreTokenizer[]), byteLevelSplit(last)]
  return { split: (pieces) => parts.reduce((acc, f) => f(acc), pieces), spell: byteLevelText }
}
