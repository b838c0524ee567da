/**
 * The Vocabulary step's reading of what the user typed (the sizes to sweep, the count to extend
 * by) and its placing of the engine's tokens over the previewed text. Nothing here computes a
 * measurement; fertility and token ids are the engine's.
 */
import { MAX_NEW_TOKENS, MAX_SWEEP_COUNTS, type PreviewToken, type SweepPoint } from '../../main/engine/contract'

export const DEFAULT_SWEEP_COUNTS: readonly number[] = [0, 1000, 2000, 5000, 10000]

/** "0, 1000, 2000": the form the sizes field shows (no digit grouping, so it reads back the same). */
export function formatCounts(counts: readonly number[]): string {
  return counts.join(', ')
}

export type CountsCheck = { ok: true; counts: number[] } | { ok: false; message: string }

/**
 * The sizes a user typed: whole numbers separated by commas, semicolons or spaces; `5k` means
 * 5000. Sorted and without repeats, as the engine evaluates them.
 */
export function readCounts(text: string): CountsCheck {
  const parts = text
    .split(/[,;\s]+/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
  if (parts.length === 0) return { ok: false, message: 'Enter at least one number of new tokens, for example “0, 1000, 5000”.' }
  const counts = new Set<number>()
  for (const part of parts) {
    const value = readCount(part)
    if (value === null) return { ok: false, message: `“${part}” is not a whole number of tokens.` }
    if (value > MAX_NEW_TOKENS) return { ok: false, message: `${part} is more than the ${MAX_NEW_TOKENS.toLocaleString('en')} new tokens the engine can learn.` }
    counts.add(value)
  }
  if (counts.size > MAX_SWEEP_COUNTS) return { ok: false, message: `A sweep evaluates at most ${MAX_SWEEP_COUNTS} sizes; you gave ${counts.size}.` }
  return { ok: true, counts: [...counts].sort((a, b) => a - b) }
}

/** One whole number of tokens, `1000`, `1_000` or `5k`; null if it is not one. */
export function readCount(text: string): number | null {
  const match = /^(\d+(?:_\d+)*)(k)?$/i.exec(text.trim())
  if (!match) return null
  const value = Number(match[1]!.replace(/_/g, '')) * (match[2] ? 1000 : 1)
  return Number.isSafeInteger(value) ? value : null
}

export type ExtendCountCheck = { ok: true; count: number } | { ok: false; message: string }

/** The number of tokens to add or replace: 1 … MAX_NEW_TOKENS. */
export function readExtendCount(text: string): ExtendCountCheck {
  const value = readCount(text)
  if (value === null) return { ok: false, message: 'Enter a whole number of tokens, for example 5000.' }
  if (value < 1) return { ok: false, message: 'Enter at least 1 token.' }
  if (value > MAX_NEW_TOKENS) return { ok: false, message: `At most ${MAX_NEW_TOKENS.toLocaleString('en')} tokens.` }
  return { ok: true, count: value }
}

/** `value` relative to `reference` (−0.25 is a quarter less); null when there is nothing to compare with. */
export function relativeChange(value: number, reference: number | null | undefined): number | null {
  if (reference === null || reference === undefined || !(reference > 0) || !Number.isFinite(value)) return null
  return (value - reference) / reference
}

/** The sweep's point for the base tokenizer as it is (0 new tokens), if the sweep measured it. */
export function basePoint(points: readonly SweepPoint[]): SweepPoint | null {
  return points.find((point) => point.count === 0) ?? null
}

/** A chip of the preview: one token, with the part of the text it covers. */
export interface TokenPiece {
  kind: 'token'
  token: PreviewToken
  /** Position among the row's tokens (for the alternating colours). */
  index: number
  /**
   * The text shown on the chip: the token's span of the input, less what earlier tokens already
   * showed. Byte-level tokenizers split a character they do not know into several byte tokens
   * that all point at the same character; the first shows it, the others show nothing.
   */
  text: string
  /** The token stands for only some of the bytes of a character (its own text is not whole). */
  partial: boolean
}

/** Text that no token covers (a tokenizer may drop characters, for example by normalising them away). */
export interface GapPiece {
  kind: 'gap'
  text: string
}

export type PreviewPiece = TokenPiece | GapPiece

/** The tokens of `text` laid over it in order: chips, with any text no token covers between them. */
export function previewPieces(text: string, tokens: readonly PreviewToken[]): PreviewPiece[] {
  const pieces: PreviewPiece[] = []
  let shown = 0
  tokens.forEach((token, index) => {
    const start = clamp(token.start, 0, text.length)
    const end = clamp(token.end, start, text.length)
    if (start > shown) pieces.push({ kind: 'gap', text: text.slice(shown, start) })
    const from = Math.max(start, shown)
    const chip = end > from ? text.slice(from, end) : ''
    shown = Math.max(shown, end)
    pieces.push({ kind: 'token', token, index, text: chip, partial: token.text.includes('\uFFFD') && !text.slice(start, end).includes('\uFFFD') })
  })
  if (shown < text.length) pieces.push({ kind: 'gap', text: text.slice(shown) })
  return pieces
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Number.isFinite(value) ? value : min))
}

/** A run of a chip's text: ordinary characters, or one whitespace character to make visible. */
export interface TextRun {
  text: string
  /** The sign shown for a whitespace character; null for ordinary text. */
  sign: string | null
  name: string | null
}

const WHITESPACE_SIGNS: Readonly<Record<string, { sign: string; name: string }>> = {
  ' ': { sign: '·', name: 'space' },
  '\u00a0': { sign: '⍽', name: 'no-break space' },
  '\t': { sign: '→', name: 'tab' },
  '\n': { sign: '↵', name: 'line break' },
  '\r': { sign: '␍', name: 'carriage return' },
}

/** Splits `text` so each whitespace character can be shown with a visible sign (the character itself is kept). */
export function textRuns(text: string): TextRun[] {
  const runs: TextRun[] = []
  let plain = ''
  for (const char of text) {
    const ws = WHITESPACE_SIGNS[char]
    if (!ws) {
      plain += char
      continue
    }
    if (plain) runs.push({ text: plain, sign: null, name: null })
    plain = ''
    runs.push({ text: char, sign: ws.sign, name: ws.name })
  }
  if (plain) runs.push({ text: plain, sign: null, name: null })
  return runs
}

/** The token's text as a tooltip line: whitespace spelled out, bytes that are no whole character named. */
export function describeTokenText(token: PreviewToken): string {
  const visible = [...token.text].map((char) => (char === '\uFFFD' ? '�' : (WHITESPACE_SIGNS[char]?.sign ?? char))).join('')
  return `“${visible}”`
}

/**
 * A sentence to preview from a document: the first of reasonable length, else the document's
 * beginning cut at a word boundary. Null when the document has no text.
 */
export function pickSentence(document: string, maxLength = 240): string | null {
  const text = document.replace(/\s+/g, ' ').trim()
  if (!text) return null
  const sentences = text.split(/(?<=[.!?…])\s+/)
  const good = sentences.find((s) => s.length >= 40 && s.length <= maxLength)
  if (good) return good
  if (text.length <= maxLength) return text
  const cut = text.slice(0, maxLength)
  const space = cut.lastIndexOf(' ')
  return `${space > maxLength / 2 ? cut.slice(0, space) : cut}…`
}

/** A sentence for the preview when the corpus has none to offer yet (languages with one written here). */
export const FALLBACK_SENTENCES: Readonly<Record<string, string>> = {
  hu: 'Tavasszal a fiatalok gyakran kirándulnak a közeli erdőbe, ahol a hűvös patak partján pihennek.',
}

export function fallbackSentence(language: string): string {
  const primary = language.toLowerCase().split('-')[0] ?? ''
  return FALLBACK_SENTENCES[language] ?? FALLBACK_SENTENCES[primary] ?? ''
}
