/**
 * AdamW (Loshchilov & Hutter 2019), as torch.optim.AdamW computes it, one variable at a time.
 *
 * tfjs's own `tf.train.adam` updates every variable inside a single `tidy`, so about a dozen
 * temporaries the size of the whole model are alive at once at the end of a step; here each
 * variable's temporaries are freed before the next is touched, so a step needs the weights,
 * gradients and two moments plus a few copies of the largest matrix.
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'

export interface AdamWOptions {
  lr: number
  beta1?: number
  beta2?: number
  eps?: number
  weightDecay?: number
}

export class AdamW {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  lr: number
  step = 0
  private readonly moments = new Map<Variable, { m: Variable; v: Variable }>()

  constructor(
    private readonly tf: Tf,
    opts: AdamWOptions,
  ) {
    this.lr = opts.lr
    this.beta1 = opts.beta1 ?? 0.9
    this.beta2 = opts.beta2 ?? 0.999
    this.eps = opts.eps ?? 1e-8
    this.weightDecay = opts.weightDecay ?? 0
  }

  /** Applies one update. `grads` pairs each variable with its gradient; gradients are not disposed. */
  apply(grads: ReadonlyArray<[Variable, Tensor]>): void {
    const tf = this.tf
    this.step++
    const c1 = 1 - this.beta1 ** this.step
    const c2 = 1 - this.beta2 ** this.step
    for (const [w, g] of grads) {
      let s = this.moments.get(w)
      if (!s) {
        s = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(w), false), v: tf.variable(tf.zerosLike(w), false) }))
        this.moments.set(w, s)
      }
      const { m, v } = s
      tf.tidy(() => {
        // Decoupled weight decay first, as torch does: w ← w − lr·λ·w.
        const decayed = this.weightDecay ? tf.mul(w, 1 - this.lr * this.weightDecay) : w
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1))
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2))
        m.assign(m1)
        v.assign(v1)
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(c2)), this.eps)
        w.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), this.lr / c1)))
      })
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose()
      v.dispose()
    }
    this.moments.clear()
  }
}
