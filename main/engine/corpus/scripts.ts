import { cleanClass } from './clean'

/**
 * Unicode scripts: which scripts a language is written in (from CLDR's likely subtags, via
 * `Intl.Locale.maximize`), and a fast per-character classifier (a lazily filled table over the
 * Basic Multilingual Plane, a Map above it).
 */

/** Scripts we name in profiles; letters of any other script count as `other`. */
export const KNOWN_SCRIPTS = [
  'Latn', 'Cyrl', 'Grek', 'Armn', 'Geor', 'Hebr', 'Arab', 'Syrc', 'Thaa', 'Deva', 'Beng', 'Guru', 'Gujr', 'Orya', 'Taml',
  'Telu', 'Knda', 'Mlym', 'Sinh', 'Thai', 'Laoo', 'Tibt', 'Mymr', 'Khmr', 'Ethi', 'Hang', 'Hani', 'Hira', 'Kana', 'Mong',
] as const

const COMPOSITE: Record<string, string[]> = {
  Jpan: ['Hani', 'Hira', 'Kana'],
  Kore: ['Hang', 'Hani'],
  Hans: ['Hani'],
  Hant: ['Hani'],
}

/** Scripts whose text does not separate words with spaces: word counts need a dictionary segmenter. */
export const UNSPACED_SCRIPTS = new Set(['Thai', 'Laoo', 'Khmr', 'Mymr', 'Tibt', 'Hani', 'Hira', 'Kana'])

/** The scripts (ISO 15924) a language is usually written in: `hu` → Latn, `th` → Thai, `ja` → Hani, Hira, Kana. */
export function scriptsForLanguage(language: string): string[] {
  let script: string | undefined
  try {
    const locale = new Intl.Locale(language)
    script = locale.script ?? locale.maximize().script
  } catch {
    script = undefined
  }
  if (!script) return ['Latn']
  return COMPOSITE[script] ?? [script]
}

const NOT_LETTER = 0
const OTHER = KNOWN_SCRIPTS.length + 1
const UNKNOWN = 255
const scriptRegexes = KNOWN_SCRIPTS.map((s) => new RegExp(`^\\p{Script=${s}}$`, 'u'))
const letterRegex = /^\p{L}$/u
const bmp = new Uint8Array(65536).fill(UNKNOWN)
const astral = new Map<number, number>()
const wordCharRegex = /^[\p{L}\p{M}\p{N}]$/u
/** 1: letter, mark or digit; 2: a joiner inside words (' ’ - .); 0: anything else; 255 unknown. */
const wordBmp = new Uint8Array(65536).fill(UNKNOWN)

/** `wordClass` of each BMP unit as met, 255 where not looked up yet (call `wordClass` then). */
export const WORD_CLASS_BMP: Readonly<Uint8Array> = wordBmp

/** 1 for a letter, mark or digit; 2 for a joiner inside words (' ’ - .); else 0. */
export function wordClass(cp: number): number {
  if (cp < 65536) {
    let c = wordBmp[cp] as number
    if (c === UNKNOWN) c = wordBmp[cp] = wordCharRegex.test(String.fromCharCode(cp)) ? 1 : cp === 39 || cp === 0x2019 || cp === 45 || cp === 46 ? 2 : 0
    return c
  }
  return wordCharRegex.test(String.fromCodePoint(cp)) ? 1 : 0
}

function classifySlow(cp: number): number {
  const ch = String.fromCodePoint(cp)
  if (!letterRegex.test(ch)) return NOT_LETTER
  for (let i = 0; i < scriptRegexes.length; i++) if ((scriptRegexes[i] as RegExp).test(ch)) return i + 1
  return OTHER
}

/** 0 for a non-letter, else 1 + the index of its script in KNOWN_SCRIPTS, or OTHER. */
export function classify(cp: number): number {
  if (cp < 65536) {
    let c = bmp[cp] as number
    if (c === UNKNOWN) c = bmp[cp] = classifySlow(cp)
    return c
  }
  let c = astral.get(cp)
  if (c === undefined) astral.set(cp, (c = classifySlow(cp)))
  return c
}

export function scriptName(index: number): string {
  return index === OTHER ? 'other' : (KNOWN_SCRIPTS[index - 1] as string)
}

export interface CharCounts {
  /** Code points. */
  characters: number
  letters: number
  /**
   * Words as runs of letters, marks and digits, joined across a single apostrophe, hyphen or
   * period (`don't`, `e-mail`, `7.4`): right for scripts that separate words with spaces.
   */
  spacedWords: number
  /** Letters per script index (see `classify`). */
  byScript: Uint32Array
}

export function newScriptCounts(): Uint32Array {
  return new Uint32Array(OTHER + 1)
}

/**
 * Per BMP unit, both classes at once (filled as met): the script class (`classify`) in the low 6
 * bits, the word class (`wordClass`) above; 255 unknown. Surrogates are looked up one by one.
 */
const bothBmp = new Uint8Array(65536).fill(UNKNOWN)

function both(cp: number): number {
  let b = bothBmp[cp] as number
  if (b === UNKNOWN) b = bothBmp[cp] = (wordClass(cp) << 6) | classify(cp)
  return b
}

/**
 * Per BMP unit, the `isClean` class (clean.ts) in bits 8–9 above the `both` classes; 0xffff
 * unknown, and always for surrogates (text with them is not clean).
 */
const cleanBothBmp = new Uint16Array(65536).fill(0xffff)

/** The combined class of a BMP code point that is not a surrogate (see `countCharactersIfClean`). */
export function cleanBoth(u: number): number {
  let v = cleanBothBmp[u] as number
  if (v === 0xffff) v = cleanBothBmp[u] = (cleanClass(u) << 8) | both(u)
  return v
}

/** Counts code points, letters by script and space-separated words in one pass. */
export function countCharacters(text: string, byScript: Uint32Array = newScriptCounts()): CharCounts {
  return count(text, byScript, false) as CharCounts
}

/**
 * `countCharacters` for text that is already clean (what `isClean` says, in the same pass):
 * the counts, or null when cleaning would change the text (`byScript` is then partly filled).
 */
export function countCharactersIfClean(text: string, byScript: Uint32Array): CharCounts | null {
  return count(text, byScript, true)
}

function count(text: string, byScript: Uint32Array, checkClean: boolean): CharCounts | null {
  let characters = 0
  let letters = 0
  let spacedWords = 0
  let prev = 0 // word class of the previous character
  let beforeJoiner = 0 // word class before a joiner
  let prevClean = 3 // a space or newline first is not clean
  const n = text.length
  for (let i = 0; i < n; i++) {
    const u = text.charCodeAt(i)
    let v = cleanBothBmp[u] as number
    if (v === 0xffff) {
      if (u < 0xd800 || u >= 0xe000) v = cleanBoth(u)
      else {
        // A surrogate: never clean; a pair is one code point, looked up without the table.
        if (checkClean) return null
        let cp = u
        if (u < 0xdc00 && i + 1 < n) {
          const lo = text.charCodeAt(i + 1)
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = ((u - 0xd800) << 10) + (lo - 0xdc00) + 0x10000
            i++
          }
        }
        v = (wordClass(cp) << 6) | classify(cp)
      }
    }
    if (checkClean) {
      const k = v >> 8
      if (k === 1) prevClean = 1
      else {
        if (k === 0 || prevClean !== 1) return null
        prevClean = k
      }
    }
    const w = (v >> 6) & 3
    const c = v & 63
    characters++
    if (w === 1 && prev !== 1 && !(prev === 2 && beforeJoiner === 1)) spacedWords++
    if (w === 2) beforeJoiner = prev
    prev = w
    if (c !== NOT_LETTER) {
      letters++
      byScript[c] = (byScript[c] as number) + 1
    }
  }
  if (checkClean && prevClean !== 1 && n > 0) return null
  return { characters, letters, spacedWords, byScript }
}
/**
 * `countCharactersIfClean` on valid UTF-8 (the same step per code point as `count`, decoded on
 * the fly; kept apart for speed, and held to it by a test on random text): the counts, or null when cleaning would change the
 * text; `pos` gets the offsets of the bytes a JSON string escapes (" \ and the newline: the only
 * ones clean text has), and `out.specials` their number.
 */
export function countCharactersIfCleanUtf8(src: Uint8Array, byScript: Uint32Array, pos: Int32Array, out: { specials: number }): CharCounts | null {
  const n = src.length
  let specials = 0
  const table = cleanBothBmp
  let characters = 0
  let letters = 0
  let spacedWords = 0
  let prev = 0 // word class of the previous character
  let beforeJoiner = 0 // word class before a joiner
  let prevClean = 3 // a space or newline first is not clean
  for (let k = 0; k < n; ) {
    const b = src[k] as number
    let cp: number
    if (b < 0x80) {
      cp = b
      if (b === 0x22 || b === 0x5c || b === 0x0a) pos[specials++] = k
      k++
    } else if (b < 0xe0) {
      cp = ((b & 0x1f) << 6) | ((src[k + 1] as number) & 0x3f)
      k += 2
    } else if (b < 0xf0) {
      cp = ((b & 0x0f) << 12) | (((src[k + 1] as number) & 0x3f) << 6) | ((src[k + 2] as number) & 0x3f)
      k += 3
    } else return null // beyond the BMP: a surrogate pair in UTF-16, which is never clean
    let v = table[cp] as number
    if (v === 0xffff) v = cleanBoth(cp)
    const kc = v >> 8
    if (kc === 1) prevClean = 1
    else {
      // a control (other than the newline) is class 0: never clean, never escaped here
      if (kc === 0 || prevClean !== 1) return null
      prevClean = kc
    }
    const w = (v >> 6) & 3
    const c = v & 63
    characters++
    if (w === 1 && prev !== 1 && !(prev === 2 && beforeJoiner === 1)) spacedWords++
    if (w === 2) beforeJoiner = prev
    prev = w
    if (c !== 0) {
      letters++
      byScript[c] = (byScript[c] as number) + 1
    }
  }
  if (prevClean !== 1 && n > 0) return null
  out.specials = specials
  return { characters, letters, spacedWords, byScript }
}

export function scriptIndex(code: string): number {
  const i = (KNOWN_SCRIPTS as readonly string[]).indexOf(code)
  return i < 0 ? OTHER : i + 1
}
