import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Variable } from '@tensorflow/tfjs-core'
import { main } from '../../../main/cli/index'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import type { SampleResult } from '../../../main/engine/contract'
import { parseModelConfig } from '../../../main/engine/model/config'
import { generate } from '../../../main/engine/model/generate'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { CausalLM } from '../../../main/engine/model/model'
import { embeddingName } from '../../../main/engine/model/names'
import { demoPrompts, samplePrompts, sampleText, specialIds } from '../../../main/engine/model/samples'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES } from '../tokenizer/fixtures'

// Samples with GPT-2's real tokenizer (the demo base tokenizer: 50,257 ids, <|endoftext|> = 50256
// as BOS and EOS) on a small random GPT-2 whose embedding matrix is padded to a multiple of 64
// (50,304 rows), as `model resize --pad-multiple 64` leaves one.
const tmp = useTmp()
const EOT = 50256
const PADDED = { model_type: 'gpt2', vocab_size: 50304, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 256, bos_token_id: EOT, eos_token_id: EOT }

let tf: Tf
let tok: Tokenizer
beforeAll(async () => {
  tf = (await selectBackend({ requested: 'wasm' })).tf
  tok = await Tokenizer.fromFile(TOKENIZER_FILES.gpt2)
})

/** The padded GPT-2, its (tied) head rows `rows` scaled by `factor` so that they win every argmax. */
async function paddedModel(rows: number[], factor = 400): Promise<CausalLM> {
  const model = CausalLM.init(tf, parseModelConfig(PADDED, 'config.json'), 3)
  const wte = model.params.get(embeddingName(model.config)) as Variable
  const data = ((await wte.data()) as Float32Array).slice()
  const D = model.config.hiddenSize
  for (const r of rows) for (let d = 0; d < D; d++) data[r * D + d] = factor * (data[r * D + d] as number)
  const t = tf.tensor(data, wte.shape)
  wte.assign(t)
  t.dispose()
  return model
}

const PADDING = Array.from({ length: 50304 - 50257 }, (_, i) => 50257 + i)

describe('sampleText', () => {
  it('never samples the padding rows, greedy or top-p, and decodes the continuation after the prompt', async () => {
    const model = await paddedModel(PADDING)
    try {
      // Without the tokenizer's limit the padding rows win.
      const raw = await generate(model, [EOT, ...tok.encode('Hello')], { maxTokens: 10 })
      expect(raw.tokens.every((id) => id >= 50257)).toBe(true)
      expect(await specialIds(model, tok)).toEqual({ prefix: EOT, stop: [EOT] })
      const before = tf.memory().numTensors
      for (const opts of [{ maxTokens: 24 }, { maxTokens: 24, topP: 0.95, temperature: 1.5, seed: 4 }]) {
        const r = await sampleText(model, tok, 'To save the document', opts)
        expect(r.promptTokens).toEqual([EOT, ...tok.encode('To save the document')])
        expect(r.tokens).toHaveLength(24)
        expect(Math.max(...r.tokens)).toBeLessThan(50257)
        expect(r.finishReason).toBe('max-tokens')
        expect(r.text).toBe(tok.decode(r.tokens, { skipSpecialTokens: true }))
        expect(r.text.length).toBeGreaterThan(0)
        expect(r.tokensPerSecond).toBeGreaterThan(0)
        expect(r).toMatchObject('topP' in opts ? { topP: 0.95, temperature: 1.5, seed: 4 } : { topP: null, temperature: null, seed: null })
      }
      expect(tf.memory().numTensors).toBe(before)
    } finally {
      model.dispose()
    }
  })

  it('stops at the EOS, which the text leaves out', async () => {
    const model = await paddedModel([EOT])
    try {
      const r = await sampleText(model, tok, 'Hello', { maxTokens: 10 })
      expect(r).toMatchObject({ tokens: [EOT], finishReason: 'eos', text: '' })
    } finally {
      model.dispose()
    }
  })

  it('reads a SentencePiece prompt after <s>, stops at </s>, and keeps the space a continuation begins with', async () => {
    const llamaTok = await Tokenizer.fromFile(TOKENIZER_FILES.llama2)
    const config = { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, bos_token_id: 1, eos_token_id: 2 }
    const model = CausalLM.init(tf, parseModelConfig(config, 'config.json'), 2, 0.5)
    try {
      expect(await specialIds(model, llamaTok)).toEqual({ prefix: 1, stop: [2] })
      const r = await sampleText(model, llamaTok, 'Budapest is', { maxTokens: 12, topP: 0.9, seed: 3 })
      expect(r.promptTokens).toEqual([1, ...llamaTok.encode('Budapest is')])
      const skip = { skipSpecialTokens: true }
      expect(llamaTok.decode(r.promptTokens, skip) + r.text).toBe(llamaTok.decode([...r.promptTokens, ...r.tokens], skip))
    } finally {
      model.dispose()
    }
  })

  it('refuses a tokenizer with more ids than the model has rows', async () => {
    const small = CausalLM.init(tf, parseModelConfig({ ...PADDED, vocab_size: 50000 }, 'config.json'), 1)
    try {
      await expect(sampleText(small, tok, 'Hello', { maxTokens: 2 })).rejects.toThrow(/50257 tokens but the model has only 50000 embedding rows/)
    } finally {
      small.dispose()
    }
  })
})

describe('demo prompts and samples per checkpoint', () => {
  it('has at least four prompts for each of Hungarian, Thai and English, with unique ids', async () => {
    const all = await demoPrompts()
    for (const lang of ['hu', 'th', 'en']) {
      const ps = all.filter((p) => p.lang === lang)
      expect(ps.length, lang).toBeGreaterThanOrEqual(4)
      for (const p of ps) {
        expect(p.id.startsWith(`${lang}-`)).toBe(true)
        expect(p.text.trim()).toBe(p.text)
        expect(p.text.length).toBeGreaterThan(10)
      }
    }
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length)
    expect((await demoPrompts(['hu', 'en'])).map((p) => p.lang)).toEqual(['hu', 'hu', 'hu', 'hu', 'en', 'en', 'en', 'en'])
    expect(await demoPrompts(['xx'])).toEqual([])
  })

  it('continues each prompt greedily and top-p, the same way every time', async () => {
    const model = await paddedModel(PADDING)
    try {
      const prompts = await demoPrompts(['hu', 'th'])
      const progress: number[] = []
      const a = await samplePrompts(model, tok, prompts, { maxTokens: 8, seed: 1 }, { onProgress: (done) => progress.push(done) })
      expect(progress).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
      expect(a.map((s) => s.prompt.id)).toEqual(prompts.map((p) => p.id))
      for (const s of a) {
        expect(s.greedy.topP).toBeNull()
        expect(s.topP).toMatchObject({ topP: 0.9, temperature: 1, seed: 1 })
        expect(s.greedy.tokens).toHaveLength(8)
        expect(Math.max(...s.greedy.tokens, ...s.topP.tokens)).toBeLessThan(50257)
      }
      // One prompt alone gives what it gave among the others: each starts from the seed.
      const b = await samplePrompts(model, tok, prompts.slice(3, 4), { maxTokens: 8, seed: 1 })
      expect(b[0]?.topP.tokens).toEqual(a[3]?.topP.tokens)
      expect(b[0]?.greedy.tokens).toEqual(a[3]?.greedy.tokens)
    } finally {
      model.dispose()
    }
  })
})

describe('vernacular sample', () => {
  let dir: string
  let out: string[]
  const run = async (...argv: string[]) => {
    out = []
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true))
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      return await main(argv)
    } finally {
      write.mockRestore()
      err.mockRestore()
    }
  }
  const saved = process.env.VERNACULAR_BACKEND
  beforeAll(() => {
    process.env.VERNACULAR_BACKEND = 'wasm'
  })
  afterAll(() => {
    if (saved === undefined) delete process.env.VERNACULAR_BACKEND
    else process.env.VERNACULAR_BACKEND = saved
  })

  it('prints one JSON document with --json, the prompt and continuation without, and words bad flags', async () => {
    dir = tmp()
    await writeInitialisedModel(dir, parseModelConfig(PADDED, 'config.json'), { seed: 5, std: 0.5 })
    await fs.copyFile(TOKENIZER_FILES.gpt2, join(dir, 'tokenizer.json'))
    const args = ['sample', '--model', dir, '--tokenizer', join(dir, 'tokenizer.json'), '--prompt', 'In the beginning']
    expect(await run(...args, '--max-tokens', '12', '--top-p', '0.9', '--seed', '3', '--json')).toBe(0)
    const r = JSON.parse(out.join('')) as SampleResult
    expect(r).toMatchObject({ prompt: 'In the beginning', topP: 0.9, temperature: 1, seed: 3 })
    expect(r.tokens.length).toBeGreaterThan(0)
    expect(r.tokens.length).toBeLessThanOrEqual(12)
    expect(Math.max(...r.tokens)).toBeLessThan(50257)
    expect(['eos', 'max-tokens']).toContain(r.finishReason)
    expect(typeof r.text).toBe('string')
    expect(r.tokensPerSecond).toBeGreaterThan(0)
    // The same seed gives the same sample.
    expect(await run(...args, '--max-tokens', '12', '--top-p', '0.9', '--seed', '3', '--json')).toBe(0)
    expect((JSON.parse(out.join('')) as SampleResult).tokens).toEqual(r.tokens)

    expect(await run(...args, '--max-tokens', '5')).toBe(0)
    const text = out.join('')
    expect(text).toMatch(/^Prompt:\n {2}In the beginning\nContinuation:\n/)
    expect(text).toMatch(/greedy; (stopped at --max-tokens|ended by the end-of-sequence token)\./)

    expect(await run(...args, '--top-p', '1.5')).toBe(2)
    expect(await run('sample', '--model', dir, '--tokenizer', join(dir, 'tokenizer.json'))).toBe(2)
  })
})
