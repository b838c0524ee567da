import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BackendName } from '../../../main/engine/contract'
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { type SequenceLayout, layoutPrefix } from '../../../main/engine/model/layout'
import { CausalLM, transpose2d } from '../../../main/engine/model/model'
import { storedName } from '../../../main/engine/model/names'
import { readSafetensorsHeader, readTensorFloat32 } from '../../../main/engine/model/safetensors'

// The golden suite (golden.test.ts runs it on cpu and wasm, golden.webgpu.test.ts on webgpu).
// Our GPT-2 and Llama-family forward passes and their gradients against an independent PyTorch
// implementation of transformers' semantics (fixtures/make_fixtures.py, computed in float64), on
// tiny random models stored as F32, F16 and BF16, sharded or not, with and without name prefixes,
// with plain, llama3 and linear rope scaling; and rows of packed documents with document masking
// (the -packed fixtures: a block-diagonal causal 4-D mask and explicit position ids, as
// transformers applies them).
const FIXTURES = join(__dirname, 'fixtures')
export const NAMES = ['gpt2', 'gpt2-f16-noprefix', 'llama', 'qwen2', 'mistral-bf16', 'llama3-sharded', 'qwen3', 'llama-linear-rope', 'gpt2-packed', 'llama-packed'] as const

interface Expected {
  ids: number[][]
  /** The -packed fixtures: [B][T] document numbers and position ids of `ids`. */
  segments?: number[][]
  positions?: number[][]
  logits: number[][][]
  loss: number
  gradNorms: Record<string, number>
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected
}

async function referenceGrads(name: string): Promise<Map<string, Float32Array>> {
  const header = await readSafetensorsHeader(join(FIXTURES, name, 'grads.safetensors'))
  const out = new Map<string, Float32Array>()
  for (const t of header.tensors) out.set(t.name, await readTensorFloat32(t))
  return out
}

/** The fixture's layout, if it has one. */
function layoutOf(exp: Expected): SequenceLayout | undefined {
  return exp.segments && exp.positions ? { segments: exp.segments, positions: exp.positions } : undefined
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

export interface GoldenTolerances {
  /** Largest absolute difference of a logit. */
  logits: number
  /** Of the loss. */
  loss: number
  /** Largest absolute difference of a gradient entry, relative to that tensor's gradient norm. */
  grad: number
}

export const FLOAT32_TOLERANCES: GoldenTolerances = { logits: 1e-4, loss: 1e-5, grad: 1e-4 }

/** `prepare` runs once the backend is chosen (to set its flags). */
export function goldenSuite(backend: BackendName, tol: GoldenTolerances = FLOAT32_TOLERANCES, prepare?: (tf: Tf) => void): void {
  describe(`on the ${backend} backend`, () => {
    let tf: Tf
    const setup = async () => {
      if (!tf) {
        tf = (await selectBackend({ requested: backend })).tf
        prepare?.(tf)
      }
      return tf
    }

    describe.each(NAMES)('%s', (name) => {
      it(`gives the reference logits within ${tol.logits}`, async () => {
        const tf = await setup()
        const exp = expected(name)
        const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)))
        try {
          const ids = tf.tensor2d(exp.ids, undefined, 'int32') as Tensor2D
          const logits = model.logits(ids, layoutOf(exp))
          const got = await logits.data()
          tf.dispose([ids, logits])
          expect(maxAbsDiff(got, exp.logits.flat(2))).toBeLessThan(tol.logits)
        } finally {
          model.dispose()
        }
      })

      it('gives the reference loss and the gradient of every weight', async () => {
        const tf = await setup()
        const exp = expected(name)
        const ref = await referenceGrads(name)
        const model = await CausalLM.load(tf, await openCheckpoint(join(FIXTURES, name)))
        try {
          const before = tf.memory().numTensors
          const ids = tf.tensor2d(exp.ids, undefined, 'int32') as Tensor2D
          const [B, T] = ids.shape
          const inputs = tf.slice(ids, [0, 0], [B, T - 1]) as Tensor2D
          const targets = tf.slice(ids, [0, 1], [B, T - 1]) as Tensor2D
          const vars = [...model.params.values()]
          // The inputs' layout: the first T − 1 positions of the fixture's.
          const layout = layoutOf(exp)
          const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets, undefined, layout && layoutPrefix(layout, T - 1)), vars)
          expect(Math.abs((await value.data())[0]! - exp.loss)).toBeLessThan(tol.loss)
          const byVar = new Map([...model.params.entries()].map(([n, v]) => [v.name, n]))
          let compared = 0
          for (const [varName, g] of Object.entries(grads)) {
            const ours = byVar.get(varName)!
            const spec = model.specs.find((s) => s.name === ours)!
            const hfName = [storedName(model.config, ours), ours].find((n) => ref.has(n))
            expect(hfName, `reference gradient for ${ours}`).toBeDefined()
            let data = (await g.data()) as Float32Array
            if (spec.transposed) data = transpose2d(data, spec.shape[1]!, spec.shape[0]!)
            const want = ref.get(hfName!)!
            const scale = Math.max(1e-3, exp.gradNorms[hfName!]!)
            // Relative to the tensor's gradient norm: float32 against a float64 reference.
            expect(maxAbsDiff(data, want) / scale, ours).toBeLessThan(tol.grad)
            compared++
          }
          expect(compared).toBe(ref.size)
          tf.dispose([ids, inputs, targets, value, ...Object.values(grads)])
          expect(tf.memory().numTensors).toBe(before)
        } finally {
          model.dispose()
        }
      })
    })
  })
}
