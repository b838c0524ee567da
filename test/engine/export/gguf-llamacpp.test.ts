/**
 * GGUF files we write, read by llama.cpp itself (node-llama-cpp, CPU): the demo base model and the
 * demo base resized for 300 learned Hungarian tokens (GPT-2, byte-level BPE), and a tiny random
 * Llama with the Llama 2 tokenizer extended by learned Hungarian tokens (SentencePiece-style BPE
 * with byte fallback, where llama.cpp merges by score), and the Llama 3 tokenizer (pre-tokenizer
 * `llama-bpe`). llama.cpp must tokenize the demo held-out
 * lines as we do, give the logits we give, and generate greedily what we generate.
 */
import { mkdtempSync, promises as fs, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gguf as readGguf } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Tf, selectBackend } from '../../../main/engine/backend/select'
import type { CardFacts } from '../../../main/engine/export/card'
import { ggufFileBytes, writeGguf } from '../../../main/engine/export/gguf'
import { type GgufDtype, ggufMetadata, ggufTensorShapes, ggufTensors } from '../../../main/engine/export/ggufmodel'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { generate, lastLogits } from '../../../main/engine/model/generate'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { CausalLM } from '../../../main/engine/model/model'
import { resizeModel } from '../../../main/engine/model/resize'
import { extendFiles } from '../../../main/engine/tokenizer/operations'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { TOKENIZER_FILES, demoText } from '../tokenizer/fixtures'

const DEMO_BASE = join(__dirname, '../../../resources/demo/base-model')
const LANGS = ['hu', 'th', 'en'] as const

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>>
let llama: Llama
let tf: Tf
let root: string
let adapted: string
let tinyLlama: string

const facts = (name: string): CardFacts => ({
  projectName: name,
  language: 'hu',
  run: 'main',
  step: 0,
  base: { name: 'demo', hubId: false, modelType: 'gpt2', licence: 'mit' },
  model: { modelType: 'gpt2', parameters: 0, vocabRows: 0, dtype: 'F32', tokenizerVocab: 0 },
  vocabulary: null,
  settings: null,
  tokens: null,
  evaluation: null,
  version: 'test',
  createdAt: new Date(0).toISOString(),
})

/** Writes the model folder `dir` as GGUF in `dtype`; returns the file. */
async function toGguf(dir: string, dtype: GgufDtype): Promise<string> {
  const ckpt = await openCheckpoint(dir)
  const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
  const metadata = ggufMetadata(ckpt.config, tok, facts('test'), dtype)
  const file = join(root, `${dir.split('/').pop()}-${dtype}.gguf`)
  const size = await writeGguf(file, metadata, ggufTensors(ckpt, dtype))
  expect((await fs.stat(file)).size).toBe(size)
  expect(ggufFileBytes(metadata, ggufTensorShapes(ckpt.config, dtype))).toBe(size)
  return file
}

beforeAll(async () => {
  const { getLlama } = await import('node-llama-cpp')
  llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' as never })
  ;({ tf } = await selectBackend({ requested: 'wasm' }))
  root = mkdtempSync(join(tmpdir(), 'vernacular-gguf-'))
  const hu = join(root, 'hu.txt')
  await fs.writeFile(hu, demoText('hu').train.join('\n') + '\n')

  // The demo base with 300 learned Hungarian tokens, rows initialised as the mean of their pieces.
  const tokDir = join(root, 'tok-hu-300')
  await extendFiles({ base: join(DEMO_BASE, 'tokenizer.json'), corpus: [hu], mode: 'add', count: 300, out: tokDir })
  adapted = join(root, 'demo-hu-300')
  await resizeModel(DEMO_BASE, join(tokDir, 'vocab-changes.json'), adapted, { init: 'mean' })

  // A tiny random Llama with the Llama 2 tokenizer extended by 200 learned Hungarian tokens.
  const llamaTok = join(root, 'tok-llama2-hu')
  await extendFiles({ base: TOKENIZER_FILES.llama2, corpus: [hu], mode: 'add', count: 200, out: llamaTok })
  const base = join(root, 'llama-base')
  const vocab = (await Tokenizer.fromFile(TOKENIZER_FILES.llama2)).vocabSize
  const config = { model_type: 'llama', vocab_size: vocab, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, rms_norm_eps: 1e-5, rope_theta: 10000 }
  await writeInitialisedModel(base, parseModelConfig(config, 'config.json'), { seed: 3, std: 0.3 })
  await fs.copyFile(TOKENIZER_FILES.llama2, join(base, 'tokenizer.json'))
  tinyLlama = join(root, 'llama-hu')
  await resizeModel(base, join(llamaTok, 'vocab-changes.json'), tinyLlama, { init: 'mean' })
}, 240_000)

afterAll(async () => {
  await llama?.dispose()
  rmSync(root, { recursive: true, force: true })
})

/** A KV cache in F32 (llama.cpp's default is F16, which would round every key and value), no flash attention. */
const CONTEXT = { contextSize: 128, batchSize: 128, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false } as const

async function ourModel(dir: string): Promise<CausalLM> {
  return CausalLM.load(tf, await openCheckpoint(dir))
}

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity
  for (const v of logits) max = Math.max(max, v)
  let sum = 0
  for (const v of logits) sum += Math.exp(v - max)
  const lse = max + Math.log(sum)
  return Float64Array.from(logits, (v) => v - lse)
}

/** llama.cpp's next-token log-probabilities after `ids` (its probabilities at temperature 0, i.e. the softmax of its logits). */
async function llamaLogProbs(file: string, ids: number[]): Promise<Float64Array> {
  const model = await llama.loadModel({ modelPath: file })
  const context = await model.createContext(CONTEXT)
  try {
    const seq = context.getSequence()
    const input = ids.map((id, i) => (i === ids.length - 1 ? ([id, { generateNext: { probabilities: true } }] as [number, { generateNext: { probabilities: boolean } }]) : id)) as never[]
    const out = await seq.controlledEvaluate(input)
    const probs = (out[ids.length - 1] as { next: { probabilities: Map<number, number> } }).next.probabilities
    const lp = new Float64Array(probs.size).fill(-Infinity)
    for (const [t, p] of probs) lp[t] = Math.log(p)
    return lp
  } finally {
    await context.dispose()
    await model.dispose()
  }
}

/** llama.cpp's greedy continuation of `ids`, `n` tokens: each token fed back with controlledEvaluate, sampling at temperature 0. */
async function llamaGreedy(file: string, ids: number[], n: number): Promise<number[]> {
  const model = await llama.loadModel({ modelPath: file })
  const context = await model.createContext(CONTEXT)
  try {
    const seq = context.getSequence()
    const out: number[] = []
    let input: number[] = ids
    while (out.length < n) {
      const last = input.length - 1
      const items = input.map((id, i) => (i === last ? [id, { generateNext: { token: true, options: { temperature: 0 } } }] : id)) as never[]
      const result = await seq.controlledEvaluate(items)
      const next = (result[last] as { next: { token: number } }).next.token
      out.push(next)
      input = [next]
    }
    return out
  } finally {
    await context.dispose()
    await model.dispose()
  }
}

async function tokenizesAsWe(file: string, tok: Tokenizer) {
  const model = await llama.loadModel({ modelPath: file })
  try {
    let lines = 0
    for (const lang of LANGS) {
      for (const line of demoText(lang).heldout.slice(0, 40)) {
        const ours = tok.encode(line, { addSpecialTokens: false } as never)
        const theirs = Array.from(model.tokenize(line, false), Number)
        expect(theirs, `${lang}: ${line}`).toEqual(ours)
        lines++
      }
    }
    expect(lines).toBeGreaterThan(60)
  } finally {
    await model.dispose()
  }
}

describe('GGUF of GPT-2 in llama.cpp', () => {
  it('the demo base and the adapted model tokenize the held-out lines as we do', async () => {
    for (const dir of [DEMO_BASE, adapted]) await tokenizesAsWe(await toGguf(dir, 'f32'), await Tokenizer.fromFile(join(dir, 'tokenizer.json')))
  }, 120_000)
})

const PROMPT = 'A magyar nyelv az uráli nyelvcsalád tagja, és'

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

/** Our next-token log-probabilities and greedy continuation of the prompt. */
async function ours(dir: string, ids: number[], n: number): Promise<{ lp: Float64Array; greedy: number[] }> {
  const model = await ourModel(dir)
  try {
    const lp = logSoftmax(await lastLogits(model, ids))
    const greedy = (await generate(model, ids, { maxTokens: n })).tokens
    return { lp, greedy }
  } finally {
    model.dispose()
  }
}

describe('GGUF of GPT-2: scores and generation in llama.cpp', () => {
  it('the adapted model: logits at f32 within 2e-3, at f16 and q8_0 within their rounding; greedy 32 tokens equal at f32', async () => {
    const tok = await Tokenizer.fromFile(join(adapted, 'tokenizer.json'))
    const ids = tok.encode(PROMPT)
    expect(ids.some((id) => id >= 8192)).toBe(true) // the prompt uses learned tokens
    const ref = await ours(adapted, ids, 32)
    const f32 = await toGguf(adapted, 'f32')
    // Log-probabilities differ from logits by one constant per position, so comparing them compares the logits.
    // llama.cpp's CPU GELU looks its values up in a table indexed by the input rounded to F16 (ggml's
    // GGML_GELU_FP16), a relative error of up to 2^-11 per activation: F32 agrees to about 6e-4 here, not 1e-5
    // (the Llama model below, with SiLU computed in F32, agrees to 4e-5).
    const d32 = maxAbsDiff(await llamaLogProbs(f32, ids), ref.lp)
    expect(d32).toBeLessThan(2e-3)
    expect(await llamaGreedy(f32, ids, 32)).toEqual(ref.greedy)
    // F16 rounds each weight by at most 2^-11 relative; Q8_0 by up to half a step of max|block|/127:
    // through two layers that moves the log-probabilities of this small model by a few hundredths at most.
    const d16 = maxAbsDiff(await llamaLogProbs(await toGguf(adapted, 'f16'), ids), ref.lp)
    const dq8 = maxAbsDiff(await llamaLogProbs(await toGguf(adapted, 'q8_0'), ids), ref.lp)
    expect(d16).toBeLessThan(2e-2)
    expect(dq8).toBeLessThan(1e-1)
    console.log(`GPT-2 adapted: max |Δ log p| f32 ${d32.toExponential(2)}, f16 ${d16.toExponential(2)}, q8_0 ${dq8.toExponential(2)}`)
  }, 120_000)

  it('the file reads back with its metadata', async () => {
    const file = await toGguf(adapted, 'q8_0')
    const { metadata, tensorInfos } = await readGguf(file, { allowLocalFile: true })
    const tok = await Tokenizer.fromFile(join(adapted, 'tokenizer.json'))
    const m = metadata as unknown as Record<string, unknown>
    expect(m['general.architecture']).toBe('gpt2')
    expect(m['tokenizer.ggml.model']).toBe('gpt2')
    expect(m['tokenizer.ggml.pre']).toBe('gpt-2')
    expect((m['tokenizer.ggml.tokens'] as string[]).length).toBe(tok.vocabSize)
    expect((m['tokenizer.ggml.merges'] as string[]).length).toBe(tok.model.mergeList.length)
    expect(m['tokenizer.ggml.eos_token_id']).toBe(8191)
    expect(m['gpt2.block_count']).toBe(2)
    expect(m['gpt2.embedding_length']).toBe(128)
    const qkv = tensorInfos.find((t) => t.name === 'blk.0.attn_qkv.weight')
    expect(qkv?.shape.map(Number)).toEqual([128, 384])
    expect(qkv?.dtype).toBe(8) // Q8_0
    expect(tensorInfos.find((t) => t.name === 'blk.0.attn_norm.weight')?.dtype).toBe(0) // F32
  }, 60_000)
})

describe('GGUF of Llama with an extended Llama 2 tokenizer in llama.cpp', () => {
  it('tokenizes the held-out lines as we do (merge order by score), scores and generates as we do', async () => {
    const tok = await Tokenizer.fromFile(join(tinyLlama, 'tokenizer.json'))
    const file = await toGguf(tinyLlama, 'f32')
    await tokenizesAsWe(file, tok)
    const line = demoText('hu').heldout.find((l) => tok.encode(l).slice(0, 40).some((id) => id >= 32000)) as string
    const ids = [1, ...tok.encode(line).slice(0, 40)]
    expect(ids.some((id) => id >= 32000)).toBe(true) // the prompt uses learned tokens
    const ref = await ours(tinyLlama, ids, 32)
    // Everything in F32 (weights, KV cache, SiLU): only the order of summation differs.
    const d32 = maxAbsDiff(await llamaLogProbs(file, ids), ref.lp)
    expect(d32).toBeLessThan(1e-4)
    expect(await llamaGreedy(file, ids, 32)).toEqual(ref.greedy)
    console.log(`Llama: max |Δ log p| f32 ${d32.toExponential(2)}`)
  }, 180_000)
})

describe('GGUF with the Llama 3 tokenizer (byte-level BPE, pre-tokenizer llama-bpe) in llama.cpp', () => {
  it('tokenizes the held-out lines as we do', async () => {
    const dir = join(root, 'llama3-tiny')
    const vocab = (await Tokenizer.fromFile(TOKENIZER_FILES.llama3)).vocabSize
    const config = { model_type: 'llama', vocab_size: vocab, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true, bos_token_id: 128000, eos_token_id: 128001 }
    await writeInitialisedModel(dir, parseModelConfig(config, 'config.json'), { seed: 4, std: 0.02 })
    await fs.copyFile(TOKENIZER_FILES.llama3, join(dir, 'tokenizer.json'))
    const file = await toGguf(dir, 'f16')
    const { metadata } = await readGguf(file, { allowLocalFile: true })
    expect((metadata as unknown as Record<string, unknown>)['tokenizer.ggml.pre']).toBe('llama-bpe')
    await tokenizesAsWe(file, await Tokenizer.fromFile(join(dir, 'tokenizer.json')))
  }, 120_000)
})
