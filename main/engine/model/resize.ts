/**
 * Embedding surgery: give a model the rows its extended tokenizer needs, from `vocab-changes.json`.
 *
 * - add mode appends a row per new token to the input embeddings and to the output head (or the
 *   one tied matrix); a new id that falls on one of the base model's spare rows (Qwen pads its
 *   matrix past its tokenizer) takes that row.
 * - replace mode overwrites the rows of the freed ids.
 *
 * New rows are initialised by
 * - `mean` (SambaLingo, Swallow, NeMo): the mean of the base rows of the token's decomposition
 *   into base-tokenizer ids, for input and output embeddings alike;
 * - `random`: normal, with each dimension's mean and standard deviation over the base rows that
 *   base tokens use (so new rows look like old ones to the layers above).
 * Optionally the row count is padded up to a multiple (64 by default when asked): rows no token
 * uses, zero in both matrices, which Vernacular's sampling never picks.
 *
 * Everything else is copied byte for byte from the base checkpoint, in its own storage type: the
 * rows and tensors that change are the only bytes that differ. The output folder gets config.json
 * (new `vocab_size`), the weights, the extended tokenizer, the base model's tokenizer config and
 * generation config, and `resize.json`, which records what was done.
 */
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { MAX_PAD_MULTIPLE, type EmbeddingInitMethod } from '../contract'
import { EngineError, fsError } from '../common/errors'
import { writeOutputDirWith } from '../common/outputdir'
import type { VocabChanges } from '../tokenizer/extend'
import { vocabFingerprint } from '../common/fingerprint'
import { Tokenizer } from '../tokenizer/tokenizer'
import { SIDE_FILES, TOKENIZER_FILES, openCheckpoint, type HfCheckpoint } from './checkpoint'
import { configJson } from './config'
import { DTYPE_BYTES, type FloatDtype, fromFloat32, toFloat32 } from './dtype'
import { normalRng } from '../common/rng'
import { HEAD_NAME, embeddingName } from './names'
import { type TensorToWrite, isWeightFileName, readTensorBytes, writeSafetensorsSharded } from './safetensors'

type EmbeddingInit = EmbeddingInitMethod

export interface ResizeOptions {
  init: EmbeddingInit
  /** Seed for `random` (default 0). */
  seed?: number
  /** Pad the row count up to a multiple of this (e.g. 64); null or 1 for no padding. */
  padMultiple?: number | null
  /** For tests: shard size of the written weights. */
  maxShardBytes?: number
  signal?: AbortSignal
  onProgress?: (p: { done: number; total: number; message: string }) => void
}

export interface ResizeRecord {
  format: 'vernacular-resize'
  version: 1
  base: { dir: string; modelType: string; rows: number; dtype: FloatDtype; tokenizerVocabSha256: string; tokenizerVocabSize: number }
  changes: { file: string; sha256: string; mode: 'add' | 'replace'; count: number }
  tokenizer: { vocabSha256: string; vocabSize: number }
  init: EmbeddingInit
  seed: number | null
  padMultiple: number | null
  rows: { before: number; after: number }
  /** The rows given to new tokens: appended past the base rows, or overwritten in place. */
  newRows: { appended: number; overwritten: number; ids: number[] }
  /** Rows no token uses, zero in every matrix: [from, to). */
  padding: { from: number; to: number } | null
  /** The matrices changed, by stored name. */
  matrices: string[]
  createdAt: string
  /** Seconds the resize took, reading and writing included. */
  seconds: number
}

/** Files a resize writes; a folder holding only these may be replaced. */
function isOwnFile(name: string): boolean {
  return isWeightFileName(name) || name === 'config.json' || name === 'resize.json' || (TOKENIZER_FILES as readonly string[]).includes(name) || (SIDE_FILES as readonly string[]).includes(name)
}

function changesError(file: string, problem: string, hint = 'Use the vocab-changes.json that `vernacular tokenizer extend` wrote, unchanged.'): EngineError {
  return new EngineError('bad-input', `${file}: ${problem}.`, { file, hint })
}

/** Reads vocab-changes.json and checks its shape. */
export async function readVocabChanges(file: string): Promise<{ changes: VocabChanges; sha256: string }> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw fsError(e, file, 'read')
  }
  let v: VocabChanges
  try {
    v = JSON.parse(text) as VocabChanges
  } catch (e) {
    throw changesError(file, `it is not valid JSON (${(e as Error).message})`)
  }
  if (v?.format !== 'vernacular-vocab-changes') throw changesError(file, 'it is not a vocab-changes.json (its "format" is not "vernacular-vocab-changes")')
  if (v.version !== 1) throw changesError(file, `version ${JSON.stringify(v.version)} is not one this Vernacular reads`, 'Update Vernacular, or extend the tokenizer again with this version.')
  if (v.mode !== 'add' && v.mode !== 'replace') throw changesError(file, `mode ${JSON.stringify(v.mode)} is neither "add" nor "replace"`)
  if (!v.base?.vocabSha256 || !v.tokenizer?.vocabSha256 || !Array.isArray(v.added)) throw changesError(file, 'it lacks base, tokenizer or added')
  v.added.forEach((a, i) => {
    if (!Number.isSafeInteger(a?.id) || a.id < 0) throw changesError(file, `added[${i}] has no valid id`)
    if (!Array.isArray(a.decomposition) || a.decomposition.length === 0 || a.decomposition.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw changesError(file, `added[${i}] (${JSON.stringify(a.token)}) has no valid decomposition into base ids`)
    }
  })
  return { changes: v, sha256: createHash('sha256').update(text).digest('hex') }
}

/** Column means and standard deviations of rows [0, rows) of a [*, D] matrix, in float64. */
function columnStats(m: Float32Array, rows: number, D: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(D)
  const sq = new Float64Array(D)
  for (let r = 0; r < rows; r++) {
    const o = r * D
    for (let d = 0; d < D; d++) {
      const x = m[o + d] as number
      mean[d] = (mean[d] as number) + x
      sq[d] = (sq[d] as number) + x * x
    }
  }
  const std = new Float64Array(D)
  for (let d = 0; d < D; d++) {
    mean[d] = (mean[d] as number) / rows
    std[d] = Math.sqrt(Math.max(0, (sq[d] as number) / rows - (mean[d] as number) ** 2))
  }
  return { mean, std }
}

export interface ResizePlan {
  ckpt: HfCheckpoint
  changes: VocabChanges
  changesSha256: string
  baseTokenizer: Tokenizer
  newTokenizerFile: string
  newTokenizer: Tokenizer
  rowsBefore: number
  rowsAfter: number
  /** New token ids that take existing rows, and those appended. */
  overwritten: number[]
  appended: number[]
}

/** Checks the model, the changes and both tokenizers against each other; nothing is written. */
export async function planResize(modelDir: string, changesFile: string, padMultiple: number | null): Promise<ResizePlan> {
  const ckpt = await openCheckpoint(modelDir)
  const changesPath = resolve(changesFile)
  const { changes, sha256 } = await readVocabChanges(changesPath)
  if (!ckpt.tokenizerFile) {
    throw new EngineError('bad-input', `${ckpt.dir} has no tokenizer.json, so Vernacular cannot check that ${changesPath} was made for this model's tokenizer.`, {
      file: ckpt.dir,
      hint: 'Put the model\'s tokenizer.json (the one you extended) into the model folder.',
    })
  }
  const baseTokenizer = await Tokenizer.fromFile(ckpt.tokenizerFile)
  const baseSha = vocabFingerprint(baseTokenizer)
  if (baseSha !== changes.base.vocabSha256) {
    throw new EngineError('bad-input', `${changesPath} was made for another base tokenizer than ${ckpt.tokenizerFile} (vocabulary fingerprints ${changes.base.vocabSha256.slice(0, 12)}… and ${baseSha.slice(0, 12)}… differ).`, {
      file: changesPath,
      hint: 'Extend this model\'s own tokenizer.json (vernacular tokenizer extend --base <model>/tokenizer.json) and resize with the vocab-changes.json it writes.',
    })
  }
  const newTokenizerFile = join(dirname(changesPath), 'tokenizer.json')
  let newTokenizer: Tokenizer
  try {
    newTokenizer = await Tokenizer.fromFile(newTokenizerFile)
  } catch (e) {
    throw new EngineError('bad-input', `The extended tokenizer.json next to ${changesPath} cannot be read: ${(e as Error).message}`, { file: newTokenizerFile, hint: 'Keep vocab-changes.json in the folder `tokenizer extend` wrote, next to its tokenizer.json.' })
  }
  if (vocabFingerprint(newTokenizer) !== changes.tokenizer.vocabSha256) {
    throw new EngineError('bad-input', `${newTokenizerFile} is not the tokenizer ${changesPath} describes (its vocabulary fingerprint differs).`, {
      file: newTokenizerFile,
      hint: 'Keep vocab-changes.json with the tokenizer.json it was written with; extend again if either was changed.',
    })
  }
  const rowsBefore = ckpt.config.vocabSize
  if (baseTokenizer.vocabSize > rowsBefore) {
    throw new EngineError('bad-input', `${ckpt.tokenizerFile} has ${baseTokenizer.vocabSize} tokens but the model has only ${rowsBefore} embedding rows.`, { file: ckpt.configFile, hint: 'The tokenizer and the model do not belong together.' })
  }
  const overwritten: number[] = []
  const appended: number[] = []
  for (const a of changes.added) {
    for (const d of a.decomposition) {
      if (d >= baseTokenizer.vocabSize) throw changesError(changesPath, `the decomposition of ${JSON.stringify(a.token)} names id ${d}, past the base tokenizer's ${baseTokenizer.vocabSize} tokens`)
    }
    if (changes.mode === 'replace') {
      if (a.id >= baseTokenizer.vocabSize) throw changesError(changesPath, `replace mode gives ${JSON.stringify(a.token)} id ${a.id}, which is not a base id`)
      overwritten.push(a.id)
    } else if (a.id < baseTokenizer.vocabSize) {
      throw changesError(changesPath, `add mode gives ${JSON.stringify(a.token)} id ${a.id}, which a base token already has`)
    } else if (a.id < rowsBefore) overwritten.push(a.id)
    else appended.push(a.id)
  }
  if (new Set(changes.added.map((a) => a.id)).size !== changes.added.length) throw changesError(changesPath, 'two new tokens have the same id')
  const needed = Math.max(rowsBefore, newTokenizer.vocabSize)
  const pad = padMultiple && padMultiple > 1 ? padMultiple : 1
  const rowsAfter = Math.ceil(needed / pad) * pad
  return { ckpt, changes, changesSha256: sha256, baseTokenizer, newTokenizerFile, newTokenizer, rowsBefore, rowsAfter, overwritten, appended }
}

/** The new [rowsAfter, D] matrix, in the stored dtype, with untouched rows copied byte for byte. */
function resizeMatrix(stored: Uint8Array, dtype: FloatDtype, plan: ResizePlan, D: number, init: EmbeddingInit, rng: () => number): Uint8Array {
  const per = DTYPE_BYTES[dtype] as number
  const rowBytes = D * per
  const out = new Uint8Array(plan.rowsAfter * rowBytes)
  out.set(stored.subarray(0, Math.min(plan.rowsBefore, plan.rowsAfter) * rowBytes), 0)
  // Padding rows stay zero; new rows are computed from the base matrix as it was.
  const base = toFloat32(stored, dtype)
  const used = plan.baseTokenizer.vocabSize
  const stats = init === 'random' ? columnStats(base, used, D) : null
  const row = new Float32Array(D)
  for (const a of plan.changes.added) {
    if (stats) {
      for (let d = 0; d < D; d++) row[d] = (stats.mean[d] as number) + (stats.std[d] as number) * rng()
    } else {
      const acc = new Float64Array(D)
      for (const id of a.decomposition) {
        const o = id * D
        for (let d = 0; d < D; d++) acc[d] = (acc[d] as number) + (base[o + d] as number)
      }
      for (let d = 0; d < D; d++) row[d] = (acc[d] as number) / a.decomposition.length
    }
    out.set(fromFloat32(row, dtype), a.id * rowBytes)
  }
  return out
}

/** Applies `changesFile` to the model in `modelDir` and writes the result to `outDir`. */
export async function resizeModel(modelDir: string, changesFile: string, outDir: string, opts: ResizeOptions): Promise<ResizeRecord> {
  const t0 = performance.now()
  const padMultiple = opts.padMultiple && opts.padMultiple > 1 ? opts.padMultiple : null
  if (padMultiple !== null && (!Number.isSafeInteger(padMultiple) || padMultiple > MAX_PAD_MULTIPLE)) {
    throw new EngineError('invalid-request', `The padding multiple must be a whole number from 2 to ${MAX_PAD_MULTIPLE} (got ${padMultiple}).`, { hint: 'Use 64, the usual choice.' })
  }
  const plan = await planResize(modelDir, changesFile, padMultiple)
  const { ckpt } = plan
  const out = resolve(outDir)
  if (out === ckpt.dir) throw new EngineError('invalid-request', 'The output folder is the base model folder.', { file: out, hint: 'Write the resized model to a new folder; Vernacular never changes a base model in place.' })
  const seed = opts.seed ?? 0
  const rng = normalRng(seed)
  const D = ckpt.config.hiddenSize
  const changed = new Set([embeddingName(ckpt.config), ...(ckpt.config.tied ? [] : [HEAD_NAME])])
  const matrices: string[] = []
  const total = ckpt.tensors.length
  let done = 0
  const tensors: TensorToWrite[] = ckpt.tensors.map(({ spec, info }) => {
    const isChanged = changed.has(spec.name)
    if (isChanged) matrices.push(info.name)
    return {
      name: info.name,
      dtype: info.dtype,
      shape: isChanged ? [plan.rowsAfter, D] : info.shape,
      data: async () => {
        opts.signal?.throwIfAborted()
        const bytes = await readTensorBytes(info)
        opts.onProgress?.({ done: ++done, total, message: isChanged ? `Initialising ${plan.changes.added.length} rows of ${info.name}` : `Copying ${info.name}` })
        return isChanged ? resizeMatrix(bytes, info.dtype as FloatDtype, plan, D, opts.init, rng) : bytes
      },
    }
  })
  const record: ResizeRecord = {
    format: 'vernacular-resize',
    version: 1,
    base: { dir: ckpt.dir, modelType: ckpt.config.modelType, rows: plan.rowsBefore, dtype: ckpt.storedDtype, tokenizerVocabSha256: plan.changes.base.vocabSha256, tokenizerVocabSize: plan.baseTokenizer.vocabSize },
    changes: { file: resolve(changesFile), sha256: plan.changesSha256, mode: plan.changes.mode, count: plan.changes.added.length },
    tokenizer: { vocabSha256: plan.changes.tokenizer.vocabSha256, vocabSize: plan.newTokenizer.vocabSize },
    init: opts.init,
    seed: opts.init === 'random' ? seed : null,
    padMultiple,
    rows: { before: plan.rowsBefore, after: plan.rowsAfter },
    newRows: { appended: plan.appended.length, overwritten: plan.overwritten.length, ids: plan.changes.added.map((a) => a.id) },
    padding: plan.rowsAfter > Math.max(plan.rowsBefore, plan.newTokenizer.vocabSize) ? { from: Math.max(plan.rowsBefore, plan.newTokenizer.vocabSize), to: plan.rowsAfter } : null,
    matrices,
    createdAt: new Date().toISOString(),
    seconds: 0,
  }
  await writeOutputDirWith(out, isOwnFile, async (staging) => {
    await writeSafetensorsSharded(staging, tensors, opts.maxShardBytes)
    await fs.writeFile(join(staging, 'config.json'), JSON.stringify(configJson(ckpt.config, { vocabSize: plan.rowsAfter }), null, 2) + '\n')
    await fs.copyFile(plan.newTokenizerFile, join(staging, 'tokenizer.json'))
    // The base model's tokenizer settings (special tokens, chat template) still hold: special ids
    // are kept by both modes. Slow-tokenizer files (vocab.json, merges.txt, tokenizer.model) are
    // not copied: transformers would rebuild the tokenizer from them and lose the new tokens.
    for (const f of ['tokenizer_config.json', 'special_tokens_map.json', ...SIDE_FILES]) {
      if (ckpt.sideFiles.includes(f)) await fs.copyFile(join(ckpt.dir, f), join(staging, f))
    }
    record.seconds = (performance.now() - t0) / 1000
    await fs.writeFile(join(staging, 'resize.json'), JSON.stringify(record, null, 2) + '\n')
  })
  return record
}
