/**
 * Activation recomputation (gradient checkpointing) of one transformer block.
 *
 * tfjs keeps every intermediate of the forward pass until the backward pass ends, and every
 * intermediate gradient too: about 78 N·D floats per layer (docs/performance.md, "Memory"). A block
 * wrapped here is a single custom op on the tape. Its forward runs the block at kernel depth, where
 * nothing is recorded and everything the block makes but its output is freed at once; it keeps only
 * the block's input (and the constants it reads: masks, rotary tables). Its gradient runs the block
 * again under a tape of its own and differentiates it, which gives the gradients of the input and of
 * the block's weights; that tape's intermediates are freed before the next block's gradient runs.
 * So a step holds a few N·D per layer plus one block's full activations, for about one more forward
 * pass of compute.
 *
 * Two things about tfjs 4.22 the code below relies on:
 * - `customGrad` differentiates only with respect to its inputs: weights read through a closure get
 *   no gradient. The block's weights are therefore inputs of the op, after the block's input.
 * - A gradient computed inside a gradient function (with the outer pass at gradient depth 0, as
 *   in `tf.variableGrads`) starts a new tape in the engine's `activeTape` and sets it to null when
 *   it ends, while the outer pass still has to dispose its own tape's saved tensors from there. The
 *   outer tape is put back when the inner gradient is done (`ownTape`).
 */
import type { Tensor } from '@tensorflow/tfjs-core'
import type { Tf } from '../backend/select'
import type { ParamLookup } from './gpt2'

/** One block: its input, its weights by name, the constants it reads (masks, tables) → its output. */
export type Block = (x: Tensor, p: ParamLookup, constants: Tensor[]) => Tensor

type SaveFn = (tensors: Tensor[]) => void

interface EngineTape {
  state: { activeTape: unknown }
}

/** Runs `f` (which takes gradients) and puts the engine's tape back as it was. */
function ownTape<T>(tf: Tf, f: () => T): T {
  const engine = tf.engine() as unknown as EngineTape
  const outer = engine.state.activeTape
  try {
    return f()
  } finally {
    engine.state.activeTape = outer
  }
}

/**
 * `block(x, p, constants)` as one op whose backward pass recomputes the block (see the top of the
 * file). `names` are the parameters the block reads through `p`, all of them: each gets its gradient.
 * Without a tape (inference) it is the block, with one more tidy around it.
 */
export function recomputed(tf: Tf, block: Block, x: Tensor, p: ParamLookup, names: readonly string[], constants: Tensor[]): Tensor {
  const weights = names.map((n) => p(n))
  const lookupIn = (ws: Tensor[]): ParamLookup => {
    const byName = new Map(names.map((n, i) => [n, ws[i] as Tensor]))
    return (name: string) => {
      const w = byName.get(name)
      if (!w) throw new Error(`recomputed block: ${name} is not among the block's parameters`)
      return w
    }
  }
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as SaveFn
    const [input, ...ws] = args as Tensor[]
    // The constants are saved too: made in the function being differentiated, they would be
    // disposed before the backward pass runs.
    save([input as Tensor, ...constants])
    return {
      value: block(input as Tensor, lookupIn(ws), constants),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, ...sc] = saved as [Tensor, ...Tensor[]]
        return tf.tidy(() =>
          ownTape(tf, () => {
            const grads = tf.grads((...a: Tensor[]) => block(a[0] as Tensor, lookupIn(a.slice(1)), sc))
            return grads([sx, ...ws], dy)
          }),
        )
      },
    }
  }) as Parameters<Tf['customGrad']>[0])
  return op(x, ...weights)
}
