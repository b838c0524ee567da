/**
 * bench:corpus — ingest throughput and peak memory on a large corpus generated from the demo
 * Hungarian text (≥ 500 MB by default; BENCH_MB sets the size). Prints MB/s and peak RSS, beside
 * a named reference measured on the same file in the same process: a bare `readline` pass that
 * only NFC-normalises each line (the floor any ingest pays in Node).
 *
 * Threads: every core, or VERNACULAR_THREADS; this bundle is the workers' script too.
 * `--profile` (or BENCH_PROFILE=1) times ingest's phases (seconds summed over the threads).
 */
import { createReadStream, existsSync, mkdtempSync, promises as fs, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ingestCorpus } from '../../main/engine/corpus/ingest'
import { emptyPhases, type PhaseTimes } from '../../main/engine/corpus/pipeline'
import { ingestThreads, isIngestWorker, runIngestWorker } from '../../main/engine/corpus/workers'
import { generateHungarian } from './hungarian'
import { JobManager } from '../../main/engine/jobs/manager'
import { createProject } from '../../main/engine/project/projects'

const MB = 1024 * 1024


async function reference(file: string): Promise<number> {
  const t0 = performance.now()
  let chars = 0
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  for await (const line of rl) chars += line.normalize('NFC').length
  if (chars < 0) throw new Error('unreachable')
  return (performance.now() - t0) / 1000
}

async function main(): Promise<void> {
  const targetMb = Number(process.env.BENCH_MB ?? 500)
  const work = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'vernacular-bench-'))
  const file = join(work, `hu-${targetMb}mb.txt`)
  if (!existsSync(file) || statSync(file).size < targetMb * MB) await generateHungarian(file, targetMb * MB, 7)
  const bytes = statSync(file).size

  const refSeconds = await reference(file)
  const projectDir = join(work, `project-${Date.now()}`)
  await createProject({ dir: projectDir, name: 'Bench', language: 'hu' })
  const jobs = new JobManager({ logDir: join(work, 'logs') })
  let last = 0
  jobs.onChange((j) => {
    const f = j.progress.fraction ?? 0
    if (process.stderr.isTTY && f - last > 0.01) {
      last = f
      process.stderr.write(`\r  ingest ${(f * 100).toFixed(0)}%  ${j.progress.message.slice(0, 60)}   `)
    }
  })
  const profile = process.argv.includes('--profile') || process.env.BENCH_PROFILE === '1' ? emptyPhases() : undefined
  const threads = ingestThreads()
  const load = loadavg()[0] as number
  const t0 = performance.now()
  const job = jobs.start({ kind: 'ingest', title: 'bench', projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role: 'target', paths: [file], workerScript: __filename, ...(profile ? { profile } : {}), ...(process.env.BENCH_RANGE_MB ? { rangeBytes: Number(process.env.BENCH_RANGE_MB) * MB } : {}) }) })
  const final = await jobs.wait(job.id)
  const seconds = (performance.now() - t0) / 1000
  if (process.stderr.isTTY) process.stderr.write('\n')
  if (final.state !== 'done') throw new Error(`ingest ${final.state}: ${final.error?.message}`)
  const stats = final.result as { train: { documents: number }; heldout: { documents: number } }
  const peakRss = process.resourceUsage().maxRSS * 1024
  const mbps = bytes / MB / seconds
  const refMbps = bytes / MB / refSeconds
  const lines = [
    `corpus: ${(bytes / MB).toFixed(0)} MB of Hungarian text, ${(stats.train.documents + stats.heldout.documents).toLocaleString('en')} documents kept`,
    `vernacular ingest (clean, script check, dedupe, split, profile with word counts, write shards): ${seconds.toFixed(1)} s, ${mbps.toFixed(1)} MB/s`,
    `reference, readline + NFC only:                                                     ${refSeconds.toFixed(1)} s, ${refMbps.toFixed(1)} MB/s`,
    `ratio ingest / reference: ${(mbps / refMbps).toFixed(2)}×`,
    `peak RSS of the whole process: ${(peakRss / MB).toFixed(0)} MB (${((100 * peakRss) / bytes).toFixed(1)}% of the corpus size)`,
    `threads: ${threads}; load average (1 min) before / after: ${load.toFixed(2)} / ${(loadavg()[0] as number).toFixed(2)}`,
    `backend: none (ingest is text only); machine: ${process.platform} ${process.arch}, Node ${process.versions.node}`,
  ]
  if (profile) lines.push(...profileLines(profile, seconds))
  process.stdout.write(lines.join('\n') + '\n')
  if (!process.env.BENCH_DIR) await fs.rm(work, { recursive: true, force: true })
}

function profileLines(p: PhaseTimes, seconds: number): string[] {
  const names: Record<keyof PhaseTimes, string> = {
    read: 'read (file → lines → documents, UTF-8 check; decoded only where needed)',
    clean: 'clean, for text that is not clean already (NFC, line breaks, controls, spaces), and its count',
    scripts: 'one pass: clean already?, code points, letters by script, spaced words (and, on bytes, the shard line)',
    hash: 'hash (SHA-1 of the text)',
    serialise: 'records (and, for text read decoded, its JSON string and UTF-8)',
    words: 'word lists for the profile tallies (and the segmenter, unspaced scripts)',
    merge: 'merge (transfer, dedupe, split, shard and reject lines)',
    tally: 'profile word tallies (first 10k documents a split, then 1 in 64)',
    write: 'write (shards, rejects, hashes, fsync)',
    checksum: 'SHA-256 of each file (the job thread, beside the merge)',
  }
  const total = Object.values(p).reduce((a, b) => a + b, 0)
  const out = [`phases (seconds of thread time; ${total.toFixed(1)} s in all over ${seconds.toFixed(1)} s of wall time):`]
  for (const k of Object.keys(names) as (keyof PhaseTimes)[]) out.push(`  ${names[k].padEnd(72)} ${p[k].toFixed(2).padStart(7)} s  ${((100 * p[k]) / total).toFixed(1).padStart(5)}%`)
  return out
}

if (isIngestWorker()) runIngestWorker()
else
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  })
