import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { prepareTokenData } from '../../../main/engine/training/data'
import { METRICS_FILE, runTraining, type RunSettings, type StepMetrics, type TrainerInput } from '../../../main/engine/training/trainer'
import { GPT2_EOS, GPT2_TOKENIZER, smallTrainingProject } from './helpers'
import { gradientWorkerScript } from '../../helpers/gradient-worker'
import { useTmp } from '../../helpers/tmp'

// The `recompute` setting through the real training loop: the run recomputes activations when
// told to (or, on auto, only when a step would not fit), says so in every metrics line and its
// log, and trains exactly as without it (activation recomputation changes memory, not results).
const tmp = useTmp()
const EOS = GPT2_EOS

const SETTINGS: RunSettings = {
  sequenceLength: 16,
  batchSize: 2,
  gradientAccumulation: 1,
  steps: 3,
  learningRate: 3e-3,
  warmupSteps: 1,
  weightDecay: 0.1,
  seed: 7,
  checkpointEvery: 100,
  keepCheckpoints: 1,
  evalEvery: 0,
  embeddingOnlySteps: 0,
  documentMasking: true,
  englishShare: 0.25,
}

async function setup(): Promise<Omit<TrainerInput, 'runDir' | 'settings'>> {
  const { dir, modelDir } = await smallTrainingProject(tmp, { target: 200, english: 100, layers: 2 })
  const { tf } = await selectBackend({ requested: 'wasm' })
  return { tf, modelDir, data: await prepareTokenData(dir, GPT2_TOKENIZER), heldout: { target: null, english: null }, eos: EOS }
}

async function train(base: Omit<TrainerInput, 'runDir' | 'settings'>, recompute: RunSettings['recompute']): Promise<{ metrics: StepMetrics[]; log: string[] }> {
  const runDir = join(tmp(), `run-${recompute ?? 'absent'}-${base.threads ?? 1}`)
  const log: string[] = []
  const settings: RunSettings = { ...SETTINGS }
  if (recompute) settings.recompute = recompute
  await runTraining({ ...base, runDir, settings, log: (l) => log.push(l) })
  const metrics = (await fs.readFile(join(runDir, METRICS_FILE), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as StepMetrics)
  return { metrics, log }
}

describe('the recompute setting in a run', () => {
  it('recomputes when on, not when off or on auto with memory to spare, and trains the same either way', async () => {
    const base = await setup()
    const on = await train(base, 'on')
    const off = await train(base, 'off')
    const auto = await train(base, undefined)
    expect(on.metrics.map((m) => m.recompute)).toEqual([true, true, true])
    expect(off.metrics.map((m) => m.recompute)).toEqual([false, false, false])
    // The tiny model fits the wasm backend's 4 GiB many times over: auto keeps the activations.
    expect(auto.metrics.map((m) => m.recompute)).toEqual([false, false, false])
    expect(on.log).toContain('activations recomputed in the backward pass (recompute on)')
    expect(auto.log).toContain('activations kept for the backward pass (recompute auto)')
    on.metrics.forEach((m, i) => {
      const o = off.metrics[i] as StepMetrics
      expect(Math.abs(m.loss - o.loss), `step ${m.step}`).toBeLessThan(1e-5)
      expect(Math.abs(m.gradNorm - o.gradNorm) / o.gradNorm, `step ${m.step}`).toBeLessThan(1e-4)
    })

    // On 2 threads (data-parallel rows, model/parallel.ts) each thread's model recomputes too, with the same losses.
    const parallel = await train({ ...base, threads: 2, workerScript: await gradientWorkerScript() }, 'on')
    expect(parallel.log.some((l) => l.startsWith('training on 2 threads'))).toBe(true)
    expect(parallel.metrics.map((m) => m.recompute)).toEqual([true, true, true])
    parallel.metrics.forEach((m, i) => expect(Math.abs(m.loss - (off.metrics[i] as StepMetrics).loss), `step ${m.step}`).toBeLessThan(1e-5))
  })
})
