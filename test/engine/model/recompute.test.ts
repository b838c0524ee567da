import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { type SequenceLayout, layoutPrefix } from '../../../main/engine/model/layout'
import { CausalLM } from '../../../main/engine/model/model'
import { AdamW } from '../../../main/engine/model/optimizer'
import { constantLr } from '../../../main/engine/model/schedule'
import { trainStep } from '../../../main/engine/model/train'

// Activation recomputation (model/recompute.ts) changes where the gradients are computed, not
// what they are: on the golden fixtures (GPT-2 and the Llama family, plain and with document
// masking) the loss and every gradient with recomputation equal those without, within 1e-5; a
// training step gives the same loss and update; and the peak memory of a step is measured lower.
const FIXTURES = join(__dirname, 'fixtures')
const NAMES = ['gpt2', 'llama', 'qwen3', 'mistral-bf16', 'gpt2-packed', 'llama-packed'] as const

interface Expected {
  ids: number[][]
  segments?: number[][]
  positions?: number[][]
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

/** The loss and every parameter's gradient (by our name) of `model.loss` on the fixture's ids. */
async function lossAndGrads(tf: Tf, model: CausalLM, exp: Expected): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const ids = tf.tensor2d(exp.ids, undefined, 'int32') as Tensor2D
  const [B, T] = ids.shape
  const inputs = tf.slice(ids, [0, 0], [B, T - 1]) as Tensor2D
  const targets = tf.slice(ids, [0, 1], [B, T - 1]) as Tensor2D
  const layout: SequenceLayout | undefined = exp.segments && exp.positions ? layoutPrefix({ segments: exp.segments, positions: exp.positions }, T - 1) : undefined
  // Position 0 of each row weighs nothing: the weighted path of the loss is exercised too.
  const weights = tf.tensor2d(
    exp.ids.map((row) => row.slice(1).map((_, t) => (t === 0 ? 0 : 1))),
    [B, T - 1],
  )
  const vars = [...model.params.values()]
  const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets, weights, layout), vars)
  const byVar = new Map([...model.params.entries()].map(([n, v]) => [v.name, n]))
  const out = new Map<string, Float32Array>()
  for (const [varName, g] of Object.entries(grads)) out.set(byVar.get(varName) as string, (await g.data()) as Float32Array)
  const loss = (await value.data())[0] as number
  tf.dispose([ids, inputs, targets, weights, value, ...Object.values(grads)])
  return { loss, grads: out }
}

describe.each(['wasm', 'cpu'] as const)('recomputing activations on the %s backend', (backend) => {
  let tf: Tf
  const setup = async () => (tf ??= (await selectBackend({ requested: backend })).tf)

  it.each(NAMES)('gives the loss and every gradient of %s as without, within 1e-5, and leaks nothing', async (name) => {
    const tf = await setup()
    const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected
    const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)))
    try {
      const before = tf.memory().numTensors
      const plain = await lossAndGrads(tf, model, exp)
      expect(tf.memory().numTensors).toBe(before)
      model.recompute = true
      const recomputed = await lossAndGrads(tf, model, exp)
      expect(tf.memory().numTensors).toBe(before)
      expect(Math.abs(recomputed.loss - plain.loss)).toBeLessThan(1e-5)
      expect([...recomputed.grads.keys()].sort()).toEqual([...model.params.keys()].sort())
      for (const [param, g] of plain.grads) {
        const r = recomputed.grads.get(param) as Float32Array
        expect(maxAbsDiff(r, g), param).toBeLessThan(1e-5)
        // Not trivially equal: every gradient is there and not all zero.
        expect(g.some((x) => x !== 0), param).toBe(true)
      }
    } finally {
      model.dispose()
    }
  })
})

describe('a training step with recomputation', () => {
  const configs = {
    gpt2: { model_type: 'gpt2', vocab_size: 300, n_embd: 64, n_layer: 4, n_head: 4, n_positions: 128 },
    llama: { model_type: 'llama', vocab_size: 300, hidden_size: 64, intermediate_size: 160, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128 },
  }

  it.each(Object.entries(configs))('updates %s as without it, with a lower peak of memory', async (_, raw) => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const config = parseModelConfig(raw, 'config.json')
    const [B, T] = [4, 96]
    const ids = tf.randomUniform([B, T + 1], 0, config.vocabSize, 'int32', 3)
    const inputs = tf.slice(ids, [0, 0], [B, T]) as Tensor2D
    const targets = tf.slice(ids, [0, 1], [B, T]) as Tensor2D
    const run = async (recompute: boolean) => {
      const model = CausalLM.init(tf, config, 5)
      model.recompute = recompute
      const opt = new AdamW(tf, model, { lr: 1e-3 })
      let result = { loss: 0, gradNorm: 0 }
      const profile = await tf.profile(async () => void (result = await trainStep(model, [{ inputs, targets }], opt, constantLr(1e-3))))
      const weights = new Map<string, Float32Array>()
      for (const [n, v] of model.params) weights.set(n, (await (v as Tensor).data()) as Float32Array)
      model.dispose()
      opt.dispose()
      return { ...result, peak: profile.peakBytes, weights }
    }
    const before = tf.memory().numTensors
    const plain = await run(false)
    const recomputed = await run(true)
    expect(tf.memory().numTensors).toBe(before)
    expect(Math.abs(recomputed.loss - plain.loss)).toBeLessThan(1e-5)
    expect(Math.abs(recomputed.gradNorm - plain.gradNorm) / plain.gradNorm).toBeLessThan(1e-5)
    for (const [n, w] of plain.weights) expect(maxAbsDiff(recomputed.weights.get(n) as Float32Array, w), n).toBeLessThan(1e-6)
    // 4 layers: the activations kept shrink from ~78 N·D a layer to a few, plus one layer's.
    expect(recomputed.peak).toBeLessThan(0.7 * plain.peak)
    tf.dispose([ids, inputs, targets])
  })
})
