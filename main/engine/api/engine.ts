import { join } from 'node:path'
import {
  BENCHMARK_JOB,
  EVAL_BPB_JOB,
  EVAL_COMPARE_JOB,
  EVAL_RUN_JOB,
  EVAL_MC_JOB,
  EXPORT_JOB,
  INGEST_JOB,
  METHOD_NAMES,
  MODEL_DOWNLOAD_JOB,
  MODEL_RESIZE_JOB,
  MODEL_SCORE_JOB,
  MODEL_SAMPLE_JOB,
  TRAIN_JOB,
  HANDOFF_JOB,
  RUNS_IMPORT_JOB,
  TOKENIZER_EXTEND_JOB,
  TOKENIZER_SWEEP_JOB,
  VOCAB_EXTEND_JOB,
  VOCAB_SWEEP_JOB,
  methods,
  wireRequest,
  type AppInfo,
  type CorpusRole,
  type EngineEvent,
  type IngestOptions,
  type JobOf,
  type JobTypes,
  type MethodName,
  type Params,
  type ProjectSummary,
  type Result,
  type WireReply,
} from '../contract'
import { EngineError, toErrorInfo } from '../common/errors'
import { defaultProjectsDir, resolveUserPath, vernacularHome } from '../common/settings'
import { VERNACULAR_VERSION } from '../common/version'
import { ingestCorpus } from '../corpus/ingest'
import { heldoutScore, scoreTextFile } from '../evaluation/heldout'
import { scoreTaskFile } from '../evaluation/multipleChoice'
import { addProjectTask, cachedExportEvaluation, compareRuns, evaluateRun, listProjectTasks, setEvaluationLimit } from '../evaluation/project'
import { writeComparisonReport } from '../evaluation/report'
import { checkExport, exportCard, exportCheckpoint, ggufSizes } from '../export/export'
import { checkHandoffOut, planHandoff, writeHandoff } from '../handoff/bundle'
import { importRun } from '../handoff/import'
import { sampleDocuments } from '../corpus/sample'
import { JobManager } from '../jobs/manager'
import { openCheckpoint } from '../model/checkpoint'
import { estimateMemory } from '../model/memory'
import { modelInfo, modelLogits } from '../model/operations'
import { baseModelStatus, projectResize, resizeToFolder, setBaseModel } from '../model/project'
import { downloadJob } from '../hub/job'
import { hubModelInfo } from '../hub/info'
import { sampleFolder } from '../model/samples'
import { readManifest } from '../project/manifest'
import { createProject, openProject, renameProject } from '../project/projects'
import { forgetProject, listRecentProjects, rememberProject } from '../project/recent'
import { matMulBenchmark } from '../system/benchmark'
import { doctor } from '../system/doctor'
import { createFromTemplate, openDemoProject, templateCorpus } from '../templates/demo'
import { projectCorpusStats } from '../tokenizer/estimate'
import { extendFiles, encodeFile, fertilityFile, summarize, sweepFiles } from '../tokenizer/operations'
import { previewTokenization, projectExtend, projectSweep, setBaseTokenizer, vocabStatus } from '../tokenizer/project'
import { Tokenizer } from '../tokenizer/tokenizer'
import { countBudgetOf } from '../tokenizer/wordcount'
import { followRun, prepareRun, setTrainingPlan, stopRun } from '../training/launch'
import { listRuns, pinCheckpoint, readMetrics, runStatus } from '../training/runs'
import type { WorkerSpawner } from '../training/worker'

/**
 * The engine behind the API contract. Every transport (Electron IPC, the loopback WebSocket and
 * HTTP server, the CLI) hands it untrusted requests; it validates them against the contract's
 * schemas and answers with results or errors that say what to do.
 */

/** What only the desktop shell can do; web mode has none of it. */
export interface ShellServices {
  pickDirectory?(opts: { title?: string; defaultPath?: string }): Promise<string | null>
  revealPath?(path: string): Promise<void>
}

export interface EngineOptions {
  mode: AppInfo['mode']
  /** The per-user Vernacular folder (defaults to `vernacularHome()`). */
  home?: string
  shell?: ShellServices
  /** Resolves relative paths in requests (the CLI passes its working directory). */
  cwd?: string
  /** Starts a training worker process (the shell's: child_process.fork, or Electron's utilityProcess). */
  spawnWorker?: WorkerSpawner
  /** The least time between two progress events of a job (default 100 ms; tests set 0 to see each). */
  progressIntervalMs?: number
}

type Handlers = { [M in MethodName]: (params: Params<M>) => Promise<Result<M>> }

export class Engine {
  readonly jobs: JobManager<JobTypes>
  readonly home: string
  private readonly listeners = new Set<(e: EngineEvent) => void>()
  private readonly handlers: Handlers

  constructor(private readonly opts: EngineOptions) {
    this.home = opts.home ?? vernacularHome()
    this.jobs = new JobManager<JobTypes>({ logDir: join(this.home, 'logs'), ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}) })
    this.jobs.onChange((job) => this.emit({ type: 'job', job }))
    const shell = opts.shell ?? {}
    const path = (p: string) => resolveUserPath(p, opts.cwd)

    this.handlers = {
      'app.info': async () => ({
        name: 'Vernacular',
        version: VERNACULAR_VERSION,
        mode: opts.mode,
        platform: process.platform,
        defaultProjectsDir: defaultProjectsDir(),
        capabilities: { pickDirectory: Boolean(shell.pickDirectory), revealPath: Boolean(shell.revealPath) },
      }),
      'system.doctor': () => doctor(),
      'system.benchmark': async ({ size, repeats }) => ({
        job: this.jobs.start({ kind: BENCHMARK_JOB, title: `matMul benchmark (${size}×${size})`, run: (ctx) => matMulBenchmark(ctx, size, repeats) }),
      }),
      'project.create': async ({ dir, name, language, template }) =>
        this.remembered(template ? await createFromTemplate(path(dir), template, { name, language }) : await createProject({ dir: path(dir), name: name as string, language: language as string }), true),
      'project.open': async ({ dir }) => this.remembered(await openProject(path(dir)), false),
      'project.openDemo': async () => {
        const { created, ...summary } = await openDemoProject(this.home, {
          busy: (projectDir) => this.jobs.list({ projectDir }).some((j) => j.kind === INGEST_JOB && (j.state === 'queued' || j.state === 'running')),
          start: (projectDir, role, paths) => void this.startIngest(projectDir, role, paths),
        })
        return this.remembered(summary, created)
      },
      'project.rename': async ({ dir, name }) => this.remembered(await renameProject(path(dir), name), true),
      'project.recent': () => listRecentProjects(this.home),
      'project.forget': async ({ dir }) => {
        await forgetProject(this.home, path(dir))
        return listRecentProjects(this.home)
      },
      'corpus.add': async ({ dir, role, paths, options }) => {
        const projectDir = await this.projectDir(dir)
        return { job: this.startIngest(projectDir, role, paths.map(path), options) }
      },
      'corpus.addTemplate': async ({ dir, role }) => {
        const projectDir = await this.projectDir(dir)
        const paths = await templateCorpus(projectDir, role)
        return { job: this.startIngest(projectDir, role, paths) }
      },
      'corpus.stats': async ({ dir }) => projectCorpusStats(await this.projectDir(dir)),
      'corpus.sample': async ({ dir, role, split, n, seed }) => ({ documents: await sampleDocuments(path(dir), role, split, n, seed) }),
      'tokenizer.info': async ({ tokenizer }) => summarize(await Tokenizer.fromFile(path(tokenizer)), path(tokenizer)),
      'tokenizer.encode': ({ tokenizer, text, addSpecialTokens }) => encodeFile(path(tokenizer), path(text), addSpecialTokens),
      'tokenizer.fertility': ({ tokenizer, text, lang }) => fertilityFile(path(tokenizer), path(text), lang),
      'tokenizer.extend': async ({ base, corpus, mode, count, reference, out, minCount, maxWords, sampleMb }) => ({
        job: this.jobs.start({
          kind: TOKENIZER_EXTEND_JOB,
          title: `${mode === 'add' ? 'Add' : 'Replace'} ${count} tokens`,
          run: (ctx) => extendFiles({ base: path(base), corpus: corpus.map(path), mode, count, out: path(out), reference: reference?.map(path), minCount, budget: countBudgetOf(maxWords, sampleMb) }, ctx),
        }),
      }),
      'tokenizer.sweep': async ({ base, corpus, heldoutTarget, heldoutEnglish, counts, lang, minCount }) => ({
        job: this.jobs.start({
          kind: TOKENIZER_SWEEP_JOB,
          title: `Vocabulary sweep (${counts.join(', ')})`,
          run: (ctx) =>
            sweepFiles({ base: path(base), corpus: corpus.map(path), heldoutTarget: path(heldoutTarget), heldoutEnglish: heldoutEnglish === undefined ? undefined : path(heldoutEnglish), counts, lang, minCount }, ctx),
        }),
      }),
      'vocab.status': ({ dir }) => vocabStatus(path(dir)),
      'vocab.setBase': async ({ dir, path: p }) => this.changed(path(dir), (projectDir) => setBaseTokenizer(projectDir, path(p))),
      'vocab.sweep': async ({ dir, counts }) => {
        const projectDir = await this.projectDir(dir)
        return { job: this.jobs.start({ kind: VOCAB_SWEEP_JOB, title: `Vocabulary sweep (${counts.join(', ')})`, projectDir, run: (ctx) => projectSweep(projectDir, counts, ctx) }) }
      },
      'vocab.extend': async ({ dir, mode, count, maxWords, sampleMb }) => {
        const projectDir = await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: VOCAB_EXTEND_JOB,
            title: `${mode === 'add' ? 'Add' : 'Replace'} ${count} tokens`,
            projectDir,
            labels: { mode, count: String(count) },
            run: (ctx) => this.changed(projectDir, () => projectExtend(projectDir, mode, count, ctx, countBudgetOf(maxWords, sampleMb))),
          }),
        }
      },
      'vocab.preview': ({ dir, text, count }) => previewTokenization(path(dir), text, count),
      'model.info': ({ model }) => modelInfo(path(model)),
      'model.logits': ({ model, ids }) => modelLogits(path(model), ids),
      'model.score': async ({ model, tokenizer, text, lang }) => ({
        job: this.jobs.start({ kind: MODEL_SCORE_JOB, title: `Score ${text}`, run: (ctx) => scoreTextFile(path(model), path(tokenizer), path(text), { lang, ctx }) }),
      }),
      'model.estimate': async ({ model, batch, seqLen, optimizer, recompute }) => estimateMemory((await openCheckpoint(path(model))).config, { batch, seqLen, optimizer, recompute }),
      'model.sample': async ({ model, tokenizer, prompt, maxTokens, topP, temperature, seed }) => {
        await openCheckpoint(path(model)) // fail now, not inside the job, if it is no model folder
        return {
          job: this.jobs.start({
            kind: MODEL_SAMPLE_JOB,
            title: `Sample ${model}`,
            run: (ctx) => sampleFolder(path(model), path(tokenizer), prompt, { maxTokens, topP: topP ?? null, temperature, seed }, ctx),
          }),
        }
      },
      'model.resize': async ({ model, changes, init, out, seed, padMultiple }) => {
        await openCheckpoint(path(model)) // fail now, not inside the job, if it is no model folder
        return {
          job: this.jobs.start({
            kind: MODEL_RESIZE_JOB,
            title: `Resize ${model} (${init})`,
            run: (ctx) => resizeToFolder(path(model), path(changes), path(out), { init, seed, padMultiple }, ctx),
          }),
        }
      },
      'model.hubInfo': async ({ repo, revision, dir }) => hubModelInfo(repo, revision, dir === undefined ? undefined : await this.projectDir(dir)),
      'model.download': async ({ repo, revision, out, dir }) => {
        const projectDir = dir === undefined ? null : await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: MODEL_DOWNLOAD_JOB,
            title: `Download ${repo}${revision ? `@${revision}` : ''} from the Hub`,
            projectDir,
            labels: { repo, ...(revision ? { revision } : {}) },
            run: async (ctx) => {
              const r = await downloadJob(repo, revision, out === undefined ? undefined : path(out), ctx)
              if (projectDir === null) return r
              ctx.commit?.()
              await this.changed(projectDir, (p) => setBaseModel(p, r.folder))
              return r
            },
          }),
        }
      },
      'baseModel.status': ({ dir }) => baseModelStatus(path(dir)),
      'baseModel.set': async ({ dir, path: p }) => this.changed(path(dir), (projectDir) => setBaseModel(projectDir, path(p))),
      'baseModel.resize': async ({ dir, mode, count, init, padMultiple }) => {
        const projectDir = await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: MODEL_RESIZE_JOB,
            title: `Resize the base model for ${mode} ${count} (${init})`,
            projectDir,
            labels: { mode, count: String(count), init },
            run: (ctx) => projectResize(projectDir, mode, count, init, padMultiple, ctx),
          }),
        }
      },
      'train.start': async ({ dir, run, overrides, resume }) => {
        const projectDir = await this.projectDir(dir)
        const spawn = opts.spawnWorker
        if (!spawn) throw new EngineError('unavailable', 'Training needs a worker process, which this shell cannot start.', { hint: 'Train from the desktop app, web mode or the CLI.' })
        await prepareRun(projectDir, run, overrides, resume)
        return {
          job: this.jobs.start({
            kind: TRAIN_JOB,
            title: `Train run ${run}`,
            projectDir,
            labels: { run },
            run: (ctx) => this.changed(projectDir, () => followRun(spawn, projectDir, run, ctx)),
          }),
        }
      },
      'project.setTraining': async ({ dir, training, replay }) => {
        const projectDir = await this.projectDir(dir)
        return this.remembered(await setTrainingPlan(projectDir, { ...(training ? { training } : {}), ...(replay ? { replay } : {}) }), true)
      },
      'train.pause': async ({ dir, run }) => stopRun(await this.projectDir(dir), run, 'pause'),
      'train.cancel': async ({ dir, run }) => this.changed(await this.projectDir(dir), (projectDir) => stopRun(projectDir, run, 'cancel')),
      'train.status': async ({ dir, run }) => runStatus(await this.projectDir(dir), run),
      'train.runs': async ({ dir }) => listRuns(await this.projectDir(dir)),
      'train.metrics': async ({ dir, run }) => readMetrics(await this.projectDir(dir), run),
      'train.pin': async ({ dir, run, step, pinned }) => {
        const projectDir = await this.projectDir(dir)
        await pinCheckpoint(projectDir, run, step, pinned)
        return runStatus(projectDir, run)
      },
      'eval.bpb': async ({ model, tokenizer, text, lang }) => ({
        job: this.jobs.start({ kind: EVAL_BPB_JOB, title: `Bits per byte of ${text}`, run: async (ctx) => heldoutScore(await scoreTextFile(path(model), path(tokenizer), path(text), { lang, ctx })) }),
      }),
      'eval.mc': async ({ model, tokenizer, task }) => ({
        job: this.jobs.start({ kind: EVAL_MC_JOB, title: `Multiple choice ${task}`, run: (ctx) => scoreTaskFile(path(model), path(tokenizer), path(task), { ctx }) }),
      }),
      'eval.run': async ({ dir, run, checkpoint, samples }) => {
        const projectDir = await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: EVAL_RUN_JOB,
            title: `Evaluate run ${run}`,
            projectDir,
            labels: { run },
            run: async (ctx) => {
              const { missing: _missing, ...r } = await evaluateRun(projectDir, run, { checkpoint, samples, ctx })
              return r
            },
          }),
        }
      },
      'eval.compare': async ({ dir, runs, maxEnglishChange }) => {
        const projectDir = await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: EVAL_COMPARE_JOB,
            title: 'Compare runs',
            projectDir,
            labels: {},
            run: async (ctx) => {
              const { missing: _missing, ...c } = await compareRuns(projectDir, { ...(runs ? { runs } : {}), maxEnglishChange, ctx })
              return c
            },
          }),
        }
      },
      'eval.setLimit': async ({ dir, limit }) => setEvaluationLimit(await this.projectDir(dir), limit),
      'eval.tasks': async ({ dir }) => listProjectTasks(await this.projectDir(dir)),
      'eval.addTask': async ({ dir, file, name, force }) => addProjectTask(await this.projectDir(dir), path(file), { name, force }),
      'eval.results': async ({ dir, runs, maxEnglishChange }) => compareRuns(await this.projectDir(dir), { ...(runs ? { runs } : {}), maxEnglishChange, compute: false }),
      'eval.report': async ({ dir, runs, maxEnglishChange, format, out, force }) =>
        writeComparisonReport(await this.projectDir(dir), { ...(runs ? { runs } : {}), maxEnglishChange, format, out: path(out), force }),
      'export.ggufSizes': async ({ dir, run, checkpoint }) => ({ sizes: await ggufSizes(await this.projectDir(dir), { run, checkpoint }) }),
      'export.checkpoint': async ({ dir, run, checkpoint, out, format, dtype, force, evaluation }) => {
        const projectDir = await this.projectDir(dir)
        // Without one given, the model card carries what is evaluated of the base and this checkpoint.
        const request = { run, checkpoint, out: path(out), format, dtype, force, evaluation: evaluation ?? (await cachedExportEvaluation(projectDir, run, checkpoint)) }
        await checkExport(projectDir, request) // refuse now, not inside the job: a missing checkpoint, a folder it may not replace, gguf
        return {
          job: this.jobs.start({
            kind: EXPORT_JOB,
            title: `Export step ${checkpoint} of run ${run} (${dtype})`,
            projectDir,
            labels: { run, checkpoint: String(checkpoint) },
            run: (ctx) => exportCheckpoint(projectDir, request, ctx),
          }),
        }
      },
      'export.card': async ({ dir, run, checkpoint, dtype, evaluation }) => {
        const projectDir = await this.projectDir(dir)
        return { markdown: await exportCard(projectDir, { run, checkpoint, dtype, evaluation: evaluation ?? (await cachedExportEvaluation(projectDir, run, checkpoint)) }) }
      },
      'handoff.write': async ({ dir, run, out, target, overrides, force }) => {
        const projectDir = await this.projectDir(dir)
        await checkHandoffOut(projectDir, path(out), force) // refuse now, not inside the job: a folder it may not replace, settings that cannot train
        const request = { run, out: path(out), target, force, planned: await planHandoff(projectDir, run, overrides) }
        return {
          job: this.jobs.start({
            kind: HANDOFF_JOB,
            title: `Hand run ${run} off to ${target === 'fsdp' ? 'PyTorch FSDP' : 'LLaMA-Factory'}`,
            projectDir,
            labels: { run, target },
            run: (ctx) => this.changed(projectDir, () => writeHandoff(projectDir, request, ctx)),
          }),
        }
      },
      'runs.import': async ({ dir, from, run }) => {
        const projectDir = await this.projectDir(dir)
        return {
          job: this.jobs.start({
            kind: RUNS_IMPORT_JOB,
            title: `Import run ${run}`,
            projectDir,
            labels: { run },
            run: (ctx) => this.changed(projectDir, () => importRun(projectDir, path(from), run, ctx)),
          }),
        }
      },
      'jobs.list': async ({ projectDir }) => this.jobs.list(projectDir === undefined ? {} : { projectDir: path(projectDir) }),
      'jobs.get': async ({ id }) => this.jobs.get(id),
      'jobs.cancel': async ({ id }) => this.jobs.cancel(id),
      'shell.pickDirectory': async (p) => {
        if (!shell.pickDirectory) throw notInThisMode('A folder picker', opts.mode)
        return { path: await shell.pickDirectory(p) }
      },
      'shell.revealPath': async ({ path: p }) => {
        if (!shell.revealPath) throw notInThisMode('Showing a folder in the file manager', opts.mode)
        await shell.revealPath(path(p))
        return { ok: true as const }
      },
    }
  }

  /** A project folder from a request, checked now (not inside a job) to be a project. */
  private async projectDir(dir: string): Promise<string> {
    const projectDir = resolveUserPath(dir, this.opts.cwd)
    await readManifest(projectDir)
    return projectDir
  }

  /** Adds a project to the recent list and, when it was created or changed, tells the clients. */
  private async remembered<S extends { dir: string; manifest: ProjectSummary['manifest'] }>(summary: S, announce: boolean): Promise<S> {
    await rememberProject(this.home, summary.dir, summary.manifest)
    if (announce) this.emit({ type: 'project', dir: summary.dir, manifest: summary.manifest })
    return summary
  }

  /** Runs an operation that changes a project's manifest, then tells the clients the new manifest. */
  private async changed<T>(projectDir: string, operation: (projectDir: string) => Promise<T>): Promise<T> {
    const result = await operation(projectDir)
    this.emit({ type: 'project', dir: projectDir, manifest: await readManifest(projectDir) })
    return result
  }

  private startIngest(projectDir: string, role: CorpusRole, paths: string[], options?: Partial<IngestOptions>): JobOf<typeof INGEST_JOB> {
    return this.jobs.start({
      kind: INGEST_JOB,
      title: `Ingest ${role === 'target' ? 'target-language' : 'English replay'} text (${paths.length} path${paths.length === 1 ? '' : 's'})`,
      projectDir,
      labels: { role },
      run: (ctx) => ingestCorpus(ctx, { projectDir, role, paths, ...(options ? { options } : {}) }),
    })
  }

  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Validates `params` for `method` and runs it. Throws EngineError. */
  async call(method: string, params: unknown): Promise<unknown> {
    if (!isMethod(method)) {
      throw new EngineError('unknown-method', `There is no API method "${method}".`, { hint: `Known methods: ${METHOD_NAMES.join(', ')}.` })
    }
    const parsed = methods[method].params.safeParse(params ?? {})
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      throw new EngineError('invalid-request', `Invalid ${method} request: ${issues.join('; ')}`, {
        ...(issues.length > 1 ? { details: issues } : {}),
        hint: 'See the API contract (main/engine/contract/) for the expected shape.',
      })
    }
    const handler = this.handlers[method] as (p: unknown) => Promise<unknown>
    return handler(parsed.data)
  }

  /** Typed convenience for in-process callers (the CLI). */
  invoke<M extends MethodName>(method: M, params: Params<M> | Record<string, unknown>): Promise<Result<M>> {
    return this.call(method, params) as Promise<Result<M>>
  }

  /**
   * Handles one untrusted wire request (already JSON-decoded) and always answers with a reply:
   * errors, including a malformed envelope, become `{ok: false, error}`.
   */
  async handle(raw: unknown): Promise<WireReply> {
    const envelope = wireRequest.safeParse(raw)
    if (!envelope.success) {
      const id = typeof raw === 'object' && raw !== null && 'id' in raw && (typeof raw.id === 'number' || typeof raw.id === 'string') ? raw.id : null
      return {
        kind: 'reply',
        id,
        ok: false,
        error: {
          code: 'invalid-request',
          message: `Malformed request: ${envelope.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}`,
          hint: 'Send {"id": <number|string>, "method": "<name>", "params": {...}}.',
        },
      }
    }
    const { id, method, params } = envelope.data
    try {
      return { kind: 'reply', id, ok: true, result: await this.call(method, params) }
    } catch (e) {
      return { kind: 'reply', id, ok: false, error: toErrorInfo(e) }
    }
  }

  async close(): Promise<void> {
    await this.jobs.shutdown()
    this.listeners.clear()
  }

  private emit(event: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(event)
      } catch {
        // One broken listener must not stop the others.
      }
    }
  }
}

function isMethod(m: string): m is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, m)
}

function notInThisMode(what: string, mode: AppInfo['mode']): EngineError {
  return new EngineError('unavailable', `${what} is only available in the desktop app${mode === 'web' ? ', not in web mode' : ''}.`, {
    hint: 'Type the folder path instead.',
  })
}
