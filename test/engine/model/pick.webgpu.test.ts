import { describe, expect, it } from 'vitest'
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend } from '../../../main/engine/backend/select'
import { pickTargets } from '../../../main/engine/model/pick'

// Rows past 2²⁴ / V of a flattened [N, V] gather come out wrong on webgpu (GatherV2's index goes
// through float32); pickTargets must pick every row's target right there too.
describe('pickTargets on webgpu', () => {
  it('picks each row\'s target of a [400, 50257] logits tensor (indices past 2²⁴ when flattened)', async () => {
    const { tf } = await selectBackend({ requested: 'webgpu' })
    const N = 400
    const V = 50257
    // logits[i, j] = j - i (exact in float32), so the pick at target t of row i is t - i.
    const logits = tf.sub(tf.reshape(tf.range(0, V, 1, 'float32'), [1, V]), tf.reshape(tf.range(0, N, 1, 'float32'), [N, 1])) as Tensor2D
    const targets = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7919 + 13) % V), 'int32') as Tensor1D
    const got = await pickTargets(tf, logits, targets).data()
    const want = Array.from({ length: N }, (_, i) => ((i * 7919 + 13) % V) - i)
    expect(Array.from(got)).toEqual(want)
    // The flattened gather the other backends use is wrong here: what the helper works around.
    const flat = await tf.gather(tf.reshape(logits, [-1]), tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), targets)).data()
    expect(Array.from(flat).filter((v, i) => v !== want[i]).length).toBeGreaterThan(0)
  })
})
