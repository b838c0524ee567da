/**
 * Cleaning of one document: Unicode NFC, line breaks unified, control and zero-width characters
 * removed (ZWJ and ZWNJ are kept: Persian and Indic scripts need them), every kind of space folded
 * to one ASCII space, lines trimmed, no blank lines inside a document.
 */

// eslint-disable-next-line no-control-regex -- removing control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u2060\uFEFF\uFFFE\uFFFF]/g
const SPACES = /[\t\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+/g

export function cleanText(raw: string): string {
  let t = raw.normalize('NFC')
  t = t.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
  t = t.replace(CONTROL, '')
  t = t.replace(SPACES, ' ')
  t = t.replace(/ {2,}/g, ' ')
  t = t.replace(/ ?\n ?/g, '\n').replace(/\n{2,}/g, '\n')
  return t.trim()
}
