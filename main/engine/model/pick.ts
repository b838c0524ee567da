import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'

/**
 * Each row's logit at its target: `logits[i, targets[i]]` for logits [N, V] and targets [N]
 * (int32).
 *
 * On cpu, wasm and native TensorFlow a gather from the flattened logits at i·V + target is one
 * cheap kernel. On webgpu that gather is wrong once i·V + target passes 2²⁴ (16,777,216; e.g.
 * past row 333 of a 50,257-token vocabulary): tfjs-backend-webgpu 4.22's GatherV2 carries the
 * index through float32, which holds integers exactly only up to 2²⁴ (measured on SwiftShader:
 * 93 of 504 rows wrong at V = 50,257). There a batched gather picks within each row instead, so
 * every index stays below V. See docs/performance.md, "WebGPU through Dawn".
 */
export function pickTargets(tf: Tf, logits: Tensor2D, targets: Tensor1D): Tensor1D {
  const [n, V] = logits.shape
  return tf.tidy(() => {
    if (tf.getBackend() === 'webgpu') return tf.reshape(tf.gather(logits, tf.reshape(targets, [n, 1]), 1, 1), [n]) as Tensor1D
    return tf.gather(tf.reshape(logits, [-1]), tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), targets)) as Tensor1D
  })
}
