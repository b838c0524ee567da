/**
 * AdamW (Loshchilov & Hutter 2019), as `torch.optim.AdamW` computes it, one parameter at a time,
 * with its state keyed by parameter name so that a run can be checkpointed and resumed exactly.
 *
 * Per parameter w with gradient g, at step t (counted from 1), learning rate lr and the
 * parameter's weight decay λ (0 or `weightDecay`, see `decays`):
 *
 *   w ← w·(1 − lr·λ)                      decoupled decay, before the update, as torch does
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   w ← w − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 *
 * Weight decay follows the usual parameter groups (Hugging Face's Trainer, nanoGPT, OLMo): matrices
 * decay; biases and norm weights never do; the token embeddings, GPT-2's position embeddings and
 * an untied output head decay only with `decayEmbeddings` (off by default: a token's row gets a
 * gradient only in the steps where the token occurs, but decoupled decay would shrink it every
 * step, pulling rare tokens — many of a new language's — towards zero).
 *
 * tfjs's own `tf.train.adam` updates every variable inside a single `tidy`, so about a dozen
 * temporaries the size of the whole model are alive at once at the end of a step; here each
 * parameter's temporaries are freed before the next is touched, so a step needs the weights,
 * gradients and two moments plus a few copies of the largest matrix.
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'
import { EngineError } from '../common/errors'
import { type ParamKind, type ParamSpec, heldShape } from './names'

export interface AdamWOptions {
  lr: number
  beta1?: number
  beta2?: number
  eps?: number
  /** λ for the parameters that decay (see `decays`); 0 turns decay off. */
  weightDecay?: number
  /** Whether the embeddings and an untied output head decay too (default false). */
  decayEmbeddings?: boolean
}

export type AdamWHyper = Required<AdamWOptions>

/** Everything a resumed run needs: `load` of this into a fresh optimizer continues bit for bit. */
export interface AdamWState {
  /** Updates applied so far. */
  step: number
  hyper: AdamWHyper
  /**
   * First and second moments per parameter name, in the layout the model holds the parameter, and
   * the updates that parameter has had (as torch keeps `step` per parameter: one trained only after
   * a first stage that froze it starts its bias correction afresh). Absent `step`: the global one.
   */
  moments: Record<string, { m: Float32Array; v: Float32Array; step?: number }>
}

/** What the optimiser updates: a model's variables by name, and their specs (CausalLM has both). */
export interface Trainable {
  readonly params: ReadonlyMap<string, Variable>
  readonly specs: readonly ParamSpec[]
}

/** Whether a parameter of this kind is in the weight-decay group. */
export function decaysKind(kind: ParamKind, decayEmbeddings: boolean): boolean {
  switch (kind) {
    case 'matrix':
      return true
    case 'bias':
    case 'norm':
      return false
    case 'embedding':
    case 'position':
    case 'head':
      return decayEmbeddings
  }
}

export class AdamW {
  private hyper: AdamWHyper
  private stepCount = 0
  private readonly specs: Map<string, ParamSpec>
  private readonly moments = new Map<string, { m: Variable; v: Variable; step: number }>()

  constructor(
    private readonly tf: Tf,
    /** The model whose parameters it updates. */
    readonly model: Trainable,
    opts: AdamWOptions,
  ) {
    this.hyper = { lr: opts.lr, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 1e-8, weightDecay: opts.weightDecay ?? 0, decayEmbeddings: opts.decayEmbeddings ?? false }
    this.specs = new Map(model.specs.map((s) => [s.name, s]))
  }

  /** The learning rate of the next update (a schedule sets it before each step). */
  get lr(): number {
    return this.hyper.lr
  }
  set lr(value: number) {
    this.hyper.lr = value
  }

  /** Updates applied so far (0 before the first): the index of the next update. */
  get step(): number {
    return this.stepCount
  }

  /** The hyperparameters (a copy). */
  get options(): AdamWHyper {
    return { ...this.hyper }
  }

  /** Whether the named parameter is in the weight-decay group. */
  decays(name: string): boolean {
    const spec = this.specs.get(name)
    if (!spec) throw new Error(`no parameter ${name}`)
    return decaysKind(spec.kind, this.hyper.decayEmbeddings)
  }

  /**
   * Applies one update with the gradients by parameter name (parameters without one are left as
   * they are, as torch skips those whose grad is None), each multiplied by `gradScale` first (a
   * clipping or accumulation factor, so no scaled copy of every gradient is needed). Gradients
   * are not disposed.
   */
  apply(grads: ReadonlyMap<string, Tensor>, gradScale = 1): void {
    const tf = this.tf
    const { lr, beta1, beta2, eps, weightDecay } = this.hyper
    for (const name of grads.keys()) if (!this.model.params.has(name)) throw new Error(`a gradient for ${name}, which the model does not have`)
    this.stepCount++
    for (const [name, g] of grads) {
      const w = this.model.params.get(name) as Variable
      let s = this.moments.get(name)
      if (!s) {
        s = { ...tf.tidy(() => ({ m: tf.variable(tf.zerosLike(w), false), v: tf.variable(tf.zerosLike(w), false) })), step: 0 }
        this.moments.set(name, s)
      }
      const { m, v } = s
      const t = ++s.step
      const c1 = 1 - beta1 ** t
      const c2 = 1 - beta2 ** t
      const decay = this.decays(name) ? weightDecay : 0
      tf.tidy(() => {
        const gs = gradScale === 1 ? g : tf.mul(g, gradScale)
        const decayed = decay ? tf.mul(w, 1 - lr * decay) : w
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(gs, 1 - beta1))
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(gs), 1 - beta2))
        m.assign(m1)
        v.assign(v1)
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(c2)), eps)
        w.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / c1)))
      })
    }
  }

  /** The whole state, read from the backend (treat the arrays as read-only: a backend may share them). */
  async state(): Promise<AdamWState> {
    const moments: AdamWState['moments'] = {}
    for (const [name, { m, v, step }] of this.moments) moments[name] = { m: (await m.data()) as Float32Array, v: (await v.data()) as Float32Array, step }
    return { step: this.stepCount, hyper: { ...this.hyper }, moments }
  }

  /** Replaces the whole state with `state` (from `state()`, of an optimiser of the same model). */
  load(state: AdamWState): void {
    const tf = this.tf
    if (!Number.isSafeInteger(state.step) || state.step < 0) throw new EngineError('bad-input', `The optimiser state's step (${state.step}) is not a count of updates.`, { hint: 'Resume from an intact checkpoint.' })
    for (const [name, { m, v }] of Object.entries(state.moments)) {
      const spec = this.specs.get(name)
      if (!spec) throw new EngineError('bad-input', `The optimiser state has moments for ${name}, which this model does not have.`, { hint: 'Resume with the model the state was saved with.' })
      const size = heldShape(spec).reduce((a, b) => a * b, 1)
      if (m.length !== size || v.length !== size) {
        throw new EngineError('bad-input', `The optimiser state's moments for ${name} have ${m.length} and ${v.length} values; the parameter has ${size}.`, { hint: 'Resume with the model the state was saved with.' })
      }
    }
    this.dispose()
    for (const [name, { m, v, step }] of Object.entries(state.moments)) {
      const shape = heldShape(this.specs.get(name) as ParamSpec)
      // Copies: the cpu backend would otherwise keep the caller's arrays as the tensors' storage.
      const tensors = tf.tidy(() => ({ m: tf.variable(tf.tensor(m.slice(), shape, 'float32'), false), v: tf.variable(tf.tensor(v.slice(), shape, 'float32'), false) }))
      this.moments.set(name, { ...tensors, step: step ?? state.step })
    }
    this.stepCount = state.step
    this.hyper = { ...state.hyper }
  }

  /** Frees the moments (the step count and hyperparameters stay). */
  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose()
      v.dispose()
    }
    this.moments.clear()
  }
}
