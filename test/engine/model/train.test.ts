import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { mulberry32 } from '../../../main/engine/common/rng'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { CausalLM, transpose2d } from '../../../main/engine/model/model'
import { storedName } from '../../../main/engine/model/names'
import { AdamW } from '../../../main/engine/model/optimizer'
import { constantLr, warmupCosine } from '../../../main/engine/model/schedule'
import { type MicroBatch, nextTokenBatch, trainStep } from '../../../main/engine/model/train'
import { readSafetensorsHeader, readTensorFloat32 } from '../../../main/engine/model/safetensors'

// AdamW and trainStep against torch.optim.AdamW (with clip_grad_norm_ and the warm-up + cosine
// schedule), step by step, on two tiny models trained in float64 from the same stored weights
// (fixtures/make_fixtures.py, `build_train_fixture`).
const FIXTURES = join(__dirname, 'fixtures')

interface Scenario {
  lr: number | null
  betas: [number, number]
  eps: number
  weightDecay: number
  decayEmbeddings: boolean
  schedule: { peak: number; warmupSteps: number; totalSteps: number; floorRatio: number } | null
  maxGradNorm: number | null
  microBatches: { rows: number[]; weights: number[][] | null }[]
  losses: number[]
  gradNorms: number[]
  lrs: number[]
  clipped: boolean[]
  decayed: string[]
}
interface Expected {
  ids: number[][]
  steps: number
  adamw: Scenario
  train: Scenario
}

async function readAll(file: string): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>()
  for (const t of (await readSafetensorsHeader(file)).tensors) out.set(t.name, await readTensorFloat32(t))
  return out
}

/**
 * Per tensor: max |ours − reference| / ‖reference‖₂ after each step must stay below 1e-6.
 *
 * The reference is float64; we compute in float32, whose gradients differ from it by ~1e-7 of
 * their norm (golden.test.ts), and whose weights are rounded to ~6e-8 of their size at every
 * assign. Adam normalises each element's update by its own gradient's magnitude (m/√v), so a
 * relative gradient error ε moves an update by about lr·ε, and weights change by ~lr = 1e-2 a
 * step: after 5 steps the error stays near the float32 rounding of the weights (1.4e-7 measured
 * at worst, on wasm). 1e-6 leaves a margin for elements with small gradients (larger relative
 * error) and still catches any wrong formula: a missing bias correction, decay on the wrong
 * group, a wrong lr or clipping factor each move weights by 1e-4 to 1e-2 of their norm.
 *
 * One exception, GPT-2's key bias (the middle third of c_attn.bias): adding a constant to every
 * key adds the same number to each row of attention scores, which softmax ignores, so its
 * gradient is exactly 0 in exact arithmetic: ~1e-17 in float64 but ~1e-9 in float32, which Adam
 * turns into updates of up to ~lr·g/(|g| + ε), a good part of lr (1.4e-2 measured after 5 steps).
 * Those weights have no effect on the model's outputs, nor then on the other weights'
 * trajectory; they are held to Adam's bound on how far any element can move (Kingma & Ba 2015,
 * §2.1: |Δ| ≤ lr · max(1, (1 − β₁)/√(1 − β₂)) a step).
 */
const TOLERANCE = 1e-6

function compareStep(model: CausalLM, ours: Map<string, Float32Array>, ref: Map<string, Float32Array>, step: number, moveBound: number, worst: Map<string, number>): void {
  for (const spec of model.specs) {
    let data = ours.get(spec.name) as Float32Array
    if (spec.transposed) data = transpose2d(data, spec.shape[1]!, spec.shape[0]!)
    const want = ref.get(`step${step}.${storedName(model.config, spec.name)}`)
    expect(want, `reference ${spec.name} after step ${step}`).toBeDefined()
    expect(data.length).toBe(want!.length)
    let norm = 0
    for (const x of want!) norm += x * x
    norm = Math.sqrt(norm)
    const D = model.config.hiddenSize
    const keyBias = model.config.arch === 'gpt2' && spec.name.endsWith('attn.c_attn.bias')
    let maxDiff = 0
    for (let i = 0; i < data.length; i++) {
      const d = Math.abs(data[i]! - want![i]!)
      if (keyBias && i >= D && i < 2 * D) expect(d, `${spec.name}[${i}] (a key bias) after step ${step}`).toBeLessThanOrEqual(moveBound)
      else maxDiff = Math.max(maxDiff, d)
    }
    const rel = maxDiff / norm
    worst.set(spec.name, Math.max(worst.get(spec.name) ?? 0, rel))
    expect(rel, `${spec.name} after step ${step}`).toBeLessThan(TOLERANCE)
  }
}

async function weights(model: CausalLM): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>()
  for (const [name, v] of model.params) out.set(name, (await v.data()) as Float32Array)
  return out
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b)
const adamBound = (sc: Scenario) => Math.max(1, (1 - sc.betas[0]) / Math.sqrt(1 - sc.betas[1]))

describe.each(['cpu', 'wasm'] as const)('on the %s backend', (backend) => {
  let tf: Tf
  const setup = async () => {
    tf ??= (await selectBackend({ requested: backend })).tf
    return tf
  }

  describe.each(['train-gpt2', 'train-llama'])('%s', (name) => {
    const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected

    it('AdamW follows torch.optim.AdamW step by step (decay on matrices only)', async () => {
      const tf = await setup()
      const sc = exp.adamw
      const ref = await readAll(join(FIXTURES, name, 'adamw.safetensors'))
      const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)))
      const opt = new AdamW(tf, model, { lr: sc.lr!, beta1: sc.betas[0], beta2: sc.betas[1], eps: sc.eps, weightDecay: sc.weightDecay, decayEmbeddings: sc.decayEmbeddings })
      // The groups as the reference formed them from HF names (independently of ParamSpec.kind).
      expect(model.specs.filter((s) => opt.decays(s.name)).map((s) => storedName(model.config, s.name))).toEqual(sc.decayed)
      const ids = tf.tensor2d(exp.ids, undefined, 'int32') as Tensor2D
      const [B, T] = ids.shape
      const inputs = tf.slice(ids, [0, 0], [B, T - 1]) as Tensor2D
      const targets = tf.slice(ids, [0, 1], [B, T - 1]) as Tensor2D
      const vars = [...model.params.entries()]
      const worst = new Map<string, number>()
      for (let step = 1; step <= exp.steps; step++) {
        const { value, grads } = tf.variableGrads(
          () => model.loss(inputs, targets),
          vars.map(([, v]) => v),
        )
        expect(relErr((await value.data())[0]!, sc.losses[step - 1]!), `loss before step ${step}`).toBeLessThan(1e-6)
        opt.apply(new Map(vars.map(([n, v]) => [n, grads[v.name] as Tensor])))
        tf.dispose([value, ...Object.values(grads)])
        expect(opt.step).toBe(step)
        compareStep(model, await weights(model), ref, step, step * sc.lr! * adamBound(sc), worst)
      }
      console.log(`${backend} ${name} AdamW: worst relative error ${Math.max(...worst.values()).toExponential(2)}`)
      tf.dispose([ids, inputs, targets])
      opt.dispose()
      model.dispose()
    })

    it('trainStep follows torch: accumulated micro-batches with loss weights, clip_grad_norm_, warm-up + cosine, decay on embeddings too', async () => {
      const tf = await setup()
      const sc = exp.train
      const ref = await readAll(join(FIXTURES, name, 'train.safetensors'))
      const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)))
      const opt = new AdamW(tf, model, { lr: 0, beta1: sc.betas[0], beta2: sc.betas[1], eps: sc.eps, weightDecay: sc.weightDecay, decayEmbeddings: sc.decayEmbeddings })
      expect(model.specs.filter((s) => opt.decays(s.name)).map((s) => storedName(model.config, s.name))).toEqual(sc.decayed)
      const schedule = warmupCosine(sc.schedule!)
      const batch: MicroBatch[] = sc.microBatches.map(({ rows, weights }) => {
        const ids = rows.map((r) => exp.ids[r]!)
        const mb: MicroBatch = { inputs: ids.map((r) => r.slice(0, -1)), targets: ids.map((r) => r.slice(1)) }
        if (weights) mb.weights = weights
        return mb
      })
      const worst = new Map<string, number>()
      let lrSum = 0
      let worstNorm = 0
      for (let step = 1; step <= exp.steps; step++) {
        const r = await trainStep(model, batch, opt, schedule, { maxGradNorm: sc.maxGradNorm })
        expect(r.updated).toBe(true)
        expect(r.lr).toBeCloseTo(sc.lrs[step - 1]!, 15)
        expect(relErr(r.loss, sc.losses[step - 1]!), `loss at step ${step}`).toBeLessThan(1e-6)
        expect(relErr(r.gradNorm, sc.gradNorms[step - 1]!), `gradient norm at step ${step}`).toBeLessThan(1e-5)
        worstNorm = Math.max(worstNorm, relErr(r.gradNorm, sc.gradNorms[step - 1]!))
        expect(r.gradNorm > sc.maxGradNorm!).toBe(sc.clipped[step - 1])
        lrSum += r.lr
        compareStep(model, await weights(model), ref, step, lrSum * adamBound(sc), worst)
      }
      console.log(`${backend} ${name} trainStep: worst relative error ${Math.max(...worst.values()).toExponential(2)}, gradient norm ${worstNorm.toExponential(2)}`)
      opt.dispose()
      model.dispose()
    })
  })
})


describe('the learning-rate schedule', () => {
  it('warms up linearly from 0, then follows a half cosine down to the floor, and stays there', () => {
    const s = warmupCosine({ peak: 1e-3, warmupSteps: 10, totalSteps: 110 })
    expect(s.options.floorRatio).toBe(0.1)
    expect(s.lrAt(0)).toBe(0)
    expect(s.lrAt(5)).toBeCloseTo(5e-4, 15)
    expect(s.lrAt(10)).toBeCloseTo(1e-3, 15)
    // Halfway through the decay: floor + (peak − floor)/2.
    expect(s.lrAt(60)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 15)
    // A quarter of the way: cos(π/4).
    expect(s.lrAt(35)).toBeCloseTo(1e-4 + 9e-4 * 0.5 * (1 + Math.SQRT1_2), 15)
    expect(s.lrAt(110)).toBeCloseTo(1e-4, 15)
    expect(s.lrAt(1000)).toBeCloseTo(1e-4, 15)
    for (let i = 10; i < 110; i++) expect(s.lrAt(i + 1)).toBeLessThan(s.lrAt(i))
    // No warm-up: the first update has the peak; a floor of 0 ends at 0.
    const t = warmupCosine({ peak: 2, warmupSteps: 0, totalSteps: 4, floorRatio: 0 })
    expect([0, 1, 2, 3, 4, 5].map((i) => t.lrAt(i))).toEqual([2, 1 + Math.SQRT1_2, 1.0000000000000002, 1 - Math.SQRT1_2, 0, 0].map((x) => expect.closeTo(x, 12)))
    expect(constantLr(3e-4).lrAt(123)).toBe(3e-4)
    expect(() => warmupCosine({ peak: 1, warmupSteps: 5, totalSteps: 4 })).toThrow(/warmupSteps ≤ totalSteps/)
  })
})

const LLAMA = { model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32 }
const GPT2 = { model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32 }

function randomRows(seed: number, rows: number, len: number, vocab: number): number[][] {
  const rand = mulberry32(seed)
  return Array.from({ length: rows }, () => Array.from({ length: len }, () => Math.floor(rand() * vocab)))
}

/** A model with the same weights as `model` (different variables). */
function copyOf(tf: Tf, model: CausalLM): CausalLM {
  const copy = CausalLM.init(tf, model.config, 999)
  for (const [name, v] of copy.params) v.assign(model.params.get(name)!)
  return copy
}

async function sameWeights(a: CausalLM, b: CausalLM): Promise<number> {
  let max = 0
  for (const [name, v] of a.params) {
    const x = (await v.data()) as Float32Array
    const y = (await b.params.get(name)!.data()) as Float32Array
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!))
  }
  return max
}

describe('AdamW', () => {
  it('resumes from state()/load() into a fresh optimiser on a copied model bit for bit', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    for (const raw of [GPT2, LLAMA]) {
      const config = parseModelConfig(raw, 'config.json')
      const schedule = warmupCosine({ peak: 5e-3, warmupSteps: 2, totalSteps: 8 })
      const batches = [0, 1, 2, 3, 4, 5].map((i) => [nextTokenBatch(randomRows(10 + i, 2, 9, 40)), nextTokenBatch(randomRows(20 + i, 2, 9, 40))])
      const opts = { lr: 0, weightDecay: 0.1, beta2: 0.95 }
      // N + M steps without interruption.
      const a = CausalLM.init(tf, config, 4)
      const optA = new AdamW(tf, a, opts)
      for (const b of batches) await trainStep(a, b, optA, schedule, { maxGradNorm: 0.5 })
      // N steps, then the state into a fresh optimiser on a copy, then M more steps.
      const b = CausalLM.init(tf, config, 4)
      const optB = new AdamW(tf, b, opts)
      for (const batch of batches.slice(0, 3)) await trainStep(b, batch, optB, schedule, { maxGradNorm: 0.5 })
      const state = await optB.state()
      expect(state.step).toBe(3)
      expect(state.hyper).toEqual({ lr: schedule.lrAt(2), beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decayEmbeddings: false })
      expect(Object.keys(state.moments).sort()).toEqual([...b.params.keys()].sort())
      expect(state.moments['norm.weight' in state.moments ? 'norm.weight' : 'ln_f.weight']!.m).toBeInstanceOf(Float32Array)
      const c = copyOf(tf, b)
      b.dispose()
      optB.dispose()
      const optC = new AdamW(tf, c, { lr: 1 })
      optC.load(state)
      expect(optC.step).toBe(3)
      expect(optC.options).toEqual(state.hyper)
      for (const batch of batches.slice(3)) await trainStep(c, batch, optC, schedule, { maxGradNorm: 0.5 })
      expect(await sameWeights(a, c)).toBe(0)
      const stateA = await optA.state()
      const stateC = await optC.state()
      expect(stateC).toEqual(stateA)
      for (const m of [a, c]) m.dispose()
      optA.dispose()
      optC.dispose()
    }
  })

  it('refuses a state for another model', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(LLAMA, 'config.json'), 1)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    const hyper = opt.options
    const z = (n: number) => ({ m: new Float32Array(n), v: new Float32Array(n) })
    expect(() => opt.load({ step: 1, hyper, moments: { 'wte.weight': z(640) } })).toThrow(/moments for wte\.weight, which this model does not have/)
    expect(() => opt.load({ step: 1, hyper, moments: { 'norm.weight': z(15) } })).toThrow(/norm\.weight have 15 and 15 values; the parameter has 16/)
    expect(opt.step).toBe(0)
    model.dispose()
  })

  it('decays matrices, never biases or norms, and the embeddings and head only with decayEmbeddings', async () => {
    const { tf } = await selectBackend({ requested: 'cpu' })
    for (const raw of [GPT2, { ...LLAMA, attention_bias: true }]) {
      for (const decayEmbeddings of [false, true]) {
        const model = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 2)
        // Biases and norms away from their initial 0 and 1, so decay would show.
        for (const s of model.specs) if (s.kind === 'bias' || s.kind === 'norm') model.params.get(s.name)!.assign(tf.fill(model.params.get(s.name)!.shape, 0.5))
        const before = await weights(model)
        const opt = new AdamW(tf, model, { lr: 0.1, weightDecay: 0.2, decayEmbeddings })
        // Zero gradients: Adam's update is 0/(0 + ε) = 0, so only decay moves a weight.
        const zeros = new Map([...model.params].map(([n, v]) => [n, tf.zerosLike(v) as Tensor]))
        opt.apply(zeros)
        tf.dispose([...zeros.values()])
        const after = await weights(model)
        const kinds = new Set<string>()
        for (const s of model.specs) {
          const decayed = s.kind === 'matrix' || (decayEmbeddings && (s.kind === 'embedding' || s.kind === 'position' || s.kind === 'head'))
          expect(opt.decays(s.name), s.name).toBe(decayed)
          const factor = decayed ? 1 - 0.1 * 0.2 : 1
          const x = before.get(s.name)!
          const y = after.get(s.name)!
          for (let i = 0; i < x.length; i++) expect(y[i], s.name).toBeCloseTo(x[i]! * factor, 7)
          kinds.add(s.kind)
        }
        expect([...kinds].sort()).toEqual(raw === GPT2 ? ['bias', 'embedding', 'matrix', 'norm', 'position'] : ['bias', 'embedding', 'head', 'matrix', 'norm'])
        opt.dispose()
        model.dispose()
      }
    }
  })
})

describe('trainStep', () => {
  it('clips by the global norm as torch does, against a hand computation', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(GPT2, 'config.json'), 6, 0.2)
    const rows = randomRows(3, 2, 12, 40)
    // The gradient by hand: every parameter's, then the L2 norm over all of them in float64.
    const ids = tf.tensor2d(rows, undefined, 'int32') as Tensor2D
    const inputs = tf.slice(ids, [0, 0], [2, 11]) as Tensor2D
    const targets = tf.slice(ids, [0, 1], [2, 11]) as Tensor2D
    const vars = [...model.params.entries()]
    const { value, grads } = tf.variableGrads(
      () => model.loss(inputs, targets),
      vars.map(([, v]) => v),
    )
    const g = new Map<string, Float32Array>()
    let sq = 0
    for (const [n, v] of vars) {
      const d = (await grads[v.name]!.data()) as Float32Array
      g.set(n, d)
      for (const x of d) sq += x * x
    }
    const norm = Math.sqrt(sq)
    const loss = (await value.data())[0]!
    tf.dispose([ids, inputs, targets, value, ...Object.values(grads)])
    expect(norm).toBeGreaterThan(0.5)

    for (const maxGradNorm of [norm / 4, norm * 2, null]) {
      const m = copyOf(tf, model)
      const opt = new AdamW(tf, m, { lr: 1e-3 })
      const r = await trainStep(m, [nextTokenBatch(rows)], opt, constantLr(1e-3), { maxGradNorm })
      expect(r.loss).toBeCloseTo(loss, 6)
      expect(Math.abs(r.gradNorm - norm) / norm).toBeLessThan(1e-6)
      // After one step AdamW's first moment is (1 − β₁) times the gradient it was given.
      const coef = maxGradNorm !== null && maxGradNorm < norm ? maxGradNorm / (norm + 1e-6) : 1
      const state = await opt.state()
      for (const [n, want] of g) {
        const got = state.moments[n]!.m
        let maxDiff = 0
        let scale = 0
        for (let i = 0; i < got.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i]! - 0.1 * coef * want[i]!))
          scale = Math.max(scale, Math.abs(0.1 * coef * want[i]!))
        }
        expect(maxDiff / scale, `${n} at maxGradNorm ${maxGradNorm}`).toBeLessThan(1e-6)
      }
      opt.dispose()
      m.dispose()
    }
    model.dispose()
  })

  it('accumulates two micro-batches of one row as one batch of two (same loss and weights within 1e-6)', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    for (const raw of [LLAMA, GPT2]) {
      const a = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 8, 0.1)
      const b = copyOf(tf, a)
      const optA = new AdamW(tf, a, { lr: 0, weightDecay: 0.1 })
      const optB = new AdamW(tf, b, { lr: 0, weightDecay: 0.1 })
      const schedule = warmupCosine({ peak: 1e-3, warmupSteps: 1, totalSteps: 4 })
      for (let step = 0; step < 3; step++) {
        const rows = randomRows(40 + step, 2, 10, 40)
        const whole = await trainStep(a, [nextTokenBatch(rows)], optA, schedule)
        const split = await trainStep(b, [nextTokenBatch([rows[0]!]), nextTokenBatch([rows[1]!])], optB, schedule)
        expect(Math.abs(split.loss - whole.loss)).toBeLessThan(1e-6)
        expect(Math.abs(split.gradNorm - whole.gradNorm) / whole.gradNorm).toBeLessThan(1e-5)
        expect(split.lr).toBe(whole.lr)
        const diff = await sameWeights(a, b)
        if (raw === LLAMA) expect(diff).toBeLessThan(1e-6)
        else {
          // GPT-2's key bias has an identically zero gradient, whose float32 noise Adam turns into
          // updates (see above): compare every other weight.
          const c = copyOf(tf, a)
          const d = copyOf(tf, b)
          for (const m of [c, d]) for (const [n, v] of m.params) if (n.endsWith('c_attn.bias')) v.assign(tf.zerosLike(v))
          expect(await sameWeights(c, d)).toBeLessThan(1e-6)
          c.dispose()
          d.dispose()
        }
      }
      for (const m of [a, b]) m.dispose()
      optA.dispose()
      optB.dispose()
    }
  })

  it('leaves no tensors behind: after the first step (which creates the moments) the count stays the same', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const { tf } = await selectBackend({ requested: backend })
      const model = CausalLM.init(tf, parseModelConfig(LLAMA, 'config.json'), 3)
      const opt = new AdamW(tf, model, { lr: 1e-3, weightDecay: 0.1 })
      const schedule = warmupCosine({ peak: 1e-3, warmupSteps: 2, totalSteps: 10 })
      const ids = tf.tensor2d(randomRows(5, 2, 9, 40), undefined, 'int32') as Tensor2D
      const inputs = tf.slice(ids, [0, 0], [2, 8]) as Tensor2D
      const targets = tf.slice(ids, [0, 1], [2, 8]) as Tensor2D
      const weightsT = tf.tensor2d([1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1], [2, 8])
      const batches: MicroBatch[][] = [
        [{ inputs, targets }],
        [{ inputs, targets, weights: weightsT }, nextTokenBatch(randomRows(6, 3, 9, 40), [[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1]])],
        [nextTokenBatch(randomRows(7, 1, 5, 40))],
      ]
      const P = model.params.size
      const start = tf.memory().numTensors
      await trainStep(model, batches[0]!, opt, schedule)
      expect(tf.memory().numTensors).toBe(start + 2 * P)
      for (let i = 0; i < 6; i++) {
        const r = await trainStep(model, batches[i % 3]!, opt, schedule, { maxGradNorm: i % 2 ? 1e-3 : null })
        expect(r.updated).toBe(true)
        expect(tf.memory().numTensors).toBe(start + 2 * P)
      }
      // The tensors given are the caller's, and still usable.
      expect(inputs.isDisposed || targets.isDisposed || weightsT.isDisposed).toBe(false)
      tf.dispose([ids, inputs, targets, weightsT])
      opt.dispose()
      model.dispose()
      expect(tf.memory().numTensors).toBe(start - 4 - P)
    }
  })

  it('trains packed documents under document masking as the documents apart (same loss, gradient norm and weights within 1e-6)', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const n = 6
    for (const raw of [LLAMA, GPT2]) {
      const a = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 9, 0.1)
      const b = copyOf(tf, a)
      const optA = new AdamW(tf, a, { lr: 0, weightDecay: 0.1 })
      const optB = new AdamW(tf, b, { lr: 0, weightDecay: 0.1 })
      const schedule = warmupCosine({ peak: 1e-3, warmupSteps: 1, totalSteps: 4 })
      for (let step = 0; step < 3; step++) {
        // Four documents of n + 1 tokens (n predictions each), two packed into each row: the
        // prediction across the boundary (the first document's last token → the second's first)
        // has weight 0, so both sides average the same 4n predictions.
        const docs = randomRows(60 + step, 4, n + 1, 40)
        const rows = [docs[0]!.concat(docs[1]!), docs[2]!.concat(docs[3]!)]
        const segment = Array.from({ length: 2 * n + 1 }, (_, t) => (t <= n ? 0 : 1))
        const position = segment.map((s, t) => (s === 0 ? t : t - n - 1))
        const weights = rows.map(() => segment.map((_, t) => (t === n ? 0 : 1)))
        const packed: MicroBatch = { ...nextTokenBatch(rows, weights), layout: { segments: [segment, segment], positions: [Int32Array.from(position), Int32Array.from(position)] } }
        const whole = await trainStep(a, [packed], optA, schedule)
        const apart = await trainStep(b, docs.map((d) => nextTokenBatch([d])), optB, schedule)
        expect(Math.abs(apart.loss - whole.loss)).toBeLessThan(1e-6)
        expect(Math.abs(apart.gradNorm - whole.gradNorm) / whole.gradNorm).toBeLessThan(1e-5)
        if (raw === LLAMA) expect(await sameWeights(a, b)).toBeLessThan(1e-6)
        else {
          // GPT-2's key bias: an identically zero gradient, whose float32 noise Adam amplifies (see above).
          const c = copyOf(tf, a)
          const d = copyOf(tf, b)
          for (const m of [c, d]) for (const [name, v] of m.params) if (name.endsWith('c_attn.bias')) v.assign(tf.zerosLike(v))
          expect(await sameWeights(c, d)).toBeLessThan(1e-6)
          c.dispose()
          d.dispose()
        }
      }
      for (const m of [a, b]) m.dispose()
      optA.dispose()
      optB.dispose()
    }
  })

  it('with layouts (document masking) leaves no tensors behind either', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      const { tf } = await selectBackend({ requested: backend })
      for (const raw of [LLAMA, GPT2]) {
        const model = CausalLM.init(tf, parseModelConfig(raw, 'config.json'), 3)
        const opt = new AdamW(tf, model, { lr: 1e-3, weightDecay: 0.1 })
        const schedule = warmupCosine({ peak: 1e-3, warmupSteps: 2, totalSteps: 10 })
        // As the data pipeline gives them (Int32Array rows), and as plain rows.
        const layout = { segments: [Int32Array.of(0, 0, 0, 1, 1, 2, 2, 2), Int32Array.of(0, 0, 0, 0, 0, 0, 1, 1)], positions: [Int32Array.of(0, 1, 2, 0, 1, 0, 1, 2), Int32Array.of(0, 1, 2, 3, 4, 5, 0, 1)] }
        const plain = { segments: [[0, 1, 1, 1, 1, 1, 1, 1]], positions: [[0, 0, 1, 2, 3, 4, 5, 6]] }
        const batches: MicroBatch[][] = [
          [{ ...nextTokenBatch(randomRows(5, 2, 9, 40)), layout }],
          [{ ...nextTokenBatch(randomRows(6, 2, 9, 40), [[1, 1, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 1, 1]]), layout }, { ...nextTokenBatch(randomRows(7, 1, 9, 40)), layout: plain }],
          [nextTokenBatch(randomRows(8, 2, 9, 40)), { ...nextTokenBatch(randomRows(9, 1, 9, 40)), layout: plain }],
        ]
        const P = model.params.size
        const start = tf.memory().numTensors
        await trainStep(model, batches[0]!, opt, schedule)
        expect(tf.memory().numTensors).toBe(start + 2 * P)
        for (let i = 0; i < 6; i++) {
          const r = await trainStep(model, batches[i % 3]!, opt, schedule, { maxGradNorm: i % 2 ? 1e-3 : null })
          expect(r.updated).toBe(true)
          expect(tf.memory().numTensors).toBe(start + 2 * P)
        }
        opt.dispose()
        model.dispose()
        expect(tf.memory().numTensors).toBe(start - P)
      }
    }
  })

  it('refuses a layout that does not fit the micro-batch, before taking any gradient', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(GPT2, 'config.json'), 3)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    const tensors = tf.memory().numTensors
    const mb = nextTokenBatch(randomRows(1, 2, 5, 40))
    const z = [0, 0, 0, 0]
    await expect(trainStep(model, [{ ...mb, layout: { segments: [z], positions: [z, z] } }], opt, constantLr(1e-3))).rejects.toThrow(/segments have 1 rows; the batch has 2/)
    await expect(trainStep(model, [{ ...mb, layout: { segments: [z, z], positions: [z, [0, 1, 2]] } }], opt, constantLr(1e-3))).rejects.toThrow(/Row 1 of the layout's positions has 3 positions/)
    await expect(trainStep(model, [{ ...mb, layout: { segments: [z, z], positions: [z, [0, 1, 32, 0]] } }], opt, constantLr(1e-3))).rejects.toMatchObject({ code: 'invalid-request', message: expect.stringMatching(/Position id 32 .* \(0 … 31\)/) })
    expect(opt.step).toBe(0)
    expect(tf.memory().numTensors).toBe(tensors)
    opt.dispose()
    model.dispose()
  })

  it('changes nothing when the loss is not finite, and refuses bad batches and frozen models', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = CausalLM.init(tf, parseModelConfig(LLAMA, 'config.json'), 3)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    const before = await weights(model)
    const tensors = tf.memory().numTensors
    const rows = randomRows(1, 1, 9, 40)
    const r = await trainStep(model, [nextTokenBatch(rows, [[1, 1, 1, Infinity, 1, 1, 1, 1]])], opt, constantLr(1e-3))
    expect(r.updated).toBe(false)
    expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm)).toBe(false)
    expect(opt.step).toBe(0)
    expect(tf.memory().numTensors).toBe(tensors)
    const after = await weights(model)
    for (const [n, x] of before) expect(after.get(n), n).toEqual(x)

    await expect(trainStep(model, [], opt, constantLr(1e-3))).rejects.toThrow(/at least one micro-batch/)
    await expect(trainStep(model, [{ inputs: [[1, 2, 3]], targets: [[2, 3]] }], opt, constantLr(1e-3))).rejects.toThrow(/targets are 1 × 2; its inputs are 1 × 3/)
    await expect(trainStep(model, [{ inputs: [[1, 2, 3]], targets: [[2, 3, 40]] }], opt, constantLr(1e-3))).rejects.toThrow(/Token id 40 is outside this model's vocabulary/)
    await expect(trainStep(model, [{ inputs: [[1, 2], [3]], targets: [[2, 3], [4]] }], opt, constantLr(1e-3))).rejects.toThrow(/rows of different lengths/)
    expect(tf.memory().numTensors).toBe(tensors)
    const other = CausalLM.init(tf, model.config, 1)
    await expect(trainStep(other, [nextTokenBatch(rows)], opt, constantLr(1e-3))).rejects.toThrow(/another model/)
    other.dispose()
    opt.dispose()
    model.dispose()

    const dir = join(FIXTURES, 'train-llama')
    const frozen = await CausalLM.load(tf, await openCheckpoint(dir), { trainable: false })
    const optF = new AdamW(tf, frozen, { lr: 1e-3 })
    await expect(trainStep(frozen, [nextTokenBatch(rows)], optF, constantLr(1e-3))).rejects.toMatchObject({ code: 'invalid-request', message: expect.stringMatching(/not trainable/) })
    frozen.dispose()
  })
})
