import { promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Scalar, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { mulberry32 } from '../../../main/engine/common/rng'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { chooseRecompute, estimateMemory, parameterCount } from '../../../main/engine/model/memory'
import { CausalLM } from '../../../main/engine/model/model'
import { beginningOfSequence, endOfSequence, prefixToken, rollingWindows, scoreWindows } from '../../../main/engine/model/operations'
import { headNll, weightedMean } from '../../../main/engine/model/ops'
import { AdamW } from '../../../main/engine/model/optimizer'
import { constantLr } from '../../../main/engine/model/schedule'
import { trainStep } from '../../../main/engine/model/train'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES } from '../tokenizer/fixtures'

const tmp = useTmp()
const FIXTURES = join(__dirname, 'fixtures')

describe('initialising', () => {
  const configs = {
    gpt2: { model_type: 'gpt2', vocab_size: 50, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 12 },
    llama: { model_type: 'llama', vocab_size: 50, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 12 },
  }
  it.each(Object.entries(configs))('gives the same weights in memory as written to a folder and loaded (%s)', async (_, raw) => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const config = parseModelConfig(raw, 'config.json')
    const dir = tmp()
    await writeInitialisedModel(dir, config, { seed: 11, std: 0.05 })
    const loaded = await CausalLM.load(tf, await openCheckpoint(dir))
    const fresh = CausalLM.init(tf, config, 11, 0.05)
    const other = CausalLM.init(tf, config, 12, 0.05)
    expect([...fresh.params.keys()]).toEqual([...loaded.params.keys()])
    for (const spec of fresh.specs) {
      const a = await fresh.param(spec.name).data()
      expect(await loaded.param(spec.name).data(), spec.name).toEqual(a)
      const values = Array.from(a)
      if (spec.kind === 'bias') expect(values.every((x) => x === 0), spec.name).toBe(true)
      else if (spec.kind === 'norm') expect(values.every((x) => x === 1), spec.name).toBe(true)
      else expect(await other.param(spec.name).data(), spec.name).not.toEqual(a)
    }
    // normal(0, std), and GPT-2's residual projections scaled by 1/sqrt(2 · layers) (= 1/2 here).
    const rms = async (name: string) => {
      const d = (await fresh.param(name).data()) as Float32Array
      return Math.sqrt(d.reduce((s, x) => s + x * x, 0) / d.length)
    }
    if (config.arch === 'gpt2') {
      expect(await rms('h.0.attn.c_attn.weight')).toBeCloseTo(0.05, 2)
      expect(await rms('h.1.mlp.c_fc.weight')).toBeCloseTo(0.05, 2)
      expect(await rms('h.0.attn.c_proj.weight')).toBeCloseTo(0.025, 2)
      expect(await rms('h.1.mlp.c_proj.weight')).toBeCloseTo(0.025, 2)
    } else {
      expect(await rms('layers.0.mlp.down_proj.weight')).toBeCloseTo(0.05, 2)
      expect(await rms('lm_head.weight')).toBeCloseTo(0.05, 2)
    }
    for (const m of [loaded, fresh, other]) m.dispose()
  })
})

describe('saving a model', () => {
  it('writes a folder that loads back to the same logits (F32 exactly, BF16 within rounding)', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const exp = JSON.parse(readFileSync(join(FIXTURES, 'qwen2', 'expected.json'), 'utf8')) as { ids: number[][] }
    const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, 'qwen2')))
    const ids = tf.tensor2d(exp.ids, undefined, 'int32') as Tensor2D
    const logitsOf = async (m: CausalLM) => {
      const t = m.logits(ids)
      const data = (await t.data()) as Float32Array
      t.dispose()
      return data
    }
    const want = await logitsOf(model)
    for (const dtype of ['F32', 'BF16'] as const) {
      const dir = tmp()
      const written = await model.writeWeights(dir, dtype)
      expect(written.files).toEqual(['model.safetensors'])
      const ckpt = await openCheckpoint(dir)
      expect(ckpt.storedDtype).toBe(dtype)
      // HF names with the module prefix; q/k/v weights back in PyTorch's [out, in] layout.
      expect(ckpt.tensors.find((t) => t.spec.name === 'layers.0.self_attn.q_proj.weight')!.info).toMatchObject({ name: 'model.layers.0.self_attn.q_proj.weight', shape: [32, 32] })
      expect(JSON.parse(await fs.readFile(join(dir, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'qwen2', torch_dtype: dtype === 'F32' ? 'float32' : 'bfloat16' })
      const back = await CausalLM.load(tf, ckpt)
      const got = await logitsOf(back)
      let maxDiff = 0
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!))
      if (dtype === 'F32') expect(maxDiff).toBe(0)
      else expect(maxDiff).toBeLessThan(0.2)
      back.dispose()
    }
    model.dispose()
    ids.dispose()
  })
})

describe('loading', () => {
  it('refuses, before reading anything, a model too large for the WebAssembly backend', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const ckpt = await openCheckpoint(join(FIXTURES, 'llama'))
    const tensors = tf.memory().numTensors
    // The same folder, as if it held TinyLlama's 1.1 billion parameters.
    await expect(CausalLM.load(tf, { ...ckpt, parameterCount: 1_100_048_384 })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/1\.10 billion parameters, 4\.1 GiB in float32: more than the WebAssembly backend can address/),
      hint: expect.stringMatching(/tfjs-node/),
    })
    expect(tf.memory().numTensors).toBe(tensors)
  })
})

describe('the output head and loss', () => {
  it('gives the same NLL and gradients whatever the chunk size, on cpu and wasm', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const { tf } = await selectBackend({ requested: backend })
      const h = tf.variable(tf.randomNormal([37, 12], 0, 1, 'float32', 1))
      const w = tf.variable(tf.randomNormal([53, 12], 0, 1, 'float32', 2))
      const targets = tf.tensor1d(Array.from({ length: 37 }, (_, i) => (i * 7) % 53), 'int32')
      const run = (chunk: number) => tf.variableGrads(() => tf.sum(tf.mul(headNll(tf, h as Tensor2D, w as Tensor2D, targets, chunk), tf.linspace(0.5, 1.5, 37))) as Scalar, [h, w])
      const whole = run(1024)
      const chunked = run(8)
      // The reference: full logits, log-softmax, picked by hand.
      const logits = (await tf.matMul(h, w, false, true).array()) as number[][]
      const t = (await targets.array()) as number[]
      let want = 0
      logits.forEach((row, i) => {
        const max = Math.max(...row)
        const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0))
        want += (lse - row[t[i]!]!) * (0.5 + i / 36)
      })
      expect((await whole.value.data())[0]!).toBeCloseTo(want, 3)
      expect((await chunked.value.data())[0]!).toBeCloseTo(want, 3)
      for (const v of [h, w]) {
        const a = (await whole.grads[v.name]!.data()) as Float32Array
        const b = (await chunked.grads[v.name]!.data()) as Float32Array
        expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-5)
      }
      tf.dispose([h, w, targets, whole.value, chunked.value, ...Object.values(whole.grads), ...Object.values(chunked.grads)])
    }
  })
})

describe('the weighted loss', () => {
  const raw = { model_type: 'llama', vocab_size: 30, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 16 }
  const inputsRows = [
    [3, 7, 1, 29, 4, 4],
    [0, 12, 5, 8, 21, 2],
  ]
  const targetsRows = [
    [7, 1, 29, 4, 4, 9],
    [12, 5, 8, 21, 2, 17],
  ]
  const mask = [
    [1, 1, 0, 1, 0, 0],
    [0, 1, 1, 1, 1, 0],
  ]

  it('is the mean NLL over the positions with weight 1, as the logits give it (and Σ w·nll / Σ w for other weights)', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const { tf } = await selectBackend({ requested: backend })
      const model = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 5, 0.5)
      const inputs = tf.tensor2d(inputsRows, undefined, 'int32') as Tensor2D
      const targets = tf.tensor2d(targetsRows, undefined, 'int32') as Tensor2D
      const logitsT = model.logits(inputs)
      const logits = (await logitsT.array()) as number[][][]
      // NLL at every position by hand, in float64.
      const nll = logits.map((row, b) =>
        row.map((l, t) => {
          const max = Math.max(...l)
          return max + Math.log(l.reduce((a, v) => a + Math.exp(v - max), 0)) - l[targetsRows[b]![t]!]!
        }),
      )
      const weighted = (w: number[][]) => {
        let num = 0
        let den = 0
        w.forEach((row, b) => row.forEach((x, t) => ((num += x * nll[b]![t]!), (den += x))))
        return num / den
      }
      const lossWith = async (w?: number[][]) => {
        const wt = w ? (tf.tensor2d(w) as Tensor2D) : undefined
        const l = model.loss(inputs, targets, wt)
        const v = (await l.data())[0]!
        tf.dispose([l, ...(wt ? [wt] : [])])
        return v
      }
      const ones = mask.map((r) => r.map(() => 1))
      expect(await lossWith(mask)).toBeCloseTo(weighted(mask), 5)
      expect(await lossWith()).toBeCloseTo(weighted(ones), 5)
      expect(await lossWith(ones)).toBeCloseTo(weighted(ones), 5)
      const fractional = mask.map((r, b) => r.map((x, t) => x * (0.25 + 0.1 * (b + t))))
      expect(await lossWith(fractional)).toBeCloseTo(weighted(fractional), 5)
      // Weights summing to less than 1 are a weighted mean too: one position of weight 0.5 is its NLL.
      const single = mask.map((r, b) => r.map((_, t) => (b === 1 && t === 2 ? 0.5 : 0)))
      expect(await lossWith(single)).toBeCloseTo(nll[1]![2]!, 5)
      expect(await lossWith(mask)).not.toBeCloseTo(weighted(ones), 3)
      tf.dispose([inputs, targets, logitsT])
      model.dispose()
    }
  })

  it('is 0 with a gradient of 0 when every weight is 0', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 5, 0.5)
    const inputs = tf.tensor2d(inputsRows, undefined, 'int32') as Tensor2D
    const targets = tf.tensor2d(targetsRows, undefined, 'int32') as Tensor2D
    const zeros = tf.zeros([2, 6]) as Tensor2D
    const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets, zeros), [...model.params.values()])
    expect((await value.data())[0]).toBe(0)
    for (const g of Object.values(grads)) expect(Array.from(await g.data()).every((x) => x === 0)).toBe(true)
    tf.dispose([inputs, targets, zeros, value, ...Object.values(grads)])
    model.dispose()
  })

  it('takes its gradient only through the weighted positions', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 5, 0.5)
    const vars = [...model.params.values()]
    const inputs = tf.tensor2d(inputsRows, undefined, 'int32') as Tensor2D
    const w = tf.tensor2d(mask) as Tensor2D
    const run = async (targetRows: number[][]) => {
      const targets = tf.tensor2d(targetRows, undefined, 'int32') as Tensor2D
      const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets, w), vars)
      const out = { loss: (await value.data())[0]!, grads: await Promise.all(vars.map(async (v) => Array.from(await grads[v.name]!.data()))) }
      tf.dispose([targets, value, ...Object.values(grads)])
      return out
    }
    const a = await run(targetsRows)
    // Other targets where the weight is 0: the same loss and the same gradients, bit for bit.
    const b = await run(targetsRows.map((r, i) => r.map((x, t) => (mask[i]![t] ? x : (x + 11) % 30))))
    expect(b.loss).toBe(a.loss)
    expect(b.grads).toEqual(a.grads)
    // Another target where the weight is 1 changes them.
    const c = await run(targetsRows.map((r, i) => r.map((x, t) => (i === 0 && t === 0 ? (x + 11) % 30 : x))))
    expect(c.loss).not.toBe(a.loss)
    // The hidden state at a position of weight 0 gets no gradient from the head and loss.
    const h = tf.variable(tf.randomNormal([12, 16], 0, 1, 'float32', 3))
    const head = model.headMatrix()
    const flatW = tf.reshape(w, [-1]) as Tensor1D
    const t = tf.tensor1d(targetsRows.flat(), 'int32')
    const { value, grads } = tf.variableGrads(() => weightedMean(tf, headNll(tf, h as Tensor2D, head, t), flatW), [h])
    const dh = (await grads[h.name]!.array()) as number[][]
    mask.flat().forEach((m, i) => expect(dh[i]!.some((x) => x !== 0), `row ${i}`).toBe(m === 1))
    tf.dispose([inputs, w, h, flatW, t, value, ...Object.values(grads)])
    model.dispose()
  })
})

describe('memory estimate', () => {
  // Configurations unlike those the coefficients were measured on (see memory.ts).
  const cases = [
    { raw: { model_type: 'gpt2', n_embd: 80, n_layer: 3, n_head: 5, n_positions: 128, vocab_size: 3000 }, batch: 6, seqLen: 40 },
    { raw: { model_type: 'llama', hidden_size: 96, intermediate_size: 200, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2, vocab_size: 1500 }, batch: 4, seqLen: 72 },
    { raw: { model_type: 'qwen2', hidden_size: 64, intermediate_size: 176, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 1, vocab_size: 5000, tie_word_embeddings: true }, batch: 3, seqLen: 64 },
  ]
  // Each with activations kept and recomputed (model/recompute.ts).
  const steps = cases.flatMap((c) => [false, true].map((recompute) => ({ ...c, recompute })))
  it.each(steps)('is within 25% of the peak of a real AdamW training step ($raw.model_type, recompute $recompute)', async ({ raw, batch, seqLen, recompute }) => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const config = parseModelConfig(raw, 'config.json')
    const start = tf.memory().numBytes
    const model = CausalLM.init(tf, config, 3)
    model.recompute = recompute
    const weightBytes = tf.memory().numBytes - start
    const opt = new AdamW(tf, model, { lr: 1e-3, weightDecay: 0.1 })
    const vars = [...model.params.values()]
    expect(vars.reduce((n, v) => n + v.size, 0)).toBe(parameterCount(config))
    const ids = tf.randomUniform([batch, seqLen + 1], 0, config.vocabSize, 'int32')
    const inputs = tf.slice(ids, [0, 0], [batch, seqLen]) as Tensor2D
    const targets = tf.slice(ids, [0, 1], [batch, seqLen]) as Tensor2D
    const step = async () => void (await trainStep(model, [{ inputs, targets }], opt, constantLr(1e-3)))
    const first = await tf.profile(step)
    const second = await tf.profile(step)
    const inputBytes = (ids.size + inputs.size + targets.size) * 4
    const measured = Math.max(first.peakBytes, second.peakBytes) - inputBytes - start
    const estimate = estimateMemory(config, { batch, seqLen, optimizer: 'adamw', recompute })
    expect(estimate.weights).toBe(weightBytes)
    expect(estimate.total / measured).toBeGreaterThan(0.75)
    expect(estimate.total / measured).toBeLessThan(1.25)
    // After the step: weights and the two moments, nothing leaked.
    expect(tf.memory().numBytes - inputBytes - start).toBe(estimate.weights + estimate.optimizer)
    model.dispose()
    opt.dispose()
    tf.dispose([ids, inputs, targets])
  })

  it('grows with batch and sequence as activations do, and drops the optimiser for SGD', () => {
    const config = parseModelConfig({ model_type: 'llama', hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, vocab_size: 32000 }, 'tinyllama')
    const a = estimateMemory(config, { batch: 4, seqLen: 512, optimizer: 'adamw' })
    const b = estimateMemory(config, { batch: 8, seqLen: 512, optimizer: 'adamw' })
    expect(a.parameters).toBe(1_100_048_384) // TinyLlama-1.1B
    expect(b.activations).toBeGreaterThan(1.9 * a.activations)
    expect(b.weights).toBe(a.weights)
    expect(estimateMemory(config, { batch: 4, seqLen: 512, optimizer: 'sgd' }).optimizer).toBe(0)
    expect(a.optimizer).toBe(2 * a.weights)
  })

  it('shrinks the activations with recomputation, and recomputes on auto only when the step would not fit otherwise', () => {
    const config = parseModelConfig({ model_type: 'llama', hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, vocab_size: 32000 }, 'tinyllama')
    const opts = { batch: 4, seqLen: 2048, optimizer: 'adamw' as const }
    const kept = estimateMemory(config, opts)
    const recomputed = estimateMemory(config, { ...opts, recompute: true })
    expect(recomputed.weights + recomputed.gradients + recomputed.optimizer).toBe(kept.weights + kept.gradients + kept.optimizer)
    // 22 layers: a few N·D each instead of ~78, plus one layer's.
    expect(recomputed.activations).toBeLessThan(kept.activations / 8)
    expect(chooseRecompute('on', config, opts, null)).toBe(true)
    expect(chooseRecompute('off', config, opts, 1)).toBe(false)
    expect(chooseRecompute('auto', config, opts, null)).toBe(false)
    expect(chooseRecompute('auto', config, opts, kept.total)).toBe(false)
    expect(chooseRecompute('auto', config, opts, kept.total - 1)).toBe(true)
  })
})

describe('scoring text', () => {
  const LLAMA_16 = { model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 16 }

  /** A window's summed next-token NLL, scored alone as one sequence. */
  async function nllSum(tf: Tf, model: CausalLM, ids: number[]): Promise<number> {
    const t = tf.tensor2d([ids], undefined, 'int32') as Tensor2D
    const out = model.nextTokenNll(t)
    const data = (await out.data()) as Float32Array
    tf.dispose([t, out])
    return data.reduce((a, b) => a + b, 0)
  }

  it('rolls windows of a line, each token after the first once', () => {
    expect(rollingWindows([0, 1, 2, 3, 4, 5, 6], 3)).toEqual([
      [0, 1, 2],
      [2, 3, 4],
      [4, 5, 6],
    ])
  })

  it('scores windows with a loaded model: batched and padded as each window alone, in the order given', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(LLAMA_16, 'config.json'), 2, 0.3)
    const rand = mulberry32(9)
    const lengths = [5, 16, 1, 2, 9, 16, 3, 12, 0, 7, 2]
    const windows = lengths.map((n) => Array.from({ length: n }, () => Math.floor(rand() * 40)))
    const tensors = tf.memory().numTensors
    const r = await scoreWindows(model, windows, { batchTokens: 40 })
    expect(tf.memory().numTensors).toBe(tensors)
    expect(r.tokens).toBe(lengths.reduce((n, l) => n + Math.max(0, l - 1), 0))
    expect(r.perWindow).toHaveLength(windows.length)
    for (const [i, w] of windows.entries()) {
      const want = w.length < 2 ? 0 : await nllSum(tf, model, w)
      expect(Math.abs(r.perWindow[i]! - want), `window ${i}`).toBeLessThanOrEqual(1e-5 * Math.abs(want))
    }
    expect(r.nll).toBeCloseTo(
      r.perWindow.reduce((a, b) => a + b, 0),
      9,
    )
    // One batch for all gives the same.
    const whole = await scoreWindows(model, windows, { batchTokens: 1e6 })
    expect(Math.abs(whole.nll - r.nll) / r.nll).toBeLessThan(1e-6)
    // The model reads a window's ids but its last: 17 ids are 16 positions.
    const full = Array.from({ length: 17 }, (_, t) => (t * 7) % 40)
    expect((await scoreWindows(model, [full])).tokens).toBe(16)
    await expect(scoreWindows(model, [Array.from({ length: 18 }, () => 1)])).rejects.toThrow(/A window of 18 tokens is longer than this model takes \(16, and the token after them\)/)
    // Skipped predictions are context only.
    const skipped = await scoreWindows(model, windows, { skip: windows.map((w) => Math.max(0, w.length - 3)) })
    expect(skipped.tokens).toBe(windows.reduce((n, w) => n + Math.min(2, Math.max(0, w.length - 1)), 0))
    expect(skipped.perWindow[1]).toBeLessThan(r.perWindow[1]!)
    await expect(scoreWindows(model, [[1, 40]])).rejects.toThrow(/Token id 40 is outside/)
    model.dispose()
  })

  it('gives a line that fits in the context the NLL of the whole line; rolling windows condition each token on its window only', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    // Rotary positions: the same weights serve any context length.
    const small = CausalLM.init(tf, parseModelConfig(LLAMA_16, 'config.json'), 4, 0.3)
    const big = CausalLM.init(tf, parseModelConfig({ ...LLAMA_16, max_position_embeddings: 64 }, 'config.json'), 4, 0.3)
    const rand = mulberry32(4)
    const line = Array.from({ length: 40 }, () => Math.floor(rand() * 40))
    // The whole line at once, position by position.
    const ids = tf.tensor2d([line], undefined, 'int32') as Tensor2D
    const out = big.nextTokenNll(ids)
    const full = Array.from((await out.data()) as Float32Array)
    tf.dispose([ids, out])
    const fullSum = full.reduce((a, b) => a + b, 0)
    const fits = await scoreWindows(big, rollingWindows(line, big.maxSequence))
    expect(fits.perWindow).toHaveLength(1)
    expect(fits.tokens).toBe(39)
    expect(Math.abs(fits.nll - fullSum) / fullSum).toBeLessThan(1e-5)
    // In windows of 16: each token once; the first window is the line's first 15 predictions, the
    // later ones are what the big model gives each window scored alone (not the whole line's).
    const windows = rollingWindows(line, 16)
    const rolled = await scoreWindows(small, windows)
    expect(rolled.tokens).toBe(39)
    const first = full.slice(0, 15).reduce((a, b) => a + b, 0)
    expect(Math.abs(rolled.perWindow[0]! - first) / first).toBeLessThan(1e-5)
    for (const [k, w] of windows.entries()) {
      const want = await nllSum(tf, big, w)
      expect(Math.abs(rolled.perWindow[k]! - want) / want, `window ${k}`).toBeLessThan(1e-5)
    }
    expect(Math.abs(rolled.nll - fullSum) / fullSum).toBeGreaterThan(1e-4)
    small.dispose()
    big.dispose()
  })

  it('finds the BOS in tokenizer_config.json, the post-processor, or the model config', async () => {
    const llama = await Tokenizer.fromFile(TOKENIZER_FILES.llama2)
    expect(await beginningOfSequence(llama, TOKENIZER_FILES.llama2, null)).toEqual({ id: 1, token: '<s>' })
    const gpt2 = await Tokenizer.fromFile(TOKENIZER_FILES.gpt2)
    expect(await beginningOfSequence(gpt2, TOKENIZER_FILES.gpt2, null)).toBeNull()
    expect(await beginningOfSequence(gpt2, TOKENIZER_FILES.gpt2, 50256)).toEqual({ id: 50256, token: '<|endoftext|>' })
    const dir = tmp()
    await fs.copyFile(TOKENIZER_FILES.gpt2, join(dir, 'tokenizer.json'))
    await fs.writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: { content: '<|endoftext|>' } }))
    expect(await beginningOfSequence(gpt2, join(dir, 'tokenizer.json'), null)).toEqual({ id: 50256, token: '<|endoftext|>' })
  })

  it('takes the EOS for the prefix token where the model has no BOS, as lm-evaluation-harness does', async () => {
    const gpt2 = await Tokenizer.fromFile(TOKENIZER_FILES.gpt2)
    expect(await endOfSequence(gpt2, TOKENIZER_FILES.gpt2, 50256)).toEqual({ id: 50256, token: '<|endoftext|>' })
    expect(await prefixToken(gpt2, TOKENIZER_FILES.gpt2, { bosTokenId: null, eosTokenId: 50256 })).toEqual({ id: 50256, token: '<|endoftext|>', kind: 'eos' })
    expect(await prefixToken(gpt2, TOKENIZER_FILES.gpt2, { bosTokenId: 50256, eosTokenId: 50256 })).toEqual({ id: 50256, token: '<|endoftext|>', kind: 'bos' })
    expect(await prefixToken(gpt2, TOKENIZER_FILES.gpt2, { bosTokenId: null, eosTokenId: null })).toBeNull()
    const llama = await Tokenizer.fromFile(TOKENIZER_FILES.llama2)
    expect(await prefixToken(llama, TOKENIZER_FILES.llama2, { bosTokenId: null, eosTokenId: null })).toEqual({ id: 1, token: '<s>', kind: 'bos' })
  })
})
