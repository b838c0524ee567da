/**
 * bench:eval — how fast the engine scores and generates on the active backend, with the demo base
 * model (resources/demo/base-model: a pretrained GPT-2, d128, 2 layers, 4 heads, an 8,192-token
 * vocabulary, 256 positions):
 *
 * 1. Held-out scoring: the English and the Hungarian demo text (lines of
 *    resources/demo/corpora/<lang>/*.txt, taken from the files in turn, one line from each, until
 *    --tokens tokens), each line a document, scored by `scoreDocuments` (evaluation/heldout.ts) as
 *    the evaluation stage scores held-out text: lm-evaluation-harness's rolling windows after the
 *    BOS, batched by length up to 4,096 ids a forward pass (`scoreWindows`), summed NLL, bits per
 *    byte. Beside it, on the very same windows and batches, three passes timed batch by batch (each
 *    batch's three back to back, so they see the same load):
 *    - the scorer's: what `scoreWindows` does for a batch (`nextTokenNll`, the NLL read back, each
 *      window's sum), on windows made beforehand (no tokenising or word counting in the time);
 *    - bare forward passes: `CausalLM.logits` (body + output head, without the log-softmax and the
 *      gather of `headNll`) and `CausalLM.hidden` (the body alone), each batch forced by reading one
 *      value back; so scorer − logits is the cost of turning logits into NLL, logits − hidden the
 *      output head's product;
 *    - PyTorch (test/bench/eval_reference.py: bench:model's GPT-2 from model_reference.py with our
 *      safetensors weights) scoring the same padded batches the harness's way (log_softmax, gather)
 *      and its bare forward; its total NLL must equal ours within 1e-3 relative (checked, printed).
 *      Run with torch.set_num_threads(--torch-threads, 1) and OpenBLAS on as many threads as there
 *      are CPUs, jemalloc preloaded when Debian's libjemalloc2 is installed (docs/performance.md).
 * 2. Multiple choice: `scoreMultipleChoice` on resources/demo/tasks/en-cloze.jsonl and
 *    hu-cloze.jsonl: items per second, scored (continuation) tokens per second, and ids read per
 *    second (every window's context and continuation go through the model).
 * 3. Generation: greedy `generate` (model/generate.ts) of 64 new tokens after a demo prompt
 *    (resources/demo/prompts.json, en-save-as and hu-save-as, read after the BOS as `sampleText`
 *    reads them; no stop id, so every run makes all 64) with the KV cache against without it (a
 *    full forward pass over the whole sequence per token); both must give the same tokens.
 *
 * Warm-up: each language's held-out scoring runs once untimed first (the first passes run slower
 * while V8 tiers the WebAssembly code up: docs/performance.md, "Warm-up"); after it every kernel
 * has run, so the other passes, multiple choice and generation without the cache are timed from
 * their first run, --reps times each (2); generation with the cache runs once more to warm up and at
 * least 3 times; PyTorch warms up once and runs at least 3 times. Tables give the fastest run, the
 * details every run. Flags: --tokens N (20,000 per language), --reps N, --quick (2,000 tokens, 40
 * items per task, 16 new tokens, 1 rep: a smoke run), --no-torch, --torch-threads N, --profile (the top
 * kernels of one scoring batch by tf.profile). VERNACULAR_BACKEND picks the backend. About 4
 * minutes on 2 cores with wasm.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core'
import { spawnSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type Tf, engineBackend } from '../../main/engine/backend/select'
import { scoreDocuments } from '../../main/engine/evaluation/heldout'
import { scoreMultipleChoice } from '../../main/engine/evaluation/multipleChoice'
import { type ScoredWindow, continuationWindow, encodePair, openScorer, rollingRequestWindows } from '../../main/engine/evaluation/requests'
import { type ChoiceItem, readTask } from '../../main/engine/evaluation/tasks'
import { wordCounter } from '../../main/engine/corpus/words'
import { generate } from '../../main/engine/model/generate'
import type { CausalLM } from '../../main/engine/model/model'
import type { PrefixToken } from '../../main/engine/model/operations'
import { demoPrompts, specialIds } from '../../main/engine/model/samples'
import type { Tokenizer } from '../../main/engine/tokenizer/tokenizer'

const ROOT = resolve(__dirname, '../..')
const DEMO = join(ROOT, 'resources', 'demo')
const MODEL_DIR = join(DEMO, 'base-model')
const PYTHON = '/usr/bin/python3'
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'
/** scoreWindows' default batch budget (ids a forward pass reads, padding included), given explicitly so the bare passes batch alike. */
const BATCH_TOKENS = 4096

const say = (line = '') => process.stdout.write(line + '\n')
const loadText = () => loadavg().map((x) => x.toFixed(2)).join(' ')
const load1 = () => loadavg()[0]!.toFixed(2)
const progress = (msg: string) => process.stderr.write(`  … ${msg} (load ${loadText()})\n`)
const n0 = (x: number) => Math.round(x).toLocaleString('en')
const secs = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ')

// ---- options ---------------------------------------------------------------------------------

interface Options {
  tokens: number
  reps: number
  mcItems: number | null
  newTokens: number
  torch: boolean
  torchThreads: number
  profile: boolean
}

function parseArgs(argv: string[]): Options {
  const o: Options = { tokens: 20000, reps: 2, mcItems: null, newTokens: 64, torch: true, torchThreads: 1, profile: false }
  const int = (flag: string, v: string | undefined) => {
    const x = Number(v)
    if (!Number.isSafeInteger(x) || x <= 0) throw new Error(`${flag} needs a positive integer (got ${v ?? 'nothing'})`)
    return x
  }
  let tokens: number | null = null
  let reps: number | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--tokens') tokens = int(a, argv[++i])
    else if (a === '--reps') reps = int(a, argv[++i])
    else if (a === '--quick') Object.assign(o, { tokens: 2000, reps: 1, mcItems: 40, newTokens: 16 })
    else if (a === '--no-torch') o.torch = false
    else if (a === '--torch-threads') o.torchThreads = int(a, argv[++i])
    else if (a === '--profile') o.profile = true
    else throw new Error(`unknown flag ${a} (flags: --tokens N --reps N --quick --no-torch --torch-threads N --profile)`)
  }
  o.tokens = tokens ?? o.tokens
  o.reps = reps ?? o.reps
  return o
}

// ---- inputs ----------------------------------------------------------------------------------

/** Non-blank lines of a language's demo text files, one from each file in turn, until their tokens reach `budget`. */
async function demoLines(tok: Tokenizer, lang: string, budget: number): Promise<{ lines: string[]; tokens: number; files: string[] }> {
  const dir = join(DEMO, 'corpora', lang)
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.txt')).sort()
  const perFile = await Promise.all(files.map(async (f) => (await fs.readFile(join(dir, f), 'utf8')).split('\n').filter((l) => l.trim() !== '')))
  const lines: string[] = []
  let tokens = 0
  for (let i = 0; tokens < budget && perFile.some((ls) => i < ls.length); i++) {
    for (const ls of perFile) {
      const line = ls[i]
      if (line === undefined || tokens >= budget) continue
      lines.push(line)
      tokens += tok.encode(line).length
    }
  }
  return { lines, tokens, files }
}

/** The batches `scoreWindows` makes of these windows (window indices): by length, stable, each within `budget` ids (its longest × its rows). */
function scoreBatches(windows: readonly ScoredWindow[], budget: number): number[][] {
  const len = (w: number) => windows[w]!.ids.length
  const order = windows.map((_, i) => i).filter((i) => len(i) >= 2)
  order.sort((a, b) => len(a) - len(b))
  const out: number[][] = []
  let i = 0
  while (i < order.length) {
    let j = i + 1
    while (j < order.length && (j - i + 1) * len(order[j]!) <= budget) j++
    out.push(order.slice(i, j))
    i = j
  }
  return out
}

/** A batch's model inputs as `scoreWindows` gives them to `nextTokenNll`: the windows padded with 0 to the longest, all columns but the last. */
function batchInputs(tf: Tf, windows: readonly ScoredWindow[], batch: readonly number[]): Tensor2D {
  const T = windows[batch[batch.length - 1]!]!.ids.length
  const flat = new Int32Array(batch.length * (T - 1))
  batch.forEach((w, r) => flat.set(windows[w]!.ids.slice(0, T - 1), r * (T - 1)))
  return tf.tensor2d(flat, [batch.length, T - 1], 'int32') as Tensor2D
}

const scoredTokens = (windows: readonly ScoredWindow[]) => windows.reduce((s, w) => s + Math.max(0, w.ids.length - 1 - Math.max(0, w.skip)), 0)

// ---- timing ----------------------------------------------------------------------------------

/** One warm-up run (unless `warmUp` is false), then `reps` timed runs (seconds); returns the timed runs and the last result. */
async function timed<T>(reps: number, fn: () => Promise<T>, warmUp = true): Promise<{ s: number[]; result: T }> {
  let result = warmUp ? await fn() : (undefined as T)
  const s: number[] = []
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now()
    result = await fn()
    s.push((performance.now() - t0) / 1000)
  }
  return { s, result }
}

type PassKind = 'scorer' | 'logits' | 'hidden'

interface PairedPasses {
  /** Seconds summed over the batches, per kind of pass. */
  seconds: Record<PassKind, number>
  /** Each window's summed NLL from the scorer's pass (what `scoreWindows` gives), in window order. */
  perWindow: number[]
}

/**
 * The three passes over every batch, back to back per batch (their order rotating with the batch
 * and `round`), so that each sees the same load: `scorer` is what `scoreWindows` does for a batch
 * (the [B, T] ids, `nextTokenNll`, the NLL read back, each window's sum from its `skip`); `logits`
 * and `hidden` are bare passes over the same inputs ([B, T − 1]), `CausalLM.logits` (body + head)
 * and `CausalLM.hidden` (body), each forced by reading one value of it back.
 */
async function pairedPasses(model: CausalLM, windows: readonly ScoredWindow[], batches: readonly number[][], round: number): Promise<PairedPasses> {
  const { tf } = model
  const kinds: PassKind[] = ['scorer', 'logits', 'hidden']
  const seconds: Record<PassKind, number> = { scorer: 0, logits: 0, hidden: 0 }
  const perWindow = windows.map(() => 0)
  for (const [b, batch] of batches.entries()) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(b + round + k) % kinds.length]!
      const t0 = performance.now()
      if (kind === 'scorer') {
        const T = windows[batch[batch.length - 1]!]!.ids.length
        const flat = new Int32Array(batch.length * T)
        batch.forEach((w, r) => flat.set(windows[w]!.ids, r * T))
        const ids = tf.tensor2d(flat, [batch.length, T], 'int32') as Tensor2D
        const out = model.nextTokenNll(ids)
        const data = (await out.data()) as Float32Array
        tf.dispose([ids, out])
        batch.forEach((w, r) => {
          const n = windows[w]!.ids.length - 1
          let sum = 0
          for (let t = Math.min(n, Math.max(0, windows[w]!.skip)); t < n; t++) sum += data[r * (T - 1) + t]!
          perWindow[w] = sum
        })
      } else {
        const ids = batchInputs(tf, windows, batch)
        // One value read back through Gather, not Slice: wasm's Slice copies its whole input into
        // JavaScript first (backend.readSync), ~0.45 s for a 4,096 × 8,192 logits tensor.
        const one = tf.tidy(() => {
          const out = kind === 'logits' ? model.logits(ids) : model.hidden(ids)
          return tf.gather(tf.reshape(out, [-1]), tf.tensor1d([0], 'int32'))
        })
        await one.data()
        tf.dispose([ids, one])
      }
      seconds[kind] += (performance.now() - t0) / 1000
    }
  }
  return { seconds, perWindow }
}

// ---- PyTorch ---------------------------------------------------------------------------------

interface TorchScore {
  torch: string
  intra_op_threads: number
  blas: string
  blas_threads: number | null
  params: number
  tokens: number
  nll: number
  per_window: number[]
  score_s: number[]
  forward_s: number[]
}

function torchEnv(threads: number, alloc: string): NodeJS.ProcessEnv {
  // No __pycache__ left in test/bench by importing model_reference.
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(cpus().length), PYTHONDONTWRITEBYTECODE: '1' }
  // Debian's OpenBLAS picks a slow reference kernel when these are set (docs/performance.md).
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  if (alloc === 'jemalloc') {
    env.LD_PRELOAD = JEMALLOC
    env.MALLOC_CONF = 'dirty_decay_ms:-1,muzzy_decay_ms:-1'
  }
  return env
}

function torchWhyNot(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8', env: torchEnv(1, 'glibc') })
  if (probe.error) return `${PYTHON} cannot be run (${probe.error.message})`
  if (probe.status !== 0) return `${PYTHON} -c "import torch, numpy" failed: ${(probe.stderr || '').trim().split('\n').pop() ?? ''}`
  return null
}

async function runTorch(o: Options, alloc: string, work: string, name: string, windows: readonly ScoredWindow[], batches: readonly number[][]): Promise<TorchScore | string> {
  const file = join(work, `windows-${name}.json`)
  const spec = { batches: batches.map((b) => ({ rows: b.map((w) => windows[w]!.ids), skips: b.map((w) => windows[w]!.skip), index: b })) }
  await fs.writeFile(file, JSON.stringify(spec))
  const args = [join(ROOT, 'test', 'bench', 'eval_reference.py'), '--model', MODEL_DIR, '--windows', file, '--reps', String(Math.max(3, o.reps)), '--intra-op-threads', String(o.torchThreads)]
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: torchEnv(o.torchThreads, alloc), maxBuffer: 64 * 1024 * 1024 })
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last.startsWith('{')) return `eval_reference.py failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().slice(-600)}`
  return JSON.parse(last) as TorchScore
}

// ---- sections --------------------------------------------------------------------------------

interface HeldoutRow {
  lang: string
  documents: number
  windows: number
  batches: number
  tokens: number
  bitsPerByte: number
  nll: number
  scoreDocuments: number[]
  /** The scorer's batches (what scoreWindows does per batch), timed batch by batch beside the bare passes. */
  scorer: number[]
  logits: number[]
  hidden: number[]
  /** Bytes, word counts, tokenising and windowing alone (what scoreDocuments does before scoring). */
  prepare: number
  torch: TorchScore | string
  nllCheck: string
  loadBefore: string
  loadAfter: string
}

async function heldout(o: Options, model: CausalLM, tok: Tokenizer, prefixToken: PrefixToken | null, lang: string, work: string, alloc: string, why: string | null): Promise<HeldoutRow> {
  const loadBefore = load1()
  const prefix = prefixToken?.id ?? null
  const { lines } = await demoLines(tok, lang, o.tokens)
  progress(`held-out ${lang}: ${lines.length} lines, scoreDocuments`)
  const docs = await timed(o.reps, () => scoreDocuments(model, tok, lines, { prefix: prefixToken, lang, batchTokens: BATCH_TOKENS }))
  // The same windows scoreDocuments makes, with the rest of its work before scoring (bytes, word
  // counts), timed alone.
  const t0 = performance.now()
  const words = wordCounter(lang)
  const encoder = new TextEncoder()
  const windows: ScoredWindow[] = []
  let bytes = 0
  let wordCount = 0
  for (const line of lines) {
    bytes += encoder.encode(line).length
    wordCount += words.count(line)
    for (const w of rollingRequestWindows(tok.encode(line), prefix, model.maxSequence)) windows.push(w)
  }
  const prepareWindows = (performance.now() - t0) / 1000
  const batches = scoreBatches(windows, BATCH_TOKENS)
  progress(`held-out ${lang}: ${windows.length} windows in ${batches.length} batches; the scorer's, bare logits and bare hidden passes, batch by batch`)
  const passes: PairedPasses[] = []
  for (let k = 0; k < o.reps; k++) passes.push(await pairedPasses(model, windows, batches, k))
  const s = docs.result
  const perWindow = passes[0]!.perWindow
  let ourNll = 0
  for (const nll of perWindow) ourNll += nll
  if (ourNll !== s.nll || scoredTokens(windows) !== s.tokens || bytes !== s.bytes || wordCount !== s.words) {
    throw new Error(`held-out ${lang}: the windows made here are not scoreDocuments' (NLL ${ourNll} vs ${s.nll}, tokens ${scoredTokens(windows)} vs ${s.tokens})`)
  }
  let torch: TorchScore | string = why ?? ''
  let nllCheck = '–'
  if (!why) {
    progress(`held-out ${lang}: PyTorch on the same batches`)
    torch = await runTorch(o, alloc, work, lang, windows, batches)
    if (typeof torch !== 'string') {
      const rel = Math.abs(torch.nll - s.nll) / Math.abs(s.nll)
      const maxWindow = Math.max(...torch.per_window.map((x, i) => Math.abs(x - (perWindow[i] ?? 0))))
      nllCheck = `${rel <= 1e-3 ? 'OK' : 'FAILED'}: PyTorch Σ NLL ${torch.nll.toFixed(3)} vs ours ${s.nll.toFixed(3)} nats, relative difference ${rel.toExponential(1)} (limit 1e-3); largest per-window difference ${maxWindow.toExponential(1)} nats; tokens ${torch.tokens} vs ${s.tokens}`
      if (rel > 1e-3 || torch.tokens !== s.tokens) process.exitCode = 1
    }
  }
  return {
    lang,
    documents: s.documents,
    windows: windows.length,
    batches: batches.length,
    tokens: s.tokens,
    bitsPerByte: s.bitsPerByte,
    nll: s.nll,
    scoreDocuments: docs.s,
    scorer: passes.map((p) => p.seconds.scorer),
    logits: passes.map((p) => p.seconds.logits),
    hidden: passes.map((p) => p.seconds.hidden),
    prepare: prepareWindows,
    torch,
    nllCheck,
    loadBefore,
    loadAfter: load1(),
  }
}

interface ChoiceRow {
  task: string
  items: number
  choices: number
  scored: number
  read: number
  acc: number
  s: number[]
  loadBefore: string
  loadAfter: string
}

async function multipleChoice(o: Options, model: CausalLM, tok: Tokenizer, prefixToken: PrefixToken | null, lang: string): Promise<ChoiceRow> {
  const loadBefore = load1()
  const prefix = prefixToken?.id ?? null
  const file = join(DEMO, 'tasks', `${lang}-cloze.jsonl`)
  const task = await readTask(file)
  const items: ChoiceItem[] = o.mcItems ? task.items.slice(0, o.mcItems) : task.items
  // The windows choiceLoglikelihoods makes, counted here (outside the time).
  let scored = 0
  let read = 0
  let choices = 0
  for (const item of items) {
    for (const choice of item.choices) {
      const pair = encodePair(tok, item.context, item.delimiter + choice, prefix)
      const w = continuationWindow(pair.context, pair.continuation, model.maxSequence)
      scored += w.ids.length - 1 - w.skip
      read += w.ids.length - 1
      choices++
    }
  }
  progress(`multiple choice ${lang}: ${items.length} items, ${choices} choices`)
  const r = await timed(o.reps, () => scoreMultipleChoice(model, tok, items, { prefix: prefixToken, batchTokens: BATCH_TOKENS, source: file }), false)
  return { task: `${lang}-cloze`, items: items.length, choices, scored, read, acc: r.result.acc, s: r.s, loadBefore, loadAfter: load1() }
}

interface GenerationRow {
  prompt: string
  promptTokens: number
  newTokens: number
  cached: number[]
  full: number[]
  same: boolean
  text: string
  loadBefore: string
  loadAfter: string
}

async function generation(o: Options, model: CausalLM, tok: Tokenizer, promptId: string, lang: string): Promise<GenerationRow> {
  const loadBefore = load1()
  const prompt = (await demoPrompts([lang])).find((p) => p.id === promptId)
  if (!prompt) throw new Error(`resources/demo/prompts.json has no prompt ${promptId}`)
  const special = await specialIds(model, tok)
  const ids = tok.encode(prompt.text)
  if (special.prefix !== null) ids.unshift(special.prefix)
  // No stop ids: every run makes all the new tokens, so the two ways time the same work.
  const run = (cache: boolean) => generate(model, ids, { maxTokens: o.newTokens, vocabLimit: tok.vocabSize, cache })
  progress(`generation ${promptId}: greedy with the KV cache`)
  const cached = await timed(Math.max(3, o.reps), () => run(true))
  progress(`generation ${promptId}: greedy, a full forward pass per token`)
  // Without a warm-up of its own: the held-out passes before have run every kernel it uses.
  const full = await timed(o.reps, () => run(false), false)
  const same = cached.result.tokens.length === full.result.tokens.length && cached.result.tokens.every((t, i) => t === full.result.tokens[i])
  if (!same) process.exitCode = 1
  const text = tok.decode([...ids, ...cached.result.tokens], { skipSpecialTokens: true })
  return {
    prompt: promptId,
    promptTokens: ids.length,
    newTokens: cached.result.tokens.length,
    cached: cached.s,
    full: full.s,
    same,
    text: text.replace(/\s+/g, ' ').slice(0, 160),
    loadBefore,
    loadAfter: load1(),
  }
}

interface KernelRow {
  name: string
  ms: number
  calls: number
}

/** tf.profile of one nextTokenNll over the largest held-out batch: kernel time by kernel name. */
async function profileBatch(model: CausalLM, tok: Tokenizer, prefix: number | null): Promise<{ rows: KernelRow[]; kernelMs: number; wallMs: number; shape: number[] }> {
  const { tf } = model
  const { lines } = await demoLines(tok, 'en', 4000)
  const windows = lines.flatMap((l) => rollingRequestWindows(tok.encode(l), prefix, model.maxSequence))
  const batches = scoreBatches(windows, BATCH_TOKENS)
  const batch = batches.reduce((a, b) => (b.length * windows[b[b.length - 1]!]!.ids.length > a.length * windows[a[a.length - 1]!]!.ids.length ? b : a))
  const T = windows[batch[batch.length - 1]!]!.ids.length
  const flat = new Int32Array(batch.length * T)
  batch.forEach((w, r) => flat.set(windows[w]!.ids, r * T))
  const ids = tf.tensor2d(flat, [batch.length, T], 'int32') as Tensor2D
  try {
    const once = async () => {
      const out = model.nextTokenNll(ids)
      await out.data()
      out.dispose()
    }
    await once()
    const t0 = performance.now()
    const info = await tf.profile(once)
    const wallMs = performance.now() - t0
    const byName = new Map<string, KernelRow>()
    let kernelMs = 0
    const backend = tf.getBackend()
    for (const k of info.kernels) {
      if (!tf.getKernel(k.name, backend)) continue
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
      const row = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 }
      row.ms += ms
      row.calls++
      kernelMs += ms
      byName.set(k.name, row)
    }
    return { rows: [...byName.values()].sort((a, b) => b.ms - a.ms), kernelMs, wallMs, shape: [batch.length, T - 1] }
  } finally {
    tf.dispose(ids as Tensor)
  }
}

// ---- main ------------------------------------------------------------------------------------

function printTable(header: string[], rows: string[][], left: number[] = [0]): void {
  const table = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)))
  for (const [k, t] of table.entries()) {
    say(t.map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    if (k === 0) say(widths.map((w) => '-'.repeat(w)).join('  '))
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  if (!existsSync(join(MODEL_DIR, 'config.json')) || !existsSync(join(MODEL_DIR, 'model.safetensors')) || !existsSync(join(MODEL_DIR, 'tokenizer.json'))) {
    process.stderr.write(`bench:eval needs the demo base model in ${MODEL_DIR} (config.json, model.safetensors, tokenizer.json), and it is missing.\n`)
    process.exit(1)
  }
  const loadStart = loadText()
  const t00 = performance.now()
  const { report } = await engineBackend()
  const { model, tok, prefix } = await openScorer(MODEL_DIR, join(MODEL_DIR, 'tokenizer.json'))
  const why = o.torch ? torchWhyNot() : 'skipped (--no-torch)'
  const alloc = !why && existsSync(JEMALLOC) ? 'jemalloc' : 'glibc'
  const work = await fs.mkdtemp(join(tmpdir(), 'vernacular-bench-eval-'))
  const prefixId = prefix?.id ?? null
  const held: HeldoutRow[] = []
  const mc: ChoiceRow[] = []
  const gen: GenerationRow[] = []
  let profile: Awaited<ReturnType<typeof profileBatch>> | null = null
  try {
    for (const lang of ['en', 'hu']) held.push(await heldout(o, model, tok, prefix, lang, work, alloc, why))
    for (const lang of ['en', 'hu']) mc.push(await multipleChoice(o, model, tok, prefix, lang))
    for (const [id, lang] of [
      ['en-save-as', 'en'],
      ['hu-save-as', 'hu'],
    ] as const)
      gen.push(await generation(o, model, tok, id, lang))
    if (o.profile) {
      progress('tf.profile of one scoring batch')
      profile = await profileBatch(model, tok, prefixId)
    }
  } finally {
    model.dispose()
    await fs.rm(work, { recursive: true, force: true })
  }

  // ---- report
  const best = (xs: number[]) => Math.min(...xs)
  const c = model.config
  say(`eval bench: scoring and generation with the demo base model; ${o.reps} timed run(s) each after a warm-up (tables: the fastest; tok/s = scored tokens ÷ seconds)`)
  say(`backend: ${report.name} (tfjs '${report.tfBackend}') — ${report.why}`)
  say(`machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'}), ${process.platform} ${process.arch}, Node ${process.versions.node}; load average before ${loadStart}, after ${loadText()}`)
  say(`model: ${MODEL_DIR} (GPT-2, d${c.hiddenSize}, ${c.numLayers} layers, ${c.numHeads} heads, vocabulary ${n0(c.vocabSize)}, ${c.maxPositions} positions); prefix ${prefix ? `${prefix.kind} ${prefix.token} (${prefix.id})` : 'none'}; batches of at most ${n0(BATCH_TOKENS)} ids`)
  const t = held.find((h) => typeof h.torch !== 'string')?.torch as TorchScore | undefined
  if (t) say(`PyTorch: torch ${t.torch} (test/bench/eval_reference.py), ${n0(t.params)} parameters; torch.set_num_threads(${t.intra_op_threads}), BLAS ${t.blas} with ${t.blas_threads ?? '?'} threads; allocator ${alloc}${alloc === 'jemalloc' ? ' (LD_PRELOAD)' : ''}`)
  else say(`PyTorch: ${why ?? (held[0]?.torch as string | undefined) ?? '?'}`)
  say('')

  say(`1. Held-out scoring (rolling windows; demo text lines up to ${n0(o.tokens)} tokens per language)`)
  const rate = (tokens: number, xs: number[]) => n0(tokens / best(xs))
  printTable(
    ['lang', 'docs', 'windows', 'batches', 'tokens', 'bits/byte', 'scoreDocuments tok/s', 'scorer batches tok/s', 'bare logits tok/s', 'bare hidden tok/s', 'PyTorch score tok/s', 'PyTorch logits tok/s', 'ours / PyTorch', 'load before → after'],
    held.map((h) => {
      const pt = typeof h.torch === 'string' ? null : h.torch
      return [
        h.lang,
        n0(h.documents),
        n0(h.windows),
        n0(h.batches),
        n0(h.tokens),
        h.bitsPerByte.toFixed(3),
        rate(h.tokens, h.scoreDocuments),
        rate(h.tokens, h.scorer),
        rate(h.tokens, h.logits),
        rate(h.tokens, h.hidden),
        pt ? rate(h.tokens, pt.score_s) : '–',
        pt ? rate(h.tokens, pt.forward_s) : '–',
        pt ? `${(best(pt.score_s) / best(h.scorer)).toFixed(2)}×` : '–',
        `${h.loadBefore} → ${h.loadAfter}`,
      ]
    }),
  )
  say('scorer batches: what scoreWindows does per batch (nextTokenNll, NLL read back, per-window sums), timed batch by batch beside the two bare passes (same batches, same load)')
  say('ours / PyTorch = PyTorch score time ÷ scorer batches time: the same work, prepared windows → summed NLL (above 1× = the engine is faster)')
  for (const h of held) {
    const sd = best(h.scoreDocuments)
    // The breakdown from one round of the paired passes (the one with the fastest scorer), so its parts saw the same load.
    const r = h.scorer.indexOf(best(h.scorer))
    const sc = h.scorer[r]!
    const lg = h.logits[r]!
    const hd = h.hidden[r]!
    const part = (x: number) => `${x.toFixed(2)} s (${((100 * x) / sc).toFixed(0)}%)`
    say(`${h.lang}: scoreDocuments ${secs(h.scoreDocuments)} s; batch by batch: scorer ${secs(h.scorer)} s, bare logits ${secs(h.logits)} s, bare hidden ${secs(h.hidden)} s`)
    say(`  of the scorer's ${sc.toFixed(2)} s: body (hidden) ${part(hd)}, output head product ${part(lg - hd)}, log-softmax + gather + read-back + sums ${part(sc - lg)}; the scorer's overhead over the bare logits pass ${(100 * (sc / lg - 1)).toFixed(0)}%`)
    say(`  scoreDocuments − scorer batches (different runs, so only roughly): ${(sd - best(h.scorer)).toFixed(2)} s; bytes + word counts + tokenising + windows timed alone ${h.prepare.toFixed(2)} s`)
    if (typeof h.torch === 'string') say(`  PyTorch: ${h.torch}`)
    else {
      say(`  PyTorch score ${secs(h.torch.score_s)} s, logits ${secs(h.torch.forward_s)} s; ours / PyTorch: scoreDocuments ${(best(h.torch.score_s) / sd).toFixed(2)}×, bare logits ${(best(h.torch.forward_s) / best(h.logits)).toFixed(2)}×`)
      say(`  NLL check ${h.nllCheck}`)
    }
  }
  say('')

  say('2. Multiple choice (scoreMultipleChoice; every choice one window of context + continuation)')
  printTable(
    ['task', 'items', 'choices', 'scored tokens', 'ids read', 'acc', 'seconds', 'items/s', 'scored tok/s', 'ids read/s', 'load before → after'],
    mc.map((m) => {
      const s = best(m.s)
      return [m.task, n0(m.items), n0(m.choices), n0(m.scored), n0(m.read), m.acc.toFixed(3), s.toFixed(2), (m.items / s).toFixed(1), n0(m.scored / s), n0(m.read / s), `${m.loadBefore} → ${m.loadAfter}`]
    }),
  )
  for (const m of mc) say(`${m.task}: ${secs(m.s)} s`)
  say('')

  say(`3. Generation (greedy, ${o.newTokens} new tokens, no stop id; with the KV cache vs a full forward pass over the sequence per token)`)
  printTable(
    ['prompt', 'prompt tokens', 'new tokens', 'KV cache tok/s', 'full passes tok/s', 'ratio', 'same tokens', 'load before → after'],
    gen.map((g) => [g.prompt, String(g.promptTokens), String(g.newTokens), (g.newTokens / best(g.cached)).toFixed(1), (g.newTokens / best(g.full)).toFixed(1), `${(best(g.full) / best(g.cached)).toFixed(1)}×`, g.same ? 'yes' : 'NO', `${g.loadBefore} → ${g.loadAfter}`]),
  )
  for (const g of gen) say(`${g.prompt}: cached ${secs(g.cached)} s, full ${secs(g.full)} s (prefill included); "${g.text}"`)

  if (profile) {
    say('')
    say(`tf.profile of one nextTokenNll over a [${profile.shape.join(', ')}] batch: kernels ${n0(profile.kernelMs)} ms of ${n0(profile.wallMs)} ms wall`)
    for (const k of profile.rows.slice(0, 8)) say(`  ${k.name.padEnd(20)} ${n0(k.ms).padStart(6)} ms  ${((100 * k.ms) / Math.max(1e-9, profile.kernelMs)).toFixed(1).padStart(5)}%  ${String(k.calls).padStart(4)} calls`)
  }
  say(`took ${((performance.now() - t00) / 1000).toFixed(0)} s`)
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
