import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vocabFingerprint } from '../../../main/engine/common/fingerprint'
import { chooseRemovals, countTokens, countWords, extendTokenizer, prefixTokenizer, protectedTokens, type ExtendResult } from '../../../main/engine/tokenizer/extend'
import { fertility } from '../../../main/engine/tokenizer/fertility'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { demoText, hf, hfEncode, ours, type TokenizerName } from './fixtures'

// Continued BPE on the demo corpora with real base tokenizers, checked against Hugging Face's
// encoder, with the figures the issue asks for.

const tmp = mkdtempSync(join(tmpdir(), 'vernacular-extend-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** Raw text whose only pre-token is `word` (the learner's words are in the model's alphabet). */
function rawText(tok: Tokenizer, word: string): string {
  if (tok.byteLevel) {
    // every character of a byte-level word is one byte of the alphabet
    const bytes = [...word].flatMap((ch) => Array.from(tok.tokenBytes(tok.model.vocab.get(ch)!)))
    return new TextDecoder().decode(Uint8Array.from(bytes))
  }
  // SentencePiece style: the normalizer prepends ▁ and turns spaces into ▁
  return word.slice(1).split('▁').join(' ')
}

async function extend(name: TokenizerName, lang: 'hu' | 'th', mode: 'add' | 'replace', count: number): Promise<{ base: Tokenizer; r: ExtendResult; words: Map<string, number> }> {
  const base = ours(name)
  const words = await countWords(base, demoText(lang).train)
  const reference = mode === 'replace' ? await countTokens(base, [...demoText('en').train, ...demoText(lang).train]) : undefined
  const r = await extendTokenizer(base, words, { mode, count, ...(reference ? { reference } : {}) })
  return { base, r, words: words.counts }
}

const tokensPerWord = async (tok: Tokenizer, lines: string[], lang: string) => (await fertility(tok, lines, lang)).tokensPerWord

describe.each(['llama2', 'gpt2'] as const)('add 5000 Hungarian tokens to %s', (name) => {
  let base: Tokenizer
  let r: ExtendResult
  let words: Map<string, number>
  let file: string
  beforeAll(async () => {
    ;({ base, r, words } = await extend(name, 'hu', 'add', 5000))
    file = join(tmp, `${name}-add.json`)
    writeFileSync(file, r.json)
  }, 60_000)

  it('grows the vocabulary by exactly 5000 ids after all existing ones', () => {
    expect(r.changes.added).toHaveLength(5000)
    expect(r.tokenizer.vocabSize).toBe(base.vocabSize + 5000)
    expect(r.changes.added.map((a) => a.id)).toEqual(Array.from({ length: 5000 }, (_, i) => base.vocabSize + i))
    for (const t of base.added) expect(r.tokenizer.tokenToId(t.content)).toBe(t.id)
  })

  it('is a tokenizer.json that Hugging Face loads and encodes every training word with exactly the learned segmentation', async () => {
    const ref = hf(file)
    expect(ref.getVocabSize(true)).toBe(base.vocabSize + 5000)
    const list = [...words.keys()]
    const texts = list.map((w) => rawText(base, w))
    const got = await hfEncode(ref, texts)
    const wrong = list.filter((w, i) => got[i]!.join(',') !== r.learn.segment(w).join(','))
    expect(wrong.length).toBe(0)
  })

  it('uses at least 95% of the new tokens when encoding the training corpus', () => {
    const used = new Set<number>()
    for (const line of demoText('hu').train) for (const id of r.tokenizer.encode(line)) used.add(id)
    const share = r.changes.added.filter((a) => used.has(a.id)).length / 5000
    expect(share).toBeGreaterThanOrEqual(0.95)
  })

  it('never makes a held-out line of English, Hungarian or Thai longer', () => {
    for (const lang of ['en', 'hu', 'th'] as const) {
      const longer = demoText(lang).heldout.filter((l) => r.tokenizer.encode(l).length > base.encode(l).length)
      expect(longer).toEqual([])
    }
  })

  it('cuts Hungarian held-out tokens per word by at least 40%', async () => {
    const before = await tokensPerWord(base, demoText('hu').heldout, 'hu')
    const after = await tokensPerWord(r.tokenizer, demoText('hu').heldout, 'hu')
    expect(after).toBeLessThan(before * 0.6)
  })

  it('fingerprints the base and the new vocabulary', () => {
    expect(r.changes.base.vocabSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(r.changes.tokenizer.vocabSha256).not.toBe(r.changes.base.vocabSha256)
    expect(vocabFingerprint(Tokenizer.fromJSON(JSON.stringify(base.json)))).toBe(r.changes.base.vocabSha256)
  })

  it('records how the base splits each new token, and the merge that makes it', () => {
    for (const a of r.changes.added.slice(0, 500)) {
      expect(a.decomposition.length).toBeGreaterThanOrEqual(a.kind === 'char' ? 1 : 2)
      const bytes = a.decomposition.flatMap((id) => Array.from(base.tokenBytes(id)))
      expect(bytes).toEqual(a.bytes)
      if (a.merge) {
        const joined = [...r.tokenizer.tokenBytes(a.merge[0]), ...r.tokenizer.tokenBytes(a.merge[1])]
        expect(joined).toEqual(a.bytes)
      }
    }
  })
})

describe('add 2000 Thai tokens to the Llama 2 tokenizer', () => {
  it('adds the Thai characters it lacked and cuts tokens per character by at least 60%', async () => {
    const { base, r } = await extend('llama2', 'th', 'add', 2000)
    const chars = r.changes.added.filter((a) => a.kind === 'char')
    expect(chars.length).toBeGreaterThan(0)
    for (const c of chars) expect(c.decomposition.every((id) => /^<0x[0-9A-F]{2}>$/.test(base.idToToken(id)!))).toBe(true)
    const before = await fertility(base, demoText('th').heldout, 'th')
    const after = await fertility(r.tokenizer, demoText('th').heldout, 'th')
    expect(1 / after.charsPerToken).toBeLessThan((1 / before.charsPerToken) * 0.4)
  }, 60_000)
})

describe('replace 5000 Llama 2 tokens with Hungarian ones', () => {
  let base: Tokenizer
  let r: ExtendResult
  beforeAll(async () => {
    ;({ base, r } = await extend('llama2', 'hu', 'replace', 5000))
  }, 60_000)

  it('keeps the vocabulary size and reuses exactly the freed ids', () => {
    expect(r.tokenizer.vocabSize).toBe(base.vocabSize)
    expect(r.changes.removed).toHaveLength(5000)
    expect(new Set(r.changes.added.map((a) => a.id))).toEqual(new Set(r.changes.removed.map((x) => x.id)))
    expect(r.changes.idMap).toHaveLength(5000)
    const ids = [...r.tokenizer.model.vocab.values()].sort((a, b) => a - b)
    expect(ids).toEqual(Array.from({ length: base.vocabSize }, (_, i) => i))
  })

  it('never removes special, byte or single-character tokens', () => {
    const keep = protectedTokens(base)
    for (const x of r.changes.removed) {
      expect(keep.has(x.id)).toBe(false)
      expect([...x.text].length).toBeGreaterThan(1)
    }
    for (const t of base.added) expect(r.tokenizer.idToToken(t.id)).toBe(t.content)
  })

  it('writes a tokenizer.json Hugging Face loads and encodes as we do', async () => {
    const file = join(tmp, 'llama2-replace.json')
    writeFileSync(file, r.json)
    const ref = hf(file)
    const lines = [...demoText('hu').heldout, ...demoText('en').heldout.slice(0, 300)]
    const got = await hfEncode(ref, lines)
    expect(lines.filter((l, i) => r.tokenizer.encode(l).join(',') !== got[i]!.join(','))).toEqual([])
    const decoded = await ref.decodeBatch(got, false)
    expect(got.filter((ids, i) => r.tokenizer.decode(ids) !== decoded[i])).toEqual([])
  })

  it('raises English held-out tokens per word by under 1%', async () => {
    const before = await tokensPerWord(base, demoText('en').heldout, 'en')
    const after = await tokensPerWord(r.tokenizer, demoText('en').heldout, 'en')
    expect(after).toBeLessThan(before * 1.01)
  })

  it('frees leaves of the merge graph only: every remaining merge is still valid', () => {
    // the model constructor checks every merge's operands and result; here: no merge names a removed token
    const removed = new Set(r.changes.removed.map((x) => x.token))
    const learned = new Set(r.changes.added.map((x) => x.token))
    for (const [a, b] of r.tokenizer.model.mergeList) {
      const sa = r.tokenizer.model.tokens[a]!
      const sb = r.tokenizer.model.tokens[b]!
      expect((removed.has(sa) && !learned.has(sa)) || (removed.has(sb) && !learned.has(sb))).toBe(false)
    }
  })
})

describe('bad requests', () => {
  it('says how many tokens the corpus can yield when asked for more', async () => {
    const base = ours('llama2')
    const words = await countWords(base, demoText('hu').train.slice(0, 20))
    await expect(extendTokenizer(base, words, { mode: 'add', count: 50_000 })).rejects.toThrow(/yields only \d+ new tokens/)
  })

  it('refuses an empty corpus', async () => {
    const base = ours('gpt2')
    const words = await countWords(base, [])
    await expect(extendTokenizer(base, words, { mode: 'add', count: 10 })).rejects.toThrow(/empty/)
  })

  it('says how many base tokens can be freed when asked for more', async () => {
    const base = ours('gpt2')
    const ref = await countTokens(base, demoText('en').heldout)
    const n = chooseRemovals(base, ref.freq, 1_000_000).length
    expect(n).toBeGreaterThan(1000)
    expect(n).toBeLessThan(base.vocabSize)
  })
})

describe('sweep prefixes', () => {
  it('a prefix of the learned list is the tokenizer that add-mode with that count writes', async () => {
    const base = ours('gpt2')
    const words = await countWords(base, demoText('hu').train)
    const full = await extendTokenizer(base, words, { mode: 'add', count: 2000 })
    const small = await extendTokenizer(base, words, { mode: 'add', count: 500 })
    // The base has encoded these lines first, so a cache shared with it would give the base's ids.
    for (const l of demoText('hu').heldout) base.encode(l)
    const prefix = prefixTokenizer(base, full.learn, 500)
    for (const l of demoText('hu').heldout) expect(prefix.encode(l)).toEqual(small.tokenizer.encode(l))
  }, 60_000)
})

describe.each(['llama3', 'qwen3'] as const)('add 1000 Hungarian tokens to %s', (name) => {
  it('writes merges in the base format and encodes like Hugging Face (ignore_merges, list-form merges)', async () => {
    const base = ours(name)
    const train = demoText('hu').train.slice(0, 10_000)
    const words = await countWords(base, train)
    const r = await extendTokenizer(base, words, { mode: 'add', count: 1000 })
    const file = join(tmp, `${name}-add.json`)
    writeFileSync(file, r.json)
    const merges = (JSON.parse(r.json) as { model: { merges: unknown[] } }).model.merges
    expect(typeof merges[merges.length - 1]).toBe(name === 'qwen3' ? 'object' : 'string')
    // new ids start after the added (special) tokens
    expect(r.changes.added[0]!.id).toBe(base.vocabSize)
    const ref = hf(file)
    // special tokens keep their ids (Hugging Face assigns added tokens' ids itself)
    for (const t of base.added) expect(ref.tokenToId(t.content)).toBe(t.id)
    expect(ref.getVocabSize(true)).toBe(base.vocabSize + 1000)
    const lines = ['<|begin_of_text|>Szia<|end_of_text|>', '<|im_start|>user\nSzia<|im_end|>', ...demoText('hu').heldout, ...demoText('en').heldout.slice(0, 200)]
    const got = await hfEncode(ref, lines)
    expect(lines.filter((l, i) => r.tokenizer.encode(l).join(',') !== got[i]!.join(','))).toEqual([])
    const decoded = await ref.decodeBatch(got, false)
    expect(got.filter((ids, i) => r.tokenizer.decode(ids) !== decoded[i])).toEqual([])
    const list = [...words.counts.keys()]
    const seg = await hfEncode(ref, list.map((w) => rawText(base, w)))
    expect(list.filter((w, i) => seg[i]!.join(',') !== r.learn.segment(w).join(','))).toEqual([])
  }, 60_000)
})
