import type { Tensor2D } from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { mulberry32 } from '../../../main/engine/common/rng'
import { parseModelConfig } from '../../../main/engine/model/config'
import { CausalLM } from '../../../main/engine/model/model'
import { AdamW } from '../../../main/engine/model/optimizer'
import { constantLr } from '../../../main/engine/model/schedule'
import { nextTokenBatch, trainStep } from '../../../main/engine/model/train'

// What the training loop needs of trainStep beyond the update itself: each row's loss (to report
// the loss per language), and steps that train only some parameters (an embeddings-only stage),
// with AdamW counting each parameter's own updates for its bias correction, as torch does.
const CONFIG = parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32 }, 'config.json')

function rows(seed: number, n = 3, len = 10): number[][] {
  const r = mulberry32(seed)
  return Array.from({ length: n }, () => Array.from({ length: len }, () => Math.floor(r() * 40)))
}

const values = async (m: CausalLM) => new Map(await Promise.all([...m.params].map(async ([n, v]) => [n, Float32Array.from((await v.data()) as Float32Array)] as const)))

describe('trainStep for the training loop', () => {
  it('reports each row’s mean loss (weighted as the loss is), before the update', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, CONFIG, 4)
    const data = rows(1)
    const weights: number[][] = data.map((r, i) => r.slice(1).map((_, t) => (i === 1 && t < 4 ? 0 : 1)))
    // By hand: the NLL at every position, then each row's weighted mean.
    const ids = tf.tensor2d(data, undefined, 'int32') as Tensor2D
    const nll = (await model.nextTokenNll(ids).array()) as number[][]
    const expected = nll.map((row, i) => {
      const w = weights[i]!
      return row.reduce((s, x, t) => s + x * w[t]!, 0) / w.reduce((s, x) => s + x, 0)
    })
    const r = await trainStep(model, [nextTokenBatch(data, weights), nextTokenBatch(rows(2, 2))], new AdamW(tf, model, { lr: 1e-3 }), constantLr(1e-3))
    expect(r.rowLosses).toHaveLength(2)
    expect(r.rowLosses[1]).toHaveLength(2)
    r.rowLosses[0]!.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5))
    // The step's loss is the mean of the micro-batches' (weighted) means.
    const mb0 = expected.reduce((s, x, i) => s + x * weights[i]!.reduce((a, b) => a + b, 0), 0) / weights.flat().reduce((a, b) => a + b, 0)
    const mb1 = r.rowLosses[1]!.reduce((a, b) => a + b, 0) / 2
    expect(r.loss).toBeCloseTo((mb0 + mb1) / 2, 5)
    ids.dispose()
    model.dispose()
  })

  it('trains only the parameters asked for, and starts the others’ bias correction afresh later', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, CONFIG, 5)
    const opt = new AdamW(tf, model, { lr: 1e-2 })
    const embeddings = new Set(model.specs.filter((s) => s.kind === 'embedding' || s.kind === 'head').map((s) => s.name))
    expect([...embeddings]).toEqual(['wte.weight'])
    const before = await values(model)
    for (let s = 0; s < 3; s++) await trainStep(model, [nextTokenBatch(rows(10 + s))], opt, constantLr(1e-2), { trains: (n) => embeddings.has(n) })
    const staged = await values(model)
    for (const [name, v] of staged) {
      if (embeddings.has(name)) expect(v).not.toEqual(before.get(name))
      else expect(v, name).toEqual(before.get(name))
    }
    const state = await opt.state()
    expect(Object.keys(state.moments)).toEqual(['wte.weight'])
    expect(state.moments['wte.weight']!.step).toBe(3)

    // The first update of a parameter frozen until now is Adam's first: |Δw| = lr·|g|/(|g| + ε) ≈ lr
    // for elements with a clear gradient (a global count of 4 would shrink it about 3.4×).
    await trainStep(model, [nextTokenBatch(rows(20))], opt, constantLr(1e-2), { maxGradNorm: null })
    const after = await values(model)
    const name = 'h.0.mlp.c_fc.weight'
    const delta = after.get(name)!.map((x, i) => Math.abs(x - staged.get(name)![i]!))
    expect(Math.max(...delta)).toBeGreaterThan(0.0099)
    expect(Math.max(...delta)).toBeLessThanOrEqual(0.01 + 1e-6)
    expect((await opt.state()).moments[name]!.step).toBe(1)
    expect((await opt.state()).moments['wte.weight']!.step).toBe(4)
    expect(opt.step).toBe(4)
    await expect(trainStep(model, [nextTokenBatch(rows(21))], opt, constantLr(1e-2), { trains: () => false })).rejects.toThrow('trains no parameter')
    opt.dispose()
    model.dispose()
  })
})
