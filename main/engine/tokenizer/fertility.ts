/**
 * Fertility: how many tokens a tokenizer spends on a language's text. Words come from
 * `Intl.Segmenter` for the language (so Thai, written without spaces, gets real words), characters
 * are Unicode code points, bytes are UTF-8. A word is "continued" when two or more tokens overlap it.
 */
import type { Fertility } from '../contract'
import type { Tokenizer } from './tokenizer'

export type { Fertility }

export class FertilityCounter {
  lines = 0
  words = 0
  chars = 0
  bytes = 0
  tokens = 0
  continued = 0
  private readonly segmenter: Intl.Segmenter

  constructor(
    private readonly tokenizer: Tokenizer,
    lang = 'und',
  ) {
    let locale: string
    try {
      locale = Intl.getCanonicalLocales(lang)[0] ?? 'und'
    } catch {
      locale = 'und'
    }
    this.segmenter = new Intl.Segmenter(locale, { granularity: 'word' })
  }

  add(line: string): void {
    if (line.length === 0) return
    this.lines++
    this.bytes += Buffer.byteLength(line, 'utf8')
    for (const _ of line) this.chars++
    const enc = this.tokenizer.encodeDetailed(line)
    this.tokens += enc.ids.length
    const offsets = enc.offsets
    let t = 0
    for (const seg of this.segmenter.segment(line)) {
      if (!seg.isWordLike) continue
      this.words++
      const ws = seg.index
      const we = ws + seg.segment.length
      while (t < offsets.length && offsets[t]![1] <= ws) t++
      let n = 0
      for (let k = t; k < offsets.length && offsets[k]![0] < we; k++) {
        if (offsets[k]![1] > ws && offsets[k]![1] > offsets[k]![0]) n++
        if (n >= 2) break
      }
      if (n >= 2) this.continued++
    }
  }

  result(): Fertility {
    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0)
    return {
      lines: this.lines,
      words: this.words,
      chars: this.chars,
      bytes: this.bytes,
      tokens: this.tokens,
      tokensPerWord: ratio(this.tokens, this.words),
      charsPerToken: ratio(this.chars, this.tokens),
      bytesPerToken: ratio(this.bytes, this.tokens),
      continuedWordShare: ratio(this.continued, this.words),
      tokensPerLine: ratio(this.tokens, this.lines),
    }
  }
}

/** Fertility of `tokenizer` on `lines`. */
export async function fertility(tokenizer: Tokenizer, lines: AsyncIterable<string> | Iterable<string>, lang = 'und', signal?: AbortSignal): Promise<Fertility> {
  const c = new FertilityCounter(tokenizer, lang)
  let n = 0
  for await (const l of lines) {
    c.add(l)
    if ((++n & 1023) === 0 && signal?.aborted) throw new Error('cancelled')
  }
  return c.result()
}
