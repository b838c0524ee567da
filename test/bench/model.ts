/**
 * bench:model — training-step throughput of the engine's models (main/engine/model) on the
 * engine's backend, beside named references with the same shapes on the same machine:
 *
 * - two small randomly initialised models: a GPT-2 (d256, 4 layers, 4 heads, vocab 4096, tied
 *   head) and a Llama (d256, MLP 688, 4 layers, 4 heads / 2 kv heads, vocab 4096, untied head);
 * - forward (logits) and forward + backward (mean next-token loss and every parameter's gradient
 *   through `tf.variableGrads`; no optimiser step) in tokens/s, and for the engine a whole training
 *   step (`trainStep`: forward + backward, gradient clipping and the AdamW update): one warm-up step, then the median
 *   of --steps (5) timed steps (naive tfjs: at most 3; PyTorch, whose steps are short: at least
 *   10), at --batch × --seq tokens (8 × 128 by default); about 2 minutes on 2 cores with wasm;
 * - PyTorch (test/bench/model_reference.py: plain torch.nn versions of both architectures, float32;
 *   OpenBLAS with as many threads as the machine has CPUs, torch's own intra-op threads 1, since
 *   more oversubscribes the cores — see that file) when Debian's /usr/bin/python3 imports torch;
 * - "naive tfjs": the GPT-2 written the obvious way (matMul with transposeB for the head, tfjs's
 *   own gradients everywhere, tf.gather for the embeddings — or a one-hot matMul where the backend
 *   has no UnsortedSegmentSum for gather's gradient, as wasm), on the same variables, so the gain
 *   of the engine's custom gradients is shown. Its loss is checked against the engine's.
 *
 * - the same forward + backward and training step on every core (--threads N, default
 *   VERNACULAR_THREADS or all cores): the rows split among worker threads, model/parallel.ts; a
 *   second line per model, with its own ratio to PyTorch; its steps are timed in turns with the
 *   one-thread steps (after 2 warm-up steps of each), so that both see the same load;
 *
 * Flags: --batch N, --seq N, --steps N, --threads N, --quick (2 steps at 2 × 32: a smoke run), --profile (top
 * kernels of one forward + backward step, by tf.profile), --no-torch, --no-naive.
 * VERNACULAR_BACKEND picks the backend, as everywhere in the engine.
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core'
import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { type Tf, engineBackend } from '../../main/engine/backend/select'
import { mulberry32 } from '../../main/engine/common/rng'
import { type Gpt2Config, type ModelConfig, parseModelConfig } from '../../main/engine/model/config'
import { CausalLM } from '../../main/engine/model/model'
import { embeddingName } from '../../main/engine/model/names'
import { AdamW } from '../../main/engine/model/optimizer'
import { constantLr } from '../../main/engine/model/schedule'
import { DataParallel, isGradientWorker, parallelBackend, requestedThreads, runGradientWorker } from '../../main/engine/model/parallel'
import { flattenMicroBatch, trainStep } from '../../main/engine/model/train'

const ROOT = resolve(__dirname, '../..')
const PYTHON = '/usr/bin/python3'

const CONFIGS: Record<string, Record<string, unknown>> = {
  gpt2: { model_type: 'gpt2', n_embd: 256, n_layer: 4, n_head: 4, n_positions: 256, vocab_size: 4096 },
  llama: {
    model_type: 'llama',
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 4096,
    max_position_embeddings: 2048,
    tie_word_embeddings: false,
  },
}

const say = (line = '') => process.stdout.write(line + '\n')
const progress = (msg: string) => {
  if (process.stderr.isTTY) process.stderr.write(`  … ${msg}\n`)
}
const n0 = (x: number) => Math.round(x).toLocaleString('en')
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

// ---- options ---------------------------------------------------------------------------------

interface Options {
  batch: number
  seq: number
  steps: number
  naiveSteps: number
  /** PyTorch's steps are ~10× shorter and noisier: more of them. */
  torchSteps: number
  profile: boolean
  torch: boolean
  naive: boolean
  quick: boolean
  /** Threads of the data-parallel rows (all cores unless --threads or VERNACULAR_THREADS says). */
  threads: number
}

function parseArgs(argv: string[]): Options {
  const o: Options = { batch: 8, seq: 128, steps: 5, naiveSteps: 3, torchSteps: 10, profile: false, torch: true, naive: true, quick: false, threads: requestedThreads() }
  const int = (flag: string, v: string | undefined) => {
    const x = Number(v)
    if (!Number.isSafeInteger(x) || x <= 0) throw new Error(`${flag} needs a positive integer (got ${v ?? 'nothing'})`)
    return x
  }
  let steps: number | null = null
  let batch: number | null = null
  let seq: number | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--batch') batch = int(a, argv[++i])
    else if (a === '--seq') seq = int(a, argv[++i])
    else if (a === '--steps') steps = int(a, argv[++i])
    else if (a === '--quick') o.quick = true
    else if (a === '--profile') o.profile = true
    else if (a === '--no-torch') o.torch = false
    else if (a === '--no-naive') o.naive = false
    else if (a === '--threads') o.threads = int(a, argv[++i])
    else throw new Error(`unknown flag ${a} (flags: --batch N --seq N --steps N --threads N --quick --profile --no-torch --no-naive)`)
  }
  if (o.quick) {
    o.batch = 2
    o.seq = 32
    o.steps = 2
  }
  o.batch = batch ?? o.batch
  o.seq = seq ?? o.seq
  o.steps = steps ?? o.steps
  // The naive GPT-2's backward pass is an order of magnitude slower on wasm: fewer timed steps.
  o.naiveSteps = Math.min(o.steps, 3)
  o.torchSteps = o.quick ? o.steps : Math.max(o.steps, 10)
  return o
}

// ---- data and timing -------------------------------------------------------------------------

/** Random ids [batch, seq + 1] → inputs [batch, seq] and next-token targets [batch, seq]. */
function randomBatch(tf: Tf, vocab: number, batch: number, seq: number, seed: number): { inputs: Tensor2D; targets: Tensor2D } {
  const rand = mulberry32(seed)
  const inputs = new Int32Array(batch * seq)
  const targets = new Int32Array(batch * seq)
  for (let b = 0; b < batch; b++) {
    let prev = Math.floor(rand() * vocab)
    for (let t = 0; t < seq; t++) {
      const next = Math.floor(rand() * vocab)
      inputs[b * seq + t] = prev
      targets[b * seq + t] = next
      prev = next
    }
  }
  return { inputs: tf.tensor2d(inputs, [batch, seq], 'int32'), targets: tf.tensor2d(targets, [batch, seq], 'int32') }
}

interface Timing {
  seconds: number[]
  tokPerSec: number
  /** Tensors left behind per step (should be 0). */
  leaked: number
}

/** One untimed warm-up call, then `steps` timed calls; each call must dispose what it makes and wait for its results. */
async function timeSteps(tf: Tf, steps: number, tokens: number, step: () => Promise<void>): Promise<Timing> {
  await step()
  const before = tf.memory().numTensors
  const seconds: number[] = []
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now()
    await step()
    seconds.push((performance.now() - t0) / 1000)
  }
  return { seconds, tokPerSec: tokens / median(seconds), leaked: (tf.memory().numTensors - before) / steps }
}

/**
 * Two ways of doing the same step timed in turns (a, b, a, b, …) after `warm` untimed calls of
 * each, so that both see the same load on a shared machine and the same warm-up of the wasm
 * code (worker threads start with V8's baseline code, see docs/performance.md).
 */
async function timePairs(tf: Tf, steps: number, tokens: number, a: () => Promise<void>, b: () => Promise<void>, warm = 2): Promise<[Timing, Timing]> {
  for (let i = 0; i < warm; i++) {
    await a()
    await b()
  }
  const before = tf.memory().numTensors
  const sa: number[] = []
  const sb: number[] = []
  for (let i = 0; i < steps; i++) {
    for (const [f, out] of [
      [a, sa],
      [b, sb],
    ] as const) {
      const t0 = performance.now()
      await f()
      out.push((performance.now() - t0) / 1000)
    }
  }
  const leaked = (tf.memory().numTensors - before) / steps
  return [
    { seconds: sa, tokPerSec: tokens / median(sa), leaked },
    { seconds: sb, tokPerSec: tokens / median(sb), leaked },
  ]
}

type LossFn = () => Scalar

/**
 * Forward + backward for every trainable variable; waits for the loss and for the input
 * embeddings' gradient, the last one backprop finishes (so asynchronous backends are timed whole).
 */
function fwdBwdStep(tf: Tf, loss: LossFn, embedding: Variable): () => Promise<number> {
  return async () => {
    const { value, grads } = tf.variableGrads(loss)
    const v = (await value.data())[0]!
    await grads[embedding.name]?.data()
    value.dispose()
    for (const g of Object.values(grads)) g.dispose()
    return v
  }
}

// ---- naive tfjs GPT-2 ------------------------------------------------------------------------

/**
 * The GPT-2 forward pass written the obvious way with tfjs's own ops and gradients, on the
 * engine model's variables: matMul (plain for the projections, `transposeB` for the tied head),
 * `tf.gather` for the token embeddings, or a one-hot matMul where the backend lacks the
 * `UnsortedSegmentSum` kernel gather's gradient needs (wasm). Returns hidden · wteᵀ as [B·T, V].
 */
function naiveGpt2Logits(tf: Tf, c: Gpt2Config, p: (name: string) => Tensor, ids: Tensor2D, oneHotEmbed: boolean): Tensor2D {
  const [B, T] = ids.shape
  const D = c.hiddenSize
  const H = c.numHeads
  const hd = c.headDim
  const w1 = (name: string) => p(name) as Tensor1D
  const w2 = (name: string) => p(name) as Tensor2D
  const wte = w2('wte.weight')
  const flat = tf.reshape(ids, [-1]) as Tensor1D
  // wasm's float32 OneHot is broken in tfjs 4.22 (see ops.ts): one-hot as int32, then cast.
  const tok = oneHotEmbed ? tf.matMul(tf.cast(tf.oneHot(flat, c.vocabSize), 'float32') as Tensor2D, wte) : tf.gather(wte, flat)
  let x: Tensor = tf.add(tf.reshape(tok, [B, T, D]), tf.slice(w2('wpe.weight'), [0, 0], [T, D]))
  const maskData = new Float32Array(T * T)
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -1e30
  const mask = tf.tensor2d(maskData, [T, T])
  const ln = (t: Tensor, g: string, b: string) => {
    const mean = tf.mean(t, -1, true)
    const centered = tf.sub(t, mean)
    const variance = tf.mean(tf.square(centered), -1, true)
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, c.layerNormEps))), w1(g)), w1(b))
  }
  const lin = (t: Tensor, w: string, b: string) => {
    const W = w2(w)
    const y = tf.add(tf.matMul(tf.reshape(t, [-1, W.shape[0]]) as Tensor2D, W), w1(b))
    return tf.reshape(y, [B, T, W.shape[1]])
  }
  const gelu = (t: Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(tf.tanh(tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1))
  const heads = (t: Tensor) => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3])
  for (let i = 0; i < c.numLayers; i++) {
    const l = `h.${i}.`
    const a = ln(x, l + 'ln_1.weight', l + 'ln_1.bias')
    const [q, k, v] = tf.split(lin(a, l + 'attn.c_attn.weight', l + 'attn.c_attn.bias'), 3, 2) as [Tensor, Tensor, Tensor]
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), 1 / Math.sqrt(hd)), mask))
    const y = tf.reshape(tf.transpose(tf.matMul(att, heads(v)), [0, 2, 1, 3]), [B, T, D])
    x = tf.add(x, lin(y, l + 'attn.c_proj.weight', l + 'attn.c_proj.bias'))
    const m = ln(x, l + 'ln_2.weight', l + 'ln_2.bias')
    x = tf.add(x, lin(gelu(lin(m, l + 'mlp.c_fc.weight', l + 'mlp.c_fc.bias')), l + 'mlp.c_proj.weight', l + 'mlp.c_proj.bias'))
  }
  const h = tf.reshape(ln(x, 'ln_f.weight', 'ln_f.bias'), [B * T, D]) as Tensor2D
  return tf.matMul(h, wte, false, true)
}

function naiveGpt2Loss(tf: Tf, model: CausalLM, inputs: Tensor2D, targets: Tensor2D, oneHotEmbed: boolean): Scalar {
  const c = model.config as Gpt2Config
  const logits = naiveGpt2Logits(tf, c, (name) => model.param(name), inputs, oneHotEmbed)
  const labels = tf.cast(tf.oneHot(tf.reshape(targets, [-1]) as Tensor1D, c.vocabSize), 'float32') as Tensor2D
  return tf.losses.softmaxCrossEntropy(labels, logits) as Scalar
}

// ---- profile ---------------------------------------------------------------------------------

interface KernelRow {
  name: string
  ms: number
  calls: number
}

interface Profile {
  rows: KernelRow[]
  /** BatchMatMul calls grouped by operand shapes. */
  matMuls: KernelRow[]
  /** BatchMatMul time in 2-D products (projections, head) and in batched ones (attention). */
  matMulSplit: { plainMs: number; plainCalls: number; batchedMs: number; batchedCalls: number }
  totalMs: number
  wallMs: number
}

async function profileStep(tf: Tf, loss: LossFn): Promise<Profile> {
  const t0 = performance.now()
  const info = await tf.profile(async () => {
    const { value, grads } = tf.variableGrads(loss)
    await value.data()
    value.dispose()
    for (const g of Object.values(grads)) g.dispose()
  })
  const wallMs = performance.now() - t0
  const byName = new Map<string, KernelRow>()
  const byShape = new Map<string, KernelRow>()
  const matMulSplit = { plainMs: 0, plainCalls: 0, batchedMs: 0, batchedCalls: 0 }
  let totalMs = 0
  const backend = tf.getBackend()
  for (const k of info.kernels) {
    // tf.customGrad ops (the engine's, and softmaxCrossEntropy's) are profiled as a wrapper
    // ("forward") around kernels that are profiled too: count only registered kernels.
    if (!tf.getKernel(k.name, backend)) continue
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
    const row = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 }
    row.ms += ms
    row.calls++
    totalMs += ms
    byName.set(k.name, row)
    if (k.name === 'BatchMatMul') {
      const batched = k.inputShapes.some((sh) => sh.length > 2)
      if (batched) {
        matMulSplit.batchedMs += ms
        matMulSplit.batchedCalls++
      } else {
        matMulSplit.plainMs += ms
        matMulSplit.plainCalls++
      }
      // By operand shapes (transpose flags are not recorded; the shapes mostly tell them).
      const key = k.inputShapes.map((sh) => `[${sh.join(',')}]`).join('·')
      const m = byShape.get(key) ?? { name: key, ms: 0, calls: 0 }
      m.ms += ms
      m.calls++
      byShape.set(key, m)
    }
  }
  const sorted = (m: Map<string, KernelRow>) => [...m.values()].sort((a, b) => b.ms - a.ms)
  return { rows: sorted(byName), matMuls: sorted(byShape), matMulSplit, totalMs, wallMs }
}

function printProfile(title: string, p: Profile, top = 8): void {
  const line = (label: string, r: KernelRow, width: number) =>
    `${label.padEnd(width)} ${n0(r.ms).padStart(7)} ms  ${((100 * r.ms) / Math.max(p.totalMs, 1e-9)).toFixed(1).padStart(5)}%  ${String(r.calls).padStart(4)} calls`
  say(`  ${title}: kernels ${n0(p.totalMs)} ms of a ${n0(p.wallMs)} ms profiled step`)
  for (const r of p.rows.slice(0, top)) say(`    ${line(r.name, r, 24)}`)
  const ms = p.matMulSplit
  say(`    BatchMatMul: 2-D (projections, head, one-hot) ${n0(ms.plainMs)} ms in ${ms.plainCalls} calls; batched (attention) ${n0(ms.batchedMs)} ms in ${ms.batchedCalls} calls`)
  say(`    BatchMatMul by operand shapes:`)
  for (const r of p.matMuls.slice(0, 6)) say(`      ${line(r.name, r, 30)}`)
}

// ---- PyTorch ---------------------------------------------------------------------------------

interface TorchModel {
  params: number
  fwd_tok_s: number
  fwdbwd_tok_s: number
  fwd_s: number[]
  fwdbwd_s: number[]
}
interface TorchResult {
  torch: string
  intra_op_threads: number
  blas: string
  blas_threads: number | null
  models: Record<string, TorchModel>
}

function childEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) }
  // Debian's OpenBLAS picks a slow reference kernel when these are set (docs/performance.md, "The reference: PyTorch on the same machine").
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  return env
}

function runTorch(o: Options, threads: number): TorchResult | string {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', env: childEnv(threads) })
  if (probe.error) return `${PYTHON} cannot be run (${probe.error.message})`
  if (probe.status !== 0) return `${PYTHON} -c "import torch" failed: ${(probe.stderr || '').trim().split('\n').pop() ?? ''}`
  const args = [join(ROOT, 'test', 'bench', 'model_reference.py'), '--batch', String(o.batch), '--seq', String(o.seq), '--steps', String(o.torchSteps)]
  args.push('--configs', JSON.stringify(CONFIGS))
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: childEnv(threads), maxBuffer: 16 * 1024 * 1024 })
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last.startsWith('{')) return `model_reference.py failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().slice(-600)}`
  return JSON.parse(last) as TorchResult
}

// ---- main ------------------------------------------------------------------------------------

interface Row {
  name: string
  params: number
  paramCount: number
  /** Tensors still allocated after model.dispose() that the model made. */
  modelLeft: number
  fwd: Timing
  fb: Timing
  /** A whole `trainStep` (clipping and AdamW included). */
  train: Timing
  naiveFwd?: Timing
  naiveFb?: Timing
  naiveLossDiff?: number
  naiveEmbed?: string
  /** Data-parallel on `threads` threads (parallel.ts): fwd+bwd with the gradients summed here, and whole training steps. */
  all?: { threads: number; fb: Timing; train: Timing; lossDiff: number }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const { tf, report } = await engineBackend()
  const threads = cpus().length
  const tokens = o.batch * o.seq
  const hasSegmentSum = !!tf.getKernel('UnsortedSegmentSum', tf.getBackend())
  const rows: Row[] = []
  const profiles: { title: string; p: Profile }[] = []
  const t00 = performance.now()

  for (const [name, raw] of Object.entries(CONFIGS)) {
    const config: ModelConfig = parseModelConfig(raw, `<bench ${name}>`)
    if (o.seq > config.maxPositions) throw new Error(`--seq ${o.seq} is longer than ${name} takes (${config.maxPositions})`)
    const tensorsBefore = tf.memory().numTensors
    const model = CausalLM.init(tf, config, 1)
    const params = [...model.params.values()].reduce((a, v) => a + v.size, 0)
    const { inputs, targets } = randomBatch(tf, config.vocabSize, o.batch, o.seq, 7)
    const emb = model.params.get(embeddingName(config))!

    progress(`${name}: forward`)
    const fwd = await timeSteps(tf, o.steps, tokens, async () => {
      const l = model.logits(inputs)
      await l.data()
      l.dispose()
    })
    progress(`${name}: forward + backward`)
    const engineLoss: LossFn = () => model.loss(inputs, targets)
    const fbStep = fwdBwdStep(tf, engineLoss, emb)
    // Every core: the rows split among worker threads (this bundle is their script, see the end),
    // timed in turns with one thread.
    const dp = o.threads > 1 && parallelBackend(tf) ? await DataParallel.start(model, { threads: o.threads, script: __filename }) : null
    let fb: Timing
    let allFb: Timing | null = null
    let lossDiff = 0
    if (dp) {
      progress(`${name}: forward + backward, 1 and ${dp.threads} threads in turns`)
      const flat = flattenMicroBatch({ inputs, targets }, config.vocabSize, config.maxPositions)
      const names = [...model.params.keys()]
      const one = tf.tidy(engineLoss)
      let last = 0
      ;[fb, allFb] = await timePairs(
        tf,
        o.steps,
        tokens,
        async () => void (await fbStep()),
        async () => {
          const r = await dp.gradients(model, flat, names)
          await r.grads.get(embeddingName(config))?.data()
          tf.dispose([...r.grads.values()])
          last = r.loss
        },
      )
      lossDiff = Math.abs(last - (await one.data())[0]!)
      one.dispose()
    } else fb = await timeSteps(tf, o.steps, tokens, async () => void (await fbStep()))
    const row: Row = { name, params, paramCount: model.params.size, modelLeft: 0, fwd, fb, train: fb }

    if (o.naive && config.arch === 'gpt2') {
      const oneHot = !hasSegmentSum
      row.naiveEmbed = oneHot ? 'one-hot matMul (no UnsortedSegmentSum kernel for gather’s gradient)' : 'tf.gather'
      const naiveLoss: LossFn = () => naiveGpt2Loss(tf, model, inputs, targets, oneHot)
      const a = tf.tidy(engineLoss)
      const b = tf.tidy(naiveLoss)
      row.naiveLossDiff = Math.abs((await a.data())[0]! - (await b.data())[0]!)
      a.dispose()
      b.dispose()
      progress(`${name}: naive tfjs forward`)
      row.naiveFwd = await timeSteps(tf, o.naiveSteps, tokens, async () => {
        const l = tf.tidy(() => naiveGpt2Logits(tf, config, (p) => model.param(p), inputs, oneHot))
        await l.data()
        l.dispose()
      })
      progress(`${name}: naive tfjs forward + backward`)
      const naiveStep = fwdBwdStep(tf, naiveLoss, emb)
      row.naiveFb = await timeSteps(tf, o.naiveSteps, tokens, async () => void (await naiveStep()))
      if (o.profile) profiles.push({ title: `${name}, naive tfjs, fwd+bwd`, p: await profileStep(tf, naiveLoss) })
    }
    if (o.profile) profiles.push({ title: `${name}, engine, fwd+bwd`, p: await profileStep(tf, engineLoss) })

    // Last, since it changes the weights: whole training steps (the warm-up step creates AdamW's moments).
    progress(`${name}: training step`)
    const opt = new AdamW(tf, model, { lr: 1e-4, weightDecay: 0.1 })
    const microBatches = [{ inputs, targets }]
    const single = async () => void (await trainStep(model, microBatches, opt, constantLr(1e-4)))
    if (dp && allFb) {
      // In turns with one thread; each with its own AdamW (the weights they update are the same).
      const optAll = new AdamW(tf, model, { lr: 1e-4, weightDecay: 0.1 })
      const [train1, trainAll] = await timePairs(tf, o.steps, tokens, single, async () => void (await trainStep(model, microBatches, optAll, constantLr(1e-4), { parallel: dp })), 1)
      row.train = train1
      optAll.dispose()
      await dp.dispose()
      row.all = { threads: dp.threads, fb: allFb, train: trainAll, lossDiff }
    } else row.train = await timeSteps(tf, o.steps, tokens, single)
    opt.dispose()

    rows.push(row)
    inputs.dispose()
    targets.dispose()
    model.dispose()
    row.modelLeft = tf.memory().numTensors - tensorsBefore
  }
  const tfjsSeconds = (performance.now() - t00) / 1000

  let torch: TorchResult | string = 'skipped (--no-torch)'
  if (o.torch) {
    progress('PyTorch reference')
    torch = runTorch(o, threads)
  }

  // ---- report
  const fmt = (x: number | undefined) => (x === undefined ? '–' : n0(x))
  const ratio = (a: number, b: number | undefined) => (b === undefined ? '–' : `${(a / b).toFixed(2)}×`)
  say(`model bench: batch ${o.batch} × seq ${o.seq} = ${n0(tokens)} tokens a step; median of ${o.steps} timed steps after 1 warm-up (naive tfjs: ${o.naiveSteps}, PyTorch: ${o.torchSteps}); float32`)
  say(`backend: ${report.name} (tfjs '${report.tfBackend}') — ${report.why}`)
  const ok = report.attempts.find((a) => a.name === report.name && a.ok)
  if (ok) say(`  ${ok.reason}`)
  if (typeof torch === 'string') say(`PyTorch reference: ${torch}`)
  else {
    say(`PyTorch reference: torch ${torch.torch} on the CPU (test/bench/model_reference.py); BLAS ${torch.blas}`)
    say(`  with ${torch.blas_threads ?? '?'} BLAS threads and ${torch.intra_op_threads} torch intra-op thread(s); tfjs-wasm runs on one thread, the engine on ${o.threads} (rows split among worker threads, model/parallel.ts)`)
  }
  say(`machine: ${threads} CPUs (${cpus()[0]?.model.trim() ?? '?'}), ${process.platform} ${process.arch}, Node ${process.versions.node}`)
  say('')
  const header = ['model', 'params', 'backend', 'threads', 'fwd tok/s', 'fwd+bwd tok/s', 'train step tok/s', 'PyTorch fwd', 'PyTorch fwd+bwd', 'fwd vs PT', 'fwd+bwd vs PT', 'naive fwd', 'naive fwd+bwd', 'fwd vs naive', 'fwd+bwd vs naive']
  const table: string[][] = [header]
  for (const r of rows) {
    const pt = typeof torch === 'string' ? undefined : torch.models[r.name]
    table.push([
      r.name,
      `${(r.params / 1e6).toFixed(2)}M`,
      report.name,
      '1',
      fmt(r.fwd.tokPerSec),
      fmt(r.fb.tokPerSec),
      fmt(r.train.tokPerSec),
      fmt(pt?.fwd_tok_s),
      fmt(pt?.fwdbwd_tok_s),
      ratio(r.fwd.tokPerSec, pt?.fwd_tok_s),
      ratio(r.fb.tokPerSec, pt?.fwdbwd_tok_s),
      fmt(r.naiveFwd?.tokPerSec),
      fmt(r.naiveFb?.tokPerSec),
      ratio(r.fwd.tokPerSec, r.naiveFwd?.tokPerSec),
      ratio(r.fb.tokPerSec, r.naiveFb?.tokPerSec),
    ])
    if (r.all) {
      const a = r.all
      table.push([r.name, `${(r.params / 1e6).toFixed(2)}M`, report.name, String(a.threads), '–', fmt(a.fb.tokPerSec), fmt(a.train.tokPerSec), fmt(pt?.fwd_tok_s), fmt(pt?.fwdbwd_tok_s), '–', ratio(a.fb.tokPerSec, pt?.fwdbwd_tok_s), '–', '–', '–', '–'])
    }
  }
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)))
  for (const [k, t] of table.entries()) {
    say(t.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    if (k === 0) say(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  say('')
  say('ratios are ours ÷ theirs (above 1× = the engine is faster); "naive" = the same GPT-2 with tfjs’s own gradients, on the same backend')
  for (const r of rows) {
    const list = (xs: number[]) => xs.map((s) => s.toFixed(2)).join(', ')
    const secs = (t: Timing) => list(t.seconds)
    say(`${r.name}: step seconds — fwd ${secs(r.fwd)}; fwd+bwd ${secs(r.fb)}; train step ${secs(r.train)}${r.naiveFb ? `; naive fwd ${secs(r.naiveFwd!)}; naive fwd+bwd ${secs(r.naiveFb)}` : ''}`)
    if (r.all) say(`  on ${r.all.threads} threads (data-parallel rows): fwd+bwd ${secs(r.all.fb)}; train step ${secs(r.all.train)}; its loss differs from one thread's by ${r.all.lossDiff.toExponential(1)}`)
    const pt = typeof torch === 'string' ? undefined : torch.models[r.name]
    if (pt) {
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`
      say(`  PyTorch step seconds (min–max of ${pt.fwd_s.length}): fwd ${range(pt.fwd_s)}; fwd+bwd ${range(pt.fwdbwd_s)}`)
    }
    if (pt && pt.params !== r.params) say(`  WARNING: PyTorch's ${r.name} has ${n0(pt.params)} parameters, ours ${n0(r.params)}: the architectures differ`)
    if (r.naiveFb) say(`  naive tfjs: embeddings by ${r.naiveEmbed}; its loss differs from the engine's by ${r.naiveLossDiff!.toExponential(1)}`)
    const leaks = [r.fwd, r.fb, r.train, r.naiveFwd, r.naiveFb, r.all?.fb, r.all?.train].filter((t) => t && t.leaked !== 0)
    if (leaks.length) say(`  WARNING: tensors leaked per step: ${leaks.map((t) => t!.leaked).join(', ')}`)
    else say(`  no tensors leaked per step (tf.memory().numTensors flat across the timed steps)`)
    if (r.modelLeft !== 0) {
      say(`  WARNING: ${r.modelLeft} tensors still allocated after model.dispose() (the model has ${r.paramCount} parameter tensors)`)
    }
  }
  say(`tfjs part took ${tfjsSeconds.toFixed(0)} s`)
  if (profiles.length) {
    say('')
    say('profile (tf.profile, one fwd+bwd step; kernel times as the backend reports them):')
    for (const { title, p } of profiles) printProfile(title, p)
  }
}

// This bundle is also the data-parallel worker threads' script.
if (isGradientWorker()) void runGradientWorker()
else {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  })
}
