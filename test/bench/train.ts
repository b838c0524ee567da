/**
 * bench:train — training tokens per second through the REAL trainer (`runTraining`,
 * main/engine/training/trainer.ts) on the engine's backend, beside a bare training step and PyTorch:
 *
 * - Inputs are built here, as a project gets them: a temporary project with the demo corpora
 *   ingested (resources/demo/corpora/hu as the target language, .../en as English replay, through
 *   the engine's ingest job), token files made by `prepareTokenData`, and a model folder written by
 *   `writeInitialisedModel`.
 * - Two GPT-2 configurations: `demo` (d64, 2 layers, 4 heads, GPT-2's 50,257-token vocabulary
 *   and tokenizer: the demo base model before it was pretrained, kept as the reference of the
 *   figures in docs/performance.md) and `d128-8k` (d128, 2 layers, 4 heads, an 8,192-token
 *   vocabulary: GPT-2's tokenizer cut to its first 8,191 tokens and 7,935 merges, with
 *   <|endoftext|> as id 8191, written into the temporary folder: the architecture of today's demo
 *   base model, resources/demo/base-model, with 512 positions instead of its 256), each at batch
 *   8 × 128 and at 8 × 512 (--shapes).
 * - trainer: `runTraining` with the demo project's training settings (batch 8, no gradient
 *   accumulation, English share 0.25, document masking, AdamW lr 1e-4 with warm-up/cosine, weight
 *   decay 0.1, clipping at 1.0, a metrics line appended to metrics.jsonl per step), for --warmup
 *   (2) + --steps steps. Held-out evaluation is off (evalEvery 0) and checkpoints are set past the
 *   end (checkpointEvery 10⁹): the only checkpoint is the final one, written after the last timed
 *   step. A step's time is from one `onStep` callback to the next, so it holds what the loop does
 *   for a step: the mixture's batch (reading token files, packing, segments and positions), the
 *   rows, weights and layout, `trainStep`, the per-language losses, the metrics line and its append.
 * - bare: `trainStep` alone on a second copy of the model (loaded from the same folder), its own
 *   optimiser and schedule, on the very same batches (taken beforehand from a second
 *   `ReplayMixture` with the run's options: the same sequences in the same order), given as ready
 *   tensors with their layout. Bare step k runs right after the trainer's step k (in the trainer's
 *   `beforeStep` hook, outside the trainer's clock), so both see the same load and warm-up state.
 *   Its losses must equal the trainer's metrics step for step (checked and printed).
 *   overhead = trainer's mean step time ÷ bare's − 1.
 * - data path: the per-step work of the trainer around `trainStep`, timed alone over many steps
 *   (mixture batches, rows and weights as the trainer makes them, those rows made into tensors
 *   as `trainStep` does, the metrics line appended): where the overhead goes.
 * - PyTorch (test/bench/train_reference.py) on the same batches: the same GPT-2 in torch.nn,
 *   float32, train mode, with the same block-diagonal document mask, position ids and loss weights,
 *   AdamW (same parameter groups) and clip_grad_norm_(1.0); run with torch.set_num_threads of each
 *   of --torch-threads (default 2, then 1) and OpenBLAS threads = CPUs; the fastest is the
 *   reference. Skipped (with the reason) when /usr/bin/python3 cannot import torch.
 *   When Debian's libjemalloc2 is installed it is preloaded into the PyTorch process: see
 *   docs/performance.md, "bench:train", for why the allocator matters on these machines.
 *
 * Flags: --steps N (default 12 at sequences up to 256 tokens, 6 beyond), --warmup N (2), --configs
 * demo,d128-8k, --shapes 8x128,8x512, --quick (one small config and shape, 1 + 2 steps: a smoke
 * run), --no-torch, --torch-threads 2,1, --torch-alloc auto|jemalloc|glibc, --keep (keep the
 * temporary folder), --profile (the top kernels of one bare step by tf.profile, by name and by
 * operand shapes). VERNACULAR_BACKEND picks the backend. About 10 minutes on 2 cores with wasm.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core'
import { spawnSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type Tf, engineBackend } from '../../main/engine/backend/select'
import { openCheckpoint } from '../../main/engine/model/checkpoint'
import { type ModelConfig, parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { CausalLM } from '../../main/engine/model/model'
import { AdamW } from '../../main/engine/model/optimizer'
import { warmupCosine } from '../../main/engine/model/schedule'
import { type MicroBatch, trainStep } from '../../main/engine/model/train'
import { createProject } from '../../main/engine/project/projects'
import { type TokenData, openTokenData, prepareTokenData } from '../../main/engine/training/data'
import { type MixtureOptions, type PackedSequence, ReplayMixture } from '../../main/engine/training/mixture'
import { type RunSettings, type StepMetrics, runTraining } from '../../main/engine/training/trainer'
import { writePrefixTokenizer } from '../../resources/demo/prefix-tokenizer'
import { ingest } from '../engine/corpus/helpers'
import { timingSettings } from './settings'

const ROOT = resolve(__dirname, '../..')
const DEMO = join(ROOT, 'resources', 'demo')
const PYTHON = '/usr/bin/python3'
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'

const say = (line = '') => process.stdout.write(line + '\n')
const progress = (msg: string) => process.stderr.write(`  … ${msg} (load ${loadText()})\n`)
const loadText = () => loadavg().map((x) => x.toFixed(2)).join(' ')
const n0 = (x: number) => Math.round(x).toLocaleString('en')
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`

// ---- options ---------------------------------------------------------------------------------

interface Shape {
  batch: number
  seq: number
}

interface Options {
  /** Timed steps; null: 12 for sequences up to 256 tokens, 6 for longer ones. */
  steps: number | null
  warmup: number
  configs: string[]
  shapes: Shape[]
  torch: boolean
  torchThreads: number[]
  torchAlloc: 'auto' | 'jemalloc' | 'glibc'
  keep: boolean
  profile: boolean
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    steps: null,
    warmup: 2,
    configs: ['demo', 'd128-8k'],
    shapes: [
      { batch: 8, seq: 128 },
      { batch: 8, seq: 512 },
    ],
    torch: true,
    torchThreads: [2, 1],
    torchAlloc: 'auto',
    keep: false,
    profile: false,
  }
  const int = (flag: string, v: string | undefined) => {
    const x = Number(v)
    if (!Number.isSafeInteger(x) || x <= 0) throw new Error(`${flag} needs a positive integer (got ${v ?? 'nothing'})`)
    return x
  }
  const list = (flag: string, v: string | undefined) => {
    if (!v) throw new Error(`${flag} needs a comma-separated list`)
    return v.split(',').filter(Boolean)
  }
  let quick = false
  let steps: number | null = null
  let warmup: number | null = null
  let configs: string[] | null = null
  let shapes: Shape[] | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--steps') steps = int(a, argv[++i])
    else if (a === '--warmup') warmup = int(a, argv[++i])
    else if (a === '--configs') configs = list(a, argv[++i])
    else if (a === '--shapes')
      shapes = list(a, argv[++i]).map((s) => {
        const m = /^(\d+)x(\d+)$/.exec(s)
        if (!m) throw new Error(`--shapes takes BATCHxSEQ items, like 8x128 (got ${s})`)
        return { batch: int(a, m[1]), seq: int(a, m[2]) }
      })
    else if (a === '--quick') quick = true
    else if (a === '--no-torch') o.torch = false
    else if (a === '--torch-threads') o.torchThreads = list(a, argv[++i]).map((t) => int(a, t))
    else if (a === '--torch-alloc') {
      const v = argv[++i]
      if (v !== 'auto' && v !== 'jemalloc' && v !== 'glibc') throw new Error('--torch-alloc takes auto, jemalloc or glibc')
      o.torchAlloc = v
    } else if (a === '--keep') o.keep = true
    else if (a === '--profile') o.profile = true
    else throw new Error(`unknown flag ${a} (flags: --steps N --warmup N --configs demo,d128-8k --shapes 8x128,8x512 --quick --no-torch --torch-threads 2,1 --torch-alloc auto|jemalloc|glibc --keep --profile)`)
  }
  if (quick) {
    o.steps = 2
    o.warmup = 1
    o.configs = ['d128-8k']
    o.shapes = [{ batch: 2, seq: 64 }]
  }
  o.steps = steps ?? o.steps
  o.warmup = warmup ?? o.warmup
  o.configs = configs ?? o.configs
  o.shapes = shapes ?? o.shapes
  for (const c of o.configs) if (!['demo', 'd128-8k'].includes(c)) throw new Error(`unknown config ${c} (demo, d128-8k)`)
  return o
}

// ---- the project ------------------------------------------------------------------------------

interface BenchConfig {
  name: string
  raw: Record<string, unknown>
  config: ModelConfig
  tokenizerFile: string
  eos: number
}


async function benchConfigs(work: string, names: string[]): Promise<BenchConfig[]> {
  const out: BenchConfig[] = []
  for (const name of names) {
    if (name === 'demo') {
      const raw = { model_type: 'gpt2', vocab_size: 50257, n_positions: 512, n_embd: 64, n_layer: 2, n_head: 4, bos_token_id: 50256, eos_token_id: 50256, tie_word_embeddings: true }
      const config = parseModelConfig(raw, '<demo d64>')
      out.push({ name, raw, config, tokenizerFile: join(DEMO, 'base', 'tokenizer.json'), eos: config.eosTokenId! })
    } else {
      const raw = { model_type: 'gpt2', vocab_size: 8192, n_positions: 512, n_embd: 128, n_layer: 2, n_head: 4, bos_token_id: 8191, eos_token_id: 8191, tie_word_embeddings: true }
      const tokenizerFile = join(work, 'tokenizer-8k.json')
      await writePrefixTokenizer(join(DEMO, 'base', 'tokenizer.json'), tokenizerFile, 8192)
      out.push({ name, raw, config: parseModelConfig(raw, '<d128-8k>'), tokenizerFile, eos: 8191 })
    }
  }
  return out
}

// ---- runs ------------------------------------------------------------------------------------

/** Timed steps at a shape: --steps, or 12 for sequences up to 256 tokens (short, noisier steps) and 6 beyond. */
const stepsFor = (o: Options, shape: Shape) => o.steps ?? (shape.seq <= 256 ? 12 : 6)

const settingsFor = (shape: Shape, steps: number): RunSettings => timingSettings(shape, steps)

const mixtureOptions = (s: RunSettings, eos: number): MixtureOptions => ({ sequenceLength: s.sequenceLength, englishShare: s.englishShare, seed: s.seed, eos, documentMasking: s.documentMasking })

const rowsOf = (seqs: PackedSequence[], from: number, to: number) => seqs.map((q) => Array.from(q.tokens.subarray(from, to)))

/** The batches the trainer's mixture gives, in order (the same options and seed). */
async function takeBatches(data: TokenData, s: RunSettings, eos: number, count: number): Promise<PackedSequence[][]> {
  const files = await openTokenData(data)
  try {
    const mixture = new ReplayMixture(files, mixtureOptions(s, eos))
    const out: PackedSequence[][] = []
    for (let i = 0; i < count; i++) out.push(await mixture.batch(s.batchSize))
    return out
  } finally {
    for (const f of Object.values(files)) await f?.close()
  }
}

/** A batch as ready tensors (inputs, targets, weights) with its layout, as the trainer's micro-batch holds them. */
function tensorBatch(tf: Tf, seqs: PackedSequence[], s: RunSettings, eos: number): { mb: MicroBatch; owned: Tensor[] } {
  const B = seqs.length
  const T = s.sequenceLength
  const inputs = new Int32Array(B * T)
  const targets = new Int32Array(B * T)
  const weights = new Float32Array(B * T)
  seqs.forEach((q, b) => {
    inputs.set(q.tokens.subarray(0, T), b * T)
    targets.set(q.tokens.subarray(1, T + 1), b * T)
    for (let t = 0; t < T; t++) weights[b * T + t] = q.tokens[t] === eos ? 0 : 1
  })
  const owned = [tf.tensor2d(inputs, [B, T], 'int32'), tf.tensor2d(targets, [B, T], 'int32'), tf.tensor2d(weights, [B, T], 'float32')] as Tensor2D[]
  const mb: MicroBatch = { inputs: owned[0]!, targets: owned[1]!, weights: owned[2]!, layout: { segments: seqs.map((q) => q.segments), positions: seqs.map((q) => q.positions) } }
  return { mb, owned }
}

interface PairedRun {
  /** The trainer's step seconds: from one onStep to the next, less the bare step run in between (the first: from runTraining's start). */
  trainer: number[]
  /** The bare step seconds, step k run right after the trainer's step k. */
  bare: number[]
  metrics: StepMetrics[]
  bareLosses: number[]
  /** Tensors left per bare step after the first (should be 0). */
  bareLeaked: number
  /** runTraining's whole time, less the bare steps (model load and the final checkpoint included). */
  totalSeconds: number
}

/**
 * The trainer and the bare step, step by step: `runTraining` trains the run, and in its `onStep`
 * callback (after its step k's time is taken) `trainStep` alone does step k on a second copy of the
 * model (loaded from the same folder, its own optimiser and schedule) from the same batch k as
 * ready tensors; the trainer's clock restarts after it (so only the loop's no-op checkpoint test
 * between onStep and beforeStep is left out of the trainer's time). Each pair of steps runs back to
 * back, under the same load and the same warm-up state (the first steps at a new shape are slower,
 * see docs/performance.md, "bench:train"), so the ratio is not skewed by which ran first.
 */
async function pairedRun(tf: Tf, work: string, modelDir: string, data: TokenData, eos: number, s: RunSettings, batches: PackedSequence[][]): Promise<PairedRun> {
  const runDir = join(work, `run-${Date.now()}`)
  const model = await CausalLM.load(tf, await openCheckpoint(modelDir))
  const opt = new AdamW(tf, model, { lr: s.learningRate, weightDecay: s.weightDecay })
  const schedule = warmupCosine({ peak: s.learningRate, warmupSteps: Math.min(s.warmupSteps, s.steps), totalSteps: s.steps })
  const prepared = batches.map((b) => tensorBatch(tf, b, s, eos))
  const out: PairedRun = { trainer: [], bare: [], metrics: [], bareLosses: [], bareLeaked: 0, totalSeconds: 0 }
  let bareTotal = 0
  let leaked = 0
  try {
    const t0 = performance.now()
    let last = t0
    let failure: unknown = null
    await runTraining({
      tf,
      runDir,
      modelDir,
      data,
      heldout: { target: null, english: null },
      eos,
      settings: s,
      onStep: (m) => {
        out.trainer.push((performance.now() - last) / 1000)
        out.metrics.push(m)
      },
      // Called before each step: the bare step of the step the trainer just finished.
      beforeStep: async () => {
        const k = out.metrics.length - 1
        if (k < 0) return
        try {
          const before = tf.memory().numTensors
          const b0 = performance.now()
          const r = await trainStep(model, [prepared[k]!.mb], opt, schedule)
          const b1 = performance.now()
          if (k > 0) leaked += tf.memory().numTensors - before
          out.bare.push((b1 - b0) / 1000)
          out.bareLosses.push(r.loss)
          bareTotal += b1 - b0
        } catch (e) {
          failure ??= e
        }
        last = performance.now()
      },
    })
    if (failure) throw failure
    // The last step's bare step (runTraining calls beforeStep only before a step).
    const k = out.metrics.length - 1
    const b0 = performance.now()
    const r = await trainStep(model, [prepared[k]!.mb], opt, schedule)
    out.bare.push((performance.now() - b0) / 1000)
    out.bareLosses.push(r.loss)
    bareTotal += performance.now() - b0
    out.totalSeconds = (performance.now() - t0 - bareTotal) / 1000
    out.bareLeaked = leaked / Math.max(1, out.metrics.length - 2)
    return out
  } finally {
    for (const p of prepared) tf.dispose(p.owned)
    opt.dispose()
    model.dispose()
    await fs.rm(runDir, { recursive: true, force: true })
  }
}

interface DataPath {
  steps: number
  /** Milliseconds per step of each part. */
  mixture: number
  rows: number
  tensors: number
  metrics: number
}

/**
 * The trainer's per-step work around trainStep, timed alone over `steps` steps of a fresh mixture:
 * the mixture's batch (token files read ahead, packing), the rows, weights and layout the trainer
 * makes, those rows made into tensors as trainStep does (checked, flattened, uploaded, freed), and
 * the metrics line appended.
 */
async function dataPath(tf: Tf, work: string, data: TokenData, s: RunSettings, eos: number, steps: number): Promise<DataPath> {
  const files = await openTokenData(data)
  const metricsFile = join(work, 'metrics-bench.jsonl')
  await fs.writeFile(metricsFile, '')
  const vocab = data.tokenizer.vocabSize
  let mixture = 0
  let rows = 0
  let tensors = 0
  let metrics = 0
  try {
    const mix = new ReplayMixture(files, mixtureOptions(s, eos))
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now()
      const seqs = await mix.batch(s.batchSize)
      const t1 = performance.now()
      const inputs = rowsOf(seqs, 0, s.sequenceLength)
      const targets = rowsOf(seqs, 1, s.sequenceLength + 1)
      const weights = inputs.map((row) => row.map((id) => (id === eos ? 0 : 1)))
      const layout = { segments: seqs.map((q) => q.segments), positions: seqs.map((q) => q.positions) }
      const languages = seqs.map((q) => q.language)
      const t2 = performance.now()
      // What trainStep does with rows before the model sees them (train.ts microBatchTensors and
      // checkRows, with flattenLayout's check): the same checks, a flat typed array, a tensor.
      const B = inputs.length
      const T = s.sequenceLength
      const made: Tensor[] = []
      for (const [what, r] of [
        ['int32', inputs],
        ['int32', targets],
        ['float32', weights],
      ] as const) {
        for (const row of r) {
          if (row.length !== T) throw new Error('ragged rows')
          if (what === 'int32' && row.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab) !== undefined) throw new Error('bad id')
        }
        const flat = what === 'int32' ? new Int32Array(B * T) : new Float32Array(B * T)
        r.forEach((row, b) => flat.set(row, b * T))
        made.push(tf.tensor2d(flat, [B, T], what))
      }
      for (const rowsOfLayout of [layout.segments, layout.positions]) {
        const flat = new Int32Array(B * T)
        rowsOfLayout.forEach((row, b) => {
          for (let t = 0; t < T; t++) {
            const x = row[t]!
            if (!Number.isInteger(x) || x < 0) throw new Error('bad layout')
            flat[b * T + t] = x
          }
        })
      }
      await Promise.all(made.map((t) => t.data()))
      tf.dispose(made)
      const t3 = performance.now()
      const m = {
        step: i + 1,
        loss: 10.8,
        lossTarget: 10.8,
        lossEnglish: languages.includes('english') ? 10.8 : null,
        lr: 1e-4,
        gradNorm: 1.2,
        tokensPerSecond: 1000,
        tokensTarget: i * B * T,
        tokensEnglish: i * B * T,
        elapsedSeconds: i,
      }
      await fs.appendFile(metricsFile, JSON.stringify(m) + '\n')
      const t4 = performance.now()
      mixture += t1 - t0
      rows += t2 - t1
      tensors += t3 - t2
      metrics += t4 - t3
    }
  } finally {
    for (const f of Object.values(files)) await f?.close()
  }
  return { steps, mixture: mixture / steps, rows: rows / steps, tensors: tensors / steps, metrics: metrics / steps }
}

interface KernelRow {
  name: string
  ms: number
  calls: number
}

interface StepProfile {
  rows: KernelRow[]
  /** BatchMatMul and Transpose calls by operand shapes. */
  shapes: KernelRow[]
  kernelMs: number
  wallMs: number
}

/** tf.profile of one trainStep on a fresh copy of the model (a warm-up step first): kernel time by kernel name. */
async function profileStep(tf: Tf, modelDir: string, seqs: PackedSequence[], s: RunSettings, eos: number): Promise<StepProfile> {
  const model = await CausalLM.load(tf, await openCheckpoint(modelDir))
  const opt = new AdamW(tf, model, { lr: s.learningRate, weightDecay: s.weightDecay })
  const schedule = warmupCosine({ peak: s.learningRate, warmupSteps: Math.min(s.warmupSteps, s.steps), totalSteps: s.steps })
  const { mb, owned } = tensorBatch(tf, seqs, s, eos)
  try {
    await trainStep(model, [mb], opt, schedule)
    const t0 = performance.now()
    const info = await tf.profile(async () => void (await trainStep(model, [mb], opt, schedule)))
    const wallMs = performance.now() - t0
    const byName = new Map<string, KernelRow>()
    const byShape = new Map<string, KernelRow>()
    let kernelMs = 0
    const backend = tf.getBackend()
    for (const k of info.kernels) {
      // Custom-gradient wrappers are profiled around kernels that are profiled too: registered kernels only.
      if (!tf.getKernel(k.name, backend)) continue
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
      const row = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 }
      row.ms += ms
      row.calls++
      kernelMs += ms
      byName.set(k.name, row)
      if (k.name === 'BatchMatMul' || k.name === 'Transpose') {
        const key = `${k.name} ${k.inputShapes.map((sh) => `[${sh.join(',')}]`).join('·')}`
        const r = byShape.get(key) ?? { name: key, ms: 0, calls: 0 }
        r.ms += ms
        r.calls++
        byShape.set(key, r)
      }
    }
    const sorted = (m: Map<string, KernelRow>) => [...m.values()].sort((a, b) => b.ms - a.ms)
    return { rows: sorted(byName), shapes: sorted(byShape), kernelMs, wallMs }
  } finally {
    tf.dispose(owned)
    opt.dispose()
    model.dispose()
  }
}

// ---- PyTorch ---------------------------------------------------------------------------------

interface TorchRun {
  torch: string
  intra_op_threads: number
  blas: string
  blas_threads: number | null
  params: number
  masking: string
  tok_s: number
  median_tok_s: number
  step_s: number[]
  losses: number[]
}

interface TorchOutcome {
  runs: { threads: number; run: TorchRun | null; error?: string }[]
  allocator: string
}

function torchEnv(threads: number, alloc: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(cpus().length) }
  // Debian's OpenBLAS picks a slow reference kernel when these are set (docs/performance.md).
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  if (alloc === 'jemalloc') {
    env.LD_PRELOAD = JEMALLOC
    // Keep freed pages in the process (no purging back to the system) for the whole run.
    env.MALLOC_CONF = 'dirty_decay_ms:-1,muzzy_decay_ms:-1'
  }
  return env
}

function torchAllocator(o: Options): string {
  if (o.torchAlloc === 'glibc') return 'glibc'
  if (existsSync(JEMALLOC)) return 'jemalloc'
  if (o.torchAlloc === 'jemalloc') throw new Error(`--torch-alloc jemalloc: ${JEMALLOC} is missing (apt-get install libjemalloc2)`)
  return 'glibc'
}

function torchAvailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: torchEnv(1, 'glibc') })
  if (probe.error) return `${PYTHON} cannot be run (${probe.error.message})`
  if (probe.status !== 0) return `${PYTHON} -c "import torch" failed: ${(probe.stderr || '').trim().split('\n').pop() ?? ''}`
  return null
}

/** Writes the batches as train_reference.py reads them: per batch, int32 inputs, targets, segments, positions, weights [B, T]. */
async function writeTorchBatches(file: string, batches: PackedSequence[][], s: RunSettings, eos: number): Promise<void> {
  const B = s.batchSize
  const T = s.sequenceLength
  const all = new Int32Array(batches.length * 5 * B * T)
  batches.forEach((seqs, k) => {
    const base = k * 5 * B * T
    seqs.forEach((q, b) => {
      for (let t = 0; t < T; t++) {
        const i = b * T + t
        all[base + i] = q.tokens[t]!
        all[base + B * T + i] = q.tokens[t + 1]!
        all[base + 2 * B * T + i] = q.segments[t]!
        all[base + 3 * B * T + i] = q.positions[t]!
        all[base + 4 * B * T + i] = q.tokens[t] === eos ? 0 : 1
      }
    })
  })
  await fs.writeFile(file, Buffer.from(all.buffer, all.byteOffset, all.byteLength))
}

function runTorch(o: Options, alloc: string, c: BenchConfig, batchFile: string, s: RunSettings, steps: number): TorchOutcome {
  const runs: TorchOutcome['runs'] = []
  for (const threads of o.torchThreads) {
    const args = [
      join(ROOT, 'test', 'bench', 'train_reference.py'),
      '--config',
      JSON.stringify(c.raw),
      '--batches',
      batchFile,
      '--batch',
      String(s.batchSize),
      '--seq',
      String(s.sequenceLength),
      '--warmup',
      String(o.warmup),
      '--steps',
      String(steps),
      '--lr',
      String(s.learningRate),
      '--weight-decay',
      String(s.weightDecay),
      '--intra-op-threads',
      String(threads),
    ]
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: torchEnv(threads, alloc), maxBuffer: 16 * 1024 * 1024 })
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? ''
    if (r.status !== 0 || !last.startsWith('{')) runs.push({ threads, run: null, error: `train_reference.py failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().slice(-600)}` })
    else runs.push({ threads, run: JSON.parse(last) as TorchRun })
  }
  return { runs, allocator: alloc }
}

// ---- main ------------------------------------------------------------------------------------

interface Row {
  config: BenchConfig
  shape: Shape
  params: number
  run: PairedRun
  data: DataPath
  lossDiff: number
  torch: TorchOutcome | string
  loadBefore: string
  loadAfter: string
  profile?: StepProfile
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const { tf, report } = await engineBackend()
  const t00 = performance.now()
  const work = await fs.mkdtemp(join(tmpdir(), 'vernacular-bench-train-'))
  const rows: Row[] = []
  const setup: string[] = []
  try {
    // The project: the demo corpora, ingested as the app ingests them.
    progress('ingesting the demo corpora (hu, en)')
    const projectDir = join(work, 'project')
    await createProject({ dir: projectDir, name: 'Bench', language: 'hu' })
    const tIngest = performance.now()
    const hu = await ingest(projectDir, 'target', [join(DEMO, 'corpora', 'hu')])
    const en = await ingest(projectDir, 'english', [join(DEMO, 'corpora', 'en')])
    if (hu.final.state !== 'done' || en.final.state !== 'done') throw new Error(`ingest failed: ${hu.final.state} / ${en.final.state}`)
    setup.push(`ingest ${((performance.now() - tIngest) / 1000).toFixed(1)} s`)
    const configs = await benchConfigs(work, o.configs)
    const torchWhyNot = o.torch ? torchAvailable() : 'skipped (--no-torch)'
    const alloc = torchWhyNot ? 'glibc' : torchAllocator(o)

    for (const c of configs) {
      progress(`${c.name}: token files and the initialised model`)
      const tData = performance.now()
      const data = await prepareTokenData(projectDir, c.tokenizerFile)
      setup.push(`${c.name}: token files ${((performance.now() - tData) / 1000).toFixed(1)} s (${n0(data.roles.target?.tokens ?? 0)} hu + ${n0(data.roles.english?.tokens ?? 0)} en tokens)`)
      const modelDir = join(work, 'models', c.name)
      await writeInitialisedModel(modelDir, c.config, { seed: 0, dtype: c.config.dtype })
      await fs.copyFile(c.tokenizerFile, join(modelDir, 'tokenizer.json'))
      const ckpt = await openCheckpoint(modelDir)
      const params = ckpt.parameterCount

      for (const shape of o.shapes) {
        const label = `${c.name} ${shape.batch}×${shape.seq}`
        const steps = stepsFor(o, shape)
        const s = settingsFor(shape, o.warmup + steps)
        const loadBefore = loadText()
        const batches = await takeBatches(data, s, c.eos, o.warmup + steps)
        progress(`${label}: trainer and bare trainStep, step by step, ${o.warmup} + ${steps} steps`)
        const run = await pairedRun(tf, work, modelDir, data, c.eos, s, batches)
        const lossDiff = Math.max(...run.bareLosses.map((l, i) => Math.abs(l - run.metrics[i]!.loss)))
        progress(`${label}: data path alone`)
        const data_ = await dataPath(tf, work, data, s, c.eos, 200)
        let torch: TorchOutcome | string = torchWhyNot ?? ''
        if (!torchWhyNot) {
          progress(`${label}: PyTorch (threads ${o.torchThreads.join(', ')}; ${alloc})`)
          const file = join(work, `batches-${c.name}-${shape.batch}x${shape.seq}.bin`)
          await writeTorchBatches(file, batches, s, c.eos)
          torch = runTorch(o, alloc, c, file, s, steps)
        }
        const row: Row = { config: c, shape, params, run, data: data_, lossDiff, torch, loadBefore, loadAfter: loadText() }
        if (o.profile) {
          progress(`${label}: tf.profile of one bare step`)
          row.profile = await profileStep(tf, modelDir, batches[0]!, s, c.eos)
        }
        rows.push(row)
      }
    }
  } finally {
    if (o.keep) say(`kept ${work}`)
    else await fs.rm(work, { recursive: true, force: true })
  }

  // ---- report
  const timed = (xs: number[]) => xs.slice(o.warmup)
  say(`train bench: the trainer (runTraining) vs trainStep alone vs PyTorch; ${o.warmup} warm-up + ${o.steps ?? '12 (sequences ≤ 256) or 6'} timed steps each (tok/s from the mean step time); float32`)
  say(`backend: ${report.name} (tfjs '${report.tfBackend}') — ${report.why}`)
  say(`machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'}), ${process.platform} ${process.arch}, Node ${process.versions.node}; load average now ${loadText()}`)
  say(`trainer settings: the demo project's (English share 0.25, document masking, AdamW lr 1e-4 warm-up/cosine, weight decay 0.1, clip 1.0, no gradient accumulation); held-out evaluation off, no checkpoint until after the last step`)
  say(`setup: ${setup.join('; ')}`)
  const first = rows.find((r) => typeof r.torch !== 'string')
  if (first) {
    const t = (first.torch as TorchOutcome).runs.find((x) => x.run)?.run
    say(`PyTorch: torch ${t?.torch ?? '?'} (test/bench/train_reference.py), same batches, same block-diagonal document mask, position ids and loss weights; BLAS ${t?.blas ?? '?'} with ${t?.blas_threads ?? '?'} threads; allocator ${(first.torch as TorchOutcome).allocator}${(first.torch as TorchOutcome).allocator === 'jemalloc' ? ' (LD_PRELOAD)' : ''}; torch.set_num_threads ${o.torchThreads.join(' and ')}, the faster is the reference`)
  } else if (rows[0]) say(`PyTorch: ${rows[0].torch as string}`)
  say('')
  const header = ['config', 'params', 'batch × seq', 'trainer tok/s', 'bare step tok/s', 'overhead', 'PyTorch tok/s', 'ours / PyTorch', 'load (1 min) before → after']
  const table: string[][] = [header]
  const best = (t: TorchOutcome | string) => (typeof t === 'string' ? null : t.runs.filter((x) => x.run).sort((a, b) => b.run!.tok_s - a.run!.tok_s)[0] ?? null)
  for (const r of rows) {
    const tokens = r.shape.batch * r.shape.seq
    const tr = tokens / mean(timed(r.run.trainer))
    const br = tokens / mean(timed(r.run.bare))
    const pt = best(r.torch)
    table.push([
      r.config.name,
      `${(r.params / 1e6).toFixed(2)}M`,
      `${r.shape.batch} × ${r.shape.seq}`,
      n0(tr),
      n0(br),
      pct(br / tr - 1),
      pt ? `${n0(pt.run!.tok_s)} (${pt.threads} thr)` : '–',
      pt ? `${(tr / pt.run!.tok_s).toFixed(2)}×` : '–',
      `${r.loadBefore.split(' ')[0]} → ${r.loadAfter.split(' ')[0]}`,
    ])
  }
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)))
  for (const [k, t] of table.entries()) {
    say(t.map((cell, i) => (i === 0 || i === 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    if (k === 0) say(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  say('')
  say('overhead = trainer step time ÷ bare step time − 1 (means over the timed steps; each bare step runs right after the trainer’s step of the same batch); ours / PyTorch uses the trainer’s tok/s; above 1× = the engine is faster')
  for (const r of rows) {
    const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ')
    const tT = timed(r.run.trainer)
    const tB = timed(r.run.bare)
    say(`${r.config.name} ${r.shape.batch}×${r.shape.seq}:`)
    say(`  trainer step seconds ${list(tT)} (warm-up ${list(r.run.trainer.slice(0, o.warmup))}); runTraining took ${r.run.totalSeconds.toFixed(1)} s in all (model load and the final checkpoint included, the bare steps not)`)
    say(`  bare step seconds    ${list(tB)} (warm-up ${list(r.run.bare.slice(0, o.warmup))})`)
    say(`  overhead as the median of the step-by-step ratios ${pct(median(tT.map((t, i) => t / tB[i]!)) - 1)}, by minima ${pct(Math.min(...tT) / Math.min(...tB) - 1)}; losses equal to the trainer's metrics within ${r.lossDiff.toExponential(1)}${r.run.bareLeaked ? `; WARNING: ${r.run.bareLeaked} tensors leaked per bare step` : ''}`)
    const d = r.data
    const dataMs = d.mixture + d.rows + d.tensors + d.metrics
    say(
      `  data path alone (mean of ${d.steps} steps): ${dataMs.toFixed(2)} ms a step = ${((100 * dataMs) / 1000 / mean(tB)).toFixed(2)}% of a bare step — mixture ${d.mixture.toFixed(2)} ms, rows/weights/layout ${d.rows.toFixed(2)} ms, rows → tensors ${d.tensors.toFixed(2)} ms, metrics line ${d.metrics.toFixed(2)} ms`,
    )
    if (typeof r.torch !== 'string') {
      for (const x of r.torch.runs) {
        if (!x.run) say(`  PyTorch, ${x.threads} thread(s): ${x.error}`)
        else {
          const pt = x.run
          say(`  PyTorch, torch.set_num_threads(${pt.intra_op_threads}): ${n0(pt.tok_s)} tok/s (median ${n0(pt.median_tok_s)}), step seconds ${list(pt.step_s)}; ${n0(pt.params)} parameters${pt.params !== r.params ? ` — WARNING: ours has ${n0(r.params)}` : ''}`)
        }
      }
    }
    if (r.profile) {
      const p = r.profile
      say(`  tf.profile of one bare step: kernels ${n0(p.kernelMs)} ms of ${n0(p.wallMs)} ms (the rest: JavaScript around the kernels, profiling included)`)
      const line = (k: KernelRow, w: number) => `${k.name.padEnd(w)} ${n0(k.ms).padStart(7)} ms  ${((100 * k.ms) / Math.max(1e-9, p.kernelMs)).toFixed(1).padStart(5)}%  ${String(k.calls).padStart(4)} calls`
      for (const k of p.rows.slice(0, 6)) say(`    ${line(k, 24)}`)
      say(`    by operand shapes:`)
      for (const k of p.shapes.slice(0, 6)) say(`      ${line(k, 44)}`)
    }
  }
  say(`took ${((performance.now() - t00) / 1000).toFixed(0)} s`)
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
