/**
 * Starting a run from the engine: its settings (the manifest's, with the overrides of this run),
 * the checks that refuse a run before it starts, and following its worker process as a job.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { JobContext } from '../jobs/manager'
import { EngineError } from '../common/errors'
import { vocabFingerprint } from '../common/fingerprint'
import { parseJson } from '../common/json'
import { readRoleState } from '../corpus/store'
import { openCheckpoint } from '../model/checkpoint'
import { chooseRecompute, estimateMemory } from '../model/memory'
import { MODELS_DIR, trainingDevice } from '../model/project'
import { projectRelativePath, readManifest, resolveProjectPath } from '../project/manifest'
import { updateProject } from '../project/projects'
import { Tokenizer } from '../tokenizer/tokenizer'
import type { ProjectSummary, RunOverrides, RunSettings, RunStatus, TrainingSettings } from '../contract'
import { type RunRecord, readRun, recordRunFailure, requestStop, runStatus, setRunState, writeRun } from './runs'
import type { WorkerEvent, WorkerSpawner } from './worker'

/** The model a project trains: the base model resized for its vocabulary plan (mean init preferred), or the base model when the plan adds nothing. */
export async function modelToTrain(projectDir: string): Promise<string> {
  const m = await readManifest(projectDir)
  if (!m.baseModel) throw new EngineError('bad-input', 'The project has no base model yet.', { hint: 'Choose one in the Base model step (or `vernacular model set-base`).' })
  if (m.vocabulary.count === 0) return resolveProjectPath(projectDir, m.baseModel.path)
  for (const init of ['mean', 'random']) {
    const dir = join(projectDir, MODELS_DIR, `${m.vocabulary.mode}-${m.vocabulary.count}-${init}`)
    try {
      await fs.access(join(dir, 'config.json'))
      return dir
    } catch {
      // not resized with this initialisation
    }
  }
  throw new EngineError('bad-input', `The base model has not been resized for the vocabulary plan (${m.vocabulary.mode} ${m.vocabulary.count}).`, {
    hint: `Resize it in the Base model step (or \`vernacular model resize\`) into ${MODELS_DIR}/${m.vocabulary.mode}-${m.vocabulary.count}-mean/ first.`,
  })
}

/** Checks that a model folder's tokenizer.json is the one it was resized for; returns its path. */
async function modelTokenizer(modelDir: string, vocabRows: number): Promise<string> {
  const file = join(modelDir, 'tokenizer.json')
  const tok = await Tokenizer.fromFile(file).catch((e: unknown) => {
    throw new EngineError('bad-input', `${modelDir} has no usable tokenizer.json (${(e as Error).message}).`, { file, hint: 'Train a model folder that carries its tokenizer (a resized model does).' })
  })
  if (tok.vocabSize > vocabRows) {
    throw new EngineError('bad-input', `${file} has ${tok.vocabSize} tokens but the model has only ${vocabRows} embedding rows: the tokenizer does not belong to this model.`, { file, hint: 'Resize the model for this tokenizer first.' })
  }
  try {
    const resize = parseJson(await fs.readFile(join(modelDir, 'resize.json'), 'utf8')) as { tokenizer?: { vocabSha256?: string } }
    if (resize.tokenizer?.vocabSha256 && resize.tokenizer.vocabSha256 !== vocabFingerprint(tok)) {
      throw new EngineError('bad-input', `${file} is not the tokenizer ${modelDir} was resized for (their vocabulary fingerprints differ).`, { file, hint: 'Resize the base model again for this tokenizer.' })
    }
  } catch (e) {
    if (e instanceof EngineError) throw e
    // No resize.json: the base model with its own tokenizer.
  }
  return file
}

/**
 * Writes the run's record: its full settings (the manifest's with this run's overrides; flags are
 * not written back to the manifest), model and tokenizer, after the checks that refuse a run before
 * it starts. With `resume`, the recorded run is continued with its own settings.
 */
export async function prepareRun(projectDir: string, name: string, overrides: RunOverrides, resume: boolean): Promise<RunRecord> {
  const manifest = await readManifest(projectDir)
  const existing = await readRun(projectDir, name)
  if (existing?.imported) {
    throw new EngineError('invalid-request', `Run "${name}" was trained elsewhere and imported from ${existing.imported.from}; it cannot be trained here.`, { hint: 'Start another run with --run NAME.' })
  }
  if (resume) {
    if (!existing) throw new EngineError('not-found', `The project has no run "${name}" to resume.`, { hint: 'Start it without --resume.' })
    const status = await runStatus(projectDir, name)
    if (!['paused', 'interrupted', 'failed', 'running', 'planned'].includes(status.state)) {
      throw new EngineError('invalid-request', `Run "${name}" is ${status.state}; only a paused, interrupted or failed run can be resumed.`, { hint: 'Start a new run with --run NAME.' })
    }
    if (Object.keys(overrides).length) throw new EngineError('invalid-request', `A resumed run keeps its settings (${Object.keys(overrides).join(', ')} given).`, { hint: 'Resume without them, or start a new run with --run NAME.' })
    return existing
  }
  if (existing) {
    const status = await runStatus(projectDir, name)
    if (status.state !== 'planned' || status.checkpoints.length) {
      throw new EngineError('invalid-request', `Run "${name}" already exists (${status.state}, step ${status.step}).`, { hint: `Resume it with --resume, or start another with --run NAME.` })
    }
  }
  // The manifest's training settings and replay share, with this run's overrides (RunSettings is exactly those).
  const settings: RunSettings = { ...manifest.training, englishShare: manifest.replay.englishShare, ...overrides }
  if (!(settings.englishShare >= 0 && settings.englishShare <= 1)) throw new EngineError('invalid-request', `The English replay share must be from 0 to 1, not ${settings.englishShare}.`, { hint: 'Give --replay-share 0.25 for 25%.' })
  const modelDir = await modelToTrain(projectDir)
  const ckpt = await openCheckpoint(modelDir)
  const context = ckpt.config.maxPositions
  if (settings.sequenceLength > context) {
    throw new EngineError('invalid-request', `A sequence of ${settings.sequenceLength} tokens is longer than the model's context (${context}).`, { hint: `Use --seq-len ${context} or less.` })
  }
  const device = await trainingDevice()
  const memoryOpts = { batch: settings.batchSize, seqLen: settings.sequenceLength, optimizer: 'adamw' as const }
  // With activations recomputed when the setting (or auto, for want of memory) says so.
  const recompute = chooseRecompute(settings.recompute ?? 'auto', ckpt.config, memoryOpts, device.memoryBytes)
  const estimate = estimateMemory(ckpt.config, { ...memoryOpts, recompute })
  if (device.memoryBytes !== null && estimate.total > device.memoryBytes) {
    throw new EngineError('invalid-request', `A micro-batch of ${settings.batchSize} × ${settings.sequenceLength} tokens needs about ${(estimate.total / 2 ** 30).toFixed(1)} GiB${recompute ? ' with activations recomputed' : ''}; ${device.name} has ${(device.memoryBytes / 2 ** 30).toFixed(1)} GiB.`, {
      hint: `Use a smaller --batch (and more --grad-accum for the same tokens per step) or a shorter --seq-len${recompute ? '' : ', or --recompute on'}.`,
    })
  }
  if (settings.englishShare > 0) {
    const english = await readRoleState(projectDir, 'english')
    const bytes = english?.sources.reduce((n, s) => n + s.profile.train.bytes, 0) ?? 0
    if (bytes === 0) {
      throw new EngineError('bad-input', `The English replay share is ${Math.round(settings.englishShare * 100)}%, but the project's English corpus is empty.`, {
        hint: 'Add English text in the Corpus step, or train with --replay-share 0 (no replay).',
      })
    }
  }
  const tokenizer = await modelTokenizer(modelDir, ckpt.config.vocabSize)
  const run: RunRecord = {
    format: 'vernacular-run',
    version: 1,
    name,
    createdAt: existing?.createdAt ?? new Date().toISOString(),
    settings,
    model: projectRelativePath(projectDir, modelDir),
    tokenizer: projectRelativePath(projectDir, tokenizer),
    pinned: existing?.pinned ?? [],
    failure: null,
  }
  await writeRun(projectDir, run)
  await setRunState(projectDir, name, 'planned')
  return run
}

/**
 * Runs a worker for the run and follows it as a job: progress (with the step's metrics), and the
 * run's status when it ends. Cancelling the job pauses the run (a checkpoint is written first). A
 * worker that crashes, runs out of memory or is killed marks the run failed with the reason.
 */
export async function followRun(spawn: WorkerSpawner, projectDir: string, name: string, ctx: JobContext): Promise<RunStatus> {
  const worker = spawn()
  let ended: Extract<WorkerEvent, { type: 'end' }> | null = null
  let failed: Extract<WorkerEvent, { type: 'error' }> | null = null
  const onAbort = () => void requestStop(projectDir, name, 'pause')
  ctx.signal.addEventListener('abort', onAbort)
  try {
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      worker.onMessage((m) => {
        if (m.type === 'progress') ctx.progress({ ...(m.fraction === null ? {} : { fraction: m.fraction }), message: m.message, ...(m.metrics ? { metrics: m.metrics } : {}) })
        else if (m.type === 'log') ctx.log(m.line)
        else if (m.type === 'checkpoint') ctx.log(`checkpoint at step ${m.step}: ${m.dir}`)
        else if (m.type === 'end') ended = m
        else if (m.type === 'error') failed = m
      })
      worker.onExit((code, signal) => resolve({ code, signal }))
      worker.send({ type: 'start', projectDir, run: name })
    })
    const error = (failed as Extract<WorkerEvent, { type: 'error' }> | null)?.error
    if (error) throw new EngineError(error.code as EngineError['code'], error.message, error.hint ? { hint: error.hint } : {})
    if (!ended) {
      const reason = exit.signal
        ? `the training worker was killed (${exit.signal}${exit.signal === 'SIGKILL' ? ', perhaps for lack of memory' : ''})`
        : `the training worker exited with code ${exit.code}${exit.code === 134 ? ' (out of memory?)' : ''}`
      await recordRunFailure(projectDir, name, reason)
      throw new EngineError('internal', `Run "${name}" failed: ${reason}.`, { hint: 'Resume it with --resume: it continues from its last checkpoint.' })
    }
    return await runStatus(projectDir, name)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
}

/** Marks the run and asks its worker to stop after its step (from any process). */
export async function stopRun(projectDir: string, name: string, request: 'pause' | 'cancel'): Promise<RunStatus> {
  const status = await runStatus(projectDir, name)
  if (status.state === 'running') {
    await requestStop(projectDir, name, request)
    return status
  }
  if (request === 'cancel' && (status.state === 'paused' || status.state === 'interrupted' || status.state === 'planned')) {
    await setRunState(projectDir, name, 'cancelled')
    return runStatus(projectDir, name)
  }
  throw new EngineError('invalid-request', `Run "${name}" is ${status.state}: there is nothing to ${request}.`, { hint: status.state === 'paused' ? 'Resume it with `vernacular train --resume`.' : 'Start a run with `vernacular train`.' })
}

/** Changes the project's planned training settings and replay share (the fields given). */
export async function setTrainingPlan(projectDir: string, patch: { training?: Partial<TrainingSettings>; replay?: { englishShare: number } }): Promise<ProjectSummary> {
  return updateProject(projectDir, 'change the training plan', (m) => ({
    ...m,
    training: { ...m.training, ...patch.training },
    replay: patch.replay ? { ...m.replay, ...patch.replay } : m.replay,
  }))
}
