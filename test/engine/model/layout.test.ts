import { describe, expect, it } from 'vitest'
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { mulberry32 } from '../../../main/engine/common/rng'
import { parseModelConfig } from '../../../main/engine/model/config'
import { type SequenceLayout, documentMaskData, flattenLayout, layoutPrefix } from '../../../main/engine/model/layout'
import { CausalLM } from '../../../main/engine/model/model'
import { mayAttend } from '../../../main/engine/training/mixture'

// Document masking (packed documents, as SambaLingo trains): no token attends across a document
// boundary, and with position ids restarting at 0 each document gives what it gives alone. The
// numbers against an independent reference are in golden.test.ts (gpt2-packed, llama-packed).

const V = 40
const CONFIGS = {
  gpt2: { model_type: 'gpt2', vocab_size: V, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 24 },
  // GQA: 4 query heads on 2 kv heads, so the mask is stacked over 2 query blocks.
  llama: { model_type: 'llama', vocab_size: V, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 24, rope_scaling: { type: 'linear', factor: 2 } },
  // Qwen3: per-head q/k norms before rope, 1 kv head for 4 query heads, biases.
  qwen3: { model_type: 'qwen3', vocab_size: V, hidden_size: 16, head_dim: 8, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, max_position_embeddings: 24, attention_bias: true },
}

/** Documents per row (lengths): three in the first row (one of a single token), two in the second. */
const DOCS = [
  [5, 1, 8],
  [9, 5],
]
const T = 14

function layoutOf(docs: number[][]): { segments: Int32Array[]; positions: Int32Array[] } {
  const segments: Int32Array[] = []
  const positions: Int32Array[] = []
  for (const lens of docs) {
    const s = new Int32Array(T)
    const p = new Int32Array(T)
    let t = 0
    lens.forEach((len, d) => {
      for (let i = 0; i < len; i++, t++) {
        s[t] = d
        p[t] = i
      }
    })
    expect(t).toBe(T)
    segments.push(s)
    positions.push(p)
  }
  return { segments, positions }
}

/** [start, end) of each document of each row. */
function spans(docs: number[][]): [number, number][][] {
  return docs.map((lens) => {
    let t = 0
    return lens.map((len) => [t, (t += len)] as [number, number])
  })
}

function randomIds(rand: () => number, n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * V))
}

async function logitsOf(tf: Tf, model: CausalLM, ids: number[][], layout?: SequenceLayout): Promise<Float32Array> {
  const t = tf.tensor2d(ids, undefined, 'int32') as Tensor2D
  const l = model.logits(t, layout)
  const data = (await l.data()) as Float32Array
  tf.dispose([t, l])
  return data
}

/** Row b, positions [s, e) of logits [B, T, V] (T positions a row). */
const slab = (x: Float32Array, b: number, s: number, e: number, len = T) => x.slice((b * len + s) * V, (b * len + e) * V)

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

describe('the document mask', () => {
  it('is causal within a segment and closed across segments, for each stacked query block', () => {
    const layout = layoutOf(DOCS)
    const flat = flattenLayout(layout, 2, T, 24)
    const g = 2
    const m = documentMaskData(flat, g)
    expect(m.length).toBe(2 * g * T * T)
    for (let b = 0; b < 2; b++) {
      for (let r = 0; r < g * T; r++) {
        for (let j = 0; j < T; j++) {
          const want = mayAttend(layout.segments[b]!, r % T, j) ? 0 : -1e30
          expect(m[((b * g * T) + r) * T + j]).toBe(Math.fround(want))
        }
      }
    }
  })
})

describe.each(['cpu', 'wasm'] as const)('on the %s backend', (backend) => {
  let tf: Tf
  const setup = async () => {
    tf ??= (await selectBackend({ requested: backend })).tf
    return tf
  }

  describe.each(Object.keys(CONFIGS) as (keyof typeof CONFIGS)[])('%s', (name) => {
    const config = parseModelConfig(CONFIGS[name], 'config.json')

    it("gives each document's logits bit for bit whatever the tokens of the other documents in its row", async () => {
      const tf = await setup()
      const model = CausalLM.init(tf, config, 5, 0.2)
      const rand = mulberry32(17)
      const layout = layoutOf(DOCS)
      const base = DOCS.map(() => randomIds(rand, T))
      const want = await logitsOf(tf, model, base, layout)
      const before = tf.memory().numTensors
      for (const [b, docs] of spans(DOCS).entries()) {
        for (const [d, [s, e]] of docs.entries()) {
          for (let trial = 0; trial < 2; trial++) {
            // Every other document of row b (before and after this one) redrawn; the other row too.
            const ids = base.map((row, r) => row.map((id, t) => (r !== b || t < s || t >= e ? Math.floor(rand() * V) : id)))
            const got = await logitsOf(tf, model, ids, layout)
            expect(slab(got, b, s, e), `row ${b}, document ${d}`).toEqual(slab(want, b, s, e))
            // Without the mask the same change reaches the later documents: the test can fail.
            if (trial === 0 && s > 0) {
              const plainWant = await logitsOf(tf, model, base)
              const plainGot = await logitsOf(tf, model, ids)
              expect(maxAbsDiff(slab(plainGot, b, s, e), slab(plainWant, b, s, e))).toBeGreaterThan(1e-3)
            }
          }
        }
      }
      expect(tf.memory().numTensors).toBe(before)
      model.dispose()
    })

    it('gives each document the logits it has alone in its own row (positions restart at 0), within 1e-5', async () => {
      const tf = await setup()
      const model = CausalLM.init(tf, config, 6, 0.2)
      const rand = mulberry32(23)
      const ids = DOCS.map(() => randomIds(rand, T))
      const packed = await logitsOf(tf, model, ids, layoutOf(DOCS))
      let worst = 0
      for (const [b, docs] of spans(DOCS).entries()) {
        for (const [s, e] of docs) {
          const alone = await logitsOf(tf, model, [ids[b]!.slice(s, e)])
          worst = Math.max(worst, maxAbsDiff(slab(packed, b, s, e), slab(alone, 0, 0, e - s, e - s)))
        }
      }
      console.log(`${backend} ${name}: packed vs alone, max |Δlogit| ${worst.toExponential(2)}`)
      expect(worst).toBeLessThan(1e-5)
      // And so does the next-token NLL inside each document.
      const idsT = tf.tensor2d(ids, undefined, 'int32') as Tensor2D
      const nll = model.nextTokenNll(idsT, layoutOf(DOCS))
      const nllData = (await nll.data()) as Float32Array
      tf.dispose([idsT, nll])
      for (const [b, docs] of spans(DOCS).entries()) {
        for (const [s, e] of docs) {
          if (e - s < 2) continue
          const one = tf.tensor2d([ids[b]!.slice(s, e)], undefined, 'int32') as Tensor2D
          const alone = model.nextTokenNll(one)
          const a = (await alone.data()) as Float32Array
          tf.dispose([one, alone])
          for (let i = 0; i < e - s - 1; i++) expect(Math.abs(nllData[b * (T - 1) + s + i]! - a[i]!)).toBeLessThan(1e-5)
        }
      }
      model.dispose()
    })

    it('gives with a layout of one document at 0 … T−1 exactly the logits of no layout', async () => {
      const tf = await setup()
      const model = CausalLM.init(tf, config, 7, 0.2)
      const ids = DOCS.map((_, i) => randomIds(mulberry32(30 + i), T))
      const one = { segments: ids.map(() => new Int32Array(T)), positions: ids.map(() => Int32Array.from({ length: T }, (_, t) => t)) }
      expect(await logitsOf(tf, model, ids, one)).toEqual(await logitsOf(tf, model, ids))
      model.dispose()
    })
  })

  it("sends GPT-2's position-embedding gradient to the rows of the position ids used, summed over their uses", async () => {
    const tf = await setup()
    const model = CausalLM.init(tf, parseModelConfig(CONFIGS.gpt2, 'config.json'), 8, 0.2)
    const ids = tf.tensor2d(DOCS.map((_, i) => randomIds(mulberry32(40 + i), T)), undefined, 'int32') as Tensor2D
    const targets = tf.tensor2d(DOCS.map((_, i) => randomIds(mulberry32(50 + i), T)), undefined, 'int32') as Tensor2D
    const layout = layoutOf(DOCS)
    const wpe = model.params.get('wpe.weight')!
    const { grads } = tf.variableGrads(() => model.loss(ids, targets, undefined, layout), [wpe])
    const g = (await grads[wpe.name]!.data()) as Float32Array
    const D = 16
    const used = Math.max(...DOCS.flat()) // position ids 0 … 8 occur
    const rowNorm = (r: number) => Math.hypot(...g.slice(r * D, (r + 1) * D))
    for (let r = 0; r < used; r++) expect(rowNorm(r), `wpe row ${r}`).toBeGreaterThan(0)
    for (let r = used; r < 24; r++) expect(rowNorm(r), `wpe row ${r}`).toBe(0)
    tf.dispose([ids, targets, ...Object.values(grads)])
    model.dispose()
  })

  it('refuses layouts that do not fit the batch or the model, leaving no tensors', async () => {
    const tf = await setup()
    const model = CausalLM.init(tf, parseModelConfig(CONFIGS.llama, 'config.json'), 9)
    const ids = tf.tensor2d([randomIds(mulberry32(1), 4), randomIds(mulberry32(2), 4)], undefined, 'int32') as Tensor2D
    const before = tf.memory().numTensors
    const z = [0, 0, 0, 0]
    const p = [0, 1, 2, 3]
    expect(() => model.logits(ids, { segments: [z], positions: [p, p] })).toThrow(/segments have 1 rows; the batch has 2/)
    expect(() => model.logits(ids, { segments: [z, z], positions: [p, [0, 1, 2]] })).toThrow(/Row 1 of the layout's positions has 3 positions; the batch's rows have 4/)
    expect(() => model.logits(ids, { segments: [z, [0, 0, -1, 1]], positions: [p, p] })).toThrow(/segments must be integers ≥ 0 \(row 1, position 2 has -1\)/)
    expect(() => model.logits(ids, { segments: [z, z], positions: [p, [0, 1.5, 2, 3]] })).toThrow(/positions must be integers/)
    expect(() => model.logits(ids, { segments: [z, z], positions: [p, [0, 1, 24, 3]] })).toThrow(/Position id 24 \(row 1, position 2\) is beyond the positions this model has \(0 … 23\)/)
    expect(tf.memory().numTensors).toBe(before)
    ids.dispose()
    model.dispose()
  })
})

describe('layoutPrefix', () => {
  it('keeps the first n positions of every row', () => {
    const cut = layoutPrefix({ segments: [[0, 0, 1], new Int32Array([0, 1, 1])], positions: [[0, 1, 0], new Int32Array([0, 0, 1])] }, 2)
    expect(cut.segments.map((r) => Array.from(r))).toEqual([
      [0, 0],
      [0, 1],
    ])
    expect(cut.positions.map((r) => Array.from(r))).toEqual([
      [0, 1],
      [0, 0],
    ])
  })
})
