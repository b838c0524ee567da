import { UNSPACED_SCRIPTS, WORD_CLASS_BMP, scriptsForLanguage, wordClass } from './scripts'

/**
 * Word counting for a language. Scripts without spaces (Thai, Lao, Khmer, Myanmar, Chinese,
 * Japanese) use `Intl.Segmenter`'s dictionary-based word boundaries; space-separated scripts use a
 * Unicode-aware regex that gives the same counts many times faster.
 */
export interface WordCounter {
  /** Counts words, and calls `onWord` with each (lower-cased) when given. */
  count(text: string, onWord?: (word: string) => void): number
  readonly segmenter: boolean
}

const WORD = /[\p{L}\p{M}\p{N}]+(?:['’\-.][\p{L}\p{M}\p{N}]+)*/gu

export function wordCounter(language: string): WordCounter {
  const unspaced = scriptsForLanguage(language).some((s) => UNSPACED_SCRIPTS.has(s))
  if (unspaced) {
    const segmenter = new Intl.Segmenter(language, { granularity: 'word' })
    return {
      segmenter: true,
      count(text, onWord) {
        let n = 0
        for (const s of segmenter.segment(text)) {
          if (!s.isWordLike) continue
          n++
          onWord?.(s.segment.toLowerCase())
        }
        return n
      },
    }
  }
  return {
    segmenter: false,
    count: (text, onWord) => (onWord ? spacedWords(text, onWord) : (text.match(WORD)?.length ?? 0)),
  }
}

/** `wordClass` of the character at `i` of `s` (a surrogate pair's code point there). */
function wordClassAt(s: string, i: number): number {
  const c = s.charCodeAt(i)
  if (c < 0xd800 || c >= 0xe000) {
    const k = WORD_CLASS_BMP[c] as number
    return k === 255 ? wordClass(c) : k
  }
  if (c >= 0xdc00 || i + 1 >= s.length) return wordClass(c)
  const lo = s.charCodeAt(i + 1)
  return lo >= 0xdc00 && lo < 0xe000 ? wordClass(((c - 0xd800) << 10) + (lo - 0xdc00) + 0x10000) : wordClass(c)
}

/**
 * The words WORD matches, lower-cased, found by a scan over the word-class table instead of the
 * regex (several times faster). The text is lower-cased once when that maps it unit for unit
 * (the same length, and no capital sigma, whose lower case depends on what follows it); each word
 * is then a slice of it, the same as lower-casing the word alone.
 */
function spacedWords(text: string, onWord: (word: string) => void): number {
  const lower = text.toLowerCase()
  const aligned = lower.length === text.length && text.indexOf('\u03a3') < 0
  const n = text.length
  let words = 0
  let i = 0
  while (i < n) {
    if (wordClassAt(text, i) !== 1) {
      i++
      continue
    }
    const start = i
    for (;;) {
      // a run of letters, marks and digits
      while (i < n && wordClassAt(text, i) === 1) i += isPair(text, i) ? 2 : 1
      // joined across a single joiner followed by another run
      if (i + 1 < n && wordClassAt(text, i) === 2 && wordClassAt(text, i + 1) === 1) i++
      else break
    }
    words++
    onWord(aligned ? lower.slice(start, i) : text.slice(start, i).toLowerCase())
  }
  return words
}

function isPair(s: string, i: number): boolean {
  const c = s.charCodeAt(i)
  if (c < 0xd800 || c >= 0xdc00 || i + 1 >= s.length) return false
  const lo = s.charCodeAt(i + 1)
  return lo >= 0xdc00 && lo < 0xe000
}
