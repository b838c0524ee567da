/**
 * The Base-model step of a project: the Hugging Face folder it adapts (recorded by path, never
 * copied: models are large), whether training it fits this machine, and the resized models made
 * from it for the project's extended tokenizers.
 *
 *   models/<mode>-<count>-<init>/     the base model resized for tokenizer/<mode>-<count>/
 */
import { promises as fs } from 'node:fs'
import { totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { type Tf, engineBackend } from '../backend/select'
import { adapterName } from '../backend/webgpu'
import type { BaseModelStatus, EmbeddingInitMethod, ExtendMode, MemoryEstimateResult, ResizeSummary } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import { projectRelativePath, readManifest, resolveProjectPath } from '../project/manifest'
import { updateProject } from '../project/projects'
import { detectGpus } from '../system/gpus'
import { vocabFingerprint } from '../common/fingerprint'
import { loadTokenizerCached } from '../tokenizer/estimate'
import { setBaseTokenizer, TOKENIZER_DIR } from '../tokenizer/project'
import { openCheckpoint } from './checkpoint'
import { chooseRecompute, estimateMemory } from './memory'
import { WASM_MEMORY_LIMIT } from './model'
import { heldShape, paramSpecs } from './names'
import { describeCheckpoint } from './operations'
import { type ResizeRecord, resizeModel } from './resize'

export const MODELS_DIR = 'models'

/** Checks a model folder loads, records it as the project's base model, and adopts its tokenizer if the project has none. */
export async function setBaseModel(dir: string, source: string): Promise<BaseModelStatus> {
  const src = resolve(source)
  const ckpt = await openCheckpoint(src)
  await updateProject(dir, 'set the base model', (m) => ({ ...m, baseModel: { path: projectRelativePath(dir, ckpt.dir) } }))
  const m = await readManifest(dir)
  if (!m.baseTokenizer && ckpt.tokenizerFile) await setBaseTokenizer(dir, ckpt.tokenizerFile)
  return baseModelStatus(dir)
}

/** What the app and the CLI show of a resize, from the resize.json it recorded. */
function summaryOf(out: string, r: ResizeRecord): ResizeSummary {
  return {
    out,
    mode: r.changes.mode,
    count: r.changes.count,
    init: r.init,
    rowsBefore: r.rows.before,
    rowsAfter: r.rows.after,
    appended: r.newRows.appended,
    overwritten: r.newRows.overwritten,
    padding: r.padding,
    matrices: r.matrices,
    // Folders resized before the time was recorded have none.
    seconds: r.seconds ?? 0,
  }
}

async function listResized(dir: string): Promise<ResizeSummary[]> {
  const root = join(dir, MODELS_DIR)
  let names: string[]
  try {
    names = (await fs.readdir(root)).filter((n) => !n.startsWith('.')).sort()
  } catch {
    return []
  }
  const out: ResizeSummary[] = []
  for (const n of names) {
    try {
      const r = JSON.parse(await fs.readFile(join(root, n, 'resize.json'), 'utf8')) as ResizeRecord
      if (r.format === 'vernacular-resize') out.push(summaryOf(join(root, n), r))
    } catch {
      // Not a resized model (or one being written): skip it.
    }
  }
  return out
}

/** Where training would run, and its memory. */
export async function trainingDevice(): Promise<BaseModelStatus['device']> {
  const { report } = await engineBackend()
  if (report.name === 'node-gpu') {
    const gpu = (await detectGpus())[0]
    return { kind: 'gpu', name: gpu?.name ?? 'CUDA GPU', memoryBytes: gpu?.memoryBytes ?? null, backend: report.name }
  }
  if (report.name === 'webgpu') {
    // WebGPU says nothing of the GPU's memory; the system's GPU listing may. What it does say is the
    // largest buffer, which the largest weight must fit in.
    const a = report.adapter
    const memoryBytes = a?.software ? totalmem() : ((await detectGpus())[0]?.memoryBytes ?? null)
    return { kind: a?.software ? 'cpu' : 'gpu', name: a ? `WebGPU: ${adapterName(a)}` : 'WebGPU', memoryBytes, backend: report.name, ...(a && { maxBufferBytes: a.limits.maxBufferSize }) }
  }
  const ram = totalmem()
  if (report.name === 'wasm') return { kind: 'cpu', name: 'CPU (WebAssembly, at most 4 GiB)', memoryBytes: Math.min(ram, WASM_MEMORY_LIMIT), backend: report.name }
  return { kind: 'cpu', name: 'CPU (system memory)', memoryBytes: ram, backend: report.name }
}

/**
 * The memory a training step may use on the backend `tf` runs on now (for the `recompute` setting's
 * auto): as `trainingDevice` says, without choosing the engine's backend where tfjs already runs
 * on a CPU one (tests pick theirs).
 */
export async function trainingMemory(tf: Tf): Promise<number | null> {
  const backend = tf.getBackend()
  if (backend === 'wasm') return Math.min(totalmem(), WASM_MEMORY_LIMIT)
  if (backend === 'cpu') return totalmem()
  return (await trainingDevice()).memoryBytes
}

export async function baseModelStatus(dir: string): Promise<BaseModelStatus> {
  const m = await readManifest(dir)
  const training = { batch: m.training.batchSize, seqLen: m.training.sequenceLength, optimizer: 'adamw' as const }
  const device = await trainingDevice()
  const recompute = { setting: m.training.recompute ?? ('auto' as const), on: null }
  const status: BaseModelStatus = { path: null, info: null, problem: null, tokenizer: null, training, estimate: null, device, fits: null, recomputed: null, fitsRecomputed: null, recompute, resized: await listResized(dir) }
  if (!m.baseModel) return status
  status.path = resolveProjectPath(dir, m.baseModel.path)
  try {
    const ckpt = await openCheckpoint(status.path)
    status.info = await describeCheckpoint(ckpt)
    const opts = { batch: training.batch, seqLen: Math.min(training.seqLen, ckpt.config.maxPositions), optimizer: 'adamw' as const }
    status.estimate = estimateMemory(ckpt.config, opts)
    // With each layer's activations recomputed in the backward pass (the `recompute` setting).
    status.recomputed = estimateMemory(ckpt.config, { ...opts, recompute: true })
    status.recompute = { setting: recompute.setting, on: chooseRecompute(recompute.setting, ckpt.config, opts, device.memoryBytes) }
    const largestWeight = 4 * Math.max(...paramSpecs(ckpt.config).map((p) => heldShape(p).reduce((a, b) => a * b, 1)))
    const fits = (e: MemoryEstimateResult) => (device.maxBufferBytes !== undefined && largestWeight > device.maxBufferBytes ? false : device.memoryBytes === null ? null : e.total <= device.memoryBytes)
    status.fits = fits(status.estimate)
    status.fitsRecomputed = fits(status.recomputed)
    if (!m.baseTokenizer) status.tokenizer = 'project-has-none'
    else if (!status.info.tokenizer) status.tokenizer = 'model-has-none'
    else {
      const projectTok = await loadTokenizerCached(resolveProjectPath(dir, m.baseTokenizer.path))
      status.tokenizer = vocabFingerprint(projectTok) === status.info.tokenizer.vocabSha256 ? 'same' : 'different'
    }
  } catch (e) {
    status.problem = (e as Error).message
  }
  return status
}

/** Resizes the base model for tokenizer/<mode>-<count>/ into models/<mode>-<count>-<init>/. */
export async function projectResize(dir: string, mode: ExtendMode, count: number, init: EmbeddingInitMethod, padMultiple: number | undefined, ctx: JobContext): Promise<ResizeSummary> {
  const m = await readManifest(dir)
  if (!m.baseModel) throw new EngineError('bad-input', 'The project has no base model yet.', { hint: 'Choose a Hugging Face model folder in the Base model step first.' })
  const changes = join(dir, TOKENIZER_DIR, `${mode}-${count}`, 'vocab-changes.json')
  try {
    await fs.access(changes)
  } catch {
    throw new EngineError('not-found', `The project has no extended tokenizer ${mode}-${count} (${changes} is missing).`, { file: changes, hint: `Extend the tokenizer (${mode} ${count}) in the Vocabulary step first.` })
  }
  const out = join(dir, MODELS_DIR, `${mode}-${count}-${init}`)
  return resizeToFolder(resolveProjectPath(dir, m.baseModel.path), changes, out, { init, seed: m.training.seed, padMultiple }, ctx)
}

/** Resizes a model folder for a vocab-changes.json into `out` as a job (`model resize`, and the project's resize). */
export async function resizeToFolder(
  model: string,
  changes: string,
  out: string,
  opts: { init: EmbeddingInitMethod; seed?: number | undefined; padMultiple?: number | undefined },
  ctx: JobContext,
): Promise<ResizeSummary> {
  const record = await resizeModel(model, changes, out, {
    init: opts.init,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    padMultiple: opts.padMultiple ?? null,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress({ done: p.done, total: p.total, message: p.message }),
  })
  ctx.log(`resized ${record.rows.before} → ${record.rows.after} rows (${record.newRows.appended} appended, ${record.newRows.overwritten} overwritten) in ${record.seconds.toFixed(1)} s`)
  return summaryOf(out, record)
}
