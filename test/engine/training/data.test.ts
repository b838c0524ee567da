import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Pcg32 } from '../../../main/engine/common/pcg32'
import { ReplayMixture, mayAttend, type PackedSequence } from '../../../main/engine/training/mixture'
import { TOKENS_HEADER_BYTES, TokenFile, TokenFileWriter } from '../../../main/engine/training/tokens'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const FP = 'ab'.repeat(32)
const EOS = 0

/** Documents whose tokens say where they come from: document d of `base` is [base + d·10 + 1, …]. */
function docs(count: number, base: number, lengths: (d: number) => number): number[][] {
  return Array.from({ length: count }, (_, d) => Array.from({ length: lengths(d) }, (_, i) => base + d * 10 + 1 + i))
}

async function write(file: string, documents: number[][], vocab = 70_000): Promise<TokenFile> {
  const w = await TokenFileWriter.create(file, vocab, FP)
  for (const d of documents) await w.add(d)
  await w.finish()
  return TokenFile.open(file)
}

describe('token files', () => {
  it('round-trip documents as uint16 when the vocabulary fits, else uint32', async () => {
    const dir = tmp()
    const small = docs(5, 0, (d) => d + 1).concat([[]])
    const f16 = await write(join(dir, 'a.tokens'), small, 65_536)
    expect(f16.header).toMatchObject({ bytesPerToken: 2, vocabSize: 65_536, documents: 6, tokens: 15, tokenizer: FP })
    for (let d = 0; d < small.length; d++) expect(Array.from(await f16.read(d))).toEqual(small[d])
    expect((await fs.stat(join(dir, 'a.tokens'))).size).toBe(TOKENS_HEADER_BYTES + 15 * 2 + 7 * 8)
    const big = [[70_000 - 1, 65_536, 3]]
    const f32 = await write(join(dir, 'b.tokens'), big, 70_000)
    expect(f32.header.bytesPerToken).toBe(4)
    expect(Array.from(await f32.read(0))).toEqual(big[0])
    await f16.close()
    await f32.close()
  })

  it('refuse ids outside the vocabulary, and name a damaged file', async () => {
    const dir = tmp()
    const w = await TokenFileWriter.create(join(dir, 'x.tokens'), 100, FP)
    await expect(w.add([5, 100])).rejects.toThrow('outside the vocabulary')
    await w.abort()
    const f = await write(join(dir, 'c.tokens'), [[1, 2, 3]], 100)
    await f.close()
    const bytes = await fs.readFile(join(dir, 'c.tokens'))
    await fs.writeFile(join(dir, 'short.tokens'), bytes.subarray(0, bytes.length - 4))
    await expect(TokenFile.open(join(dir, 'short.tokens'))).rejects.toThrow(/short\.tokens is truncated or damaged/)
    await fs.writeFile(join(dir, 'magic.tokens'), Buffer.concat([Buffer.from('NOTATOKS'), bytes.subarray(8)]))
    await expect(TokenFile.open(join(dir, 'magic.tokens'))).rejects.toThrow(/magic\.tokens is not a Vernacular token file/)
  })
})

/** The stream a mixture should produce for one language: each epoch's shuffled documents, each followed by EOS. */
function expectedStream(documents: number[][], seed: number, seq: number, epochs: number): number[] {
  const g = new Pcg32(BigInt(seed), seq)
  const out: number[] = []
  for (let e = 0; e < epochs; e++) {
    const order = Array.from({ length: documents.length }, (_, i) => i)
    g.shuffle(order)
    for (const d of order) out.push(...documents[d]!, EOS)
  }
  return out
}

/** The tokens sequences consumed, in order (each sequence's last token is only peeked). */
const consumed = (seqs: PackedSequence[]) => seqs.flatMap((s) => Array.from(s.tokens.subarray(0, s.tokens.length - 1)))

describe('packing and mixing', () => {
  it('packs one stream into sequences: shuffled documents with EOS between them, epoch after epoch', async () => {
    const dir = tmp()
    const target = docs(7, 100, (d) => 1 + ((d * 5) % 9))
    const file = await write(join(dir, 't.tokens'), target)
    const m = new ReplayMixture({ target: file, english: null }, { sequenceLength: 16, englishShare: 0, seed: 11, eos: EOS, documentMasking: true, readAhead: 8 })
    const seqs = await m.batch(20)
    const stream = expectedStream(target, 11, 2, 10)
    expect(consumed(seqs)).toEqual(stream.slice(0, 20 * 16))
    // The peeked last token is the first of the next sequence.
    for (let i = 0; i + 1 < seqs.length; i++) expect(seqs[i]!.tokens[16]).toBe(seqs[i + 1]!.tokens[0])
    const stats = m.stats()
    expect(stats.tokens).toEqual({ target: 320, english: 0 })
    expect(stats.epochs.target).toBeCloseTo(320 / (target.flat().length + target.length), 12)
    expect(stats.epochs.target).toBeGreaterThan(3)
    await file.close()
  })

  it('restarts positions at each document and never lets a token attend across a boundary', async () => {
    const dir = tmp()
    const file = await write(join(dir, 't.tokens'), docs(5, 100, (d) => 2 + d))
    const m = new ReplayMixture({ target: file, english: null }, { sequenceLength: 12, englishShare: 0, seed: 3, eos: EOS, documentMasking: true })
    for (const s of await m.batch(6)) {
      for (let i = 0; i < 12; i++) {
        const startsDoc = i === 0 || s.tokens[i - 1] === EOS
        expect(s.segments[i]).toBe(i === 0 ? 0 : s.segments[i - 1]! + (startsDoc ? 1 : 0))
        expect(s.positions[i]).toBe(startsDoc ? 0 : s.positions[i - 1]! + 1)
        // Documents are told apart by their token numbering (document d has tokens 100 + d·10 + …).
        const docOf = (k: number): number => (k < 0 ? -1 : s.tokens[k] === EOS ? docOf(k - 1) : Math.floor((s.tokens[k]! - 101) / 10))
        for (let j = 0; j < 12; j++) {
          const sameDocument = docOf(i) === docOf(j) && !s.tokens.subarray(Math.min(i, j), Math.max(i, j)).includes(EOS)
          if (mayAttend(s.segments, i, j)) expect(sameDocument && j <= i).toBe(true)
          if (sameDocument && j <= i) expect(mayAttend(s.segments, i, j)).toBe(true)
        }
      }
    }
    const plain = new ReplayMixture({ target: file, english: null }, { sequenceLength: 12, englishShare: 0, seed: 3, eos: EOS, documentMasking: false })
    const p = await plain.next()
    expect(Array.from(p.segments)).toEqual(new Array(12).fill(0))
    expect(Array.from(p.positions)).toEqual(Array.from({ length: 12 }, (_, i) => i))
    await file.close()
  })

  it('draws each sequence’s language from PCG32 (seed, 1) and keeps each stream in its own order', async () => {
    const dir = tmp()
    const target = docs(9, 100, (d) => 3 + (d % 4))
    const english = docs(6, 500, (d) => 2 + (d % 3))
    const t = await write(join(dir, 't.tokens'), target)
    const e = await write(join(dir, 'e.tokens'), english)
    const m = new ReplayMixture({ target: t, english: e }, { sequenceLength: 8, englishShare: 0.25, seed: 42, eos: EOS, documentMasking: true })
    const seqs = await m.batch(400)
    const g = new Pcg32(42n, 1)
    expect(seqs.map((s) => s.language)).toEqual(seqs.map(() => (g.float() < 0.25 ? 'english' : 'target')))
    expect(consumed(seqs.filter((s) => s.language === 'target'))).toEqual(expectedStream(target, 42, 2, 100).slice(0, m.stats().tokens.target))
    expect(consumed(seqs.filter((s) => s.language === 'english'))).toEqual(expectedStream(english, 42, 3, 100).slice(0, m.stats().tokens.english))
    const { realisedShare } = m.stats()
    expect(realisedShare).toBeGreaterThan(0.2)
    expect(realisedShare).toBeLessThan(0.3)
    await t.close()
    await e.close()
  })

  it('resumes exactly from a saved state', async () => {
    const dir = tmp()
    const t = await write(join(dir, 't.tokens'), docs(11, 100, (d) => 1 + ((d * 7) % 13)))
    const e = await write(join(dir, 'e.tokens'), docs(4, 500, (d) => 5 + d))
    const opts = { sequenceLength: 10, englishShare: 0.5, seed: 5, eos: EOS, documentMasking: true, readAhead: 16 }
    const whole = new ReplayMixture({ target: t, english: e }, opts)
    const all = await whole.batch(60)
    const first = new ReplayMixture({ target: t, english: e }, opts)
    await first.batch(23)
    const saved = JSON.parse(JSON.stringify(first.state()))
    const resumed = new ReplayMixture({ target: t, english: e }, opts, saved)
    const rest = await resumed.batch(37)
    expect(rest.map((s) => [s.language, Array.from(s.tokens), Array.from(s.segments), Array.from(s.positions)])).toEqual(
      all.slice(23).map((s) => [s.language, Array.from(s.tokens), Array.from(s.segments), Array.from(s.positions)]),
    )
    expect(resumed.stats()).toEqual(whole.stats())
    await t.close()
    await e.close()
  })

  it('refuses a replay share without English text, and a share outside [0, 1]', async () => {
    const dir = tmp()
    const t = await write(join(dir, 't.tokens'), docs(3, 100, () => 4))
    expect(() => new ReplayMixture({ target: t, english: null }, { sequenceLength: 8, englishShare: 0.25, seed: 1, eos: EOS, documentMasking: true })).toThrow(/no English training text/)
    expect(() => new ReplayMixture({ target: t, english: null }, { sequenceLength: 8, englishShare: 1.5, seed: 1, eos: EOS, documentMasking: true })).toThrow(/from 0 to 1/)
    await t.close()
  })
})
