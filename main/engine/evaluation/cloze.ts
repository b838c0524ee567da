/**
 * Cloze tasks made from held-out text (the demo's Hungarian, Thai and English tasks are made by
 * resources/demo/build-tasks.ts with this): the start of a text as the context, its true
 * continuation as the gold choice, and continuations of the same length in words taken from other
 * texts as distractors, of similar length in characters so that length alone gives nothing away.
 *
 * - Words are `Intl.Segmenter` word segments for the language, so Thai, written without spaces,
 *   is cut at word boundaries too.
 * - A source is a line of a document with at least `minContextWords` + `continuationWords` words;
 *   each document gives its first such line, and its later lines only when the first lines of all
 *   documents are too few for `items`.
 * - The context is the source's first words, up to `maxContextWords`, leaving `continuationWords`
 *   for the continuation; it keeps the space after its last word (if the language writes one), so
 *   the choices begin with a word.
 * - Distractors: from the continuations of the other sources (of other documents, and not after
 *   the same context), different from the gold one and from each other, within ±25% of its length in characters (widened until there are enough).
 * - Every draw (which sources, which distractors, where the gold choice goes) is PCG32 from `seed`
 *   (its stream chosen by the language), so the same texts and seed give the same task, byte for
 *   byte.
 */
import { Pcg32 } from '../common/pcg32'
import { codePoints } from './metrics'

export interface ClozeItem {
  context: string
  choices: string[]
  gold: number
}

export interface ClozeOptions {
  seed: number
  /** The most items (default 300). */
  items?: number
  choices?: number
  minContextWords?: number
  maxContextWords?: number
  continuationWords?: number
}

interface Source {
  doc: number
  context: string
  continuation: string
  length: number
}

/** 32-bit FNV-1a of a string's UTF-16 units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** Word segments of a line: where each begins and ends. */
function wordSpans(segmenter: Intl.Segmenter, line: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = []
  for (const s of segmenter.segment(line)) if (s.isWordLike) out.push({ start: s.index, end: s.index + s.segment.length })
  return out
}

/** Draws `k` distinct indices of `n` (k ≤ n), in the order drawn. */
function drawDistinct(rng: Pcg32, n: number, k: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i)
  const out: number[] = []
  for (let i = 0; i < k; i++) {
    const j = i + rng.bounded(n - i)
    ;[pool[i], pool[j]] = [pool[j] as number, pool[i] as number]
    out.push(pool[i] as number)
  }
  return out
}

/** A cloze task from documents (each a text, its lines separated by "\n"), in document order. */
export function buildCloze(documents: readonly string[], lang: string, opts: ClozeOptions): ClozeItem[] {
  const wanted = opts.items ?? 300
  const nChoices = opts.choices ?? 4
  const minContext = opts.minContextWords ?? 6
  const maxContext = opts.maxContextWords ?? 20
  const nCont = opts.continuationWords ?? 5
  const segmenter = new Intl.Segmenter(lang, { granularity: 'word' })
  // One PCG32 stream per language, so that the languages' draws are not the same sequence.
  const rng = new Pcg32(opts.seed, fnv1a(lang))

  const first: Source[] = []
  const later: Source[] = []
  documents.forEach((doc, d) => {
    let firstLine = true
    for (const raw of doc.split('\n')) {
      const line = raw.trim()
      const words = wordSpans(segmenter, line)
      if (words.length < minContext + nCont) continue
      const k = Math.min(maxContext, words.length - nCont)
      const start = (words[k] as { start: number }).start
      const continuation = line.slice(start, (words[k + nCont - 1] as { end: number }).end)
      const source = { doc: d, context: line.slice(0, start), continuation, length: codePoints(continuation) }
      ;(firstLine ? first : later).push(source)
      firstLine = false
    }
  })
  // The first lines of documents, then later lines if those are too few; then a sample of them, in order.
  let sources = first.length >= wanted ? first : [...first, ...later.slice(0, wanted - first.length)]
  if (sources.length > wanted) {
    const keep = new Set(drawDistinct(rng, sources.length, wanted))
    sources = sources.filter((_, i) => keep.has(i))
  }
  sources.sort((a, b) => a.doc - b.doc)

  const items: ClozeItem[] = []
  for (const s of sources) {
    let candidates: string[] = []
    for (let tolerance = 0.25; tolerance <= 4; tolerance *= 2) {
      const seen = new Set<string>([s.continuation])
      candidates = []
      for (const o of sources) {
        // Never a continuation of its own document, or of a text that begins the same way (it would be right too).
        if (o.doc === s.doc || o.context === s.context || seen.has(o.continuation)) continue
        if (Math.abs(o.length - s.length) > tolerance * s.length) continue
        seen.add(o.continuation)
        candidates.push(o.continuation)
      }
      if (candidates.length >= nChoices - 1) break
    }
    if (candidates.length < nChoices - 1) continue
    const distractors = drawDistinct(rng, candidates.length, nChoices - 1).map((i) => candidates[i] as string)
    const gold = rng.bounded(nChoices)
    const choices = [...distractors]
    choices.splice(gold, 0, s.continuation)
    items.push({ context: s.context, choices, gold })
  }
  return items
}

/** A task as JSONL, one `{"context", "choices", "gold"}` a line. */
export function clozeJsonl(items: readonly ClozeItem[]): string {
  return items.map((i) => JSON.stringify({ context: i.context, choices: i.choices, gold: i.gold })).join('\n') + '\n'
}
