/**
 * bench:data — the data path at scale: a Hungarian corpus of BENCH_GB gigabytes (default 2) through
 * ingest, vocabulary learning (+25,000 tokens, BENCH_TOKENS) and tokenising into token files, each
 * timed in a child process of its own (so that its peak RSS is its own), beside a named reference
 * on the same text on the same machine:
 *
 *   ingest      readline + NFC (the floor any ingest pays in Node), one thread
 *   learning    Hugging Face `tokenizers`' BpeTrainer (Rust; the npm package's `train` with its
 *               defaults, a ByteLevel pre-tokenizer as the base tokenizer has) on a seeded sample of
 *               the corpus as large as the text our learner counts (MB/s of that text)
 *   tokenising  Hugging Face `encodeBatch` with the same tokenizer.json on the same documents (the
 *               first BENCH_REF_MB, default 256: it runs at a few MB/s)
 *
 * Each line prints MB/s and peak RSS, and the ratio to the reference. The corpus is generated once
 * from the demo text (resources/demo/corpora/hu): documents of 3–10 demo lines in a seeded random
 * order, so documents practically never repeat but the words are the demo's (about 110k distinct
 * words): the vocabulary learner sees a corpus whose distinct words stop growing early, which real
 * text does not. BENCH_DIR keeps the corpus (and the work) between runs; VERNACULAR_THREADS sets
 * the threads of our side (default: every core). `--phase ingest|learn|tokenise` runs one phase
 * on the corpus and project BENCH_DIR holds.
 */
import { spawnSync } from 'node:child_process'
import { createReadStream, createWriteStream, existsSync, mkdtempSync, promises as fs, statSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { Tokenizer as HfTokenizer, BPE, byteLevelPreTokenizer } from 'tokenizers'
import { mulberry32 } from '../../main/engine/common/rng'
import { generateHungarian } from './hungarian'
import { engineThreadTask, setThreadScript, threadCount } from '../../main/engine/common/threads'
import { ingestCorpus } from '../../main/engine/corpus/ingest'
import { INGEST_TASK, runIngestWorker } from '../../main/engine/corpus/workers'
import { JobManager } from '../../main/engine/jobs/manager'
import { createProject } from '../../main/engine/project/projects'
import { projectExtend, setBaseTokenizer } from '../../main/engine/tokenizer/project'
import { prepareTokenData } from '../../main/engine/training/data'
import { TOKENISE_TASK, runTokeniseThread } from '../../main/engine/training/tokenise'

const ROOT = resolve(__dirname, '../..')
const MB = 1024 * 1024
const BASE_TOKENIZER = join(ROOT, 'resources', 'demo', 'base', 'tokenizer.json')
const now = () => performance.now() / 1000
const rssMb = () => process.resourceUsage().maxRSS / 1024

interface PhaseResult {
  seconds: number
  bytes: number
  peakRssMb: number
  note?: string
}

// ---- the corpus --------------------------------------------------------------------------------


// ---- our phases (children) ---------------------------------------------------------------------

async function ingestPhase(work: string, file: string): Promise<PhaseResult> {
  const projectDir = join(work, 'project')
  await fs.rm(projectDir, { recursive: true, force: true })
  await createProject({ dir: projectDir, name: 'Bench', language: 'hu' })
  setThreadScript(__filename)
  const jobs = new JobManager({ logDir: join(work, 'logs') })
  const t0 = now()
  const job = jobs.start({ kind: 'ingest', title: 'bench', projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role: 'target', paths: [file] }) })
  const final = await jobs.wait(job.id)
  if (final.state !== 'done') throw new Error(`ingest ${final.state}: ${final.error?.message}`)
  return { seconds: now() - t0, bytes: statSync(file).size, peakRssMb: rssMb(), note: `${threadCount()} threads` }
}

async function learnPhase(work: string, count: number): Promise<PhaseResult> {
  const projectDir = join(work, 'project')
  await setBaseTokenizer(projectDir, BASE_TOKENIZER)
  await fs.rm(join(projectDir, 'tokenizer', `add-${count}`), { recursive: true, force: true })
  const t0 = now()
  const r = await projectExtend(projectDir, 'add', count, { progress: () => undefined, log: () => undefined, signal: new AbortController().signal })
  // MB/s of the text counted (a sample of a large corpus), so that the reference trains on as much.
  return { seconds: now() - t0, bytes: r.corpus.bytes, peakRssMb: rssMb(), note: `${r.added.toLocaleString('en')} tokens; a ${(corpusBytes(work) / MB).toFixed(0)} MB corpus, ${(r.corpus.bytes / MB).toFixed(0)} MB counted (${r.corpus.distinctWords.toLocaleString('en')} distinct words) in ${r.seconds.count.toFixed(1)} s, learned in ${r.seconds.learn.toFixed(1)} s` }
}

function corpusBytes(work: string): number {
  return statSync(join(work, 'corpus.txt')).size
}

async function tokenisePhase(work: string, count: number): Promise<PhaseResult> {
  const projectDir = join(work, 'project')
  await fs.rm(join(projectDir, 'data'), { recursive: true, force: true })
  setThreadScript(__filename)
  const threads = threadCount()
  const t0 = now()
  const data = await prepareTokenData(projectDir, join(projectDir, 'tokenizer', `add-${count}`, 'tokenizer.json'), { threads })
  const seconds = now() - t0
  const bytes = data.roles.target!.bytes
  return { seconds, bytes, peakRssMb: rssMb(), note: `${threads} threads, ${data.roles.target!.tokens.toLocaleString('en')} tokens` }
}

// ---- references (children) ---------------------------------------------------------------------

async function refIngest(file: string): Promise<PhaseResult> {
  const t0 = now()
  let chars = 0
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  for await (const line of rl) chars += line.normalize('NFC').length
  if (chars < 0) throw new Error('unreachable')
  return { seconds: now() - t0, bytes: statSync(file).size, peakRssMb: rssMb(), note: 'one thread' }
}

/** A seeded sample of whole documents of the corpus, about `bytes` long, for the reference trainer. */
async function writeSample(file: string, out: string, bytes: number): Promise<number> {
  const total = statSync(file).size
  const keep = Math.min(1, bytes / total)
  const rand = mulberry32(5)
  const w = createWriteStream(out)
  let written = 0
  let doc: string[] = []
  const flush = async () => {
    if (doc.length && rand() < keep) {
      const text = doc.join('\n') + '\n'
      written += Buffer.byteLength(text)
      if (!w.write(text)) await new Promise<void>((r) => w.once('drain', () => r()))
    }
    doc = []
  }
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line.trim() === '') await flush()
    else doc.push(line)
  }
  await flush()
  await new Promise<void>((r) => w.end(() => r()))
  return written
}

/** HF's BpeTrainer as its node API offers it: its defaults (a 30,000-token vocabulary learned from bytes). */
function refLearn(sample: string): PhaseResult {
  const tok = new HfTokenizer(BPE.empty())
  tok.setPreTokenizer(byteLevelPreTokenizer(false, true))
  const t0 = now()
  tok.train([sample])
  return { seconds: now() - t0, bytes: statSync(sample).size, peakRssMb: rssMb(), note: `BpeTrainer defaults (30,000 tokens from bytes), ${process.env.RAYON_NUM_THREADS ?? availableParallelism()} threads` }
}

/** HF's encodeBatch over the corpus's documents, up to `limitBytes` of them (it runs at a few MB/s: the ratio is what matters). */
async function refEncode(tokenizerJson: string, file: string, limitBytes: number): Promise<PhaseResult> {
  const tok = HfTokenizer.fromFile(tokenizerJson)
  const opts = { addSpecialTokens: false }
  let batch: string[] = []
  let doc: string[] = []
  let bytes = 0
  let tokens = 0
  const t0 = now()
  const send = async () => {
    for (const e of await tok.encodeBatch(batch, opts)) tokens += e.getIds().length
    batch = []
  }
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (bytes >= limitBytes) break
    if (line.trim() !== '') {
      doc.push(line)
      continue
    }
    if (doc.length) {
      const text = doc.join('\n')
      bytes += Buffer.byteLength(text)
      batch.push(text)
      doc = []
      if (batch.length >= 1000) await send()
    }
  }
  await send()
  return { seconds: now() - t0, bytes, peakRssMb: rssMb(), note: `encodeBatch, ${process.env.RAYON_NUM_THREADS ?? availableParallelism()} threads, ${tokens.toLocaleString('en')} tokens` }
}

// ---- the run -----------------------------------------------------------------------------------

function child(args: string[]): PhaseResult {
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', __filename, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * MB })
  const last = r.stdout.trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`${args[0]} failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)}`)
  return JSON.parse(last) as PhaseResult
}

function line(name: string, ours: PhaseResult, ref: PhaseResult, refName: string, goal: string): string {
  const mbps = (r: PhaseResult) => r.bytes / MB / r.seconds
  return [
    `${name}: ${mbps(ours).toFixed(1)} MB/s (${ours.seconds.toFixed(1)} s for ${(ours.bytes / MB).toFixed(0)} MB${ours.note ? `, ${ours.note}` : ''}), peak RSS ${ours.peakRssMb.toFixed(0)} MB   [goal ${goal}]`,
    `  reference, ${refName}: ${mbps(ref).toFixed(1)} MB/s (${ref.seconds.toFixed(1)} s for ${(ref.bytes / MB).toFixed(0)} MB${ref.note ? `, ${ref.note}` : ''}), peak RSS ${ref.peakRssMb.toFixed(0)} MB`,
    `  ratio ours / reference: ${(mbps(ours) / mbps(ref)).toFixed(2)}× by MB/s`,
  ].join('\n')
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2)
  const count = Number(process.env.BENCH_TOKENS ?? 25_000)
  const phases: Record<string, () => PhaseResult | Promise<PhaseResult>> = {
    ingest: () => ingestPhase(args[0]!, args[1]!),
    learn: () => learnPhase(args[0]!, count),
    tokenise: () => tokenisePhase(args[0]!, count),
    'ref-ingest': () => refIngest(args[0]!),
    'ref-learn': () => refLearn(args[0]!),
    'ref-encode': () => refEncode(args[0]!, args[1]!, Number(args[2]) * MB),
  }
  if (mode && phases[mode]) {
    process.stdout.write(JSON.stringify(await phases[mode]()) + '\n')
    return
  }

  const gb = Number(process.env.BENCH_GB ?? 2)
  const work = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'vernacular-bench-data-'))
  await fs.mkdir(work, { recursive: true })
  const file = join(work, 'corpus.txt')
  if (!existsSync(file) || statSync(file).size < gb * 1024 * MB * 0.999) await generateHungarian(file, gb * 1024 * MB, 11)
  const phase = process.argv.indexOf('--phase') > 0 ? process.argv[process.argv.indexOf('--phase') + 1] : null
  const say = (s: string) => process.stdout.write(s + '\n')
  say(`bench:data on ${(statSync(file).size / MB).toFixed(0)} MB of generated Hungarian; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, our threads ${threadCount()}, load ${loadavg()[0]!.toFixed(2)}`)
  if (!phase || phase === 'ingest') say(line('ingest', child(['ingest', work, file]), child(['ref-ingest', file]), 'readline + NFC', '≥ 40 MB/s, RSS < 1 GB'))
  if (!phase || phase === 'learn') {
    const ours = child(['learn', work])
    const sample = join(work, 'sample.txt')
    // The reference learns on a seeded sample of whole documents as large as the text ours counted.
    const sampleMb = Math.round(ours.bytes / MB)
    if (!existsSync(sample) || Math.abs(statSync(sample).size / MB - sampleMb) > sampleMb * 0.05) await writeSample(file, sample, sampleMb * MB)
    say(line(`learn +${count.toLocaleString('en')} tokens`, ours, child(['ref-learn', sample]), `HF BpeTrainer on a ${sampleMb} MB sample`, '< 60 s, RSS < 2 GB'))
  }
  if (!phase || phase === 'tokenise') {
    const ours = child(['tokenise', work])
    const refMb = Number(process.env.BENCH_REF_MB ?? 256)
    say(line('tokenise into token files', ours, child(['ref-encode', join(work, 'project', 'tokenizer', `add-${count}`, 'tokenizer.json'), file, String(refMb)]), `HF encodeBatch on the first ${refMb} MB`, '≥ 20 MB/s'))
  }
  say(`load after: ${loadavg()[0]!.toFixed(2)}`)
  if (!process.env.BENCH_DIR) await fs.rm(work, { recursive: true, force: true })
}

const thread = engineThreadTask()
if (thread?.task === TOKENISE_TASK) void runTokeniseThread(thread.data)
else if (thread?.task === INGEST_TASK) runIngestWorker()
else
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  })

