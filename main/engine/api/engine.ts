import { join, resolve } from 'node:path'
import {
  METHOD_NAMES,
  ROLE_VALUES,
  methods,
  wireRequest,
  type AppInfo,
  type CorpusRole,
  type IngestOptions,
  type JobSnapshot,
  type EngineEvent,
  type MethodName,
  type Params,
  type Result,
  type WireReply,
} from '../contract'
import { ingestCorpus } from '../corpus/ingest'
import { sampleDocuments } from '../corpus/sample'
import { readRoleState, roleStats } from '../corpus/store'
import { EngineError, toErrorInfo } from '../common/errors'
import { JobManager } from '../jobs/manager'
import { openCheckpoint } from '../model/checkpoint'
import { estimateMemory } from '../model/memory'
import { modelInfo, modelLogits, scoreFile } from '../model/operations'
import { baseModelStatus, projectResize, setBaseModel } from '../model/project'
import { resizeModel } from '../model/resize'
import { demoBaseTokenizer, demoCorpora, ensureDemoBaseModel, ensureDemoProject } from '../templates/demo'
import { readManifest } from '../project/manifest'
import { createProject, openProject, renameProject } from '../project/projects'
import { forgetProject, listRecentProjects, rememberProject } from '../project/recent'
import { defaultProjectsDir, resolveUserPath, vernacularHome } from '../common/settings'
import { matMulBenchmark } from '../system/benchmark'
import { doctor } from '../system/doctor'
import { estimateTokens } from '../tokenizer/estimate'
import { extendFiles, encodeFile, fertilityFile, summarize, sweepFiles } from '../tokenizer/operations'
import { Tokenizer } from '../tokenizer/tokenizer'
import { previewTokenization, projectExtend, projectSweep, setBaseTokenizer, vocabStatus } from '../tokenizer/project'
import { VERNACULAR_VERSION } from '../common/version'

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
}

type Handlers = { [M in MethodName]: (params: Params<M>) => Promise<Result<M>> }

export class Engine {
  readonly jobs: JobManager
  readonly home: string
  private readonly listeners = new Set<(e: EngineEvent) => void>()
  private readonly handlers: Handlers

  constructor(private readonly opts: EngineOptions) {
    this.home = opts.home ?? vernacularHome()
    this.jobs = new JobManager({ logDir: join(this.home, 'logs') })
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
        job: this.jobs.start({ kind: 'benchmark', title: `matMul benchmark (${size}×${size})`, run: (ctx) => matMulBenchmark(ctx, size, repeats) }),
      }),
      'project.create': async ({ dir, name, language }) => {
        const summary = await createProject({ dir: path(dir), name, language })
        await rememberProject(this.home, summary.dir, summary.manifest)
        this.emit({ type: 'project', dir: summary.dir, manifest: summary.manifest })
        return summary
      },
      'project.open': async ({ dir }) => {
        const summary = await openProject(path(dir))
        await rememberProject(this.home, summary.dir, summary.manifest)
        return summary
      },
      'project.openDemo': async () => {
        const { created, template, ...summary } = await ensureDemoProject(this.home)
        await rememberProject(this.home, summary.dir, summary.manifest)
        if (created) this.emit({ type: 'project', dir: summary.dir, manifest: summary.manifest })
        // Ingest the demo corpora once, in the background; the jobs panel shows them.
        const busy = this.jobs.list({ projectDir: summary.dir }).some((j) => j.kind === 'ingest' && (j.state === 'queued' || j.state === 'running'))
        for (const { role, paths } of busy ? [] : demoCorpora(template)) {
          if (!(await readRoleState(summary.dir, role))) this.startIngest(summary.dir, role, paths)
        }
        let changed = false
        const baseTokenizer = demoBaseTokenizer(template)
        if (baseTokenizer && !summary.manifest.baseTokenizer) {
          await setBaseTokenizer(summary.dir, baseTokenizer)
          changed = true
        }
        if (template.baseModel && !summary.manifest.baseModel) {
          const model = await ensureDemoBaseModel(summary.dir, template)
          if (model) await setBaseModel(summary.dir, model)
          changed = true
        }
        return changed ? openProject(summary.dir) : summary
      },
      'project.rename': async ({ dir, name }) => {
        const summary = await renameProject(path(dir), name)
        await rememberProject(this.home, summary.dir, summary.manifest)
        this.emit({ type: 'project', dir: summary.dir, manifest: summary.manifest })
        return summary
      },
      'project.recent': () => listRecentProjects(this.home),
      'project.forget': async ({ dir }) => {
        await forgetProject(this.home, path(dir))
        return listRecentProjects(this.home)
      },
      'corpus.add': async ({ dir, role, paths, options }) => {
        const projectDir = path(dir)
        await readManifest(projectDir) // fail now, not inside the job, if it is no project
        return { job: this.startIngest(projectDir, role, paths.map(path), options) }
      },
      'corpus.stats': async ({ dir }) => {
        const projectDir = path(dir)
        const manifest = await readManifest(projectDir)
        const tokenizer = manifest.baseTokenizer ? resolve(projectDir, manifest.baseTokenizer.path) : null
        const roles = []
        for (const role of ROLE_VALUES) {
          const state = await readRoleState(projectDir, role)
          if (!state) continue
          const stats = roleStats(state)
          // The estimate is a nicety: a base tokenizer that cannot be read shows up in the Vocabulary step.
          if (tokenizer) stats.tokens = await estimateTokens(projectDir, role, stats, tokenizer).catch(() => null)
          roles.push(stats)
        }
        return { dir: projectDir, roles }
      },
      'corpus.sample': async ({ dir, role, split, n, seed }) => ({ documents: await sampleDocuments(path(dir), role, split, n, seed) }),
      'tokenizer.info': async ({ tokenizer }) => summarize(await Tokenizer.fromFile(path(tokenizer)), path(tokenizer)),
      'tokenizer.encode': ({ tokenizer, text, addSpecialTokens }) => encodeFile(path(tokenizer), path(text), addSpecialTokens),
      'tokenizer.fertility': ({ tokenizer, text, lang }) => fertilityFile(path(tokenizer), path(text), lang),
      'tokenizer.extend': async ({ base, corpus, mode, count, reference, out, minCount }) => ({
        job: this.jobs.start({
          kind: 'tokenizer-extend',
          title: `${mode === 'add' ? 'Add' : 'Replace'} ${count} tokens`,
          run: (ctx) =>
            extendFiles(
              { base: path(base), corpus: corpus.map(path), mode, count, out: path(out), ...(reference ? { reference: reference.map(path) } : {}), ...(minCount !== undefined ? { minCount } : {}) },
              ctx,
            ),
        }),
      }),
      'tokenizer.sweep': async ({ base, corpus, heldoutTarget, heldoutEnglish, counts, lang, minCount }) => ({
        job: this.jobs.start({
          kind: 'tokenizer-sweep',
          title: `Vocabulary sweep (${counts.join(', ')})`,
          run: (ctx) =>
            sweepFiles(
              {
                base: path(base),
                corpus: corpus.map(path),
                heldoutTarget: path(heldoutTarget),
                ...(heldoutEnglish ? { heldoutEnglish: path(heldoutEnglish) } : {}),
                counts,
                lang,
                ...(minCount !== undefined ? { minCount } : {}),
              },
              ctx,
            ),
        }),
      }),
      'vocab.status': ({ dir }) => vocabStatus(path(dir)),
      'vocab.setBase': async ({ dir, path: p }) => {
        const projectDir = path(dir)
        const status = await setBaseTokenizer(projectDir, path(p))
        this.emit({ type: 'project', dir: projectDir, manifest: await readManifest(projectDir) })
        return status
      },
      'vocab.sweep': async ({ dir, counts }) => {
        const projectDir = path(dir)
        await readManifest(projectDir)
        return {
          job: this.jobs.start({ kind: 'vocab-sweep', title: `Vocabulary sweep (${counts.join(', ')})`, projectDir, run: (ctx) => projectSweep(projectDir, counts, ctx) }),
        }
      },
      'vocab.extend': async ({ dir, mode, count }) => {
        const projectDir = path(dir)
        await readManifest(projectDir)
        return {
          job: this.jobs.start({
            kind: 'vocab-extend',
            title: `${mode === 'add' ? 'Add' : 'Replace'} ${count} tokens`,
            projectDir,
            labels: { mode, count: String(count) },
            run: async (ctx) => {
              const summary = await projectExtend(projectDir, mode, count, ctx)
              this.emit({ type: 'project', dir: projectDir, manifest: await readManifest(projectDir) })
              return summary
            },
          }),
        }
      },
      'vocab.preview': ({ dir, text, count }) => previewTokenization(path(dir), text, count),
      'model.info': ({ model }) => modelInfo(path(model)),
      'model.logits': ({ model, ids }) => modelLogits(path(model), ids),
      'model.score': async ({ model, tokenizer, text }) => ({
        job: this.jobs.start({ kind: 'model-score', title: `Score ${text}`, run: (ctx) => scoreFile(path(model), path(tokenizer), path(text), ctx) }),
      }),
      'model.estimate': async ({ model, batch, seqLen, optimizer }) => estimateMemory((await openCheckpoint(path(model))).config, { batch, seqLen, optimizer }),
      'model.resize': async ({ model, changes, init, out, seed, padMultiple }) => {
        await openCheckpoint(path(model)) // fail now, not inside the job, if it is no model folder
        return {
          job: this.jobs.start({
            kind: 'model-resize',
            title: `Resize ${model} (${init})`,
            run: async (ctx) => {
              const t0 = performance.now()
              const r = await resizeModel(path(model), path(changes), path(out), {
                init,
                ...(seed !== undefined ? { seed } : {}),
                padMultiple: padMultiple ?? null,
                signal: ctx.signal,
                onProgress: (p) => ctx.progress(p),
              })
              return { out: path(out), mode: r.changes.mode, init: r.init, rowsBefore: r.rows.before, rowsAfter: r.rows.after, appended: r.newRows.appended, overwritten: r.newRows.overwritten, padding: r.padding, matrices: r.matrices, seconds: (performance.now() - t0) / 1000 }
            },
          }),
        }
      },
      'baseModel.status': ({ dir }) => baseModelStatus(path(dir)),
      'baseModel.set': async ({ dir, path: p }) => {
        const projectDir = path(dir)
        const status = await setBaseModel(projectDir, path(p))
        this.emit({ type: 'project', dir: projectDir, manifest: await readManifest(projectDir) })
        return status
      },
      'baseModel.resize': async ({ dir, mode, count, init, padMultiple }) => {
        const projectDir = path(dir)
        await readManifest(projectDir)
        return {
          job: this.jobs.start({
            kind: 'model-resize',
            title: `Resize the base model for ${mode} ${count} (${init})`,
            projectDir,
            labels: { mode, count: String(count), init },
            run: (ctx) => projectResize(projectDir, mode, count, init, padMultiple, ctx),
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

  private startIngest(projectDir: string, role: CorpusRole, paths: string[], options?: Partial<IngestOptions>): JobSnapshot {
    return this.jobs.start({
      kind: 'ingest',
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
        hint: 'See the API contract (main/engine/contract.ts) for the expected shape.',
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
