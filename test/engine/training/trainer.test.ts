import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { CausalLM } from '../../../main/engine/model/model'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { listCheckpoints } from '../../../main/engine/training/checkpoints'
import { prepareTokenData, type TokenData } from '../../../main/engine/training/data'
import { heldoutBitsPerByte, heldoutSample } from '../../../main/engine/training/heldout'
import { BASELINE_FILE, METRICS_FILE, runTraining, type RunSettings, type StepMetrics, type TrainerInput } from '../../../main/engine/training/trainer'
import { gradientWorkerScript } from '../../helpers/gradient-worker'
import { useTmp } from '../../helpers/tmp'
import { GPT2_EOS, GPT2_TOKENIZER, smallTrainingProject } from './helpers'

const tmp = useTmp()
const EOS = GPT2_EOS

const SETTINGS: RunSettings = {
  sequenceLength: 16,
  batchSize: 2,
  gradientAccumulation: 2,
  steps: 6,
  learningRate: 3e-3,
  warmupSteps: 2,
  weightDecay: 0.1,
  seed: 7,
  checkpointEvery: 2,
  keepCheckpoints: 2,
  evalEvery: 3,
  embeddingOnlySteps: 0,
  documentMasking: true,
  englishShare: 0.25,
}

/** A project with a little Hungarian and English text, its token data, and a tiny GPT-2 to train. */
async function setup(): Promise<Omit<TrainerInput, 'runDir' | 'settings'>> {
  const { dir, modelDir } = await smallTrainingProject(tmp, { target: 300, english: 200, layers: 1 })
  await fs.copyFile(GPT2_TOKENIZER, join(modelDir, 'tokenizer.json'))
  const data: TokenData = await prepareTokenData(dir, GPT2_TOKENIZER)
  const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
  const heldout = {
    target: await heldoutSample(dir, 'target', tok, EOS, 16, 200),
    english: await heldoutSample(dir, 'english', tok, EOS, 16, 200),
  }
  const { tf } = await selectBackend({ requested: 'wasm' })
  return { tf, modelDir, data, heldout, eos: EOS }
}

async function metrics(runDir: string): Promise<StepMetrics[]> {
  return (await fs.readFile(join(runDir, METRICS_FILE), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as StepMetrics)
}

describe('the training loop', () => {
  it('trains, logs a metrics line per step with held-out bits per byte, and keeps the newest checkpoints', async () => {
    const base = await setup()
    const runDir = join(tmp(), 'run')
    const seen: number[] = []
    const out = await runTraining({ ...base, runDir, settings: SETTINGS, onStep: (m) => seen.push(m.step) })
    expect(out).toMatchObject({ outcome: 'done', step: 6, warnings: [] })
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
    const ms = await metrics(runDir)
    expect(ms.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6])
    for (const m of ms) {
      expect(Object.keys(m)).toEqual(expect.arrayContaining(['step', 'loss', 'lossTarget', 'lossEnglish', 'lr', 'gradNorm', 'tokensPerSecond', 'tokensTarget', 'tokensEnglish', 'elapsedSeconds']))
      expect(m.tokensTarget + m.tokensEnglish).toBe(m.step * 2 * 2 * 16)
      expect(m.loss).toBeGreaterThan(0)
    }
    // The step's loss is the mean over its sequences, so it lies between the two languages' losses.
    for (const m of ms.filter((x) => x.lossTarget !== null && x.lossEnglish !== null)) {
      expect(m.loss).toBeGreaterThanOrEqual(Math.min(m.lossTarget!, m.lossEnglish!) - 1e-6)
      expect(m.loss).toBeLessThanOrEqual(Math.max(m.lossTarget!, m.lossEnglish!) + 1e-6)
    }
    // Warm-up over 2 updates (0, then half the peak, then the peak), then the cosine down to 10%.
    expect(ms.map((m) => m.lr).slice(0, 3)).toEqual([0, 1.5e-3, 3e-3])
    expect(ms[5]!.lr).toBeLessThan(ms[3]!.lr)
    expect(ms[5]!.lr).toBeGreaterThanOrEqual(3e-4)
    expect(ms.filter((m) => m.heldout).map((m) => m.step)).toEqual([3, 6])
    expect(ms[2]!.heldout!.target).toBeGreaterThan(ms[2]!.heldout!.english!)
    expect(ms[5]!.loss).toBeLessThan(ms[0]!.loss)
    // The held-out curves start from the untouched model, scored before the first step.
    const baseline = JSON.parse(await fs.readFile(join(runDir, BASELINE_FILE), 'utf8')) as { step: number; heldout: { target: number; english: number } }
    const model = await CausalLM.load(base.tf, await openCheckpoint(base.modelDir))
    try {
      expect(baseline).toEqual({ step: 0, heldout: { target: await heldoutBitsPerByte(model, base.heldout.target!), english: await heldoutBitsPerByte(model, base.heldout.english!) } })
    } finally {
      model.dispose()
    }
    expect(baseline.heldout.target).not.toBe(ms[5]!.heldout!.target)
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([6, 4])
  }, 120_000)

  it('resumes exactly after a pause, and after a crash between checkpoints', async () => {
    const base = await setup()
    const whole = join(tmp(), 'whole')
    await runTraining({ ...base, runDir: whole, settings: { ...SETTINGS, checkpointEvery: 4 } })
    const reference = await metrics(whole)

    // Paused after step 3: a checkpoint is written there, and the resumed run goes on from it.
    const paused = join(tmp(), 'paused')
    const stop = new AbortController()
    const first = await runTraining({ ...base, runDir: paused, settings: { ...SETTINGS, checkpointEvery: 4 }, signal: stop.signal, onStep: (m) => m.step === 3 && stop.abort('pause') })
    expect(first).toMatchObject({ outcome: 'pause', step: 3 })
    expect((await listCheckpoints(paused)).map((c) => c.step)).toEqual([3])
    const baseline = await fs.readFile(join(paused, BASELINE_FILE), 'utf8')
    expect(await runTraining({ ...base, runDir: paused, settings: { ...SETTINGS, checkpointEvery: 4 } })).toMatchObject({ outcome: 'done', step: 6 })
    // Resuming keeps the baseline of the run's start (it is not the resumed model's).
    expect(await fs.readFile(join(paused, BASELINE_FILE), 'utf8')).toBe(baseline)

    // Crashed after step 5 (its metrics line written, the last checkpoint at step 4): steps 5 and 6 again.
    const crashed = join(tmp(), 'crashed')
    await expect(runTraining({ ...base, runDir: crashed, settings: { ...SETTINGS, checkpointEvery: 4 }, onStep: (m) => { if (m.step === 5) throw new Error('killed') } })).rejects.toThrow('killed')
    expect((await metrics(crashed)).map((m) => m.step)).toEqual([1, 2, 3, 4, 5])
    await runTraining({ ...base, runDir: crashed, settings: { ...SETTINGS, checkpointEvery: 4 } })

    const strip = (ms: StepMetrics[]) => ms.map(({ loss, lossTarget, lossEnglish, lr, gradNorm, tokensTarget, tokensEnglish, heldout }) => ({ loss, lossTarget, lossEnglish, lr, gradNorm, tokensTarget, tokensEnglish, heldout }))
    expect(strip(await metrics(paused))).toEqual(strip(reference))
    expect(strip(await metrics(crashed))).toEqual(strip(reference))
  }, 180_000)

  it('resumes from the checkpoint before a damaged newest one, naming the file', async () => {
    const base = await setup()
    const runDir = join(tmp(), 'run')
    const settings = { ...SETTINGS, steps: 4, keepCheckpoints: 3 }
    await runTraining({ ...base, runDir, settings })
    await fs.rm(join(runDir, 'checkpoints', 'step-4', 'model.safetensors'))
    await fs.writeFile(join(runDir, METRICS_FILE), (await fs.readFile(join(runDir, METRICS_FILE), 'utf8')) + '{"step": 99}\n')
    const out = await runTraining({ ...base, runDir, settings: { ...settings, steps: 6 } })
    expect(out.warnings).toEqual([`Checkpoint step-4 is damaged (${join(runDir, 'checkpoints', 'step-4', 'model.safetensors')} is missing); resuming from an earlier one.`])
    expect((await metrics(runDir)).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6])
  }, 120_000)

  it('trains on 2 threads (data-parallel rows) with the losses of one thread, through a pause and a resume', async () => {
    const base = await setup()
    const settings = { ...SETTINGS, checkpointEvery: 4 }
    const one = join(tmp(), 'one')
    await runTraining({ ...base, runDir: one, settings })
    const workerScript = await gradientWorkerScript()
    const two = join(tmp(), 'two')
    const lines: string[] = []
    const stop = new AbortController()
    const first = await runTraining({ ...base, runDir: two, settings, threads: 2, workerScript, log: (l) => lines.push(l), signal: stop.signal, onStep: (m) => m.step === 3 && stop.abort('pause') })
    expect(first).toMatchObject({ outcome: 'pause', step: 3 })
    expect(await runTraining({ ...base, runDir: two, settings, threads: 2, workerScript, log: (l) => lines.push(l) })).toMatchObject({ outcome: 'done', step: 6 })
    expect(lines.filter((l) => l.startsWith('training on 2 threads'))).toHaveLength(2)
    const a = await metrics(one)
    const b = await metrics(two)
    expect(b.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6])
    b.forEach((m, i) => {
      const r = a[i] as StepMetrics
      for (const key of ['loss', 'lossTarget', 'lossEnglish', 'gradNorm'] as const) expect(Math.abs((m[key] as number) - (r[key] as number)), `step ${m.step} ${key}`).toBeLessThan(1e-5)
      expect(m.tokensTarget).toBe(r.tokensTarget)
      expect(m.heldout === undefined).toBe(r.heldout === undefined)
      if (m.heldout) expect(Math.abs(m.heldout.target! - r.heldout!.target!)).toBeLessThan(1e-5)
    })
    expect(b.filter((m) => m.heldout)).toHaveLength(2)
  }, 180_000)
})
