import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mulberry32 } from '../../../main/engine/common/rng'
import { countWords } from '../../../main/engine/tokenizer/extend'
import { extendFiles } from '../../../main/engine/tokenizer/operations'
import { learnContinuedBpe } from '../../../main/engine/tokenizer/learn'
import type { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { CappedCounts, sampleBlockBytes, sampleFileLines } from '../../../main/engine/tokenizer/wordcount'
import { TOKENIZER_FILES, demoText, ours } from './fixtures'

// Word counts in bounded memory (wordcount.ts; docs/performance.md, "Tokenizer learning").

const tmp = mkdtempSync(join(tmpdir(), 'vernacular-wordcount-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const l of lines) out.push(l)
  return out
}

describe('a capped table of word counts', () => {
  it('never holds more words than its budget, and keeps frequent words exactly', () => {
    const rand = mulberry32(3)
    const table = new CappedCounts(1000)
    const exact = new Map<string, number>()
    for (let i = 0; i < 200_000; i++) {
      // a few frequent words among a long tail of rare ones
      const w = rand() < 0.5 ? `common${Math.floor(rand() * 20)}` : `rare${Math.floor(rand() * 1e6)}`
      table.add(w)
      exact.set(w, (exact.get(w) ?? 0) + 1)
      expect(table.size).toBeLessThanOrEqual(1000)
    }
    expect(table.prunes).toBeGreaterThan(0)
    for (let k = 0; k < 20; k++) expect(table.get(`common${k}`)).toBe(exact.get(`common${k}`))
  })

  it('counts exactly when the words fit, and drops the rarest first when they do not, deterministically', async () => {
    const tok = ours('llama2')
    const lines = demoText('hu').train
    const full = await countWords(tok, lines, undefined, undefined, { maxWords: 1e9 })
    expect(full.stats!.prunedWords).toBe(0)
    const capped = await countWords(tok, lines, undefined, undefined, { maxWords: 10_000 })
    expect(capped.counts.size).toBeLessThanOrEqual(10_000)
    expect(capped.stats!.prunes).toBeGreaterThan(0)
    // the 1,000 most frequent words survive; a word loses at most what it had when a prune dropped it
    const top = [...full.counts].sort((a, b) => b[1] - a[1]).slice(0, 1000)
    const st = capped.stats!
    for (const [w, c] of top) {
      expect(capped.counts.get(w)).toBeLessThanOrEqual(c)
      expect(capped.counts.get(w)).toBeGreaterThanOrEqual(c - st.prunes * st.pruneFloor)
    }
    // deterministic
    const again = await countWords(tok, lines, undefined, undefined, { maxWords: 10_000 })
    expect([...again.counts]).toEqual([...capped.counts])
  })
})

describe('a seeded sample of a large file', () => {
  let file: string
  let lines: string[]
  beforeAll(() => {
    // 8 MiB of numbered lines, so that where each sampled line came from is known
    const rand = mulberry32(5)
    lines = []
    let bytes = 0
    let i = 0
    for (; bytes < 8 * 1024 * 1024 - 1000; i++) {
      const line = `${i} ${'ab cd ef gh ij '.repeat(1 + Math.floor(rand() * 20))}ő`
      lines.push(line)
      bytes += Buffer.byteLength(line) + 1
    }
    lines.push(`${i} ${'x'.repeat(8 * 1024 * 1024 - bytes - 2 - String(i).length)}`) // exactly 8 MiB: whole blocks
    file = join(tmp, 'big.txt')
    writeFileSync(file, lines.join('\n') + '\n')
  })

  it('reads whole lines, about the budget, the same for the same seed', async () => {
    const a = await sampleFileLines([file], { sampleBytes: 2 * 1024 * 1024, seed: 1 })
    expect(a.sampled).toBe(true)
    const got = await collect(a.lines)
    const bytes = got.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)
    expect(Math.abs(bytes - 2 * 1024 * 1024)).toBeLessThan(sampleBlockBytes(a.corpusBytes) + 4096)
    for (const l of got) expect(lines[Number(l.split(' ')[0])]).toBe(l)
    // no line twice, in file order
    const ids = got.map((l) => Number(l.split(' ')[0]))
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!)
    const b = await collect((await sampleFileLines([file], { sampleBytes: 2 * 1024 * 1024, seed: 1 })).lines)
    expect(b).toEqual(got)
    const c = await collect((await sampleFileLines([file], { sampleBytes: 2 * 1024 * 1024, seed: 2 })).lines)
    expect(c).not.toEqual(got)
  })

  it('draws from the whole file, not its start', async () => {
    const got = await collect((await sampleFileLines([file], { sampleBytes: 2 * 1024 * 1024 })).lines)
    const ids = got.map((l) => Number(l.split(' ')[0]) / lines.length)
    const quarters = [0, 0, 0, 0]
    for (const x of ids) quarters[Math.min(3, Math.floor(x * 4))]!++
    for (const q of quarters) expect(q).toBeGreaterThan(ids.length / 10)
  })

  it('partitions the lines among the blocks: every line once when the budget is the whole file', async () => {
    const all = await collect((await sampleFileLines([file], { sampleBytes: 8 * 1024 * 1024 - 1 })).lines)
    expect(all).toEqual(lines)
  })

  it('reads everything, as before, when the corpus fits the budget', async () => {
    const r = await sampleFileLines([file], { sampleBytes: 64 * 1024 * 1024 })
    expect(r.sampled).toBe(false)
    expect(await collect(r.lines)).toEqual(readFileSync(file, 'utf8').trimEnd().split('\n'))
  })
})

describe('the merges learned under a budget', () => {
  const learn = async (tok: Tokenizer, maxWords: number) => {
    const words = await countWords(tok, demoText('hu').train, undefined, undefined, { maxWords })
    return { words, tokens: (await learnContinuedBpe(tok.model, words.counts, tok.vocabSize, { maxTokens: 5000 })).tokens.map((t) => t.token) }
  }

  it('overlap those of a full count on the demo corpus (Llama 2, top 5,000, a cap of ~40% of the distinct words)', async () => {
    const tok = ours('llama2')
    const full = await learn(tok, 1e9)
    const capped = await learn(tok, 20_000)
    expect(full.words.counts.size).toBeGreaterThan(40_000)
    expect(capped.words.counts.size).toBeLessThanOrEqual(20_000)
    const top = new Set(full.tokens)
    const same = capped.tokens.filter((t) => top.has(t)).length
    // measured 85.5% (docs/performance.md)
    expect(same / full.tokens.length).toBeGreaterThan(0.8)
    // and the same again for the same input
    expect((await learn(tok, 20_000)).tokens).toEqual(capped.tokens)
  })
})

describe('progress of an extension', () => {
  it('only grows, from counting through learning, and the sample is what it counts', async () => {
    const file = join(tmp, 'hu.txt')
    const lines = demoText('hu').train
    writeFileSync(file, lines.join('\n') + '\n')
    const fractions: number[] = []
    const ctx = { progress: (p: { fraction?: number }) => void (p.fraction !== undefined && fractions.push(p.fraction)), signal: new AbortController().signal, log: () => undefined }
    const summary = await extendFiles({ base: TOKENIZER_FILES.llama2, corpus: [file], mode: 'add', count: 2000, out: join(tmp, 'out'), budget: { sampleBytes: 1024 * 1024, maxWords: 20_000 } }, ctx)
    expect(summary.added).toBe(2000)
    expect(summary.corpus.distinctWords).toBeLessThanOrEqual(20_000)
    expect(summary.corpus.bytes).toBeLessThan(1.2 * 1024 * 1024)
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!)
    expect(fractions.at(-1)).toBeGreaterThanOrEqual(0.95)
    // counting words and learning both report several times
    expect(new Set(fractions).size).toBeGreaterThan(5)
  })
})
