/**
 * The hand-off bundle's Python trainer (resources/handoff/) against Vernacular's own: the same
 * micro-batches token for token (vernacular_data.py), and the same losses, learning rates, gradient
 * norms and weights (train.py on one CPU process, with test/engine/handoff/tiny_gpt2.py as the
 * model in place of transformers). Needs Debian's python3 with torch; skipped without it.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import type { RunSettings, StepMetrics } from '../../../main/engine/contract'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { type HandoffRecord, writeHandoff } from '../../../main/engine/handoff/bundle'
import { importRun } from '../../../main/engine/handoff/import'
import { CausalLM } from '../../../main/engine/model/model'
import { readTensorFloat32 } from '../../../main/engine/model/safetensors'
import { type TokenData, openTokenData, prepareTokenData } from '../../../main/engine/training/data'
import { ReplayMixture } from '../../../main/engine/training/mixture'
import { runTraining } from '../../../main/engine/training/trainer'
import { useTmp } from '../../helpers/tmp'
import { GPT2_EOS, GPT2_TOKENIZER, smallTrainingProject } from '../training/helpers'
import { handoffProject } from './helpers'

const PYTHON = '/usr/bin/python3'
const HANDOFF = join(__dirname, '../../../resources/handoff')
const TINY_GPT2 = join(__dirname, 'tiny_gpt2.py')
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0
const ENV: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' }
delete ENV.OPENBLAS_CORETYPE
delete ENV.OPENBLAS_L2_SIZE

const tmp = useTmp()

const SETTINGS: RunSettings = {
  sequenceLength: 16,
  batchSize: 2,
  gradientAccumulation: 2,
  steps: 20,
  learningRate: 5e-3,
  warmupSteps: 4,
  weightDecay: 0.1,
  seed: 1234,
  checkpointEvery: 10,
  keepCheckpoints: 3,
  evalEvery: 0,
  embeddingOnlySteps: 3,
  documentMasking: true,
  recompute: 'off',
  englishShare: 0.25,
}

/** A bundle laid out as handoff/bundle.ts writes it (fsdp target), built by hand. */
async function writeBundle(dir: string, modelDir: string, data: TokenData, s: RunSettings): Promise<string> {
  await fs.mkdir(join(dir, 'model'), { recursive: true })
  await fs.mkdir(join(dir, 'data'))
  for (const f of ['config.json', 'model.safetensors']) await fs.copyFile(join(modelDir, f), join(dir, 'model', f))
  await fs.copyFile(GPT2_TOKENIZER, join(dir, 'model', 'tokenizer.json'))
  const role = (lang: 'target' | 'english') => {
    const r = data.roles[lang]
    return r && (lang === 'target' || s.englishShare > 0) ? { file: `data/${lang}.tokens`, documents: r.documents, tokens: r.tokens, bytes: r.bytes } : null
  }
  const roles = { target: role('target'), english: role('english') }
  for (const lang of ['target', 'english'] as const) if (roles[lang]) await fs.copyFile(join(data.dir, data.roles[lang]!.file), join(dir, roles[lang].file))
  for (const f of ['train.py', 'vernacular_data.py']) await fs.copyFile(join(HANDOFF, f), join(dir, f))
  const plan = {
    format: 'vernacular-handoff',
    version: 1,
    target: 'fsdp',
    run: 'main',
    model: { dir: 'model', modelType: 'gpt2' },
    tokenizer: { file: 'model/tokenizer.json', fingerprint: data.tokenizer.fingerprint, vocabSize: data.tokenizer.vocabSize },
    eos: GPT2_EOS,
    data: roles,
    settings: s,
    optimizer: { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1.0, decayEmbeddings: false },
    schedule: { name: 'warmup-cosine', warmupSteps: Math.min(s.warmupSteps, s.steps), totalSteps: s.steps, floorRatio: 0.1 },
  }
  await fs.writeFile(join(dir, 'vernacular-run.json'), JSON.stringify(plan, null, 2) + '\n')
  return dir
}

interface PyMicroBatch {
  inputs: number[][]
  targets: number[][]
  segments: number[][]
  positions: number[][]
  weights: number[][]
  languages: string[]
}

/** The first `steps` steps' micro-batches as trainer.ts builds them (weights all 1 without masking). */
async function trainerBatches(data: TokenData, s: RunSettings, steps: number): Promise<PyMicroBatch[][]> {
  const files = await openTokenData(data)
  try {
    const mixture = new ReplayMixture(files, { sequenceLength: s.sequenceLength, englishShare: s.englishShare, seed: s.seed, eos: GPT2_EOS, documentMasking: s.documentMasking })
    const out: PyMicroBatch[][] = []
    for (let step = 0; step < steps; step++) {
      const micro: PyMicroBatch[] = []
      for (let a = 0; a < s.gradientAccumulation; a++) {
        const seqs = await mixture.batch(s.batchSize)
        const inputs = seqs.map((q) => Array.from(q.tokens.subarray(0, s.sequenceLength)))
        micro.push({
          inputs,
          targets: seqs.map((q) => Array.from(q.tokens.subarray(1, s.sequenceLength + 1))),
          segments: seqs.map((q) => Array.from(q.segments)),
          positions: seqs.map((q) => Array.from(q.positions)),
          weights: inputs.map((row) => row.map((id) => (s.documentMasking && id === GPT2_EOS ? 0 : 1))),
          languages: seqs.map((q) => q.language),
        })
      }
      out.push(micro)
    }
    return out
  } finally {
    for (const f of Object.values(files)) await f?.close()
  }
}

const readMetrics = async (file: string): Promise<StepMetrics[]> =>
  (await fs.readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepMetrics)

describe.skipIf(!hasTorch)('the hand-off trainer (resources/handoff)', () => {
  it('draws the very micro-batches the local trainer trains on, step for step', async () => {
    const { dir, modelDir } = await smallTrainingProject(tmp, { target: 40, english: 30, layers: 1 })
    const data = await prepareTokenData(dir, GPT2_TOKENIZER)
    const cases: RunSettings[] = [
      { ...SETTINGS, englishShare: 0.3 },
      { ...SETTINGS, englishShare: 0, documentMasking: false, seed: 7 },
    ]
    for (const s of cases) {
      const bundle = await writeBundle(join(tmp(), 'bundle'), modelDir, data, s)
      const out = execFileSync(PYTHON, [join(bundle, 'vernacular_data.py'), bundle, '--steps', '100', '--json'], { env: ENV, maxBuffer: 1 << 28 }).toString()
      const python = JSON.parse(out) as PyMicroBatch[][]
      const local = await trainerBatches(data, s, 100)
      expect(python.length).toBe(100)
      // Several passes over the text (new shuffles), both languages when replaying, cut documents.
      const langs = new Set(local.flat().flatMap((m) => m.languages))
      expect([...langs].sort()).toEqual(s.englishShare > 0 ? ['english', 'target'] : ['target'])
      expect(python).toEqual(local)
    }
    // A damaged token file is refused with its name.
    const bundle = await writeBundle(join(tmp(), 'bundle'), modelDir, data, SETTINGS)
    await fs.truncate(join(bundle, 'data', 'target.tokens'), 200)
    const r = spawnSync(PYTHON, [join(bundle, 'vernacular_data.py'), bundle], { env: ENV })
    expect(r.status).not.toBe(0)
    expect(r.stderr.toString()).toMatch(/target\.tokens is not a Vernacular token file \(truncated or damaged/)
  }, 60_000)

  it('trains with the losses, learning rates and gradient norms of the local trainer, and writes a checkpoint it loads', async () => {
    const { dir, modelDir } = await smallTrainingProject(tmp, { target: 40, english: 30, layers: 1 })
    const data = await prepareTokenData(dir, GPT2_TOKENIZER)
    const bundle = await writeBundle(join(tmp(), 'bundle'), modelDir, data, SETTINGS)
    const out = join(tmp(), 'out')
    const t0 = performance.now()
    execFileSync(PYTHON, [join(bundle, 'train.py'), '--no-fsdp', '--device', 'cpu', '--model-module', TINY_GPT2, '--steps', '20', '--out', out], { env: ENV })
    const pythonSeconds = (performance.now() - t0) / 1000

    const { tf } = await selectBackend({ requested: 'wasm' })
    const runDir = join(tmp(), 'run')
    const t1 = performance.now()
    await runTraining({ tf, runDir, modelDir, data, heldout: { target: null, english: null }, eos: GPT2_EOS, settings: SETTINGS })
    const localSeconds = (performance.now() - t1) / 1000

    const py = await readMetrics(join(out, 'metrics.jsonl'))
    const local = await readMetrics(join(runDir, 'metrics.jsonl'))
    expect(py.length).toBe(20)
    let maxLoss = 0
    let maxNorm = 0
    py.forEach((m, i) => {
      const l = local[i]!
      expect(m.step).toBe(l.step)
      expect([m.tokensTarget, m.tokensEnglish]).toEqual([l.tokensTarget, l.tokensEnglish])
      expect(m.lr).toBeCloseTo(l.lr, 10)
      for (const k of ['loss', 'lossTarget', 'lossEnglish'] as const) {
        expect(m[k] === null).toBe(l[k] === null)
        if (m[k] !== null) maxLoss = Math.max(maxLoss, Math.abs(m[k] - l[k]!))
      }
      maxNorm = Math.max(maxNorm, Math.abs(m.gradNorm - l.gradNorm) / l.gradNorm)
    })
    console.log(`hand-off trainer: max |Δ loss| ${maxLoss.toExponential(2)}, max relative Δ grad norm ${maxNorm.toExponential(2)} over 20 steps; train.py ${pythonSeconds.toFixed(1)} s, runTraining ${localSeconds.toFixed(1)} s`)
    expect(maxLoss).toBeLessThan(1e-4)
    expect(maxNorm).toBeLessThan(1e-3)
    // The losses move: the first stage, the warm-up and the cosine all did something.
    expect(local[19]!.loss).toBeLessThan(local[0]!.loss)

    // The checkpoint: a Hugging Face folder Vernacular opens, with the local trainer's weights.
    const mine = await openCheckpoint(join(out, 'checkpoints', 'step-20'))
    const theirs = await openCheckpoint(join(runDir, 'checkpoints', 'step-20'))
    expect(mine.tokenizerFile).not.toBeNull()
    expect(mine.tensors.map((t) => t.spec.name)).toEqual(theirs.tensors.map((t) => t.spec.name))
    let maxWeight = 0
    for (const [i, t] of mine.tensors.entries()) {
      const a = await readTensorFloat32(t.info)
      const b = await readTensorFloat32(theirs.tensors[i]!.info)
      for (let j = 0; j < a.length; j++) maxWeight = Math.max(maxWeight, Math.abs(a[j]! - b[j]!))
    }
    console.log(`hand-off trainer: max |Δ weight| at step 20 ${maxWeight.toExponential(2)}`)
    expect(maxWeight).toBeLessThan(1e-3)
    const model = await CausalLM.load(tf, mine)
    model.dispose()
    expect((await fs.readdir(join(out, 'checkpoints'))).sort()).toEqual(['step-10', 'step-20'])
  }, 90_000)

  it('closes the loop: a bundle writeHandoff wrote trains with train.py (default output folder) and its checkpoints import as a run', async () => {
    const { engine, dir } = await handoffProject(tmp)
    try {
      const bundle = join(tmp(), 'cluster')
      await writeHandoff(dir, { run: 'main', out: bundle, target: 'fsdp' })
      const record = JSON.parse(await fs.readFile(join(bundle, 'vernacular-run.json'), 'utf8')) as HandoffRecord
      execFileSync(PYTHON, [join(bundle, 'train.py'), '--no-fsdp', '--device', 'cpu', '--model-module', TINY_GPT2], { env: ENV })
      const py = await readMetrics(join(bundle, 'output', 'metrics.jsonl'))
      expect(py.map((m) => m.step)).toEqual([1, 2, 3, 4])

      // The local trainer on the same run: the same losses.
      const { tf } = await selectBackend({ requested: 'wasm' })
      const runDir = join(tmp(), 'run')
      const data = await prepareTokenData(dir, join(bundle, 'model', 'tokenizer.json'))
      await runTraining({ tf, runDir, modelDir: record.model.source, data, heldout: { target: null, english: null }, eos: record.eos, settings: record.settings })
      const local = await readMetrics(join(runDir, 'metrics.jsonl'))
      py.forEach((m, i) => expect(Math.abs(m.loss - local[i]!.loss)).toBeLessThan(1e-4))

      const imported = await importRun(dir, join(bundle, 'output'), 'cluster')
      expect(imported.checkpoints.map((c) => c.step)).toEqual([2, 4])
      expect(imported.metrics).toBe(4)
    } finally {
      await engine.close()
    }
  }, 90_000)
})
