import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Variable } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { KvCache, generate, lastLogits, tokenPicker } from '../../../main/engine/model/generate'
import { CausalLM } from '../../../main/engine/model/model'
import { HEAD_NAME, embeddingName } from '../../../main/engine/model/names'
import { explicitTranspose } from '../../../main/engine/model/ops'

// Generation with a KV cache on the golden fixtures (tiny random-weight Hugging Face folders, see
// fixtures/README.md): every family and variant the forward passes implement. The cached prefill
// and one-token steps must give the logits of a full forward pass (ours, and the PyTorch
// reference's in expected.json), and greedy generation the same tokens with and without the cache.
const FIXTURES = join(__dirname, 'fixtures')
const NAMES = ['gpt2', 'gpt2-f16-noprefix', 'llama', 'qwen2', 'mistral-bf16', 'llama3-sharded', 'qwen3', 'llama-linear-rope'] as const

let tf: Tf
beforeAll(async () => {
  tf = (await selectBackend({ requested: 'wasm' })).tf
})

async function load(name: string): Promise<CausalLM> {
  return CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)), { trainable: false })
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

/** The gap between the largest and second-largest logit: how safe an argmax comparison is. */
function topGap(logits: Float32Array): number {
  let a = -Infinity
  let b = -Infinity
  for (const v of logits) {
    if (v > a) [a, b] = [v, a]
    else if (v > b) b = v
  }
  return a - b
}

describe.each(NAMES)('%s', (name) => {
  it('gives the logits of a full forward pass, and of the PyTorch reference, from the prefill and each one-token step (within 1e-4)', async () => {
    const model = await load(name)
    const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as { ids: number[][]; logits: number[][][] }
    const cache = new KvCache(model)
    try {
      for (const row of [0, 1]) {
        const ids = exp.ids[row] as number[]
        const split = 4
        // Prefill over the first `split` ids, then one id at a time.
        const steps = [await cache.feed(ids.slice(0, split))]
        for (let t = split; t < ids.length; t++) steps.push(await cache.feed([ids[t] as number]))
        expect(cache.length).toBe(ids.length)
        for (let s = 0; s < steps.length; s++) {
          const t = split - 1 + s
          const got = steps[s] as Float32Array
          expect(maxAbsDiff(got, await lastLogits(model, ids.slice(0, t + 1))), `row ${row}, position ${t}: ours uncached`).toBeLessThan(1e-4)
          expect(maxAbsDiff(got, exp.logits[row]?.[t] as number[]), `row ${row}, position ${t}: reference`).toBeLessThan(1e-4)
        }
        cache.dispose()
        expect(cache.length).toBe(0)
      }
    } finally {
      cache.dispose()
      model.dispose()
    }
  })

  it('generates the same tokens greedily with and without the cache, up to the positions the model has', async () => {
    const model = await load(name)
    try {
      const prompt = [1, 17, 42, 5, 63]
      const cached = await generate(model, prompt, { maxTokens: 1000 })
      const uncached = await generate(model, prompt, { maxTokens: 1000, cache: false })
      expect(cached.tokens).toEqual(uncached.tokens)
      expect(cached.finishReason).toBe('max-positions')
      expect(uncached.finishReason).toBe('max-positions')
      expect(prompt.length + cached.tokens.length).toBe(model.maxSequence)
      // The comparison means something only if no step was a near tie.
      const seq = [...prompt]
      let gap = Infinity
      for (const id of cached.tokens.slice(0, 20)) {
        gap = Math.min(gap, topGap(await lastLogits(model, seq)))
        seq.push(id)
      }
      expect(gap).toBeGreaterThan(1e-4)
    } finally {
      model.dispose()
    }
  })
})

describe('generation', () => {
  it('holds the same number of tensors after every step (nothing leaks), and none once disposed', async () => {
    const model = await load('llama')
    try {
      const before = tf.memory().numTensors
      const cache = new KvCache(model)
      await cache.feed([1, 2, 3, 4])
      const held = tf.memory().numTensors
      // Keys and values per layer, and on wasm the output head transposed.
      expect(held - before).toBe(2 * model.config.numLayers + (explicitTranspose(tf) ? 1 : 0))
      for (let i = 0; i < 20; i++) {
        await cache.feed([(i * 7) % 96])
        expect(tf.memory().numTensors).toBe(held)
      }
      cache.dispose()
      expect(tf.memory().numTensors).toBe(before)
      // Whole generations too, greedy and sampled, cached and not.
      await generate(model, [1, 2, 3], { maxTokens: 20 })
      await generate(model, [1, 2, 3], { maxTokens: 20, topP: 0.9, seed: 3 })
      await generate(model, [1, 2, 3], { maxTokens: 5, cache: false })
      expect(tf.memory().numTensors).toBe(before)
    } finally {
      model.dispose()
    }
  })

  it('samples top-p reproducibly for a seed, and differently for another seed', async () => {
    const model = await load('gpt2')
    try {
      const opts = { maxTokens: 30, topP: 0.95, temperature: 1.5 }
      const a = await generate(model, [1, 5, 9], { ...opts, seed: 7 })
      const b = await generate(model, [1, 5, 9], { ...opts, seed: 7 })
      const c = await generate(model, [1, 5, 9], { ...opts, seed: 8 })
      expect(a.tokens).toHaveLength(30)
      expect(b.tokens).toEqual(a.tokens)
      expect(c.tokens).not.toEqual(a.tokens)
      // Sampled without the cache, the same seed gives the same tokens too.
      expect((await generate(model, [1, 5, 9], { ...opts, seed: 7, cache: false })).tokens).toEqual(a.tokens)
      // A tiny top-p keeps only the most likely token: greedy.
      const greedy = await generate(model, [1, 5, 9], { maxTokens: 30 })
      expect((await generate(model, [1, 5, 9], { maxTokens: 30, topP: 1e-9, seed: 1 })).tokens).toEqual(greedy.tokens)
    } finally {
      model.dispose()
    }
  })

  it('never produces ids at or above the vocabulary limit (padding rows), however large their logits', async () => {
    for (const name of ['llama', 'gpt2'] as const) {
      const model = await load(name)
      try {
        // Make rows 90 … 95 of the output head huge: every position's favourite tokens.
        const head = model.params.get(model.config.tied ? embeddingName(model.config) : HEAD_NAME) as Variable
        const data = (await head.data()) as Float32Array
        const D = model.config.hiddenSize
        const big = data.slice()
        for (let r = 90; r < 96; r++) for (let d = 0; d < D; d++) big[r * D + d] = 50 * (big[r * D + d] as number)
        const bigHead = tf.tensor(big, head.shape)
        head.assign(bigHead)
        bigHead.dispose()
        const unmasked = await generate(model, [1, 2, 3], { maxTokens: 20 })
        expect(unmasked.tokens.some((id) => id >= 90), `${name}: the padding rows win when not masked`).toBe(true)
        for (const opts of [{}, { topP: 1, temperature: 2, seed: 1 }, { topP: 0.9, seed: 2 }]) {
          const g = await generate(model, [1, 2, 3], { maxTokens: 40, vocabLimit: 90, ...opts })
          expect(g.tokens).toHaveLength(40)
          expect(Math.max(...g.tokens), `${name} ${JSON.stringify(opts)}`).toBeLessThan(90)
        }
      } finally {
        model.dispose()
      }
    }
  })

  it('stops at an end-of-sequence id, after max tokens, and refuses a prompt longer than the model takes', async () => {
    const model = await load('qwen3')
    try {
      const free = await generate(model, [1, 2, 3], { maxTokens: 8 })
      expect(free.finishReason).toBe('max-tokens')
      expect(free.tokens).toHaveLength(8)
      const eos = free.tokens[3] as number
      const stopped = await generate(model, [1, 2, 3], { maxTokens: 8, stopIds: [eos] })
      expect(stopped.finishReason).toBe('eos')
      expect(stopped.tokens).toEqual(free.tokens.slice(0, free.tokens.indexOf(eos) + 1))
      expect((await generate(model, [1, 2, 3], { maxTokens: 0 })).tokens).toEqual([])
      // A prompt that fills the context leaves no room; a longer one is refused.
      const full = Array.from({ length: model.maxSequence }, (_, i) => i % 96)
      expect(await generate(model, full, { maxTokens: 5 })).toMatchObject({ tokens: [], finishReason: 'max-positions' })
      await expect(generate(model, [...full, 1], { maxTokens: 5 })).rejects.toThrow(/at most 64 positions/)
      await expect(generate(model, [], { maxTokens: 5 })).rejects.toThrow(/no tokens/)
      // Cancelled between tokens, with the cache freed.
      const before = tf.memory().numTensors
      const ac = new AbortController()
      const cancelled = generate(model, [1, 2, 3], { maxTokens: 50, signal: ac.signal, onToken: (_, n) => n === 3 && ac.abort() })
      await expect(cancelled).rejects.toThrow(/abort/i)
      expect(tf.memory().numTensors).toBe(before)
      await expect(generate(model, [96], { maxTokens: 5 })).rejects.toThrow(/outside this model's vocabulary/)
    } finally {
      model.dispose()
    }
  })
})

describe('tokenPicker', () => {
  it('takes the largest logit below the limit when greedy (the lowest id of equal ones)', () => {
    expect(tokenPicker()(Float32Array.of(0, 3, 1, 3))).toBe(1)
    expect(tokenPicker({ vocabLimit: 3 })(Float32Array.of(0, 1, 2, 9))).toBe(2)
    expect(tokenPicker()(Float32Array.of(-Infinity, NaN, -1))).toBe(2)
  })

  it('draws from the nucleus in proportion to the probabilities', () => {
    // Probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.75 keeps the first two (0.5 + 0.3 ≥ 0.75).
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05], Math.log)
    const pick = tokenPicker({ topP: 0.75, seed: 123 })
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 20_000; i++) counts[pick(logits)]!++
    expect(counts[2]).toBe(0)
    expect(counts[3]).toBe(0)
    expect((counts[0] as number) / 20_000).toBeCloseTo(0.5 / 0.8, 1)
    // Top-p 1 keeps every token; the temperature flattens the distribution.
    const all = tokenPicker({ topP: 1, seed: 5, temperature: 100 })
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) seen.add(all(logits))
    expect([...seen].sort()).toEqual([0, 1, 2, 3])
  })

  it('finds the same nucleus over a large vocabulary as a full sort does', () => {
    const V = 50_000
    const logits = new Float32Array(V)
    for (let i = 0; i < V; i++) logits[i] = Math.sin(i * 12.9898) * 8
    const a = tokenPicker({ topP: 0.9, seed: 9 })
    const b = tokenPicker({ topP: 0.9, seed: 9 })
    const picks = Array.from({ length: 50 }, () => a(logits))
    expect(Array.from({ length: 50 }, () => b(logits))).toEqual(picks)
    // The nucleus by a full sort: every pick must be in it.
    const probs = Array.from(logits, (x) => Math.exp(x - 8))
    const total = probs.reduce((s, p) => s + p, 0)
    const order = probs.map((p, i) => [p / total, i] as const).sort((x, y) => y[0] - x[0] || x[1] - y[1])
    const nucleus = new Set<number>()
    let mass = 0
    for (const [p, i] of order) {
      if (mass >= 0.9) break
      nucleus.add(i)
      mass += p
    }
    expect(picks.every((id) => nucleus.has(id))).toBe(true)
    expect(new Set(picks).size).toBeGreaterThan(10)
  })
})
