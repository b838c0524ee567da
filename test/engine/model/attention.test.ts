import { beforeAll, describe, expect, it } from 'vitest'
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { normalRng } from '../../../main/engine/common/rng'
import { documentMaskData } from '../../../main/engine/model/layout'
import { SLICED_ATTENTION_MIN, causalMask, slicedAttention, splitLast } from '../../../main/engine/model/ops'

// slicedAttention (ops.ts): attention as plain 2-D products per (row, kv head), with its own
// gradient, must give the batched form's values and gradients (tfjs's own matMul and its
// gradients), with a causal mask shared by the rows and a per-row document mask, grouped queries
// (2 query heads per kv head, stacked along the sequence axis as llama.ts stacks them).
const B = 3
const Hkv = 2
const g = 2
const T = 40
const hd = 8

function batched(tf: Tf, q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: number): Tensor {
  return tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask)), v)
}

async function maxRel(a: Tensor, b: Tensor): Promise<number> {
  const x = (await a.data()) as Float32Array
  const y = (await b.data()) as Float32Array
  expect(x.length).toBe(y.length)
  let d = 0
  let s = 1e-12
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs((x[i] as number) - (y[i] as number)))
    s = Math.max(s, Math.abs(y[i] as number))
  }
  return d / s
}

describe('sliced attention on wasm', () => {
  let tf: Tf
  beforeAll(async () => {
    ;({ tf } = await selectBackend({ requested: 'wasm' }))
  })

  it('is used from the size where it pays off', () => {
    expect(g * T * T).toBeGreaterThanOrEqual(SLICED_ATTENTION_MIN)
  })

  for (const kind of ['causal', 'documents'] as const) {
    it(`gives the batched form's values and gradients (${kind} mask, grouped queries)`, async () => {
      const rand = normalRng(kind === 'causal' ? 1 : 2)
      const make = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rand), shape)
      const q = make([B, Hkv, g * T, hd]) as Tensor4D
      const k = make([B, Hkv, T, hd]) as Tensor4D
      const v = make([B, Hkv, T, hd]) as Tensor4D
      const dy = make([B, Hkv, g * T, hd])
      let mask: Tensor2D | Tensor4D
      if (kind === 'causal') mask = causalMask(tf, T, g)
      else {
        const segments = new Int32Array(B * T).map((_, i) => (i % T < 7 + Math.floor(i / T) * 5 ? 0 : 1))
        mask = tf.tensor4d(documentMaskData({ B, T, segments, positions: new Int32Array(B * T) }, g), [B, 1, g * T, T])
      }
      const scale = 1 / Math.sqrt(hd)
      const ours = slicedAttention(tf, q, k, v, mask, scale)
      const theirs = batched(tf, q, k, v, mask, scale)
      expect(ours.shape).toEqual([B, Hkv, g * T, hd])
      expect(await maxRel(ours, theirs)).toBeLessThan(1e-5)
      const gOurs = tf.grads((a: Tensor, b: Tensor, c: Tensor) => slicedAttention(tf, a, b, c, mask, scale))([q, k, v], dy)
      const gTheirs = tf.grads((a: Tensor, b: Tensor, c: Tensor) => batched(tf, a, b, c, mask, scale))([q, k, v], dy)
      for (let i = 0; i < 3; i++) expect(await maxRel(gOurs[i] as Tensor, gTheirs[i] as Tensor), ['dq', 'dk', 'dv'][i]).toBeLessThan(1e-5)
      tf.dispose([q, k, v, dy, mask, ours, theirs, ...gOurs, ...gTheirs])
    })
  }

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors
    const q = tf.ones([1, 1, 32, 4])
    const mask = causalMask(tf, 32)
    const [dq] = tf.grads((a: Tensor) => slicedAttention(tf, a, a, a, mask, 0.5))([q])
    tf.dispose([q, mask, dq as Tensor])
    expect(tf.memory().numTensors).toBe(before)
  })

  it("splitLast gives tf.split's pieces along the last axis, and their gradient", async () => {
    const rand = normalRng(5)
    const x = tf.tensor(Float32Array.from({ length: 2 * 5 * 12 }, rand), [2, 5, 12])
    const dys = [0, 1, 2].map(() => tf.tensor(Float32Array.from({ length: 2 * 5 * 4 }, rand), [2, 5, 4]))
    const ours = splitLast(tf, x, 3)
    const theirs = tf.split(x, 3, 2)
    for (let i = 0; i < 3; i++) expect(await (ours[i] as Tensor).data()).toEqual(await (theirs[i] as Tensor).data())
    // A loss that weights the pieces differently, so a gradient sent to the wrong piece shows.
    const loss = (split: (t: Tensor) => Tensor[]) => (t: Tensor) => tf.addN(split(t).map((piece, i) => tf.sum(tf.mul(piece, dys[i] as Tensor))))
    const [gOurs] = tf.grads(loss((t) => splitLast(tf, t, 3)))([x])
    const [gTheirs] = tf.grads(loss((t) => tf.split(t, 3, 2)))([x])
    expect(await (gOurs as Tensor).data()).toEqual(await (gTheirs as Tensor).data())
    tf.dispose([x, ...dys, ...ours, ...theirs, gOurs as Tensor, gTheirs as Tensor])
  })
})
