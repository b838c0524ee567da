import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Tensor } from '@tensorflow/tfjs-core'
import { selectBackend, type Tf } from '../../../main/engine/backend/select'
import { EngineError } from '../../../main/engine/common/errors'
import { mulberry32 } from '../../../main/engine/common/rng'
import { parseModelConfig } from '../../../main/engine/model/config'
import { CausalLM } from '../../../main/engine/model/model'
import { AdamW } from '../../../main/engine/model/optimizer'
import { DataParallel, maxThreadsFor, requestedThreads, splitRows } from '../../../main/engine/model/parallel'
import { warmupCosine } from '../../../main/engine/model/schedule'
import { type MicroBatch, flattenMicroBatch, shareGradients, trainStep } from '../../../main/engine/model/train'
import { GRADIENT_WORKER_OUT, gradientWorkerScript } from '../../helpers/gradient-worker'

// Data-parallel gradients (parallel.ts): a micro-batch's rows split among worker threads, each
// share's gradient weighted by its share of the loss weight, must give the very loss, per-row
// losses and gradient of the whole micro-batch on one thread, and the same training run.
//
// The workers run a bundle of fixtures/gradient-worker.ts (test/helpers/gradient-worker.ts).
let SCRIPT = ''
const OUT = GRADIENT_WORKER_OUT

const V = 48
const T = 12
const CONFIGS = {
  gpt2: { model_type: 'gpt2', vocab_size: V, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32 },
  llama: { model_type: 'llama', vocab_size: V, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, tie_word_embeddings: false },
}

/**
 * A packed micro-batch of B rows: two documents per row (document masking), an EOS-like weight 0
 * at each document's first position, so the rows carry different loss weights — a split that
 * weighted every share alike would be off.
 */
function packedBatch(rand: () => number, B: number): MicroBatch {
  const ids = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => Math.floor(rand() * V)))
  const segments: Int32Array[] = []
  const positions: Int32Array[] = []
  const weights: number[][] = []
  for (let b = 0; b < B; b++) {
    const cut = 2 + Math.floor(rand() * (T - 4))
    const s = new Int32Array(T)
    const p = new Int32Array(T)
    const w: number[] = []
    for (let t = 0; t < T; t++) {
      s[t] = t < cut ? 0 : 1
      p[t] = t < cut ? t : t - cut
      w.push(t === cut || (b === 1 && t > 3) ? 0 : 1)
    }
    segments.push(s)
    positions.push(p)
    weights.push(w)
  }
  return { inputs: ids.map((r) => r.slice(0, -1)), targets: ids.map((r) => r.slice(1)), weights, layout: { segments, positions } }
}

function plainBatch(rand: () => number, B: number): MicroBatch {
  const ids = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => Math.floor(rand() * V)))
  return { inputs: ids.map((r) => r.slice(0, -1)), targets: ids.map((r) => r.slice(1)) }
}

/** max |a − b| / max |b| over all elements. */
async function relDiff(a: Tensor, b: Tensor): Promise<number> {
  const x = (await a.data()) as Float32Array
  const y = (await b.data()) as Float32Array
  let diff = 0
  let scale = 1e-12
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs((x[i] as number) - (y[i] as number)))
    scale = Math.max(scale, Math.abs(y[i] as number))
  }
  return diff / scale
}

beforeAll(async () => {
  SCRIPT = await gradientWorkerScript()
}, 60_000)

describe('splitting rows and choosing threads', () => {
  it('splits B rows into contiguous, nearly equal, non-empty shares', () => {
    expect(splitRows(8, 2)).toEqual([
      [0, 4],
      [4, 8],
    ])
    expect(splitRows(5, 3)).toEqual([
      [0, 1],
      [1, 3],
      [3, 5],
    ])
    expect(splitRows(2, 4)).toEqual([
      [0, 1],
      [1, 2],
    ])
    expect(splitRows(1, 1)).toEqual([[0, 1]])
  })

  it('reads VERNACULAR_THREADS, defaulting to every core, and refuses nonsense', () => {
    expect(requestedThreads({ VERNACULAR_THREADS: '3' })).toBe(3)
    expect(requestedThreads({ VERNACULAR_THREADS: '1' })).toBe(1)
    expect(requestedThreads({})).toBeGreaterThanOrEqual(1)
    expect(() => requestedThreads({ VERNACULAR_THREADS: 'two' })).toThrow(/VERNACULAR_THREADS is "two"/)
    expect(() => requestedThreads({ VERNACULAR_THREADS: '0' })).toThrow(EngineError)
  })

  it('uses fewer threads when the copies of the weights would not fit in memory', () => {
    const gib = 2 ** 30
    // 1 GiB of weights: the shared copy plus 3 per worker.
    expect(maxThreadsFor(4, gib / 4, 64 * gib)).toBe(4)
    expect(maxThreadsFor(4, gib / 4, 10 * gib)).toBe(2)
    expect(maxThreadsFor(4, gib / 4, 4 * gib)).toBe(1)
  })
})

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`data-parallel gradients on ${backend}`, () => {
    let tf: Tf
    beforeAll(async () => {
      ;({ tf } = await selectBackend({ requested: backend }))
    })

    for (const arch of ['gpt2', 'llama'] as const) {
      it(`${arch}: the gradient, loss and row losses of a packed micro-batch equal one thread's (3 threads, 5 rows)`, async () => {
        const model = CausalLM.init(tf, parseModelConfig(CONFIGS[arch], 'config.json'), 3, 0.3)
        const dp = await DataParallel.start(model, { threads: 3, script: SCRIPT })
        try {
          expect(dp.threads).toBe(3)
          const names = [...model.params.keys()]
          for (const mb of [packedBatch(mulberry32(11), 5), plainBatch(mulberry32(12), 4)]) {
            const flat = flattenMicroBatch(mb, V, model.config.maxPositions)
            const one = await shareGradients(model, flat, 0, flat.B, 1, names)
            const all = await dp.gradients(model, flat, names)
            try {
              expect(Math.abs(all.loss - one.loss)).toBeLessThan(1e-5)
              expect(all.rowLosses).toHaveLength(flat.B)
              all.rowLosses.forEach((l, i) => expect(Math.abs(l - (one.rowLosses[i] as number))).toBeLessThan(1e-5))
              expect([...all.grads.keys()].sort()).toEqual([...one.grads.keys()].sort())
              for (const [name, g] of one.grads) expect(await relDiff(all.grads.get(name) as Tensor, g), name).toBeLessThan(1e-5)
            } finally {
              tf.dispose([...one.grads.values(), ...all.grads.values()])
            }
          }
        } finally {
          await dp.dispose()
          model.dispose()
        }
      })
    }

    it('trains the same run: losses, gradient norms and weights of 3 AdamW steps with accumulation match one thread within 1e-5', async () => {
      const config = parseModelConfig(CONFIGS.llama, 'config.json')
      const single = CausalLM.init(tf, config, 5, 0.3)
      const multi = CausalLM.init(tf, config, 5, 0.3)
      const optA = new AdamW(tf, single, { lr: 3e-3, weightDecay: 0.1 })
      const optB = new AdamW(tf, multi, { lr: 3e-3, weightDecay: 0.1 })
      const schedule = warmupCosine({ peak: 3e-3, warmupSteps: 1, totalSteps: 3 })
      const dp = await DataParallel.start(multi, { threads: 2, script: SCRIPT })
      try {
        const rand = mulberry32(21)
        for (let step = 0; step < 3; step++) {
          const batch = [packedBatch(rand, 3), packedBatch(rand, 4)]
          // The second step trains only the embeddings and the head, as a first stage does.
          const trains = step === 1 ? (n: string) => n.includes('embed') || n.includes('lm_head') : undefined
          const a = await trainStep(single, batch, optA, schedule, trains ? { trains } : {})
          const b = await trainStep(multi, batch, optB, schedule, trains ? { trains, parallel: dp } : { parallel: dp })
          expect(b.updated).toBe(true)
          expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-5)
          expect(Math.abs(b.gradNorm - a.gradNorm) / a.gradNorm).toBeLessThan(1e-5)
          expect(b.rowLosses.map((r) => r.length)).toEqual([3, 4])
          b.rowLosses.flat().forEach((l, i) => expect(Math.abs(l - (a.rowLosses.flat()[i] as number))).toBeLessThan(1e-5))
        }
        for (const [name, w] of single.params) expect(await relDiff(multi.params.get(name) as Tensor, w), name).toBeLessThan(1e-5)
      } finally {
        await dp.dispose()
        optA.dispose()
        optB.dispose()
        single.dispose()
        multi.dispose()
      }
    })
  })
}

describe('worker failures', () => {
  let tf: Tf
  let fakes: string
  beforeAll(async () => {
    ;({ tf } = await selectBackend({ requested: 'wasm' }))
    fakes = join(OUT, 'fake-workers')
    mkdirSync(fakes, { recursive: true })
    const { parentPort } = { parentPort: 'require("node:worker_threads").parentPort' }
    writeFileSync(join(fakes, 'exits.cjs'), `${parentPort}.postMessage({ type: 'hello' }); process.exit(3)\n`)
    writeFileSync(join(fakes, 'silent.cjs'), `setTimeout(() => {}, 60000)\n`)
    writeFileSync(join(fakes, 'throws.cjs'), `const p = ${parentPort}; p.postMessage({ type: 'hello' }); p.postMessage({ type: 'ready' }); p.on('message', () => { throw new Error('boom in the share') })\n`)
    writeFileSync(join(fakes, 'refuses.cjs'), `const p = ${parentPort}; p.postMessage({ type: 'hello' }); p.postMessage({ type: 'ready' }); p.on('message', (r) => p.postMessage({ type: 'failed', id: r.id, error: { code: 'bad-input', message: 'Refused this share.', hint: 'Do something else.' } }))\n`)
  })

  const model = () => CausalLM.init(tf, parseModelConfig(CONFIGS.gpt2, 'config.json'), 1)

  it('a script that is missing, exits or never answers fails the start with a clear message', async () => {
    const m = model()
    try {
      await expect(DataParallel.start(m, { threads: 2, script: join(fakes, 'missing.cjs') })).rejects.toThrow(/training thread/)
      await expect(DataParallel.start(m, { threads: 2, script: join(fakes, 'exits.cjs') })).rejects.toThrow(/exited \(code 3\) while starting/)
      await expect(DataParallel.start(m, { threads: 2, script: join(fakes, 'silent.cjs'), startTimeoutMs: 500 })).rejects.toThrow(/did not answer within .* runGradientWorker/)
    } finally {
      m.dispose()
    }
  })

  it("a worker's error rejects the step with its message; a crashed worker breaks the runner; dispose stops it", async () => {
    const m = model()
    const flat = flattenMicroBatch(plainBatch(mulberry32(3), 4), V, 32)
    const names = [...m.params.keys()]
    try {
      const refusing = await DataParallel.start(m, { threads: 2, script: join(fakes, 'refuses.cjs') })
      const e = await refusing.gradients(m, flat, names).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(EngineError)
      expect(e).toMatchObject({ code: 'bad-input', message: 'Refused this share.', hint: 'Do something else.' })
      await refusing.dispose()
      await expect(refusing.gradients(m, flat, names)).rejects.toThrow(/disposed/)

      const crashing = await DataParallel.start(m, { threads: 2, script: join(fakes, 'throws.cjs') })
      await expect(crashing.gradients(m, flat, names)).rejects.toThrow(/training thread failed: boom in the share/)
      await expect(crashing.gradients(m, flat, names)).rejects.toThrow(/boom in the share/)
      await crashing.dispose()
    } finally {
      m.dispose()
    }
  })
})
