/**
 * Training runs of a project: `runs/<name>/`, listed in the manifest's `runs` with their state.
 *
 *   runs/<name>/run.json            the run's full settings, model, tokenizer, pinned checkpoints
 *               metrics.jsonl       one line per optimizer step (trainer.ts)
 *               baseline.json       held-out bits per byte before the first step (trainer.ts)
 *               checkpoints/        step-<n>/ (checkpoints.ts)
 *               control.json        a pause or cancel request for the worker (from any process)
 *               .vernacular.lock    held by the worker while it trains
 *
 * States: planned | running | paused | done | failed | cancelled are stored in the manifest;
 * `interrupted` is derived, never stored: a run marked running whose lock no live worker holds.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { ProjectManifest, RunSettings, RunState, RunStatus, StepMetrics } from '../contract'
import { EngineError } from '../common/errors'
import { writeJsonAtomic } from '../common/fsutil'
import { parseJson } from '../common/json'
import { lockHolder } from '../project/lock'
import { projectRelativePath, readManifest, resolveProjectPath } from '../project/manifest'
import { updateProject } from '../project/projects'
import { type CheckpointInfo, listCheckpoints } from './checkpoints'
import { BASELINE_FILE, METRICS_FILE } from './trainer'

export const RUNS_DIR = 'runs'
export const RUN_FILE = 'run.json'
export const CONTROL_FILE = 'control.json'
export const DEFAULT_RUN = 'main'

export type StopRequest = 'pause' | 'cancel'

export interface RunRecord {
  format: 'vernacular-run'
  version: 1
  name: string
  createdAt: string
  settings: RunSettings
  /** The model folder the run starts from, and the tokenizer it trains with (project-relative when inside). */
  model: string
  tokenizer: string
  /** Checkpoint steps kept whatever `keepCheckpoints` says. */
  pinned: number[]
  /** Why the run failed, when it did. */
  failure: string | null
  /** The token data it trains on, and each language's stream length (tokens plus one EOS a document). */
  data?: { dir: string; streamTokens: { target: number; english: number | null } }
  /** Set for a run whose checkpoints were trained elsewhere and brought in by `runs import` (handoff/): it is never trained or resumed here. */
  imported?: { from: string; at: string }
}

export function checkRunName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new EngineError('invalid-request', `"${name}" cannot name a run.`, { hint: 'Use letters, digits, dots, dashes and underscores (at most 64), starting with a letter or digit.' })
  }
  return name
}

export function runDir(projectDir: string, name: string): string {
  return join(projectDir, RUNS_DIR, checkRunName(name))
}

export async function readRun(projectDir: string, name: string): Promise<RunRecord | null> {
  const file = join(runDir(projectDir, name), RUN_FILE)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new EngineError('io', `Cannot read ${file}: ${(e as Error).message}`, { file })
  }
  const run = parseJson(text) as RunRecord
  if (run.format !== 'vernacular-run' || run.version !== 1) throw new EngineError('bad-input', `${file} is not a run record this Vernacular reads.`, { file })
  return run
}

export async function writeRun(projectDir: string, run: RunRecord): Promise<void> {
  const dir = runDir(projectDir, run.name)
  await fs.mkdir(dir, { recursive: true })
  await writeJsonAtomic(join(dir, RUN_FILE), run)
}

/** Records the run's state in the manifest (adding the run when it is new). */
export async function setRunState(projectDir: string, name: string, status: RunState): Promise<ProjectManifest> {
  const { manifest } = await updateProject(projectDir, `marking run ${name} ${status}`, (m) => {
    const existing = m.runs.find((r) => r.name === name)
    if (existing) return { ...m, runs: m.runs.map((r) => (r.name === name ? { ...r, status } : r)) }
    const entry = { id: `run-${randomBytes(4).toString('hex')}`, name, createdAt: new Date().toISOString(), status, dir: projectRelativePath(projectDir, runDir(projectDir, name)) }
    return { ...m, runs: [...m.runs, entry] }
  })
  return manifest
}

/** Marks the run failed and records why, for the app and `train status`. */
export async function recordRunFailure(projectDir: string, name: string, reason: string): Promise<void> {
  const run = await readRun(projectDir, name)
  if (run) await writeRun(projectDir, { ...run, failure: reason })
  await setRunState(projectDir, name, 'failed')
}

/** Asks the run's worker, in whatever process it is, to stop after its current step. */
export async function requestStop(projectDir: string, name: string, request: StopRequest): Promise<void> {
  await writeJsonAtomic(join(runDir(projectDir, name), CONTROL_FILE), { request, at: new Date().toISOString() })
}

/** The stop request waiting for the run's worker, if any. */
export async function pendingStop(projectDir: string, name: string): Promise<StopRequest | null> {
  try {
    const { request } = parseJson(await fs.readFile(join(runDir(projectDir, name), CONTROL_FILE), 'utf8')) as { request?: unknown }
    return request === 'pause' || request === 'cancel' ? request : null
  } catch {
    return null
  }
}

export async function clearStop(projectDir: string, name: string): Promise<void> {
  await fs.rm(join(runDir(projectDir, name), CONTROL_FILE), { force: true })
}

/** Whether a live worker holds the run (its lock). */
export async function runIsLive(projectDir: string, name: string): Promise<boolean> {
  return (await lockHolder(runDir(projectDir, name))) !== null
}

/** The metrics lines of a run (an incomplete last line, from a crash mid-write, is skipped). */
export async function readMetrics(projectDir: string, name: string): Promise<StepMetrics[]> {
  let text: string
  try {
    text = await fs.readFile(join(runDir(projectDir, name), METRICS_FILE), 'utf8')
  } catch {
    return []
  }
  const out: StepMetrics[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    try {
      out.push(JSON.parse(line) as StepMetrics)
    } catch {
      // A line cut by a crash: the resumed run writes it again.
    }
  }
  return out
}

/** What a run is doing and has done; `interrupted` when it is marked running but no worker holds it. */
export async function runStatus(projectDir: string, name: string): Promise<RunStatus> {
  const manifest = await readManifest(projectDir)
  const entry = manifest.runs.find((r) => r.name === name)
  const run = await readRun(projectDir, name)
  if (!entry && !run) throw new EngineError('not-found', `The project has no run "${name}".`, { hint: `Start it with \`vernacular train ${projectDir} --run ${name}\`.` })
  let state: RunStatus['state'] = entry?.status ?? 'planned'
  if (state === 'running' && !(await runIsLive(projectDir, name))) state = 'interrupted'
  const metrics = await readMetrics(projectDir, name)
  const last = metrics.at(-1) ?? null
  const tokensTarget = last?.tokensTarget ?? 0
  const tokensEnglish = last?.tokensEnglish ?? 0
  const pinned = new Set(run?.pinned ?? [])
  const checkpoints: CheckpointInfo[] = await listCheckpoints(runDir(projectDir, name))
  return {
    name,
    dir: runDir(projectDir, name),
    state,
    // An imported run may come without metrics: its newest checkpoint says how far it got.
    step: last?.step ?? (run?.imported ? (checkpoints[0]?.step ?? 0) : 0),
    steps: run?.settings.steps ?? manifest.training.steps,
    tokensTarget,
    tokensEnglish,
    plannedReplayShare: run?.settings.englishShare ?? manifest.replay.englishShare,
    realisedReplayShare: tokensTarget + tokensEnglish > 0 ? tokensEnglish / (tokensTarget + tokensEnglish) : 0,
    epochsTarget: run?.data?.streamTokens.target ? tokensTarget / run.data.streamTokens.target : 0,
    epochsEnglish: run?.data?.streamTokens.english ? tokensEnglish / run.data.streamTokens.english : 0,
    checkpoints: checkpoints.map((c) => ({ ...c, pinned: pinned.has(c.step) })),
    settings: run?.settings ?? null,
    failure: run?.failure ?? null,
    imported: run?.imported ?? null,
    last,
    baseline: await readBaseline(projectDir, name),
  }
}

/** The held-out bits per byte the run measured before its first step (baseline.json), if it has. */
async function readBaseline(projectDir: string, name: string): Promise<RunStatus['baseline']> {
  try {
    const b = parseJson(await fs.readFile(join(runDir(projectDir, name), BASELINE_FILE), 'utf8')) as { heldout?: { target?: unknown; english?: unknown } }
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
    return b.heldout ? { target: num(b.heldout.target), english: num(b.heldout.english) } : null
  } catch {
    return null
  }
}

/** Resolves a path recorded in run.json. */
export function runPath(projectDir: string, p: string): string {
  return resolveProjectPath(projectDir, p)
}

/** Pins a checkpoint (kept whatever `keepCheckpoints` says) or unpins it. */
export async function pinCheckpoint(projectDir: string, name: string, step: number, pinned: boolean): Promise<void> {
  const run = await readRun(projectDir, name)
  if (!run) throw new EngineError('not-found', `The project has no run "${name}".`)
  if (pinned && !(await listCheckpoints(runDir(projectDir, name))).some((c) => c.step === step)) {
    throw new EngineError('not-found', `Run "${name}" has no checkpoint at step ${step}.`, { hint: 'See `vernacular train status` for its checkpoints.' })
  }
  const set = new Set(run.pinned)
  if (pinned) set.add(step)
  else set.delete(step)
  await writeRun(projectDir, { ...run, pinned: [...set].sort((a, b) => a - b) })
}

/** Every run of the project, in the manifest's order. */
export async function listRuns(projectDir: string): Promise<RunStatus[]> {
  const m = await readManifest(projectDir)
  const out: RunStatus[] = []
  for (const r of m.runs) out.push(await runStatus(projectDir, r.name))
  return out
}
