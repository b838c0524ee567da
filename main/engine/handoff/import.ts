/**
 * Bringing an external run back: the checkpoints a distributed trainer wrote (Hugging Face
 * folders) registered as a run of the project, so that evaluation and Compare treat it like a
 * local one.
 *
 *   FROM/…/step-<n>/            train.py (this bundle's driver)
 *   FROM/…/checkpoint-<n>/      Hugging Face's Trainer, LLaMA-Factory
 *   FROM/…/global_step<n>/      DeepSpeed (once converted to a Hugging Face folder)
 *   FROM/metrics.jsonl          train.py's metrics, one line per step (kept as the run's)
 *   FROM/trainer_log.jsonl      LLaMA-Factory's log (loss and learning rate per logged step)
 *
 * Each checkpoint is copied (hard-linked where the file system allows) into
 * runs/<name>/checkpoints/step-<n>/ with a checksums.json, as local checkpoints have. Its
 * tokenizer.json (or FROM's, for trainers that save it once) must have the vocabulary of the
 * project's extended tokenizer; a checkpoint without one, or with another, refuses the import. A
 * folder without weights (a DeepSpeed shard folder, for example) is skipped with the reason. The
 * run is written whole into a hidden folder and renamed into place.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { RunSettings, RunsImportResult, StepMetrics } from '../contract'
import { EngineError, fsError } from '../common/errors'
import { vocabFingerprint } from '../common/fingerprint'
import { parseJson } from '../common/json'
import type { JobContext } from '../jobs/manager'
import { projectRelativePath, readManifest } from '../project/manifest'
import { openCheckpoint } from '../model/checkpoint'
import { Tokenizer } from '../tokenizer/tokenizer'
import { CHECKPOINTS_DIR, checkpointName } from '../training/checkpoints'
import { modelToTrain } from '../training/launch'
import { RUN_FILE, RUNS_DIR, type RunRecord, readRun, runDir, setRunState } from '../training/runs'
import { METRICS_FILE } from '../training/trainer'
import { HANDOFF_RECORD } from './bundle'

/** A folder name that gives a checkpoint's step. */
export function checkpointStep(name: string): number | null {
  const m = /^(?:step-|checkpoint-|global_step)(\d+)$/.exec(name)
  return m ? Number(m[1]) : null
}

/** Folders named like checkpoints in `dir` (itself included), not looking inside them, at most `depth` levels down. */
async function findCheckpointFolders(dir: string, depth: number): Promise<{ step: number; dir: string }[]> {
  const own = checkpointStep(basename(dir))
  if (own !== null) return [{ step: own, dir }]
  if (depth === 0) return []
  let entries
  try {
    entries = await fs.readdir(dir, { withFileTypes: true })
  } catch {
    return []
  }
  const out: { step: number; dir: string }[] = []
  for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) out.push(...(await findCheckpointFolders(join(dir, e.name), depth - 1)))
  return out
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  )
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to)
  } catch {
    await fs.copyFile(from, to).catch((e: unknown) => {
      throw fsError(e, from, 'read')
    })
  }
}

/** What of a checkpoint folder is kept: the weights and the JSON files a Hugging Face folder has. */
const KEPT = /\.(safetensors|json)$/
const DROPPED = new Set(['trainer_state.json', 'checksums.json', 'scheduler.pt', 'optimizer.pt', 'rng_state.pth', 'training_args.bin'])

/** The metrics of an external run: train.py's metrics.jsonl as it is, or LLaMA-Factory's trainer_log.jsonl converted. */
async function externalMetrics(from: string, upTo: number): Promise<StepMetrics[]> {
  const lines = async (file: string) => (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim())
  if (await exists(join(from, METRICS_FILE))) {
    return (await lines(join(from, METRICS_FILE))).map((l) => parseJson(l) as StepMetrics).filter((m) => Number.isInteger(m.step) && Number.isFinite(m.loss) && m.step <= upTo)
  }
  if (await exists(join(from, 'trainer_log.jsonl'))) {
    const out: StepMetrics[] = []
    for (const l of await lines(join(from, 'trainer_log.jsonl'))) {
      const r = parseJson(l) as { current_steps?: number; loss?: number; lr?: number; learning_rate?: number; grad_norm?: number; elapsed_time?: string }
      if (typeof r.current_steps !== 'number' || typeof r.loss !== 'number' || r.current_steps > upTo) continue
      out.push({
        step: r.current_steps,
        loss: r.loss,
        lossTarget: null,
        lossEnglish: null,
        lr: r.lr ?? r.learning_rate ?? 0,
        gradNorm: r.grad_norm ?? Number.NaN,
        tokensPerSecond: 0,
        tokensTarget: 0,
        tokensEnglish: 0,
        elapsedSeconds: 0,
      })
    }
    return out
  }
  return []
}

/** The settings the external run was planned with: the bundle's vernacular-run.json next to FROM (or in it), else the project's. */
async function plannedSettings(projectDir: string, from: string): Promise<{ settings: RunSettings; bundle: string | null }> {
  for (const dir of [from, resolve(from, '..')]) {
    try {
      const r = parseJson(await fs.readFile(join(dir, HANDOFF_RECORD), 'utf8')) as { format?: string; settings?: RunSettings }
      if (r.format === 'vernacular-handoff' && r.settings) return { settings: r.settings, bundle: dir }
    } catch {
      // not a bundle
    }
  }
  const m = await readManifest(projectDir)
  return { settings: { ...m.training, englishShare: m.replay.englishShare } as RunSettings, bundle: null }
}

const QUIET: JobContext = { id: 'runs-import', signal: new AbortController().signal, progress: () => undefined, log: () => undefined, throwIfCancelled: () => undefined }

/** Imports the checkpoints under `fromIn` as run `name` of the project. */
export async function importRun(projectDir: string, fromIn: string, name: string, ctx: JobContext = QUIET): Promise<RunsImportResult> {
  const t0 = performance.now()
  const from = resolve(fromIn)
  const st = await fs.stat(from).catch((e: unknown) => {
    throw fsError(e, from, 'open')
  })
  if (!st.isDirectory()) throw new EngineError('bad-input', `${from} is not a folder.`, { file: from, hint: "Give the external run's output folder (the one holding its checkpoint folders)." })
  if (await readRun(projectDir, name)) throw new EngineError('invalid-request', `The project already has a run "${name}".`, { hint: 'Import under another name with --run NAME.' })
  if ((await readManifest(projectDir)).runs.some((r) => r.name === name)) throw new EngineError('invalid-request', `The project already has a run "${name}".`, { hint: 'Import under another name with --run NAME.' })

  if (await exists(runDir(projectDir, name))) throw new EngineError('invalid-request', `${runDir(projectDir, name)} already exists.`, { file: runDir(projectDir, name), hint: 'Import under another name with --run NAME.' })
  const found = (await findCheckpointFolders(from, 3)).sort((a, b) => a.step - b.step)
  if (found.length === 0) {
    throw new EngineError('bad-input', `${from} holds no checkpoint folders (step-<n>, checkpoint-<n> or global_step<n>).`, { file: from, hint: "Give the external run's output folder, the one its checkpoints were saved in." })
  }
  // The tokenizer every checkpoint must have: that of the model the project trains.
  const modelDir = await modelToTrain(projectDir)
  const expected = await Tokenizer.fromFile(join(modelDir, 'tokenizer.json'))
  const expectedPrint = vocabFingerprint(expected)
  const fallbackTokenizer = (await exists(join(from, 'tokenizer.json'))) ? join(from, 'tokenizer.json') : null

  const skipped: RunsImportResult['skipped'] = []
  const accepted: { step: number; dir: string; tokenizer: string }[] = []
  for (const c of found) {
    ctx.throwIfCancelled()
    if (accepted.some((a) => a.step === c.step)) {
      skipped.push({ folder: c.dir, reason: `step ${c.step} was already taken from ${accepted.find((a) => a.step === c.step)!.dir}` })
      continue
    }
    let ckpt
    try {
      ckpt = await openCheckpoint(c.dir)
    } catch (e) {
      skipped.push({ folder: c.dir, reason: e instanceof EngineError ? e.message : String(e) })
      continue
    }
    const tokenizer = (await exists(join(c.dir, 'tokenizer.json'))) ? join(c.dir, 'tokenizer.json') : fallbackTokenizer
    if (!tokenizer) {
      throw new EngineError('bad-input', `${c.dir} has no tokenizer.json (nor has ${from}), so it cannot be checked against the project's tokenizer.`, {
        file: c.dir,
        hint: `Copy the bundle's model/tokenizer.json into ${from} and import again.`,
      })
    }
    const tok = await Tokenizer.fromFile(tokenizer)
    if (vocabFingerprint(tok) !== expectedPrint) {
      throw new EngineError('bad-input', `${tokenizer} is not the project's tokenizer: it has ${tok.vocabSize} tokens (the project's has ${expected.vocabSize}) and another vocabulary fingerprint.`, {
        file: tokenizer,
        hint: "Import checkpoints trained with this project's bundle; a run on another tokenizer cannot be compared token for token.",
      })
    }
    if (ckpt.config.vocabSize < tok.vocabSize) {
      throw new EngineError('bad-input', `${c.dir} has ${ckpt.config.vocabSize} embedding rows for ${tok.vocabSize} tokens.`, { file: c.dir, hint: 'Import checkpoints of the resized model.' })
    }
    accepted.push({ step: c.step, dir: c.dir, tokenizer })
  }
  if (accepted.length === 0) {
    throw new EngineError('bad-input', `None of the checkpoint folders in ${from} is a Hugging Face model folder (${skipped.map((s) => `${basename(s.folder)}: ${s.reason}`).join('; ')}).`, {
      file: from,
      hint: 'DeepSpeed shards must be converted first (zero_to_fp32.py), or saved whole (stage3_gather_16bit_weights_on_model_save).',
    })
  }

  const root = join(projectDir, RUNS_DIR)
  await fs.mkdir(root, { recursive: true })
  const staging = join(root, `.import-${name}-${randomBytes(4).toString('hex')}`)
  const finalDir = runDir(projectDir, name)
  try {
    const files = await Promise.all(
      accepted.map(async (a) => (await fs.readdir(a.dir, { withFileTypes: true })).filter((e) => e.isFile() && KEPT.test(e.name) && !DROPPED.has(e.name)).map((e) => e.name)),
    )
    const sizes = await Promise.all(accepted.map(async (a, i) => (await Promise.all(files[i]!.map(async (f) => (await fs.stat(join(a.dir, f))).size))).reduce((x, y) => x + y, 0)))
    const total = sizes.reduce((x, y) => x + y, 0) * 2
    let done = 0
    for (const [i, a] of accepted.entries()) {
      const dest = join(staging, CHECKPOINTS_DIR, checkpointName(a.step))
      await fs.mkdir(dest, { recursive: true })
      ctx.progress({ done, total, message: `Copying ${basename(a.dir)}` })
      for (const f of files[i]!) {
        ctx.throwIfCancelled()
        await linkOrCopy(join(a.dir, f), join(dest, f))
      }
      if (!files[i]!.includes('tokenizer.json')) await linkOrCopy(a.tokenizer, join(dest, 'tokenizer.json'))
      done += sizes[i]!
      ctx.progress({ done, total, message: `Checksums of ${basename(a.dir)}` })
      const sums: Record<string, string> = {}
      for (const f of (await fs.readdir(dest)).sort()) sums[f] = await sha256File(join(dest, f))
      await fs.writeFile(join(dest, 'checksums.json'), JSON.stringify(sums, null, 2) + '\n')
      done += sizes[i]!
    }
    const last = accepted.at(-1)!.step
    const metrics = await externalMetrics(from, last)
    await fs.writeFile(join(staging, METRICS_FILE), metrics.map((m) => JSON.stringify(m) + '\n').join(''))
    const planned = await plannedSettings(projectDir, from)
    // Without the bundle's plan, the run is as long as it got (not the project's planned steps).
    const settings = planned.bundle ? planned.settings : { ...planned.settings, steps: last }
    const at = new Date().toISOString()
    const record: RunRecord = {
      format: 'vernacular-run',
      version: 1,
      name,
      createdAt: at,
      settings,
      model: projectRelativePath(projectDir, modelDir),
      tokenizer: projectRelativePath(projectDir, join(modelDir, 'tokenizer.json')),
      pinned: [],
      failure: null,
      imported: { from, at },
    }
    await fs.writeFile(join(staging, RUN_FILE), JSON.stringify(record, null, 2) + '\n')
    ctx.commit?.()
    await fs.rename(staging, finalDir)
    await setRunState(projectDir, name, 'done')
    ctx.progress({ fraction: 1, message: `Imported ${accepted.length} checkpoint${accepted.length === 1 ? '' : 's'}` })
    return {
      run: name,
      from,
      checkpoints: accepted.map((a) => ({ step: a.step, dir: join(finalDir, CHECKPOINTS_DIR, checkpointName(a.step)), from: a.dir })),
      skipped,
      metrics: metrics.length,
      seconds: (performance.now() - t0) / 1000,
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true })
  }
}
