/**
 * The training loop of one run: continual pretraining of a model on the replay mixture, with a
 * metrics line per optimizer step, held-out bits per byte every `evalEvery` steps, checkpoints
 * every `checkpointEvery` steps and at the end, and exact resume from the newest intact checkpoint.
 *
 *   runs/<name>/metrics.jsonl     one JSON object per optimizer step (StepMetrics)
 *               checkpoints/      step-<n>/ (checkpoints.ts)
 *
 * Stopping: when `signal` is aborted (its reason `pause` or `cancel`), the loop finishes the step it
 * is in, writes a checkpoint and returns. A process killed at any moment resumes from its newest
 * checkpoint: the metrics of later steps are dropped and those steps are trained again, on exactly
 * the same batches, giving the same losses.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Tf } from '../backend/select'
import type { RunSettings, StepMetrics } from '../contract'
import { EngineError } from '../common/errors'
import { openCheckpoint } from '../model/checkpoint'
import { chooseRecompute } from '../model/memory'
import { CausalLM } from '../model/model'
import { AdamW } from '../model/optimizer'
import { trainingMemory } from '../model/project'
import { DataParallel, maxThreadsFor, parallelBackend } from '../model/parallel'
import { warmupCosine } from '../model/schedule'
import { type MicroBatch, trainStep } from '../model/train'
import { type CheckpointInfo, latestGoodCheckpoint, pruneCheckpoints, readTrainerState, writeCheckpoint } from './checkpoints'
import { type TokenData, openTokenData } from './data'
import { type HeldoutSample, heldoutBitsPerByte } from './heldout'
import { type Language, type PackedSequence, ReplayMixture } from './mixture'

export type { RunSettings, StepMetrics }

export type StopReason = 'pause' | 'cancel'

export interface TrainerInput {
  tf: Tf
  runDir: string
  /** The model folder the run starts from (the resized model). */
  modelDir: string
  data: TokenData
  heldout: Record<Language, HeldoutSample | null>
  eos: number
  settings: RunSettings
  /** Checkpoint steps never pruned. */
  pinned?: ReadonlySet<number>
  /**
   * Threads to compute each step on (data-parallel rows, model/parallel.ts) on the wasm and cpu
   * backends, which run one thread each; 1 or absent: this thread only. Needs `workerScript`.
   */
  threads?: number
  /** The script worker threads run: a bundle whose entry calls `runGradientWorker()` when `isGradientWorker()`. */
  workerScript?: string | URL
  /** Aborted with `pause` or `cancel` as its reason: the loop checkpoints and returns. */
  signal?: AbortSignal
  /** Called before each step (the worker looks for a pause or cancel request here). */
  beforeStep?(): Promise<void>
  onStep?(m: StepMetrics): void
  onCheckpoint?(c: CheckpointInfo): void
  log?(line: string): void
}

export interface TrainerOutcome {
  outcome: 'done' | StopReason
  step: number
  checkpoint: CheckpointInfo | null
  /** Damaged checkpoints skipped on resume, by name. */
  warnings: string[]
}

export const METRICS_FILE = 'metrics.jsonl'
/** Held-out bits per byte of the model the run starts from, measured before its first step. */
export const BASELINE_FILE = 'baseline.json'

const rowsOf = (seqs: PackedSequence[], from: number, to: number) => seqs.map((s) => Array.from(s.tokens.subarray(from, to)))

/** Trains the run from its newest intact checkpoint (or from the start) until done or stopped. */
export async function runTraining(input: TrainerInput): Promise<TrainerOutcome> {
  const { tf, runDir, settings: s } = input
  const log = input.log ?? (() => undefined)
  await fs.mkdir(runDir, { recursive: true })
  const metricsFile = join(runDir, METRICS_FILE)
  const { checkpoint: resumeFrom, warnings } = await latestGoodCheckpoint(runDir)
  for (const w of warnings) log(`warning: ${w}`)

  const files = await openTokenData(input.data)
  let model: CausalLM | null = null
  let optimizer: AdamW | null = null
  let parallel: DataParallel | null = null
  try {
    model = await CausalLM.load(tf, await openCheckpoint(resumeFrom ? resumeFrom.dir : input.modelDir))
    if (input.data.tokenizer.vocabSize > model.config.vocabSize) {
      throw new EngineError('bad-input', `The tokenizer has ${input.data.tokenizer.vocabSize} tokens but the model ${input.modelDir} has ${model.config.vocabSize} embedding rows.`, {
        file: input.modelDir,
        hint: 'Train the model resized for this tokenizer (the Base model step).',
      })
    }
    if (s.sequenceLength > model.maxSequence) {
      throw new EngineError('invalid-request', `A sequence of ${s.sequenceLength} tokens is longer than the model takes (${model.maxSequence}).`, { hint: `Use --seq-len ${model.maxSequence} or less.` })
    }
    // Activation recomputation: as set, or on `auto` when a step would not fit the device's memory otherwise.
    const setting = s.recompute ?? 'auto'
    model.recompute = chooseRecompute(setting, model.config, { batch: s.batchSize, seqLen: s.sequenceLength, optimizer: 'adamw' }, setting === 'auto' ? await trainingMemory(tf) : null)
    log(`activations ${model.recompute ? 'recomputed in the backward pass' : 'kept for the backward pass'} (recompute ${setting})`)
    optimizer = new AdamW(tf, model, { lr: s.learningRate, weightDecay: s.weightDecay })
    parallel = await startParallel(model, input, log)
    const embeddingsOnly = new Set(model.specs.filter((p) => p.kind === 'embedding' || p.kind === 'head').map((p) => p.name))
    const schedule = warmupCosine({ peak: s.learningRate, warmupSteps: Math.min(s.warmupSteps, s.steps), totalSteps: s.steps })
    let step = 0
    let elapsed = 0
    let tokens: Record<Language, number> = { target: 0, english: 0 }
    let mixture: ReplayMixture
    const mixOptions = { sequenceLength: s.sequenceLength, englishShare: s.englishShare, seed: s.seed, eos: input.eos, documentMasking: s.documentMasking }
    if (resumeFrom) {
      const { state, optimizer: moments } = await readTrainerState(resumeFrom.dir)
      optimizer.load(moments)
      mixture = new ReplayMixture(files, mixOptions, state.data)
      step = state.step
      elapsed = Number(state.extra.elapsedSeconds ?? 0)
      tokens = (state.extra.tokens as Record<Language, number> | undefined) ?? tokens
      await truncate(metricsFile, state.metricsOffset)
      log(`resuming from ${resumeFrom.dir} (step ${step})`)
    } else {
      mixture = new ReplayMixture(files, mixOptions)
      await fs.writeFile(metricsFile, '')
      // Where the held-out curves start: the model before any step (the base for gain and forgetting).
      if (input.heldout.target || input.heldout.english) {
        const heldout = {
          target: input.heldout.target ? await heldoutBitsPerByte(model, input.heldout.target) : null,
          english: input.heldout.english ? await heldoutBitsPerByte(model, input.heldout.english) : null,
        }
        await fs.writeFile(join(runDir, BASELINE_FILE), JSON.stringify({ step: 0, heldout }) + '\n')
        log(`held-out bits per byte before training: target ${heldout.target?.toFixed(3) ?? '–'}, English ${heldout.english?.toFixed(3) ?? '–'}`)
      }
    }

    let last: CheckpointInfo | null = resumeFrom
    const checkpoint = async (): Promise<CheckpointInfo> => {
      const { size } = await fs.stat(metricsFile)
      const info = await writeCheckpoint(runDir, {
        model: model as CausalLM,
        optimizer: await (optimizer as AdamW).state(),
        modelDir: input.modelDir,
        state: { step, data: mixture.state(), metricsOffset: size, extra: { elapsedSeconds: elapsed, tokens } },
      })
      await pruneCheckpoints(runDir, s.keepCheckpoints, new Set([...(input.pinned ?? []), info.step]))
      input.onCheckpoint?.(info)
      log(`checkpoint ${info.dir}`)
      return (last = info)
    }

    while (step < s.steps) {
      await input.beforeStep?.()
      const reason = input.signal?.aborted ? (input.signal.reason as StopReason) : null
      if (reason === 'pause' || reason === 'cancel') {
        if (last?.step !== step) await checkpoint()
        return { outcome: reason, step, checkpoint: last, warnings }
      }
      const t0 = performance.now()
      const micro: MicroBatch[] = []
      const languages: Language[][] = []
      for (let a = 0; a < s.gradientAccumulation; a++) {
        const seqs = await mixture.batch(s.batchSize)
        const inputs = rowsOf(seqs, 0, s.sequenceLength)
        const batch: MicroBatch = { inputs, targets: rowsOf(seqs, 1, s.sequenceLength + 1) }
        if (s.documentMasking) {
          batch.layout = { segments: seqs.map((q) => q.segments), positions: seqs.map((q) => q.positions) }
          // The token after an EOS starts another document, which a masked position cannot see: not a target.
          batch.weights = inputs.map((row) => row.map((id) => (id === input.eos ? 0 : 1)))
        }
        micro.push(batch)
        languages.push(seqs.map((q) => q.language))
      }
      // A first stage may train only the embeddings and the output head (Chinese-LLaMA, EEVE).
      const r = await trainStep(model, micro, optimizer, schedule, {
        ...(step < s.embeddingOnlySteps ? { trains: (name: string) => embeddingsOnly.has(name) } : {}),
        ...(parallel ? { parallel } : {}),
      })
      step++
      const seconds = (performance.now() - t0) / 1000
      elapsed += seconds
      const perLanguage: Record<Language, { sum: number; n: number }> = { target: { sum: 0, n: 0 }, english: { sum: 0, n: 0 } }
      r.rowLosses.forEach((rows, a) =>
        rows.forEach((loss, b) => {
          const l = perLanguage[(languages[a] as Language[])[b] as Language]
          l.sum += loss
          l.n++
        }),
      )
      for (const lang of ['target', 'english'] as const) tokens[lang] += perLanguage[lang].n * s.sequenceLength
      const m: StepMetrics = {
        step,
        loss: r.loss,
        lossTarget: perLanguage.target.n ? perLanguage.target.sum / perLanguage.target.n : null,
        lossEnglish: perLanguage.english.n ? perLanguage.english.sum / perLanguage.english.n : null,
        lr: r.lr,
        gradNorm: r.gradNorm,
        tokensPerSecond: (s.batchSize * s.gradientAccumulation * s.sequenceLength) / seconds,
        tokensTarget: tokens.target,
        tokensEnglish: tokens.english,
        elapsedSeconds: elapsed,
        recompute: model.recompute,
      }
      if (s.evalEvery > 0 && (step % s.evalEvery === 0 || step === s.steps)) {
        m.heldout = {
          target: input.heldout.target ? await heldoutBitsPerByte(model, input.heldout.target) : null,
          english: input.heldout.english ? await heldoutBitsPerByte(model, input.heldout.english) : null,
        }
      }
      await fs.appendFile(metricsFile, JSON.stringify(m) + '\n')
      input.onStep?.(m)
      if (step % s.checkpointEvery === 0 || step === s.steps) await checkpoint()
    }
    return { outcome: 'done', step, checkpoint: last, warnings }
  } finally {
    await parallel?.dispose()
    optimizer?.dispose()
    model?.dispose()
    for (const f of Object.values(files)) await f?.close()
  }
}

/**
 * The worker threads of a run's steps, when it asks for more than one thread on a backend that runs
 * one (wasm, cpu), as many as the memory allows; null: this thread alone.
 */
async function startParallel(model: CausalLM, input: TrainerInput, log: (line: string) => void): Promise<DataParallel | null> {
  const requested = input.threads ?? 1
  const backend = parallelBackend(model.tf)
  if (requested <= 1 || !input.workerScript) return null
  if (!backend) {
    log(`training on the ${model.tf.getBackend()} backend's own threads`)
    return null
  }
  const params = [...model.params.values()].reduce((a, v) => a + v.size, 0)
  const threads = maxThreadsFor(requested, params)
  if (threads < requested) log(`${requested} threads asked for, but the copies of the weights each needs fit in memory for ${threads}`)
  if (threads <= 1) return null
  const parallel = await DataParallel.start(model, { threads, script: input.workerScript })
  log(`training on ${threads} threads (the rows of each micro-batch split among them, ${backend} backend)`)
  return parallel
}

/** Cuts a file to `bytes` (the metrics of steps after a checkpoint, written before a crash). */
async function truncate(file: string, bytes: number): Promise<void> {
  try {
    await fs.truncate(file, bytes)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    await fs.writeFile(file, '')
  }
}
