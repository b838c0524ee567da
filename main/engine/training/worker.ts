/**
 * The training worker: one process per run, so that a slow step never freezes the app or the API,
 * and a crash or an out-of-memory takes down only the run. The engine starts it through a spawner
 * the shell passes in (Node's `child_process.fork` for the CLI and web mode, Electron's
 * `utilityProcess` in the desktop app) and talks to it with messages:
 *
 *   engine → worker   { type: 'start', projectDir, run }
 *   worker → engine   { type: 'progress', fraction, message, metrics? }
 *                     { type: 'checkpoint', step, dir }
 *                     { type: 'log', line }
 *                     { type: 'end', outcome: 'done' | 'pause' | 'cancel', step }
 *                     { type: 'error', error: ErrorInfo }
 *
 * The worker holds the run's lock while it trains (a second `train` of the run is refused), marks
 * the run's state in the manifest, and stops after the step it is in when a pause or cancel is
 * requested (control.json, from any process), writing a checkpoint first.
 */
import { engineBackend } from '../backend/select'
import { EngineError, type ErrorInfo, toErrorInfo } from '../common/errors'
import { openCheckpoint } from '../model/checkpoint'
import { requestedThreads } from '../model/parallel'
import { beginningOfSequence } from '../model/operations'
import { acquireLock } from '../project/lock'
import { projectRelativePath } from '../project/manifest'
import { Tokenizer } from '../tokenizer/tokenizer'
import { prepareTokenData } from './data'
import { heldoutBudget, heldoutSample } from './heldout'
import { clearStop, pendingStop, readRun, recordRunFailure, runDir, runPath, setRunState, writeRun, type StopRequest } from './runs'
import { runTraining, type StepMetrics } from './trainer'

export type WorkerRequest = { type: 'start'; projectDir: string; run: string }

export type WorkerEvent =
  | { type: 'progress'; fraction: number | null; message: string; metrics?: Record<string, number | null> }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'log'; line: string }
  | { type: 'end'; outcome: 'done' | StopRequest; step: number }
  | { type: 'error'; error: ErrorInfo }

/** How a worker process is seen from the engine. */
export interface WorkerProcess {
  send(message: WorkerRequest): void
  onMessage(listener: (message: WorkerEvent) => void): void
  onExit(listener: (code: number | null, signal: string | null) => void): void
  kill(): void
}

/** Starts a worker process (the shell provides it). */
export type WorkerSpawner = () => WorkerProcess

/** The metrics a step reports with its progress (and the CLI's `--json` progress lines carry). */
export function progressMetrics(m: StepMetrics): Record<string, number | null> {
  return { step: m.step, loss: m.loss, lossTarget: m.lossTarget, lossEnglish: m.lossEnglish, lr: m.lr, tokensPerSecond: m.tokensPerSecond }
}

export interface TrainRunOptions {
  /**
   * The script of the run's worker threads (data-parallel steps, model/parallel.ts): the worker
   * process's own bundle, whose entry runs `runGradientWorker()` in them. Absent: one thread.
   * How many: `VERNACULAR_THREADS`, else every core.
   */
  workerScript?: string | URL
}

/** Trains one run to its end or until stopped, reporting through `emit`. Never throws: failures are reported and recorded. */
export async function trainRun(projectDir: string, name: string, emit: (e: WorkerEvent) => void, opts: TrainRunOptions = {}): Promise<void> {
  const dir = runDir(projectDir, name)
  let lock: Awaited<ReturnType<typeof acquireLock>> | null = null
  try {
    lock = await acquireLock(dir, `training run ${name}`, { waitMs: 0 }).catch((e: unknown) => {
      if (e instanceof EngineError && e.code === 'locked') {
        throw new EngineError('locked', `Run "${name}" is already being trained (${e.message.replace(/^The project at .* is being written by /, '')}).`, {
          hint: 'Wait for it, or pause it with `vernacular train pause`.',
          ...(e.file ? { file: e.file } : {}),
        })
      }
      throw e
    })
    const run = await readRun(projectDir, name)
    if (!run) throw new EngineError('not-found', `The project has no run "${name}" to train.`, { hint: 'Start it with `vernacular train`.' })
    await clearStop(projectDir, name)
    if (run.failure) await writeRun(projectDir, { ...run, failure: null })
    await setRunState(projectDir, name, 'running')

    const { tf } = await engineBackend()
    const threads = opts.workerScript ? requestedThreads() : 1
    const modelDir = runPath(projectDir, run.model)
    const tokenizerFile = runPath(projectDir, run.tokenizer)
    const s = run.settings
    emit({ type: 'progress', fraction: null, message: 'Tokenising the training text…' })
    const data = await prepareTokenData(projectDir, tokenizerFile, {
      progress: (u) => emit({ type: 'progress', fraction: null, message: `${u.message ?? 'Tokenising'} (${Math.round((100 * (u.done ?? 0)) / Math.max(1, u.total ?? 1))}%)` }),
      log: (line) => emit({ type: 'log', line }),
    })
    const stream = (r: { tokens: number; documents: number } | null) => (r ? r.tokens + r.documents : null)
    await writeRun(projectDir, { ...run, failure: null, data: { dir: projectRelativePath(projectDir, data.dir), streamTokens: { target: stream(data.roles.target) ?? 0, english: stream(data.roles.english) } } })
    const ckpt = await openCheckpoint(modelDir)
    const tok = await Tokenizer.fromFile(tokenizerFile)
    const eos = ckpt.config.eosTokenId
    if (eos === null) throw new EngineError('bad-input', `${modelDir}/config.json names no eos_token_id, which packing puts between documents.`, { file: modelDir, hint: 'Add "eos_token_id" to the model\'s config.json.' })
    const bos = await beginningOfSequence(tok, tokenizerFile, ckpt.config.bosTokenId)
    const budget = heldoutBudget(s)
    const heldout = {
      target: await heldoutSample(projectDir, 'target', tok, bos?.id ?? null, s.sequenceLength, budget),
      english: await heldoutSample(projectDir, 'english', tok, bos?.id ?? null, s.sequenceLength, budget),
    }

    const stop = new AbortController()
    const out = await runTraining({
      tf,
      runDir: dir,
      modelDir,
      data,
      heldout,
      eos,
      settings: s,
      pinned: new Set(run.pinned),
      threads,
      ...(opts.workerScript ? { workerScript: opts.workerScript } : {}),
      signal: stop.signal,
      log: (line) => emit({ type: 'log', line }),
      onCheckpoint: (c) => emit({ type: 'checkpoint', step: c.step, dir: c.dir }),
      onStep: (m) => {
        emit({
          type: 'progress',
          fraction: m.step / s.steps,
          message: `step ${m.step}/${s.steps}, loss ${m.loss.toFixed(3)}, ${Math.round(m.tokensPerSecond)} tok/s`,
          metrics: progressMetrics(m),
        })
      },
      beforeStep: async () => {
        const request = await pendingStop(projectDir, name)
        if (request && !stop.signal.aborted) stop.abort(request)
      },
    })
    for (const w of out.warnings) emit({ type: 'log', line: `warning: ${w}` })
    await setRunState(projectDir, name, out.outcome === 'done' ? 'done' : out.outcome === 'pause' ? 'paused' : 'cancelled')
    await clearStop(projectDir, name)
    emit({ type: 'end', outcome: out.outcome, step: out.step })
  } catch (e) {
    const error = toErrorInfo(e)
    if (error.code !== 'locked') {
      await recordRunFailure(projectDir, name, error.message).catch(() => undefined)
    }
    emit({ type: 'error', error })
  } finally {
    await lock?.release()
  }
}
