/**
 * A piece of text being normalised, with (optionally) the span of the original text that each of
 * its UTF-16 units came from, so that tokens can be mapped back onto what the user typed (the token
 * preview, and which words a token belongs to in the fertility metrics). Alignment is tracked only
 * when asked for; plain encoding pays nothing for it.
 */
export class NormalizedString {
  constructor(
    public text: string,
    /** Original span [start, end) of each unit of `text`, relative to the original string; null when not tracked. */
    public start: Int32Array | null,
    public end: Int32Array | null,
    /** Where the piece starts in the original string (only whether it is 0 matters to the Metaspace "first" scheme). */
    public origin = 0,
  ) {}

  static from(text: string, offset: number, track: boolean): NormalizedString {
    if (!track) return new NormalizedString(text, null, null, offset)
    const start = new Int32Array(text.length)
    const end = new Int32Array(text.length)
    for (let i = 0; i < text.length; i++) {
      start[i] = offset + i
      end[i] = offset + i + 1
    }
    // a surrogate pair: both units stand for the whole character
    for (let i = 0; i + 1 < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0xd800 && c <= 0xdbff) {
        end[i] = offset + i + 2
        start[i + 1] = offset + i
        i++
      }
    }
    return new NormalizedString(text, start, end, offset)
  }

  get tracked(): boolean {
    return this.start !== null
  }

  /** Units [from, to) as a new piece. */
  slice(from: number, to: number): NormalizedString {
    const origin = this.start && from < this.text.length ? this.start[from]! : this.origin + from
    return new NormalizedString(this.text.slice(from, to), this.start ? this.start.slice(from, to) : null, this.end ? this.end.slice(from, to) : null, origin)
  }

  /** Original span of units [from, to); an empty range gets the zero-width point where it sits. */
  span(from: number, to: number): [number, number] {
    if (!this.start || !this.end) return [0, 0]
    if (this.text.length === 0) return [0, 0]
    if (from >= to) {
      const at = from < this.text.length ? this.start[from]! : this.end[this.text.length - 1]!
      return [at, at]
    }
    let s = Infinity
    let e = -Infinity
    for (let i = from; i < to; i++) {
      if (this.start[i]! < s) s = this.start[i]!
      if (this.end[i]! > e) e = this.end[i]!
    }
    return [s, e]
  }

  /**
   * Rebuilds the piece from a list of parts, each new text with the units [from, to) of the current
   * text it replaces (from === to for an insertion, which becomes zero-width at that point).
   */
  rebuild(parts: { text: string; from: number; to: number }[]): void {
    let text = ''
    for (const p of parts) text += p.text
    if (!this.start || !this.end) {
      this.text = text
      return
    }
    const start = new Int32Array(text.length)
    const end = new Int32Array(text.length)
    let k = 0
    for (const p of parts) {
      const [s, e] = this.span(p.from, p.to)
      if (p.to - p.from === p.text.length) {
        // one unit for one unit: keep the finer alignment
        for (let i = 0; i < p.text.length; i++) {
          start[k] = this.start[p.from + i]!
          end[k] = this.end[p.from + i]!
          k++
        }
      } else {
        for (let i = 0; i < p.text.length; i++) {
          start[k] = s
          end[k] = e
          k++
        }
      }
    }
    this.text = text
    this.start = start
    this.end = end
  }

  /** Applies a per-character transformation (case mapping, Unicode normalisation of a segment). */
  mapSegments(segments: Iterable<{ index: number; segment: string }>, f: (s: string) => string): void {
    if (!this.tracked) {
      let out = ''
      for (const { segment } of segments) out += f(segment)
      this.text = out
      return
    }
    const parts: { text: string; from: number; to: number }[] = []
    for (const { index, segment } of segments) parts.push({ text: f(segment), from: index, to: index + segment.length })
    this.rebuild(parts)
  }
}

/** Code points of `s` with their UTF-16 index, as `mapSegments` wants them. */
export function* codePoints(s: string): Generator<{ index: number; segment: string }> {
  let i = 0
  for (const ch of s) {
    yield { index: i, segment: ch }
    i += ch.length
  }
}
