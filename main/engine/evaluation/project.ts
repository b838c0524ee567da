/**
 * Evaluating a project: its base model (with the base tokenizer) and every checkpoint of its runs,
 * on the held-out split of each language, the project's tasks and the fixed sample prompts, and
 * comparing runs with a suggested checkpoint.
 *
 *   evaluations/<model key>/<part>.json     one cached result per model and part
 *
 * The model key is the checkpoint's checksum (the sha256 of its checksums.json, which holds the
 * sha256 of every file), or for the base model a hash of its files' names, sizes and modification
 * times with the base tokenizer's content. A part's name holds what it was computed from: the
 * held-out parts the corpus fingerprint (ingesting more text changes it), a task its file's
 * sha256, the samples the prompts and settings. So nothing is computed twice, and nothing stale is
 * shown. Tasks are the JSONL files of the project's `tasks/` folder (a template copies its own).
 *
 * The project's evaluation limit (`evaluation.limit`, lm-evaluation-harness's `--limit`) scores
 * only the first N held-out documents of each language and the first N items of each task; such
 * parts are cached under names that say so (`-first<N>`), apart from full ones, and every result
 * read or computed under a limit carries it.
 */
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { basename, join } from 'node:path'
import type { JobContext } from '../jobs/manager'
import {
  type BestCheckpoint,
  type CheckpointEvaluation,
  type Comparison,
  DEFAULT_MAX_ENGLISH_CHANGE,
  type Evaluation,
  type ExportEvaluation,
  exportEvaluation,
  type LanguageEvaluation,
  type MultipleChoiceResult,
  type ProjectManifest,
  type ProjectTask,
  type RunEvaluation,
  type SampleEvaluation,
} from '../contract'
import { EngineError } from '../common/errors'
import { writeJsonAtomic } from '../common/fsutil'
import { languageName } from '../common/language'
import { readRoleState } from '../corpus/store'
import { corpusDocuments } from '../corpus/text'
import type { CausalLM } from '../model/model'
import { loadModel, prefixToken } from '../model/operations'
import { DEFAULT_SAMPLE_SETTINGS, demoPrompts, samplePrompts } from '../model/samples'
import { readManifest, resolveProjectPath } from '../project/manifest'
import { updateProject } from '../project/projects'
import { Tokenizer } from '../tokenizer/tokenizer'
import { checkpointProblem, listCheckpoints } from '../training/checkpoints'
import { corpusFingerprint } from '../training/data'
import { readMetrics, readRun, runDir } from '../training/runs'
import { heldoutScore, scoreDocuments } from './heldout'
import { scoreMultipleChoice } from './multipleChoice'
import { readTask } from './tasks'

export const EVALUATIONS_DIR = 'evaluations'
export const TASKS_DIR = 'tasks'
/** Bumped when a part is computed differently: older cached results are then not used. */
const CACHE_VERSION = 1

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')

/** A model to evaluate: its folder, tokenizer and cache key. */
interface Subject {
  key: string
  dir: string
  tokenizerFile: string
  label: string
}

/** One part of an evaluation, computed with the loaded model when not cached. */
interface Part<T> {
  name: string
  what: string
  compute: (model: CausalLM, tok: Tokenizer, ctx: JobContext | undefined) => Promise<T>
}

async function baseSubject(projectDir: string, manifest: ProjectManifest): Promise<Subject> {
  if (!manifest.baseModel) throw new EngineError('bad-input', 'The project has no base model to evaluate against.', { hint: 'Choose one in the Base model step (or `vernacular model set-base`).' })
  const dir = resolveProjectPath(projectDir, manifest.baseModel.path)
  const tokenizerFile = manifest.baseTokenizer ? resolveProjectPath(projectDir, manifest.baseTokenizer.path) : join(dir, 'tokenizer.json')
  const h = createHash('sha256')
  let names: string[]
  try {
    names = (await fs.readdir(dir)).sort()
  } catch {
    throw new EngineError('not-found', `The base model folder ${dir} is missing.`, { file: dir, hint: 'Choose the base model again in the Base model step.' })
  }
  for (const name of names) {
    const st = await fs.stat(join(dir, name))
    if (st.isFile()) h.update(`${name}\0${st.size}\0${st.mtimeMs}\n`)
  }
  try {
    h.update(await fs.readFile(tokenizerFile))
  } catch {
    throw new EngineError('not-found', `The base tokenizer ${tokenizerFile} is missing.`, { file: tokenizerFile, hint: 'Set the base tokenizer again in the Vocabulary step.' })
  }
  return { key: `base-${h.digest('hex').slice(0, 24)}`, dir, tokenizerFile, label: 'the base model' }
}

async function checkpointSubject(dir: string, step: number): Promise<Subject> {
  const problem = await checkpointProblem(dir)
  if (problem) throw new EngineError('bad-input', `The checkpoint ${dir} is damaged: ${problem}.`, { file: dir, hint: 'Evaluate the other checkpoints; resuming the run rewrites it.' })
  const checksums = await fs.readFile(join(dir, 'checksums.json'))
  return { key: `ckpt-${sha(checksums).slice(0, 24)}`, dir, tokenizerFile: join(dir, 'tokenizer.json'), label: `step ${step}` }
}

/** The project's tasks: every .jsonl file of its tasks/ folder, by name (the file's stem). */
export async function projectTasks(projectDir: string): Promise<{ name: string; file: string }[]> {
  let names: string[]
  try {
    names = await fs.readdir(join(projectDir, TASKS_DIR))
  } catch {
    return []
  }
  return names
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .map((n) => ({ name: basename(n, '.jsonl'), file: join(projectDir, TASKS_DIR, n) }))
}

/** The project's tasks, each read and checked (a damaged one says why instead of failing the list). */
export async function listProjectTasks(projectDir: string): Promise<ProjectTask[]> {
  const out: ProjectTask[] = []
  for (const t of await projectTasks(projectDir)) {
    try {
      out.push({ ...t, items: (await readTask(t.file)).items.length, error: null })
    } catch (e) {
      out.push({ ...t, items: null, error: (e as Error).message })
    }
  }
  return out
}

/** Checks a task file and copies it into the project's tasks/ folder (see `eval.addTask`). */
export async function addProjectTask(projectDir: string, file: string, opts: { name?: string | undefined; force?: boolean } = {}): Promise<ProjectTask> {
  const task = await readTask(file) // every line checked: an error names the file and the line
  const name = opts.name ?? basename(file).replace(/\.jsonl$/i, '')
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new EngineError('bad-input', `"${name}" cannot name a task.`, { hint: 'Give a name of letters, digits, dots, dashes and underscores.' })
  }
  const to = join(projectDir, TASKS_DIR, `${name}.jsonl`)
  if (!opts.force && (await fs.stat(to).then(() => true, () => false))) {
    throw new EngineError('invalid-request', `The project already has a task named ${name}.`, { file: to, hint: 'Give another name, or replace it (force).' })
  }
  await fs.mkdir(join(projectDir, TASKS_DIR), { recursive: true })
  const tmp = `${to}.${process.pid}.tmp`
  await fs.copyFile(file, tmp)
  await fs.rename(tmp, to)
  return { name, file: to, items: task.items.length, error: null }
}

function languageEvaluation(s: ReturnType<typeof heldoutScore>): LanguageEvaluation {
  return { bitsPerByte: s.bitsPerByte, bytePerplexity: s.bytePerplexity, wordPerplexity: s.wordPerplexity, documents: s.documents, bytes: s.bytes, tokens: s.tokens }
}

/** The parts of a project's evaluation, with what their cache names depend on. */
async function projectParts(projectDir: string, manifest: ProjectManifest, withSamples: boolean) {
  const corpus = (await corpusFingerprint(projectDir)).slice(0, 16)
  const limit = manifest.evaluation.limit
  const limited = limit === null ? '' : `-first${limit}`
  const heldout = (role: 'target' | 'english'): Part<LanguageEvaluation | null> => ({
    name: `heldout-${role}-${corpus}${limited}`,
    what: `held-out ${role === 'target' ? languageName(manifest.language) : 'English'}`,
    compute: async (model, tok, ctx) => {
      const prefix = await prefixToken(tok, tok.file, model.config)
      const name = role === 'target' ? languageName(manifest.language) : 'English'
      const state = await readRoleState(projectDir, role)
      // No English text is allowed (a run without replay): nothing to score, shown as a dash.
      if (!state || state.sources.length === 0) {
        if (role === 'english') return null
        throw new EngineError('bad-input', `The project has no ${name} text to evaluate on.`, { hint: 'Add it in the Corpus step (or `vernacular corpus add`).' })
      }
      if (!state.sources.some((s) => s.profile.heldout.documents > 0)) {
        throw new EngineError('bad-input', `The ${name} held-out split of the project is empty: there is no held-out text to evaluate on.`, {
          hint: 'Ingest the text again with a larger held-out share or minimum (the Corpus step, or `vernacular corpus add --min-heldout N`).',
        })
      }
      const s = await scoreDocuments(model, tok, firstOf(corpusDocuments(projectDir, role, 'heldout', ctx?.signal), limit), { prefix, lang: role === 'target' ? manifest.language : 'en', ...(ctx ? { ctx } : {}), source: `the ${name} held-out split` })
      return languageEvaluation(heldoutScore(s))
    },
  })
  const tasks: (Part<MultipleChoiceResult> & { task: string })[] = []
  for (const t of await projectTasks(projectDir)) {
    const content = await fs.readFile(t.file)
    tasks.push({
      task: t.name,
      name: `task-${t.name}-${sha(content).slice(0, 16)}${limited}`,
      what: `the task ${t.name}`,
      compute: async (model, tok, ctx) => {
        const task = await readTask(t.file)
        return scoreMultipleChoice(model, tok, limit === null ? task.items : task.items.slice(0, limit), { prefix: await prefixToken(tok, tok.file, model.config), ...(ctx ? { ctx } : {}), source: t.file })
      },
    })
  }
  const prompts = withSamples ? await demoPrompts([...new Set([manifest.language, 'en'])]) : []
  const samples: Part<SampleEvaluation[]> | null = prompts.length
    ? {
        name: `samples-${sha(JSON.stringify({ prompts, settings: DEFAULT_SAMPLE_SETTINGS })).slice(0, 16)}`,
        what: 'samples',
        compute: async (model, tok, ctx) => {
          const out = await samplePrompts(model, tok, prompts, DEFAULT_SAMPLE_SETTINGS, ctx ? { signal: ctx.signal } : {})
          return out.map((p) => ({ id: p.prompt.id, lang: p.prompt.lang, prompt: p.prompt.text, greedy: p.greedy.text, topP: p.topP.text }))
        },
      }
    : null
  return { target: heldout('target'), english: heldout('english'), tasks, samples, limit }
}

/** The first `limit` items of `items` (all of them when `limit` is null). */
async function* firstOf<T>(items: AsyncIterable<T>, limit: number | null): AsyncGenerator<T> {
  if (limit === null) return yield* items
  let n = 0
  for await (const item of items) {
    yield item
    if (++n >= limit) return
  }
}

/** Sets the project's evaluation limit (see the top of this file); null scores everything. */
export async function setEvaluationLimit(projectDir: string, limit: number | null): Promise<{ limit: number | null }> {
  await updateProject(projectDir, 'set the evaluation limit', (m) => ({ ...m, evaluation: { ...m.evaluation, limit } }))
  return { limit }
}

type Parts = Awaited<ReturnType<typeof projectParts>>

async function readCached<T>(projectDir: string, subject: Subject, part: Part<T>): Promise<{ value: T } | null> {
  try {
    const j = JSON.parse(await fs.readFile(join(projectDir, EVALUATIONS_DIR, subject.key, `${part.name}.json`), 'utf8')) as { version?: number; value: T }
    return j.version === CACHE_VERSION ? { value: j.value } : null
  } catch {
    return null
  }
}

/**
 * A model's evaluation: each part from the cache, or computed (the model loaded once, only if a
 * part is missing) and cached. With `compute: false`, null when a part is missing.
 */
async function evaluateSubject(projectDir: string, subject: Subject, parts: Parts, opts: { compute: boolean; ctx?: JobContext; onPart?: (what: string) => void }): Promise<Evaluation | null> {
  let model: CausalLM | null = null
  let tok: Tokenizer | null = null
  const get = async <T>(part: Part<T>): Promise<T | undefined> => {
    const cached = await readCached(projectDir, subject, part)
    if (cached) return cached.value
    if (!opts.compute) return undefined
    opts.ctx?.throwIfCancelled()
    opts.onPart?.(`${subject.label}: ${part.what}`)
    if (!model) {
      tok = await Tokenizer.fromFile(subject.tokenizerFile)
      model = await loadModel(subject.dir, opts.ctx)
      if (tok.vocabSize > model.config.vocabSize) {
        throw new EngineError('bad-input', `${subject.tokenizerFile} has ${tok.vocabSize} tokens but the model ${subject.dir} has ${model.config.vocabSize} embedding rows: the tokenizer does not fit the model.`, {
          file: subject.tokenizerFile,
          hint: 'Evaluate the model with the tokenizer it was resized for.',
        })
      }
    }
    const value = await part.compute(model, tok as unknown as Tokenizer, opts.ctx)
    await fs.mkdir(join(projectDir, EVALUATIONS_DIR, subject.key), { recursive: true })
    await writeJsonAtomic(join(projectDir, EVALUATIONS_DIR, subject.key, `${part.name}.json`), { version: CACHE_VERSION, model: subject.dir, part: part.name, value })
    return value
  }
  try {
    const target = await get(parts.target)
    const english = await get(parts.english)
    const tasks: Record<string, MultipleChoiceResult> = {}
    let missing = target === undefined || english === undefined
    for (const t of parts.tasks) {
      const r = await get(t)
      if (r === undefined) missing = true
      else tasks[t.task] = r
    }
    const samples = parts.samples ? await get(parts.samples) : []
    if (samples === undefined) missing = true
    if (missing) return null
    return { target: target ?? null, english: english ?? null, tasks, samples: samples ?? [] }
  } finally {
    ;(model as CausalLM | null)?.dispose()
  }
}

export type CheckpointChoice = 'all' | 'last' | number

interface EvaluateOptions {
  checkpoint?: CheckpointChoice
  samples?: boolean
  compute?: boolean
  ctx?: JobContext
}

/** The checkpoints of a run that a choice names (all, the last, or one step). */
async function chosenCheckpoints(projectDir: string, run: string, choice: CheckpointChoice) {
  const all = (await listCheckpoints(runDir(projectDir, run))).sort((a, b) => a.step - b.step)
  if (choice === 'all') return all
  if (choice === 'last') return all.slice(-1)
  const one = all.find((c) => c.step === choice)
  if (!one) {
    throw new EngineError('not-found', `Run "${run}" has no checkpoint at step ${choice}.`, {
      hint: all.length ? `Its checkpoints are at steps ${all.map((c) => c.step).join(', ')}.` : 'It has no checkpoints yet: train it first.',
    })
  }
  return [one]
}

/**
 * Evaluates (or with `compute: false`, reads what is evaluated of) the base model and a run's
 * checkpoints. A damaged checkpoint is skipped with a log line, the others are evaluated; `missing`
 * lists what is not evaluated yet (read-only) or was skipped.
 */
export async function evaluateRun(projectDir: string, run: string, opts: EvaluateOptions = {}): Promise<RunEvaluation & { missing: { run: string; step: number | null }[]; limit: number | null }> {
  const manifest = await readManifest(projectDir)
  if (!(await readRun(projectDir, run))) throw new EngineError('not-found', `The project has no run "${run}".`, { hint: 'Train one first (the Training step, or `vernacular train`).' })
  const compute = opts.compute ?? true
  const parts = await projectParts(projectDir, manifest, opts.samples ?? true)
  const checkpoints = await chosenCheckpoints(projectDir, run, opts.checkpoint ?? 'all')
  // One checkpoint asked for by its step: a damaged one is refused before anything is computed.
  if (typeof opts.checkpoint === 'number') for (const c of checkpoints) await checkpointSubject(c.dir, c.step)
  const metrics = await readMetrics(projectDir, run)
  const total = checkpoints.length + 1
  let done = 0
  const onPart = (what: string) => opts.ctx?.progress({ fraction: done / total, message: `Evaluating ${what}…` })
  const missing: { run: string; step: number | null }[] = []
  const base = await evaluateSubject(projectDir, await baseSubject(projectDir, manifest), parts, { compute, onPart, ...(opts.ctx ? { ctx: opts.ctx } : {}) })
  if (!base) missing.push({ run, step: null })
  done++
  const out: CheckpointEvaluation[] = []
  for (const c of checkpoints) {
    let subject: Subject
    try {
      subject = await checkpointSubject(c.dir, c.step)
    } catch (e) {
      if (opts.checkpoint !== undefined && typeof opts.checkpoint === 'number') throw e
      opts.ctx?.log(`skipped: ${(e as Error).message}`)
      missing.push({ run, step: c.step })
      done++
      continue
    }
    const e = await evaluateSubject(projectDir, subject, parts, { compute, onPart, ...(opts.ctx ? { ctx: opts.ctx } : {}) })
    done++
    if (!e) {
      missing.push({ run, step: c.step })
      continue
    }
    const m = metrics.find((x) => x.step === c.step)
    out.push({ step: c.step, dir: c.dir, ...e, tokensTarget: m?.tokensTarget ?? 0, tokensEnglish: m?.tokensEnglish ?? 0 })
  }
  opts.ctx?.progress({ fraction: 1, message: 'Evaluated' })
  return { run, base: base ?? emptyEvaluation(), checkpoints: out, missing, limit: parts.limit }
}

function emptyEvaluation(): Evaluation {
  return { target: null, english: null, tasks: {}, samples: [] }
}

/** Target gain (the fall of its bits per byte, relative to the base's) and English change (the rise, relative). */
export function relativeChanges(base: Evaluation, e: Evaluation): { targetGain: number | null; englishChange: number | null } {
  const rel = (b: LanguageEvaluation | null, x: LanguageEvaluation | null) => (b && x ? (x.bitsPerByte - b.bitsPerByte) / b.bitsPerByte : null)
  const t = rel(base.target, e.target)
  return { targetGain: t === null ? null : -t, englishChange: rel(base.english, e.english) }
}

/** The rule that suggests a checkpoint, in words. */
export function bestRule(language: string, maxEnglishChange: number): string {
  return `the largest ${languageName(language)} gain in held-out bits per byte over the base model, among the checkpoints whose English bits per byte rose by at most ${+(maxEnglishChange * 100).toFixed(2)}% of the base's`
}

/** The suggested checkpoint across runs (see `bestRule`); ties go to the earlier step. */
export function suggestBest(runs: readonly RunEvaluation[], language: string, maxEnglishChange: number): BestCheckpoint | null {
  let best: { run: string; step: number; gain: number } | null = null
  for (const r of runs) {
    for (const c of r.checkpoints) {
      const { targetGain, englishChange } = relativeChanges(r.base, c)
      if (targetGain === null) continue
      if (englishChange !== null && englishChange > maxEnglishChange) continue
      if (!best || targetGain > best.gain || (targetGain === best.gain && c.step < best.step)) best = { run: r.run, step: c.step, gain: targetGain }
    }
  }
  return best ? { run: best.run, step: best.step, rule: bestRule(language, maxEnglishChange) } : null
}

/**
 * Compares runs (all with checkpoints, or those named): each evaluated (what is missing computed,
 * unless `compute` is false), and the suggested checkpoint.
 */
export async function compareRuns(
  projectDir: string,
  opts: { runs?: string[]; maxEnglishChange?: number; compute?: boolean; ctx?: JobContext } = {},
): Promise<Comparison & { missing: { run: string; step: number | null }[] }> {
  const manifest = await readManifest(projectDir)
  const maxEnglishChange = opts.maxEnglishChange ?? DEFAULT_MAX_ENGLISH_CHANGE
  let names = opts.runs
  if (!names) {
    names = []
    for (const r of manifest.runs) if ((await listCheckpoints(runDir(projectDir, r.name))).length) names.push(r.name)
  }
  const runs: RunEvaluation[] = []
  const missing: { run: string; step: number | null }[] = []
  for (const [i, name] of names.entries()) {
    const sub = opts.ctx ? scaledContext(opts.ctx, i / names.length, (i + 1) / names.length, name) : undefined
    const r = await evaluateRun(projectDir, name, { compute: opts.compute ?? true, ...(sub ? { ctx: sub } : {}) })
    missing.push(...r.missing)
    runs.push({ run: r.run, base: r.base, checkpoints: r.checkpoints })
  }
  return { runs, best: suggestBest(runs, manifest.language, maxEnglishChange), rule: bestRule(manifest.language, maxEnglishChange), maxEnglishChange, limit: manifest.evaluation.limit, missing }
}

/** A job context whose progress fractions map into [from, to] of the parent's, with the run named. */
function scaledContext(ctx: JobContext, from: number, to: number, run: string): JobContext {
  return {
    id: ctx.id,
    signal: ctx.signal,
    log: (line) => ctx.log(line),
    throwIfCancelled: () => ctx.throwIfCancelled(),
    progress: (u) => ctx.progress({ ...u, ...(u.fraction !== undefined ? { fraction: from + (to - from) * u.fraction } : {}), ...(u.message ? { message: `${run}: ${u.message}` } : {}) }),
  }
}

/** What is evaluated of the base model and one checkpoint (for the model card), or null if either is not. */
export async function cachedExportEvaluation(projectDir: string, run: string, step: number): Promise<ExportEvaluation | null> {
  try {
    const r = await evaluateRun(projectDir, run, { checkpoint: step, compute: false })
    const adapted = r.checkpoints[0]
    return adapted && !r.missing.length ? exportEvaluation.parse({ base: r.base, adapted, limit: r.limit }) : null
  } catch {
    return null // no such run or checkpoint: export says so itself
  }
}
