/**
 * GPT-2's pre-tokenization pattern, `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
 * as a scan over a class table instead of the regex: the same pieces (a test holds it to the
 * regex on random text and real corpora), about three times faster, which counts in encoding and
 * in counting words for learning, where the pattern runs over every byte of the corpus.
 *
 * Every character starts a match of one alternative, so the pieces are the matches, one after
 * the other. At a position, the first alternative that matches wins:
 * - an apostrophe followed by s, t, m or d, or by re, ve or ll: that contraction;
 * - an optional space, then a run of letters, or of numbers, or of anything that is neither
 *   white space, letter nor number (`other`);
 * - white space: its run, less its last character when something other than white space follows
 *   (that character then starts the next piece: a space joins the word after it); a run of one
 *   white space character before something else is a piece of its own.
 */

const OTHER = 0
const LETTER = 1
const NUMBER = 2
const SPACE = 3
const UNKNOWN = 255

const classes = new Uint8Array(65536).fill(UNKNOWN)
const LETTER_RE = /^\p{L}$/u
const NUMBER_RE = /^\p{N}$/u
const SPACE_RE = /^\p{White_Space}$/u

function classify(ch: string): number {
  return LETTER_RE.test(ch) ? LETTER : NUMBER_RE.test(ch) ? NUMBER : SPACE_RE.test(ch) ? SPACE : OTHER
}

/** The class of the code point at `i` (a surrogate pair's code point; a lone surrogate is other). */
function classAt(t: string, i: number): number {
  const u = t.charCodeAt(i)
  if (u < 0xd800 || u >= 0xe000) {
    let c = classes[u] as number
    if (c === UNKNOWN) c = classes[u] = classify(String.fromCharCode(u))
    return c
  }
  if (u < 0xdc00 && i + 1 < t.length) {
    const lo = t.charCodeAt(i + 1)
    if (lo >= 0xdc00 && lo < 0xe000) return classify(t.slice(i, i + 2))
  }
  return OTHER
}

/** UTF-16 units of the code point at `i`. */
function widthAt(t: string, i: number): number {
  const u = t.charCodeAt(i)
  if (u < 0xd800 || u >= 0xdc00 || i + 1 >= t.length) return 1
  const lo = t.charCodeAt(i + 1)
  return lo >= 0xdc00 && lo < 0xe000 ? 2 : 1
}

/** The end of the run of class `c` from `i`. */
function runEnd(t: string, i: number, c: number): number {
  const n = t.length
  while (i < n) {
    const u = t.charCodeAt(i)
    // the common case, a BMP character already in the table
    if (u < 0xd800 || u >= 0xe000) {
      let k = classes[u] as number
      if (k === UNKNOWN) k = classes[u] = classify(String.fromCharCode(u))
      if (k !== c) return i
      i++
    } else {
      if (classAt(t, i) !== c) return i
      i += widthAt(t, i)
    }
  }
  return i
}

const S = 0x73
const T = 0x74
const M = 0x6d
const D = 0x64
const R = 0x72
const E = 0x65
const V = 0x76
const L = 0x6c

/** The end of the contraction at `i` (an apostrophe), or -1. */
function contraction(t: string, i: number): number {
  const a = t.charCodeAt(i + 1)
  if (a === S || a === T || a === M || a === D) return i + 2
  const b = t.charCodeAt(i + 2)
  if ((a === R && b === E) || (a === V && b === E) || (a === L && b === L)) return i + 3
  return -1
}

/** Appends the pieces of `text` to `out`, as `splitText(text, GPT-2's pattern, 'Isolated')` does. */
export function splitGpt2(text: string, out: string[]): void {
  const n = text.length
  let i = 0
  while (i < n) {
    const u = text.charCodeAt(i)
    let end: number
    if (u === 0x27 && (end = contraction(text, i)) > 0) {
      // 's 't 're 've 'm 'll 'd
    } else {
      const c = classAt(text, i)
      if (c === SPACE) {
        const next = i + 1 < n ? classAt(text, i + 1) : SPACE
        if (u === 0x20 && next !== SPACE) end = runEnd(text, i + 1, next) // ' ?X+' with the space
        else {
          const run = runEnd(text, i, SPACE)
          // \s+(?!\S): the run, less its last character when something follows it; a run of one
          // before something else is \s+ alone
          end = run === n || run - i === 1 ? run : run - 1
        }
      } else end = runEnd(text, i + widthAt(text, i), c)
    }
    out.push(i === 0 && end === n ? text : text.slice(i, end))
    i = end
  }
}
