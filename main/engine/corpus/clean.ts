/**
 * Cleaning of one document: Unicode NFC, line breaks unified, control and zero-width characters
 * removed (ZWJ and ZWNJ are kept: Persian and Indic scripts need them), every kind of space folded
 * to one ASCII space, lines trimmed, no blank lines inside a document.
 */

// eslint-disable-next-line no-control-regex -- removing control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u2060\uFEFF\uFFFE\uFFFF]/g
const SPACES = /[\t\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+/g

export function cleanText(raw: string): string {
  return isClean(raw) ? raw : cleanSlow(raw)
}

/**
 * Per UTF-16 unit (filled as met): 1 a character cleaning keeps as it is and NFC cannot change
 * next to any other (no decomposition, not a combining mark or conjoining jamo); 2 the space; 3
 * the newline; 0 anything else (control, other spaces and line breaks, marks, surrogates).
 */
const UNIT = new Uint8Array(65536).fill(255)
const NEEDS_CLEANING = /[\u0085\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u2060\u3000\uFEFF\uFFFE\uFFFF]/
const MARK = /^\p{M}$/u

function unitClass(c: number): number {
  if (c === 0x20) return 2
  if (c === 0x0a) return 3
  if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || (c >= 0xd800 && c < 0xe000)) return 0
  const ch = String.fromCharCode(c)
  if (NEEDS_CLEANING.test(ch) || ch.trim() === '') return 0
  if (c < 0x300) return 1
  if (c >= 0x1100 && c < 0x1200) return 0
  if (MARK.test(ch) || ch.normalize('NFD') !== ch || ch.normalize('NFC') !== ch) return 0
  return 1
}

/** The class of a UTF-16 unit for `isClean`: 1 kept as it is, 2 the space, 3 the newline, 0 anything else. */
export function cleanClass(c: number): number {
  let k = UNIT[c] as number
  if (k === 255) k = UNIT[c] = unitClass(c)
  return k
}

/**
 * True when cleaning would give the text back as it is: NFC already (every unit is one NFC leaves
 * alone whatever its neighbours), nothing to remove or fold, single spaces and newlines only
 * between other characters. Most text is; it then costs one pass over its units.
 */
export function isClean(t: string): boolean {
  let prev = 3 // a space or newline first is not clean
  for (let i = 0; i < t.length; i++) {
    const k = cleanClass(t.charCodeAt(i))
    if (k === 1) {
      prev = 1
      continue
    }
    if (k === 0 || prev !== 1) return false
    prev = k
  }
  return prev === 1 || t.length === 0
}

/** The cleaning rules, one by one. */
export function cleanSlow(raw: string): string {
  let t = raw.normalize('NFC')
  t = t.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
  t = t.replace(CONTROL, '')
  t = t.replace(SPACES, ' ')
  t = t.replace(/ {2,}/g, ' ')
  t = t.replace(/ ?\n ?/g, '\n').replace(/\n{2,}/g, '\n')
  return t.trim()
}
