/**
 * Export: a checkpoint of a training run (`runs/<name>/checkpoints/step-<n>/`) written as a Hugging
 * Face model folder anywhere the user picks, with a model card:
 *
 *   <out>/model.safetensors                 the weights in F32, F16 or BF16 (shards and an index when large)
 *         config.json                       `vocab_size` (the embedding rows) and `torch_dtype` of the export
 *         tokenizer.json                    the run's tokenizer, byte for byte
 *         tokenizer_config.json, special_tokens_map.json, generation_config.json   (hffiles.ts)
 *         README.md                         the model card (card.ts)
 *         vernacular-export.json            what was exported, from where, by which Vernacular
 *
 * The checkpoint's checksums are verified first; a damaged or missing file is named. The folder is
 * written into a hidden sibling and renamed into place, so it is whole or absent. A non-empty `out`
 * is replaced only when an earlier export wrote it (its vernacular-export.json and nothing but the
 * files above) or with `force`; never when it holds the project, the checkpoint or the base model.
 */
import { promises as fs } from 'node:fs'
import { basename, isAbsolute, join, relative, resolve } from 'node:path'
import { type ExportDtype, type ExportEvaluation, type ExportFormat, type ExportResult, GGUF_DTYPES, EXPORT_DTYPES, type ProjectManifest, type RunSettings } from '../contract'
import { EngineError } from '../common/errors'
import { pathExists, syncDir } from '../common/fsutil'
import { parseJson } from '../common/json'
import { outputFolderEntries, writeOutputDirWith } from '../common/outputdir'
import { VERNACULAR_VERSION } from '../common/version'
import type { JobContext } from '../jobs/manager'
import { SIDE_FILES, TOKENIZER_FILES, type HfCheckpoint, openCheckpoint } from '../model/checkpoint'
import { type FloatDtype, fromFloat32, toFloat32 } from '../model/dtype'
import type { ResizeRecord } from '../model/resize'
import { type TensorToWrite, isWeightFileName, readTensorBytes, writeSafetensorsSharded } from '../model/safetensors'
import { readManifest, resolveProjectPath } from '../project/manifest'
import { Tokenizer } from '../tokenizer/tokenizer'
import { CHECKPOINTS_DIR, checkpointName, checkpointProblem, listCheckpoints } from '../training/checkpoints'
import { type RunRecord, readMetrics, readRun, runDir as runFolder } from '../training/runs'
import { type CardFacts, modelCard } from './card'
import { ggufFileBytes, writeGguf } from './gguf'
import { type GgufDtype, ggufFileName, ggufMetadata, ggufTensorShapes, ggufTensors, ggufUnsupported, ollamaModelfile } from './ggufmodel'
import { exportConfig, exportGenerationConfig, exportSpecialTokensMap, exportTokenizerConfig, specialTokens } from './hffiles'

/** The record an export leaves in its folder; its presence marks a folder export may replace. */
export const EXPORT_RECORD = 'vernacular-export.json'

type HfDtype = (typeof EXPORT_DTYPES)[number]
export const STORAGE_DTYPE: Readonly<Record<HfDtype, FloatDtype>> = { f32: 'F32', f16: 'F16', bf16: 'BF16' }

/** The file name of an Ollama Modelfile, written beside a GGUF file. */
export const MODELFILE = 'Modelfile'

export interface ExportRecord {
  format: 'vernacular-export'
  version: 1
  folder: ExportFormat
  project: { name: string; dir: string }
  run: string
  checkpoint: { step: number; dir: string }
  dtype: ExportDtype
  base: string
  evaluated: boolean
  vernacular: string
  createdAt: string
}

export interface ExportRequest {
  run: string
  /** The checkpoint's step. */
  checkpoint: number
  out: string
  format?: ExportFormat
  dtype?: ExportDtype
  /** Replace a non-empty `out` that no export wrote. */
  force?: boolean
  /** The base and the checkpoint evaluated, for the model card's table. */
  evaluation?: ExportEvaluation | null
  /** For tests: the shard size of the written weights. */
  maxShardBytes?: number
}

type Json = Record<string, unknown>

/** What an export reads from the project, checked. */
interface ExportSource {
  projectDir: string
  runName: string
  manifest: ProjectManifest
  run: RunRecord | null
  step: number
  checkpointDir: string
}

/** A job context that reports nowhere, for callers outside a job. */
const QUIET: JobContext = { id: 'export', signal: new AbortController().signal, progress: () => undefined, log: () => undefined, throwIfCancelled: () => undefined }

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child)
  return r === '' || (!r.startsWith('..') && !isAbsolute(r))
}

async function readJsonMaybe(file: string): Promise<Json | null> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch {
    return null
  }
  try {
    const v = parseJson(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null
  } catch {
    return null
  }
}

/** The run and its checkpoint folder; a missing run or checkpoint is refused with what there is. */
async function findCheckpoint(projectDir: string, runName: string, step: number): Promise<ExportSource> {
  const manifest = await readManifest(projectDir)
  const run = await readRun(projectDir, runName)
  const dir = runFolder(projectDir, runName)
  if (!run && !manifest.runs.some((r) => r.name === runName)) {
    const names = manifest.runs.map((r) => r.name)
    throw new EngineError('not-found', `The project has no run "${runName}".`, { hint: names.length ? `Its runs: ${names.join(', ')}.` : 'Train one first (`vernacular train`).' })
  }
  const checkpointDir = join(dir, CHECKPOINTS_DIR, checkpointName(step))
  if (!(await pathExists(checkpointDir))) {
    const steps = (await listCheckpoints(dir)).map((c) => c.step).sort((a, b) => a - b)
    throw new EngineError('not-found', `Run "${runName}" has no checkpoint at step ${step}: ${checkpointDir} is missing.`, {
      file: checkpointDir,
      hint: steps.length ? `Its checkpoints: ${steps.map((s) => `step ${s}`).join(', ')} (\`vernacular train status\`).` : 'It has no checkpoint yet; train it until it writes one.',
    })
  }
  return { projectDir, runName, manifest, run, step, checkpointDir }
}

/** Files an export writes; a folder holding only these and the export record may be replaced. */
function isExportFile(name: string): boolean {
  return name === EXPORT_RECORD || name === 'README.md' || name === MODELFILE || name.endsWith('.gguf') || name === 'config.json' || isWeightFileName(name) || (TOKENIZER_FILES as readonly string[]).includes(name) || (SIDE_FILES as readonly string[]).includes(name)
}

/**
 * Refuses an output folder that must not be replaced: one that holds the project, the run's
 * checkpoints or the base model (even with `force`), or a non-empty one an export did not write
 * (unless `force`).
 */
async function checkOut(src: ExportSource, out: string, force: boolean, baseDir: string | null): Promise<void> {
  const guarded: [string, string][] = [
    [src.projectDir, 'the project'],
    [src.checkpointDir, 'the checkpoint'],
    ...(baseDir ? ([[baseDir, 'the base model']] as [string, string][]) : []),
  ]
  for (const [dir, what] of guarded) {
    if (inside(dir, out)) {
      throw new EngineError('invalid-request', `${out} holds ${what} (${dir}); exporting there would replace it.`, { file: out, hint: 'Choose a new folder for --out, for example next to the project.' })
    }
  }
  if (inside(out, join(runFolder(src.projectDir, src.runName), CHECKPOINTS_DIR))) {
    throw new EngineError('invalid-request', `${out} is inside the run's checkpoints folder.`, { file: out, hint: 'Choose a folder outside runs/<name>/checkpoints/.' })
  }
  const names = await outputFolderEntries(out)
  if (names === null || names.length === 0 || force) return
  const record = await readJsonMaybe(join(out, EXPORT_RECORD))
  const foreign = names.filter((n) => !isExportFile(n))
  if (record?.format === 'vernacular-export' && foreign.length === 0) return
  const shown = (foreign.length ? foreign : names).slice(0, 3).join(', ') + ((foreign.length || names.length) > 3 ? ', …' : '')
  throw new EngineError('bad-input', `${out} is not empty and was not written by vernacular export (it holds ${shown}).`, {
    file: out,
    hint: 'Choose a new or empty folder for --out, or give --force to replace the folder and everything in it.',
  })
}

/** The licence a base model folder states: its README's front matter `license`, or config.json's. */
export async function baseLicence(dir: string): Promise<string | null> {
  try {
    const readme = await fs.readFile(join(dir, 'README.md'), 'utf8')
    const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme)?.[1]
    const line = front && /^license:[ \t]*["']?([^"'#\r\n]+?)["']?[ \t]*(#.*)?$/m.exec(front)?.[1]
    if (line && line.trim()) {
      const name = /^license_name:[ \t]*["']?([^"'#\r\n]+?)["']?[ \t]*(#.*)?$/m.exec(front)?.[1]
      return line.trim() === 'other' && name ? name.trim() : line.trim()
    }
  } catch {
    // no README
  }
  const config = await readJsonMaybe(join(dir, 'config.json'))
  const v = config?.license ?? config?.licence
  return typeof v === 'string' && v.trim() ? v.trim() : null
}

/** The base model: from the run's model's resize.json, else the run's model itself, else the manifest's. */
async function baseFacts(src: ExportSource, resize: ResizeRecord | null, ckpt: HfCheckpoint): Promise<{ dir: string | null; facts: CardFacts['base'] }> {
  const dir = resize?.base.dir ?? (src.run ? resolveProjectPath(src.projectDir, src.run.model) : src.manifest.baseModel ? resolveProjectPath(src.projectDir, src.manifest.baseModel.path) : null)
  const config = dir ? await readJsonMaybe(join(dir, 'config.json')) : null
  const recorded = typeof config?._name_or_path === 'string' ? config._name_or_path : ''
  const hubId = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(recorded) && !(dir !== null && recorded === dir)
  const modelType = resize?.base.modelType ?? (typeof config?.model_type === 'string' ? config.model_type : ckpt.config.modelType)
  return {
    dir,
    facts: { name: hubId ? recorded : dir ? basename(dir) : modelType, hubId, modelType, licence: dir ? await baseLicence(dir) : null },
  }
}

/** Tokens trained on up to `step`: its metrics line, else the checkpoint's trainer state. */
async function tokensAt(src: ExportSource): Promise<{ target: number; english: number } | null> {
  if (src.run) {
    const line = (await readMetrics(src.projectDir, src.run.name)).find((m) => m.step === src.step)
    if (line) return { target: line.tokensTarget, english: line.tokensEnglish }
  }
  const state = await readJsonMaybe(join(src.checkpointDir, 'trainer-state', 'state.json'))
  const tokens = (state?.extra as { tokens?: { target?: unknown; english?: unknown } } | undefined)?.tokens
  return tokens && typeof tokens.target === 'number' && typeof tokens.english === 'number' ? { target: tokens.target, english: tokens.english } : null
}

/** Everything the card and the folder need, read and checked (the checksums are not: see `verify`). */
async function gather(src: ExportSource, dtype: ExportDtype, evaluation: ExportEvaluation | null) {
  const ckpt = await openCheckpoint(src.checkpointDir)
  const tokenizerFile = ckpt.tokenizerFile ?? (src.run ? resolveProjectPath(src.projectDir, src.run.tokenizer) : null)
  if (!tokenizerFile || !(await pathExists(tokenizerFile))) {
    throw new EngineError('bad-input', `${src.checkpointDir} has no tokenizer.json, and the run records none that exists.`, { file: src.checkpointDir, hint: 'Train from a model folder that carries its tokenizer.json (a resized model does).' })
  }
  const tokenizer = await Tokenizer.fromFile(tokenizerFile)
  if (tokenizer.vocabSize > ckpt.config.vocabSize) {
    throw new EngineError('bad-input', `${tokenizerFile} has ${tokenizer.vocabSize} tokens but the checkpoint has only ${ckpt.config.vocabSize} embedding rows: the tokenizer does not fit the model.`, {
      file: tokenizerFile,
      hint: 'Export a checkpoint with the tokenizer it was trained with.',
    })
  }
  const modelDir = src.run ? resolveProjectPath(src.projectDir, src.run.model) : null
  const resizeJson = modelDir ? await readJsonMaybe(join(modelDir, 'resize.json')) : null
  const resize = resizeJson?.format === 'vernacular-resize' ? (resizeJson as unknown as ResizeRecord) : null
  const base = await baseFacts(src, resize, ckpt)
  const settings: RunSettings | null = src.run?.settings ?? null
  const facts: CardFacts = {
    projectName: src.manifest.name,
    language: src.manifest.language,
    run: src.runName,
    step: src.step,
    base: base.facts,
    model: { modelType: ckpt.config.modelType, parameters: ckpt.parameterCount, vocabRows: ckpt.config.vocabSize, dtype: STORAGE_DTYPE[dtype as HfDtype] ?? 'F32', tokenizerVocab: tokenizer.vocabSize },
    vocabulary: resize
      ? { mode: resize.changes.mode, count: resize.changes.count, rowsBefore: resize.rows.before, rowsAfter: resize.rows.after, padding: resize.padding, init: resize.init, seed: resize.seed }
      : null,
    settings,
    tokens: await tokensAt(src),
    evaluation,
    version: VERNACULAR_VERSION,
    createdAt: new Date().toISOString(),
  }
  return { ckpt, tokenizerFile, tokenizer, resize, baseDir: base.dir, facts }
}

/** Checks a run's checkpoint and an output folder before an export job starts: a missing run or checkpoint, a folder it may not replace, a dtype the format lacks, a model GGUF export does not cover. */
export async function checkExport(projectDir: string, request: ExportRequest): Promise<void> {
  const format = request.format ?? 'hf'
  const dtype = request.dtype ?? 'f32'
  const allowed: readonly string[] = format === 'gguf' ? GGUF_DTYPES : EXPORT_DTYPES
  if (!allowed.includes(dtype)) {
    throw new EngineError('invalid-request', `--dtype ${dtype} is not a storage type of ${format === 'gguf' ? 'a GGUF file' : 'a Hugging Face folder'}.`, {
      hint: `Use one of ${allowed.join(', ')}${format === 'gguf' ? ' (bf16 is for --format hf)' : ' (q8_0 is for --format gguf)'}.`,
    })
  }
  const src = await findCheckpoint(projectDir, request.run, request.checkpoint)
  if (format === 'gguf') {
    const unsupported = ggufUnsupported((await openCheckpoint(src.checkpointDir)).config)
    if (unsupported) throw new EngineError('unavailable', `${unsupported}.`, { hint: 'Export as a Hugging Face folder (--format hf).' })
  }
  await checkOut(src, resolve(request.out), request.force ?? false, null)
}

/** The model card an export would write (README.md), without writing anything. */
export async function exportCard(projectDir: string, request: Pick<ExportRequest, 'run' | 'checkpoint' | 'dtype' | 'evaluation'>): Promise<string> {
  const src = await findCheckpoint(projectDir, request.run, request.checkpoint)
  const { facts } = await gather(src, request.dtype ?? 'f32', request.evaluation ?? null)
  return modelCard(facts)
}

/** The weights converted to `dtype` tensor by tensor; F16 refuses values past its range rather than writing infinities. */
function weightsToWrite(ckpt: HfCheckpoint, dtype: FloatDtype, onTensor: (name: string) => void): TensorToWrite[] {
  return ckpt.tensors.map(({ info }) => ({
    name: info.name,
    dtype,
    shape: info.shape,
    data: async () => {
      onTensor(info.name)
      const bytes = await readTensorBytes(info)
      if (info.dtype === dtype) return bytes
      const values = toFloat32(bytes, info.dtype as FloatDtype)
      const out = fromFloat32(values, dtype)
      if (dtype === 'F16') {
        const halves = new Uint16Array(out.buffer, out.byteOffset, values.length)
        let over = 0
        for (let i = 0; i < values.length; i++) if (((halves[i] as number) & 0x7fff) === 0x7c00 && Number.isFinite(values[i] as number)) over++
        if (over > 0) {
          throw new EngineError('bad-input', `${over} weight${over === 1 ? '' : 's'} of ${info.name} lie outside the range of F16 (±65504) and would become infinite.`, {
            file: info.file,
            hint: 'Export with --dtype bf16 (the range of F32) or --dtype f32.',
          })
        }
      }
      return out
    },
  }))
}

/**
 * Writes checkpoint `step-<checkpoint>` of run `run` of the project in `projectDir` as a Hugging
 * Face folder in `out` (see the top of this file), reporting progress through `ctx`.
 */
export async function exportCheckpoint(projectDir: string, request: ExportRequest, ctx: JobContext = QUIET): Promise<ExportResult> {
  const t0 = performance.now()
  await checkExport(projectDir, request)
  const dtype = request.dtype ?? 'f32'
  const out = resolve(request.out)
  const src = await findCheckpoint(projectDir, request.run, request.checkpoint)
  if (request.format === 'gguf') return exportGgufFile(src, { ...request, dtype: dtype as GgufDtype }, out, ctx, t0)

  ctx.progress({ fraction: 0, message: `Verifying the checksums of ${checkpointName(src.step)}` })
  const problem = await checkpointProblem(src.checkpointDir)
  if (problem !== null) {
    throw new EngineError('bad-input', `Checkpoint ${checkpointName(src.step)} of run "${request.run}" is damaged: ${problem}.`, {
      file: src.checkpointDir,
      hint: 'Export another checkpoint (`vernacular train status` lists them), or resume training from an earlier one to write this step again.',
    })
  }
  ctx.throwIfCancelled()
  const { ckpt, tokenizerFile, tokenizer, resize, baseDir, facts } = await gather(src, dtype, request.evaluation ?? null)
  await checkOut(src, out, request.force ?? false, baseDir)

  const storage = STORAGE_DTYPE[dtype as HfDtype]
  const total = ckpt.tensors.length + 1
  let done = 0
  const tensors = weightsToWrite(ckpt, storage, (name) => {
    ctx.throwIfCancelled()
    ctx.progress({ done: done++, total, message: `${storage === ckpt.storedDtype ? 'Copying' : `Converting to ${storage}`} ${name}` })
  })
  const sideJson = async (name: string) => (ckpt.sideFiles.includes(name) ? readJsonMaybe(join(ckpt.dir, name)) : null)
  const baseTokenizerConfig = await sideJson('tokenizer_config.json')
  const specials = specialTokens(tokenizer, ckpt.config, baseTokenizerConfig, await sideJson('special_tokens_map.json'))
  const record = exportRecord(src, request.run, 'hf', dtype, facts)
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n'

  await writeOutputDirWith(out, () => true, async (staging) => {
    await writeSafetensorsSharded(staging, tensors, request.maxShardBytes)
    ctx.progress({ done: done, total, message: 'Writing the tokenizer files and the model card' })
    await fs.writeFile(join(staging, 'config.json'), json(exportConfig(ckpt.config, storage)))
    await fs.copyFile(tokenizerFile, join(staging, 'tokenizer.json'))
    await fs.writeFile(join(staging, 'tokenizer_config.json'), json(exportTokenizerConfig(tokenizer, ckpt.config, baseTokenizerConfig, specials)))
    await fs.writeFile(join(staging, 'special_tokens_map.json'), json(exportSpecialTokensMap(tokenizer, specials)))
    await fs.writeFile(join(staging, 'generation_config.json'), json(exportGenerationConfig(ckpt.config, await sideJson('generation_config.json'), resize?.padding ?? null)))
    await fs.writeFile(join(staging, 'README.md'), modelCard(facts))
    await fs.writeFile(join(staging, EXPORT_RECORD), json(record))
    await syncFiles(staging, await fs.readdir(staging))
  })
  const files = await listFiles(out)
  ctx.progress({ done: total, total, message: `Exported ${checkpointName(src.step)} to ${out}` })
  ctx.log(`exported ${checkpointName(src.step)} of run ${request.run} as ${storage} to ${out} (${files.length} files)`)
  return { out, format: 'hf', dtype, run: request.run, checkpoint: src.step, files, evaluated: facts.evaluation !== null, seconds: (performance.now() - t0) / 1000 }
}

/** Verifies a checkpoint's checksums, or throws naming what is damaged. */
/** Flushes the files `names` of the folder `dir` to disk, then the folder itself. */
async function syncFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const h = await fs.open(join(dir, name), 'r+')
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  }
  await syncDir(dir)
}

/** The files of an export folder, by name, with their sizes. */
async function listFiles(dir: string): Promise<{ name: string; bytes: number }[]> {
  const files = []
  for (const name of (await fs.readdir(dir)).sort()) files.push({ name, bytes: (await fs.stat(join(dir, name))).size })
  return files
}

/** The export.json that says what a folder holds and where it came from. */
function exportRecord(src: ExportSource, run: string, folder: ExportFormat, dtype: ExportRecord['dtype'], facts: Pick<CardFacts, 'base' | 'evaluation' | 'createdAt'>): ExportRecord {
  return {
    format: 'vernacular-export',
    version: 1,
    folder,
    project: { name: src.manifest.name, dir: src.projectDir },
    run,
    checkpoint: { step: src.step, dir: src.checkpointDir },
    dtype,
    base: facts.base.name,
    evaluated: facts.evaluation !== null,
    vernacular: VERNACULAR_VERSION,
    createdAt: facts.createdAt,
  }
}

async function verify(src: ExportSource, run: string): Promise<void> {
  const problem = await checkpointProblem(src.checkpointDir)
  if (problem !== null) {
    throw new EngineError('bad-input', `Checkpoint ${checkpointName(src.step)} of run "${run}" is damaged: ${problem}.`, {
      file: src.checkpointDir,
      hint: 'Export another checkpoint (`vernacular train status` lists them), or resume training from an earlier one to write this step again.',
    })
  }
}

/** The special tokens as the base's tokenizer files name them (the BOS, EOS and padding ids of the GGUF). */
async function ggufSpecials(ckpt: HfCheckpoint, tokenizer: Tokenizer) {
  const sideJson = async (name: string) => (ckpt.sideFiles.includes(name) ? readJsonMaybe(join(ckpt.dir, name)) : null)
  return specialTokens(tokenizer, ckpt.config, await sideJson('tokenizer_config.json'), await sideJson('special_tokens_map.json'))
}

/** The size in bytes of the GGUF file of a checkpoint in each dtype (from the tensor shapes and the metadata; nothing is written). */
export async function ggufSizes(projectDir: string, request: Pick<ExportRequest, 'run' | 'checkpoint'>): Promise<Record<GgufDtype, number>> {
  const src = await findCheckpoint(projectDir, request.run, request.checkpoint)
  const { ckpt, tokenizer, facts } = await gather(src, 'f32', null)
  const unsupported = ggufUnsupported(ckpt.config)
  if (unsupported) throw new EngineError('unavailable', `${unsupported}.`, { hint: 'Export as a Hugging Face folder (--format hf).' })
  const specials = await ggufSpecials(ckpt, tokenizer)
  const sizes = {} as Record<GgufDtype, number>
  for (const d of GGUF_DTYPES) sizes[d] = ggufFileBytes(ggufMetadata(ckpt.config, tokenizer, facts, d, specials), ggufTensorShapes(ckpt.config, d))
  return sizes
}

/**
 * Writes a checkpoint as `<out>/<project>-step-<n>-<dtype>.gguf` with an Ollama `Modelfile` and the
 * export record beside it (ggufmodel.ts has the layout), reporting progress through `ctx`.
 */
async function exportGgufFile(src: ExportSource, request: ExportRequest & { dtype: GgufDtype }, out: string, ctx: JobContext, t0: number): Promise<ExportResult> {
  const dtype = request.dtype
  ctx.progress({ fraction: 0, message: `Verifying the checksums of ${checkpointName(src.step)}` })
  await verify(src, request.run)
  ctx.throwIfCancelled()
  const { ckpt, tokenizer, baseDir, facts } = await gather(src, dtype, request.evaluation ?? null)
  const unsupported = ggufUnsupported(ckpt.config)
  if (unsupported) throw new EngineError('unavailable', `${unsupported}.`, { hint: 'Export as a Hugging Face folder (--format hf).' })
  await checkOut(src, out, request.force ?? false, baseDir)

  const specials = await ggufSpecials(ckpt, tokenizer)
  const metadata = ggufMetadata(ckpt.config, tokenizer, facts, dtype, specials)
  const tensors = ggufTensors(ckpt, dtype)
  const fileName = ggufFileName(src.manifest.name, src.step, dtype)
  const eosId = ckpt.config.eosTokenId
  const stop = eosId !== null ? (tokenizer.idToToken(eosId) ?? null) : null
  const record = exportRecord(src, request.run, 'gguf', dtype, facts)
  const total = tensors.length + 1
  await writeOutputDirWith(out, () => true, async (staging) => {
    await writeGguf(join(staging, fileName), metadata, tensors, (name, i) => {
      ctx.throwIfCancelled()
      ctx.progress({ done: i, total, message: `Writing ${name} as ${dtype.toUpperCase()}` })
    })
    await fs.writeFile(join(staging, MODELFILE), ollamaModelfile(fileName, ckpt.config, stop))
    await fs.writeFile(join(staging, EXPORT_RECORD), JSON.stringify(record, null, 2) + '\n')
    await syncFiles(staging, [MODELFILE, EXPORT_RECORD])
  })
  const files = await listFiles(out)
  ctx.progress({ done: total, total, message: `Exported ${checkpointName(src.step)} to ${join(out, fileName)}` })
  ctx.log(`exported ${checkpointName(src.step)} of run ${request.run} as GGUF ${dtype} to ${join(out, fileName)}`)
  return { out, format: 'gguf', dtype, run: request.run, checkpoint: src.step, files, evaluated: facts.evaluation !== null, seconds: (performance.now() - t0) / 1000 }
}
