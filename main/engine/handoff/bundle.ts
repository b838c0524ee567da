/**
 * A run handed to an existing distributed trainer: a self-contained folder that trains the run
 * elsewhere on exactly the tokens we counted, mixed exactly as we would mix them.
 *
 *   OUT/README.md               what is here, how to run it, what was verified where
 *       vernacular-run.json     the run's settings, optimizer and schedule, the EOS id, the
 *                               fingerprints of the tokenizer and corpus, the token files' counts
 *       model/                  the model the run starts from (the resized base, a Hugging Face
 *                               folder: config.json, weights, tokenizer.json and its configs)
 *       data/target.tokens      the token files of docs/training-data.md (hard links where the
 *       data/english.tokens     file system allows, else copies)
 *       vernacular_data.py      reading them, PCG32 and the replay mixture, in Python (numpy)
 *   fsdp:
 *       train.py                the driver: our data, masking and checkpoints; FSDP does the rest
 *       launch.sh, slurm.sbatch torchrun on one GPU, N GPUs or several nodes; a Slurm example
 *       requirements.txt
 *   llamafactory:
 *       train.yaml              `llamafactory-cli train train.yaml` (LLaMA-Factory 0.9 keys only)
 *       ds_z3_config.json       DeepSpeed ZeRO-3
 *       data/dataset_info.json  the two datasets, and their text as JSONL (data/<role>.jsonl)
 *       launch.sh, requirements.txt
 *
 * The Python files ship in resources/handoff/. The folder is written whole into a hidden sibling
 * and renamed into place; a non-empty folder that no hand-off wrote is refused unless `force`.
 */
import { promises as fs } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import type { HandoffFile, HandoffResult, HandoffTarget, RunOverrides, RunSettings } from '../contract'
import { EngineError, fsError } from '../common/errors'
import { vocabFingerprint } from '../common/fingerprint'
import { parseJson } from '../common/json'
import { outputFolderEntries, writeOutputDirWith } from '../common/outputdir'
import { resourcesDir } from '../common/resources'
import { VERNACULAR_VERSION } from '../common/version'
import type { JobContext } from '../jobs/manager'
import { readManifest } from '../project/manifest'
import { corpusDocuments } from '../corpus/text'
import { openCheckpoint } from '../model/checkpoint'
import { paramSpecs } from '../model/names'
import { Tokenizer } from '../tokenizer/tokenizer'
import { type TokenData, prepareTokenData } from '../training/data'
import { prepareRun } from '../training/launch'
import { LANGUAGES, type Language } from '../training/mixture'
import { type RunRecord, readRun, runPath } from '../training/runs'
import { exportConfig, exportGenerationConfig, exportSpecialTokensMap, exportTokenizerConfig, specialTokens } from '../export/hffiles'
import { llamaFactoryFiles } from './llamafactory'
import { bundleReadme } from './readme'

/** The bundle's record; its presence (with format `vernacular-handoff`) marks a folder a hand-off may replace. */
export const HANDOFF_RECORD = 'vernacular-run.json'
export const BUNDLE_MODEL_DIR = 'model'
export const BUNDLE_DATA_DIR = 'data'
/** The Python files of resources/handoff/ each target takes. */
const PYTHON_FILES: Record<HandoffTarget, string[]> = {
  fsdp: ['vernacular_data.py', 'train.py', 'launch.sh', 'slurm.sbatch', 'requirements.txt'],
  llamafactory: ['vernacular_data.py'],
}
/** AdamW's hyperparameters as the local trainer uses them (model/optimizer.ts, model/train.ts). */
const OPTIMIZER = { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1.0, decayEmbeddings: false } as const
/** The schedule's floor as a fraction of the peak (model/schedule.ts). */
const FLOOR_RATIO = 0.1

export interface HandoffRequest {
  run: string
  /** Settings of a run created now, over the project's (as `vernacular train` takes them); refused for an existing run. */
  overrides?: RunOverrides
  /** The run, when the caller has planned it already (`planHandoff`, to refuse bad settings before a job starts). */
  planned?: { run: RunRecord; created: boolean }
  out: string
  target: HandoffTarget
  force?: boolean
}

/** One language's token file in the bundle, with its counts. */
export interface BundleRole {
  file: string
  documents: number
  tokens: number
  bytes: number
}

/** vernacular-run.json. */
export interface HandoffRecord {
  format: 'vernacular-handoff'
  version: 1
  target: HandoffTarget
  vernacular: string
  createdAt: string
  project: { name: string; language: string }
  run: string
  model: { dir: string; modelType: string; parameters: number; vocabRows: number; source: string }
  tokenizer: { file: string; fingerprint: string; vocabSize: number }
  corpus: { fingerprint: string }
  eos: number
  data: Record<Language, BundleRole | null>
  settings: RunSettings
  englishShare: number
  optimizer: typeof OPTIMIZER
  schedule: { name: 'warmup-cosine'; warmupSteps: number; totalSteps: number; floorRatio: number }
}

/** What of the model folder travels: weights, JSON files, and its README and licence. */
const MODEL_FILE = /\.(safetensors|json)$|^(README\.md|LICEN[CS]E.*|NOTICE.*)$/

const QUIET: JobContext = { id: 'handoff', signal: new AbortController().signal, progress: () => undefined, log: () => undefined, throwIfCancelled: () => undefined }

const inside = (parent: string, child: string) => {
  const r = relative(resolve(parent), resolve(child))
  return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && !/^[A-Za-z]:/.test(r))
}

async function readJsonMaybe(file: string): Promise<Record<string, unknown> | null> {
  try {
    return parseJson(await fs.readFile(file, 'utf8')) as Record<string, unknown>
  } catch {
    return null
  }
}

/** Refuses a bundle folder inside the project, or a non-empty one no hand-off wrote (unless `force`). */
export async function checkHandoffOut(projectDir: string, out: string, force: boolean): Promise<void> {
  if (inside(out, projectDir) || inside(projectDir, out)) {
    throw new EngineError('invalid-request', `${out} is ${inside(out, projectDir) ? 'the project folder or holds it' : 'inside the project'}; a bundle is carried to another machine, so it lives outside.`, {
      file: out,
      hint: 'Choose a folder next to the project, for example ../<project>-cluster.',
    })
  }
  const names = await outputFolderEntries(out)
  if (names === null || names.length === 0 || force) return
  const record = await readJsonMaybe(join(out, HANDOFF_RECORD))
  if (record?.format === 'vernacular-handoff') return
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ', …' : '')
  throw new EngineError('bad-input', `${out} is not empty and was not written by vernacular handoff (it holds ${shown}).`, {
    file: out,
    hint: 'Choose a new or empty folder for --out, or give --force to replace the folder and everything in it.',
  })
}

/** A hard link where the file system allows (a bundle of a 7B model is not copied twice), else a copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to)
  } catch {
    try {
      await fs.copyFile(from, to)
    } catch (e) {
      throw fsError(e, from, 'read')
    }
  }
}

/** The run to hand off: the recorded one, or a new one planned with the project's settings and `overrides`. */
export async function planHandoff(projectDir: string, name: string, overrides: RunOverrides): Promise<{ run: RunRecord; created: boolean }> {
  const existing = await readRun(projectDir, name)
  if (existing) {
    if (Object.keys(overrides).length) {
      throw new EngineError('invalid-request', `Run "${name}" exists and keeps its settings (${Object.keys(overrides).join(', ')} given).`, { hint: 'Hand it off without them, or hand off a new run with --run NAME.' })
    }
    if (existing.imported) {
      throw new EngineError('invalid-request', `Run "${name}" was imported from ${existing.imported.from}; it has no plan to hand off.`, { hint: 'Hand off another run, or a new one with --run NAME.' })
    }
    return { run: existing, created: false }
  }
  return { run: await prepareRun(projectDir, name, overrides, false), created: true }
}

/** Writes the bundle of a run for `target`. */
export async function writeHandoff(projectDir: string, request: HandoffRequest, ctx: JobContext = QUIET): Promise<HandoffResult> {
  const t0 = performance.now()
  const out = resolve(request.out)
  await checkHandoffOut(projectDir, out, request.force ?? false)
  const manifest = await readManifest(projectDir)
  const { run, created } = request.planned ?? (await planHandoff(projectDir, request.run, request.overrides ?? {}))
  const s = run.settings
  const modelDir = runPath(projectDir, run.model)
  const tokenizerFile = runPath(projectDir, run.tokenizer)

  ctx.progress({ fraction: 0, message: 'Tokenising the training text' })
  const data: TokenData = await prepareTokenData(projectDir, tokenizerFile, {
    signal: ctx.signal,
    progress: (u) => ctx.progress({ ...u, message: u.message ?? 'Tokenising the training text' }),
    log: (line) => ctx.log(line),
  })
  ctx.throwIfCancelled()
  if (s.englishShare > 0 && !data.roles.english) {
    throw new EngineError('bad-input', `Run "${run.name}" replays ${Math.round(s.englishShare * 100)}% English, but the project has no English training text.`, {
      hint: 'Add English text in the Corpus step, or hand off a run with --replay-share 0.',
    })
  }
  const ckpt = await openCheckpoint(modelDir)
  const eos = ckpt.config.eosTokenId
  if (eos === null) throw new EngineError('bad-input', `${modelDir}/config.json names no eos_token_id, which packing puts between documents.`, { file: join(modelDir, 'config.json'), hint: 'Add "eos_token_id" to the model\'s config.json.' })
  const tok = await Tokenizer.fromFile(tokenizerFile)

  const roles: Record<Language, BundleRole | null> = { target: null, english: null }
  for (const role of LANGUAGES) {
    const r = data.roles[role]
    if (r && (role === 'target' || s.englishShare > 0)) roles[role] = { file: `${BUNDLE_DATA_DIR}/${role}.tokens`, documents: r.documents, tokens: r.tokens, bytes: r.bytes }
  }
  const record: HandoffRecord = {
    format: 'vernacular-handoff',
    version: 1,
    target: request.target,
    vernacular: VERNACULAR_VERSION,
    createdAt: new Date().toISOString(),
    project: { name: manifest.name, language: manifest.language },
    run: run.name,
    model: {
      dir: BUNDLE_MODEL_DIR,
      modelType: ckpt.config.modelType,
      parameters: paramSpecs(ckpt.config).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0),
      vocabRows: ckpt.config.vocabSize,
      source: modelDir,
    },
    tokenizer: { file: `${BUNDLE_MODEL_DIR}/tokenizer.json`, fingerprint: vocabFingerprint(tok), vocabSize: tok.vocabSize },
    corpus: { fingerprint: data.corpus.fingerprint },
    eos,
    data: roles,
    settings: s,
    englishShare: s.englishShare,
    optimizer: OPTIMIZER,
    schedule: { name: 'warmup-cosine', warmupSteps: Math.min(s.warmupSteps, s.steps), totalSteps: s.steps, floorRatio: FLOOR_RATIO },
  }

  ctx.commit?.()
  const files: HandoffFile[] = []
  await writeOutputDirWith(out, () => true, async (staging) => {
    const put = async (name: string, content: string, mode?: number) => {
      await fs.mkdir(join(staging, name, '..'), { recursive: true })
      await fs.writeFile(join(staging, name), content, mode === undefined ? {} : { mode })
    }
    // The model: its weights and files as they are, with the tokenizer configs transformers wants.
    const modelOut = join(staging, BUNDLE_MODEL_DIR)
    await fs.mkdir(modelOut)
    const entries = (await fs.readdir(modelDir, { withFileTypes: true })).filter((e) => e.isFile() && MODEL_FILE.test(e.name))
    const sizes = await Promise.all(entries.map(async (e) => (await fs.stat(join(modelDir, e.name))).size))
    const total = sizes.reduce((a, b) => a + b, 0) + Object.values(roles).reduce((n, r) => n + (r ? 128 + r.tokens * 4 : 0), 0)
    let done = 0
    for (const [i, e] of entries.entries()) {
      ctx.progress({ done, total, message: `Model: ${e.name}` })
      if (e.name === 'resize.json' || e.name === 'config.json' || e.name === 'tokenizer.json') continue
      await linkOrCopy(join(modelDir, e.name), join(modelOut, e.name))
      done += sizes[i] ?? 0
    }
    await linkOrCopy(tokenizerFile, join(modelOut, 'tokenizer.json'))
    await put(`${BUNDLE_MODEL_DIR}/config.json`, JSON.stringify(exportConfig(ckpt.config, ckpt.storedDtype), null, 2) + '\n')
    const side = async (name: string) => readJsonMaybe(join(modelDir, name))
    const specials = specialTokens(tok, ckpt.config, await side('tokenizer_config.json'), await side('special_tokens_map.json'))
    await put(`${BUNDLE_MODEL_DIR}/tokenizer_config.json`, JSON.stringify(exportTokenizerConfig(tok, ckpt.config, await side('tokenizer_config.json'), specials), null, 2) + '\n')
    await put(`${BUNDLE_MODEL_DIR}/special_tokens_map.json`, JSON.stringify(exportSpecialTokensMap(tok, specials), null, 2) + '\n')
    await put(`${BUNDLE_MODEL_DIR}/generation_config.json`, JSON.stringify(exportGenerationConfig(ckpt.config, await side('generation_config.json'), null), null, 2) + '\n')

    // The token files, as the local trainer reads them.
    await fs.mkdir(join(staging, BUNDLE_DATA_DIR))
    for (const role of LANGUAGES) {
      const r = roles[role]
      const src = data.roles[role]
      if (!r || !src) continue
      ctx.throwIfCancelled()
      ctx.progress({ done, total, message: `Data: ${role}.tokens` })
      await linkOrCopy(join(data.dir, src.file), join(staging, r.file))
      done += (await fs.stat(join(staging, r.file))).size
    }

    for (const name of PYTHON_FILES[request.target]) {
      const from = join(resourcesDir(), 'handoff', name)
      await fs.copyFile(from, join(staging, name)).catch((e: unknown) => {
        throw fsError(e, from, 'read')
      })
      if (name.endsWith('.sh')) await fs.chmod(join(staging, name), 0o755)
    }
    if (request.target === 'llamafactory') {
      const texts: Partial<Record<Language, AsyncIterable<string>>> = {}
      for (const role of LANGUAGES) if (roles[role]) texts[role] = corpusDocuments(projectDir, role, 'train', ctx.signal)
      for (const [name, content] of Object.entries(await llamaFactoryFiles(record, texts, staging, (message) => ctx.progress({ done, total, message })))) {
        await put(name, content, name.endsWith('.sh') ? 0o755 : undefined)
      }
    }
    await put('README.md', bundleReadme(record))
    await put(HANDOFF_RECORD, JSON.stringify(record, null, 2) + '\n')
    files.push(...(await listBundle(staging)))
  })
  ctx.progress({ fraction: 1, message: `Wrote ${out}` })
  return {
    out,
    target: request.target,
    run: run.name,
    created,
    files,
    command: request.target === 'fsdp' ? './launch.sh --nproc-per-node 1' : './launch.sh',
    importCommand: `vernacular runs import ${projectDir} ${join(out, 'output')} --run ${run.name}`,
    tokensPerStep: s.batchSize * s.sequenceLength * s.gradientAccumulation,
    seconds: (performance.now() - t0) / 1000,
  }
}

/** Every file of a bundle folder with its size, sorted, names relative with forward slashes. */
export async function listBundle(dir: string, prefix = ''): Promise<HandoffFile[]> {
  const out: HandoffFile[] = []
  for (const e of (await fs.readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const name = prefix ? `${prefix}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await listBundle(dir, name)))
    else out.push({ name, bytes: (await fs.stat(join(dir, name))).size })
  }
  return out
}
