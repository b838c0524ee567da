/**
 * Checkpoints of a training run: `runs/<name>/checkpoints/step-<n>/`, where n is the optimizer step.
 *
 *   step-<n>/config.json, model.safetensors          a Hugging Face folder (float32 weights, so that
 *            tokenizer.json, tokenizer_config.json,   resuming is exact), loadable by transformers
 *            special_tokens_map.json, generation_config.json (those the model folder had)
 *            trainer-state/state.json                  step, optimizer hyperparameters, data cursor, …
 *            trainer-state/optimizer.safetensors       AdamW's moments by parameter name (`<name>.m`, `<name>.v`)
 *            checksums.json                            sha256 of every other file
 *
 * A checkpoint is written into a hidden sibling folder, synced, and renamed into place: a crash at
 * any moment leaves either the whole checkpoint or none. On resume the newest one whose checksums
 * hold is used; a damaged newer one is reported by name.
 */
import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { join, relative } from 'node:path'
import { EngineError, fsError } from '../common/errors'
import { syncDir } from '../common/fsutil'
import { writeOutputDirWith } from '../common/outputdir'
import { parseJson } from '../common/json'
import { SIDE_FILES, TOKENIZER_FILES } from '../model/checkpoint'
import type { CausalLM } from '../model/model'
import type { AdamWHyper, AdamWState } from '../model/optimizer'
import { readSafetensorsHeader, readTensorFloat32, writeSafetensors } from '../model/safetensors'
import type { MixtureState } from './mixture'

export const CHECKPOINTS_DIR = 'checkpoints'
const STATE_DIR = 'trainer-state'
const CHECKSUMS = 'checksums.json'

/** What the trainer needs besides the weights and moments to go on exactly where it stopped. */
export interface TrainerState {
  format: 'vernacular-trainer-state'
  version: 1
  /** Optimizer steps done. */
  step: number
  /** AdamW's step count, hyperparameters and each parameter's own update count (its moments are in optimizer.safetensors). */
  optimizer: { step: number; hyper: AdamWHyper; parameterSteps: Record<string, number> }
  data: MixtureState
  /** Bytes of metrics.jsonl that belong to the steps up to this one (later lines are dropped on resume). */
  metricsOffset: number
  /** Anything else the trainer keeps (tokens per language, elapsed time, …). */
  extra: Record<string, unknown>
}

export interface CheckpointInfo {
  step: number
  dir: string
}

export const checkpointName = (step: number) => `step-${step}`

/** sha256 of a file, streamed. */
async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await listFiles(p)))
    else out.push(p)
  }
  return out
}

export interface WriteCheckpointInput {
  model: CausalLM
  optimizer: AdamWState
  /** The model folder whose tokenizer and generation files the checkpoint carries. */
  modelDir: string
  state: Omit<TrainerState, 'format' | 'version' | 'optimizer'>
}

/** Writes `runDir/checkpoints/step-<n>/` atomically and returns it. */
export async function writeCheckpoint(runDir: string, input: WriteCheckpointInput): Promise<CheckpointInfo> {
  const root = join(runDir, CHECKPOINTS_DIR)
  await fs.mkdir(root, { recursive: true })
  const dir = join(root, checkpointName(input.state.step))
  const own = () => true
  await writeOutputDirWith(dir, own, async (staging) => {
    await input.model.writeWeights(staging, 'F32')
    for (const f of [...TOKENIZER_FILES, ...SIDE_FILES]) {
      try {
        await fs.copyFile(join(input.modelDir, f), join(staging, f))
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, join(input.modelDir, f), 'read')
      }
    }
    await fs.mkdir(join(staging, STATE_DIR))
    const moments = Object.entries(input.optimizer.moments).flatMap(([name, { m, v }]) => [
      { name: `${name}.m`, dtype: 'F32', shape: [m.length], data: () => new Uint8Array(m.buffer, m.byteOffset, m.byteLength) },
      { name: `${name}.v`, dtype: 'F32', shape: [v.length], data: () => new Uint8Array(v.buffer, v.byteOffset, v.byteLength) },
    ])
    await writeSafetensors(join(staging, STATE_DIR, 'optimizer.safetensors'), moments, { format: 'vernacular-adamw' })
    const parameterSteps = Object.fromEntries(Object.entries(input.optimizer.moments).map(([name, { step }]) => [name, step ?? input.optimizer.step]))
    const state: TrainerState = { format: 'vernacular-trainer-state', version: 1, ...input.state, optimizer: { step: input.optimizer.step, hyper: input.optimizer.hyper, parameterSteps } }
    await writeSynced(join(staging, STATE_DIR, 'state.json'), JSON.stringify(state, null, 2) + '\n')
    const sums: Record<string, string> = {}
    for (const f of (await listFiles(staging)).sort()) sums[relative(staging, f).split('\\').join('/')] = await sha256File(f)
    await writeSynced(join(staging, CHECKSUMS), JSON.stringify(sums, null, 2) + '\n')
    await syncDir(join(staging, STATE_DIR))
  })
  return { step: input.state.step, dir }
}

async function writeSynced(file: string, text: string): Promise<void> {
  const h = await fs.open(file, 'w')
  try {
    await h.writeFile(text)
    await h.sync()
  } finally {
    await h.close()
  }
}

/** What is wrong with a checkpoint folder (naming the file), or null when every checksum holds. */
export async function checkpointProblem(dir: string): Promise<string | null> {
  let sums: Record<string, string>
  try {
    sums = parseJson(await fs.readFile(join(dir, CHECKSUMS), 'utf8')) as Record<string, string>
  } catch {
    return `${join(dir, CHECKSUMS)} is missing or damaged`
  }
  // An imported checkpoint (handoff/import.ts) has no trainer state: it is evaluated and exported, never resumed.
  if (!sums['config.json']) return `${join(dir, CHECKSUMS)} does not list the checkpoint's files`
  for (const [name, sum] of Object.entries(sums)) {
    const file = join(dir, name)
    let actual: string
    try {
      actual = await sha256File(file)
    } catch {
      return `${file} is missing`
    }
    if (actual !== sum) return `${file} does not match its checksum`
  }
  return null
}

/** The run's checkpoints, newest first. */
export async function listCheckpoints(runDir: string): Promise<CheckpointInfo[]> {
  let names: string[]
  try {
    names = await fs.readdir(join(runDir, CHECKPOINTS_DIR))
  } catch {
    return []
  }
  return names
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: join(runDir, CHECKPOINTS_DIR, m[0]) }))
    .sort((a, b) => b.step - a.step)
}

/** The newest checkpoint whose checksums hold, with a warning for each newer one that is damaged. */
export async function latestGoodCheckpoint(runDir: string): Promise<{ checkpoint: CheckpointInfo | null; warnings: string[] }> {
  const warnings: string[] = []
  for (const c of await listCheckpoints(runDir)) {
    const problem = (await checkpointProblem(c.dir)) ?? ((await fs.stat(join(c.dir, STATE_DIR, 'state.json')).catch(() => null)) ? null : `it has no ${STATE_DIR}/state.json to resume from`)
    if (problem === null) return { checkpoint: c, warnings }
    warnings.push(`Checkpoint ${checkpointName(c.step)} is damaged (${problem}); resuming from an earlier one.`)
  }
  return { checkpoint: null, warnings }
}

/** Reads a checkpoint's trainer state and optimizer moments. */
export async function readTrainerState(dir: string): Promise<{ state: TrainerState; optimizer: AdamWState }> {
  const file = join(dir, STATE_DIR, 'state.json')
  const state = parseJson(await fs.readFile(file, 'utf8')) as TrainerState
  if (state.format !== 'vernacular-trainer-state' || state.version !== 1) throw new EngineError('bad-input', `${file} is not a trainer state this Vernacular reads.`, { file })
  const header = await readSafetensorsHeader(join(dir, STATE_DIR, 'optimizer.safetensors'))
  const moments: AdamWState['moments'] = {}
  for (const t of header.tensors) {
    const m = /^(.*)\.(m|v)$/.exec(t.name)
    if (!m) continue
    const entry = (moments[m[1]!] ??= { m: new Float32Array(0), v: new Float32Array(0), step: state.optimizer.parameterSteps[m[1]!] ?? state.optimizer.step })
    entry[m[2] as 'm' | 'v'] = await readTensorFloat32(t)
  }
  return { state, optimizer: { step: state.optimizer.step, hyper: state.optimizer.hyper, moments } }
}

/** Deletes all but the newest `keep` checkpoints and the pinned ones; returns the steps deleted. */
export async function pruneCheckpoints(runDir: string, keep: number, pinned: ReadonlySet<number>): Promise<number[]> {
  const all = await listCheckpoints(runDir)
  const drop = all.slice(Math.max(0, keep)).filter((c) => !pinned.has(c.step))
  for (const c of drop) await fs.rm(c.dir, { recursive: true, force: true })
  return drop.map((c) => c.step)
}
