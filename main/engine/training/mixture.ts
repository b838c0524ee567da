/**
 * The training data stream: sequences packed from the documents of two token files, the target
 * language and English replay, mixed by tokens. Specified exactly (docs/training-data.md), so that
 * another implementation (a hand-off to PyTorch) reproduces every batch:
 *
 * - Generators: PCG32 (common/pcg32.ts) seeded (seed, 1) for the language draws, (seed, 2) for the
 *   target stream's shuffles and (seed, 3) for the English stream's.
 * - A stream is its documents in a shuffled order, each followed by EOS. Epoch e's order is the
 *   identity permutation shuffled by Fisher–Yates with the stream's generator, which carries on from
 *   epoch to epoch. When the order is used up, the next epoch begins with a new shuffle.
 * - A sequence of length L comes from one stream: its next L tokens (consumed) and the one after
 *   (peeked, the last target; it is the first token of that stream's next sequence). Inputs are
 *   tokens [0, L), targets [1, L].
 * - Each sequence draws u = next / 2^32 from the language generator (always, whatever the share):
 *   English when u < englishShare, else the target language.
 * - With document masking, `segments` numbers the documents within the sequence (EOS belongs to
 *   the document it ends) and `positions` restart at 0 where each document (or the part of it in
 *   this sequence) begins; attention is causal within a segment only. Without it, one segment and
 *   positions 0 … L−1.
 */
import { EngineError } from '../common/errors'
import { Pcg32, type Pcg32State } from '../common/pcg32'
import type { TokenFile } from './tokens'

export type Language = 'target' | 'english'
export const LANGUAGES: readonly Language[] = ['target', 'english']

/** Where a stream stands: enough to rebuild its buffer exactly. */
export interface StreamCursor {
  epoch: number
  /** Index into this epoch's document order of the document holding the next token. */
  position: number
  /** Tokens of that document already consumed (its length means the EOS is next). */
  offset: number
  /** The shuffle generator as it was before this epoch's shuffle. */
  epochStart: Pcg32State
  /** Tokens consumed so far (EOS included), over all epochs. */
  consumed: number
}

export interface MixtureState {
  version: 1
  draws: Pcg32State
  streams: Record<Language, StreamCursor | null>
  sequences: Record<Language, number>
}

export interface PackedSequence {
  language: Language
  /** L + 1 tokens: inputs are [0, L), targets [1, L]. */
  tokens: Int32Array
  /** Per input position: the document it belongs to within the sequence. */
  segments: Int32Array
  /** Per input position: its position within its document's part. */
  positions: Int32Array
}

export interface MixtureOptions {
  sequenceLength: number
  /** Planned share of sequences (and so of tokens) from the English stream, 0 … 1. */
  englishShare: number
  seed: number
  eos: number
  documentMasking: boolean
  /** Tokens each stream reads ahead of what it has consumed (bounded memory). */
  readAhead?: number
}

const STREAM_SEQ: Record<Language, number> = { target: 2, english: 3 }
const DRAW_SEQ = 1

/** One language's documents in shuffled order, each followed by EOS, read ahead a bounded amount. */
class DocumentStream {
  private order: Uint32Array
  private readonly shuffler: Pcg32
  private cursor: StreamCursor
  /** Documents read ahead, each with its EOS appended; the first is the cursor's document. */
  private buffer: Uint32Array[] = []
  /** Index in `buffer` of the cursor's document (earlier ones are consumed, dropped in batches). */
  private head = 0
  /** Tokens buffered from `head` on. */
  private bufferedTokens = 0
  /** Where the read-ahead continues: its position in its epoch's order, that order, and the shuffle generator. */
  private readPosition: number
  private readShuffle: Pcg32
  private readOrder: Uint32Array

  constructor(
    readonly language: Language,
    private readonly file: TokenFile,
    private readonly eos: number,
    seed: number,
    private readonly readAhead: number,
    saved: StreamCursor | null,
  ) {
    if (file.documents === 0) {
      throw new EngineError('bad-input', `The ${language === 'target' ? 'target-language' : 'English'} training text has no documents (${file.file}).`, {
        file: file.file,
        hint: language === 'english' ? 'Add English text in the Corpus step, or set the English share to 0.' : 'Add target-language text in the Corpus step.',
      })
    }
    if (saved) {
      this.shuffler = Pcg32.restore(saved.epochStart)
      this.cursor = { ...saved }
    } else {
      this.shuffler = new Pcg32(BigInt(seed), STREAM_SEQ[language])
      this.cursor = { epoch: 0, position: 0, offset: 0, epochStart: this.shuffler.save(), consumed: 0 }
    }
    this.order = this.shuffled()
    this.readPosition = this.cursor.position
    this.readShuffle = Pcg32.restore(this.shuffler.save())
    this.readOrder = this.order
  }

  /** The next epoch's order, from the shuffle generator (which moves on). */
  private shuffled(): Uint32Array {
    const order = Uint32Array.from({ length: this.file.documents }, (_, i) => i)
    this.shuffler.shuffle(order)
    return order
  }

  /** Buffered tokens not yet consumed. */
  private get available(): number {
    return this.bufferedTokens - this.cursor.offset
  }

  /** When fewer than `need` tokens are buffered, reads documents until `need` plus the read-ahead are. */
  private async fill(need: number): Promise<void> {
    if (this.available >= need) return
    const want = need + this.readAhead
    while (this.available < want) {
      if (this.readPosition >= this.readOrder.length) {
        this.readPosition = 0
        this.readOrder = Uint32Array.from({ length: this.file.documents }, (_, i) => i)
        this.readShuffle.shuffle(this.readOrder)
      }
      const ids = await this.file.read(this.readOrder[this.readPosition++]!)
      const doc = new Uint32Array(ids.length + 1)
      doc.set(ids)
      doc[ids.length] = this.eos
      this.buffer.push(doc)
      this.bufferedTokens += doc.length
    }
  }

  /** Consumes `n` tokens and peeks one more, filling `out` (n + 1 tokens) and its segments/positions (n). */
  async take(n: number, out: Int32Array, segments: Int32Array, positions: Int32Array): Promise<void> {
    await this.fill(n + 1)
    let doc = this.head
    let offset = this.cursor.offset
    let segment = 0
    let pos = 0
    for (let i = 0; i <= n; i++) {
      while (offset >= this.buffer[doc]!.length) {
        doc++
        offset = 0
        if (i < n) {
          segment++
          pos = 0
        }
      }
      out[i] = this.buffer[doc]![offset]!
      if (i < n) {
        segments[i] = segment
        positions[i] = pos++
      }
      offset++
    }
    this.consume(n)
  }

  /** Moves the cursor `n` tokens on, dropping finished documents from the buffer. */
  private consume(n: number): void {
    let left = n
    while (left > 0) {
      const head = this.buffer[this.head]!
      const rest = head.length - this.cursor.offset
      if (left < rest) {
        this.cursor.offset += left
        break
      }
      left -= rest
      this.head++
      this.bufferedTokens -= head.length
      this.cursor.offset = 0
      this.cursor.position++
      if (this.cursor.position >= this.order.length) {
        this.cursor.epoch++
        this.cursor.position = 0
        this.cursor.epochStart = this.shuffler.save()
        this.order = this.shuffled()
      }
    }
    this.cursor.consumed += n
    if (this.head > 1024) {
      this.buffer = this.buffer.slice(this.head)
      this.head = 0
    }
  }

  state(): StreamCursor {
    return { ...this.cursor, epochStart: { ...this.cursor.epochStart } }
  }

  /** Passes over the stream's text so far: 3.2 means it has been seen 3.2 times. */
  get epochs(): number {
    return this.cursor.consumed / (this.file.tokens + this.file.documents)
  }

  get consumed(): number {
    return this.cursor.consumed
  }
}

export class ReplayMixture {
  private readonly draws: Pcg32
  private readonly streams: Record<Language, DocumentStream | null>
  private readonly sequences: Record<Language, number>

  constructor(
    files: Record<Language, TokenFile | null>,
    private readonly opts: MixtureOptions,
    state?: MixtureState,
  ) {
    if (!(opts.englishShare >= 0 && opts.englishShare <= 1)) throw new EngineError('invalid-request', `The English share must be from 0 to 1, not ${opts.englishShare}.`)
    if (!Number.isInteger(opts.sequenceLength) || opts.sequenceLength < 1) throw new EngineError('invalid-request', `The sequence length must be a positive whole number, not ${opts.sequenceLength}.`)
    if (!files.target) throw new EngineError('bad-input', 'There is no target-language training text.', { hint: 'Add target-language text in the Corpus step.' })
    if (opts.englishShare > 0 && (!files.english || files.english.tokens === 0)) {
      throw new EngineError('bad-input', `The English replay share is ${Math.round(opts.englishShare * 100)}%, but there is no English training text.`, {
        hint: 'Add English text in the Corpus step, or set the English share to 0 (no replay).',
      })
    }
    const readAhead = opts.readAhead ?? 1 << 16
    this.draws = state ? Pcg32.restore(state.draws) : new Pcg32(BigInt(opts.seed), DRAW_SEQ)
    this.streams = {
      target: new DocumentStream('target', files.target, opts.eos, opts.seed, readAhead, state?.streams.target ?? null),
      english: opts.englishShare > 0 && files.english ? new DocumentStream('english', files.english, opts.eos, opts.seed, readAhead, state?.streams.english ?? null) : null,
    }
    this.sequences = state ? { ...state.sequences } : { target: 0, english: 0 }
  }

  /** The next packed sequence. */
  async next(): Promise<PackedSequence> {
    const L = this.opts.sequenceLength
    const language: Language = this.draws.float() < this.opts.englishShare ? 'english' : 'target'
    const stream = this.streams[language]!
    const seq: PackedSequence = { language, tokens: new Int32Array(L + 1), segments: new Int32Array(L), positions: new Int32Array(L) }
    await stream.take(L, seq.tokens, seq.segments, seq.positions)
    if (!this.opts.documentMasking) {
      seq.segments.fill(0)
      for (let i = 0; i < L; i++) seq.positions[i] = i
    }
    this.sequences[language]++
    return seq
  }

  async batch(size: number): Promise<PackedSequence[]> {
    const out: PackedSequence[] = []
    for (let i = 0; i < size; i++) out.push(await this.next())
    return out
  }

  state(): MixtureState {
    return {
      version: 1,
      draws: this.draws.save(),
      streams: { target: this.streams.target?.state() ?? null, english: this.streams.english?.state() ?? null },
      sequences: { ...this.sequences },
    }
  }

  /** Tokens trained on per language, the share that was English, and passes over each text. */
  stats(): { tokens: Record<Language, number>; realisedShare: number; epochs: Record<Language, number> } {
    const L = this.opts.sequenceLength
    const tokens = { target: this.sequences.target * L, english: this.sequences.english * L }
    const total = tokens.target + tokens.english
    return {
      tokens,
      realisedShare: total === 0 ? 0 : tokens.english / total,
      epochs: { target: this.streams.target?.epochs ?? 0, english: this.streams.english?.epochs ?? 0 },
    }
  }
}

/** Whether position `i` may attend to position `j` (causal within a document segment). */
export function mayAttend(segments: ArrayLike<number>, i: number, j: number): boolean {
  return j <= i && segments[i] === segments[j]
}
