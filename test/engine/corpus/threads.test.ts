import { promises as fs } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import type { IngestOptions, JobTypes } from '../../../main/engine/contract'
import { cleanSlow, cleanText, isClean } from '../../../main/engine/corpus/clean'
import { ingestCorpus, type IngestRequest } from '../../../main/engine/corpus/ingest'
import { planRanges, processRange, type RangeJob, type RangeResult } from '../../../main/engine/corpus/pipeline'
import { countCharactersIfClean, countCharactersIfCleanUtf8, newScriptCounts } from '../../../main/engine/corpus/scripts'
import { JobManager } from '../../../main/engine/jobs/manager'
import { mulberry32 } from '../../../main/engine/common/rng'
import { engineThreadScript } from '../../helpers/threads'
import { useSuiteTmp, useTmp } from '../../helpers/tmp'
import { HU, project, write } from './helpers'

// Ingest on several threads, and on ranges of one file, writes what one thread writes, byte for
// byte: shards, rejects, hashes, corpus.json (less its time and the random tag in file names).

const tmp = useTmp()
const suiteTmp = useSuiteTmp()
let script = ''
let files: string[] = []
let big = ''

beforeAll(async () => {
  script = await engineThreadScript()
  const src = suiteTmp()
  const rand = mulberry32(11)
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)] as T
  const words = HU.join(' ').split(' ')
  // 12,000 documents: past the 10,000 whose words every profile tallies, so that sampling is hit too.
  const docs: string[] = []
  for (let i = 0; i < 12_000; i++) {
    const n = 6 + Math.floor(rand() * 12)
    const lines = 1 + Math.floor(rand() * 3)
    const doc: string[] = []
    for (let l = 0; l < lines; l++) doc.push(Array.from({ length: n }, () => pick(words)).join(' ') + ` ${i}.${l}`)
    docs.push(doc.join('\n'))
  }
  const blocks: string[] = []
  for (const [i, d] of docs.entries()) {
    blocks.push(i % 37 === 0 ? d.replace(/\n/g, '\r\n') : d)
    if (i % 13 === 0) blocks.push(pick(docs.slice(0, i + 1))) // a duplicate of an earlier document, often in an earlier range
    if (i % 101 === 0) blocks.push('rövid')
    if (i % 211 === 0) blocks.push('Это русский текст, который не проходит проверку письма.')
    if (i % 307 === 0) blocks.push('A\u0301rvi\u0301z  tu\u0308kro\u0308rfu\u0301ro\u0301ge\u0301p\u00a0és „idézet” \t tabulátor \u200b vége')
    if (i % 401 === 0) blocks.push(`  ${d}  `) // the same as `d` once cleaned
  }
  big = await write(src, 'big.txt', blocks.join('\n\n') + '\n')
  const later = docs.slice(0, 3000).map((d, i) => (i % 3 === 0 ? d : `${d} új`)).map((d) => d.replace(/\n/g, ' '))
  files = [
    big,
    await write(src, 'lines.txt', later.join('\n')),
    await write(src, 'more.jsonl', later.map((text, i) => JSON.stringify({ text: i % 4 === 0 ? docs[i * 2] : `${text} még` })).join('\n') + '\n'),
    // larger than the 64 KiB ranges below: one range each, whose records come in parts
    await write(src, 'table.csv', 'id,text\n' + later.slice(0, 1500).map((t, i) => `${i},"${t} csv"`).join('\n')),
    await write(src, 'packed.txt.gz', gzipSync(later.slice(0, 2400).map((t) => `${t} gz`).join('\n'))),
  ]
})

async function run(projectDir: string, paths: string[], req: Partial<IngestRequest>, options: Partial<IngestOptions> = {}) {
  const jobs = new JobManager<JobTypes>({ logDir: join(projectDir, 'logs') })
  const job = jobs.start({ kind: 'ingest', title: 'ingest', projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role: 'target', paths, options, ...req }) })
  const final = await jobs.waitFor(job)
  return { final, log: final.logFile ? await fs.readFile(final.logFile, 'utf8') : '' }
}

/** Every file ingest wrote, the random tag in names and the time taken out. */
async function output(projectDir: string): Promise<Record<string, string>> {
  const base = join(projectDir, 'corpora', 'target')
  const out: Record<string, string> = {}
  const untag = (s: string) => s.replace(/([0-9a-f]{10})-[0-9a-f]{6}/g, '$1-TAG')
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (!e.name.startsWith('.vernacular')) {
        let content = (await fs.readFile(p)).toString('base64')
        if (e.name === 'corpus.json') content = untag((await fs.readFile(p, 'utf8')).replace(/"updatedAt": *"[^"]*"/, ''))
        out[untag(relative(base, p))] = content
      }
    }
  }
  await walk(base)
  return out
}

describe('ingest on several threads', () => {
  it('splits a large file at document boundaries', async () => {
    const stat = await fs.stat(big)
    const ranges = (await planRanges({ path: big, format: 'txt', compressed: false, bytes: stat.size }, 'blank', 64 * 1024)) ?? []
    expect(ranges.length).toBeGreaterThan(8)
    expect(ranges[0]?.start).toBe(0)
    expect(ranges.at(-1)?.end).toBe(stat.size)
    const text = await fs.readFile(big)
    for (const [i, r] of ranges.entries()) {
      if (i > 0) expect(r.start).toBe(ranges[i - 1]?.end)
      // Each range after the first starts after a blank line.
      if (i > 0) expect(text.subarray(r.start - 2, r.start).toString()).toMatch(/\n\n|\r\n$/)
    }
    // Line mode cuts after any newline; compressed and CSV files are not split.
    const lineRanges = (await planRanges({ path: big, format: 'txt', compressed: false, bytes: stat.size }, 'line', 64 * 1024)) ?? []
    for (const r of lineRanges.slice(1)) expect(text[r.start - 1]).toBe(10)
    expect(await planRanges({ path: files[3] as string, format: 'csv', compressed: false, bytes: 1e9 }, null, 1024)).toBeNull()
  })

  it('writes byte for byte what one thread writes, the first copy of a duplicate winning in file order', async () => {
    const one = await project(tmp())
    const whole = await run(one, files, { threads: 1, workerScript: null })
    expect(whole.final.state).toBe('done')
    expect(whole.log).toMatch(/in 5 ranges on 1 thread/)
    const reference = await output(one)
    expect(Object.keys(reference).filter((k) => k.includes('rejects')).length).toBeGreaterThanOrEqual(3)
    expect(reference['corpus.json']).toMatch(/"duplicate": *\d+/)

    // One thread on small ranges: the same (line numbers, dedupe order and profiles carry across ranges).
    const ranged = await project(tmp())
    const r1 = await run(ranged, files, { threads: 1, workerScript: null, rangeBytes: 64 * 1024 })
    expect(r1.log).toMatch(/in \d{2,} ranges on 1 thread/)
    expect(r1.log).toMatch(/table\.csv is read as one stream \(quoted fields may span lines\); its records are merged in parts of 0\.1 MB/)
    expect(r1.log).toMatch(/packed\.txt\.gz is read as one stream \(compressed\)/)
    expect(await output(ranged)).toEqual(reference)

    // Three worker threads on small ranges: the same.
    const threaded = await project(tmp())
    const r3 = await run(threaded, files, { threads: 3, workerScript: script, rangeBytes: 64 * 1024 })
    expect(r3.final.state).toBe('done')
    expect(r3.log).toMatch(/in \d{2,} ranges on 3 threads/)
    expect(r3.log).toMatch(/packed\.txt\.gz is read as one stream/)
    expect(await output(threaded)).toEqual(reference)

    // A second file added later is ingested against what is there, on threads too.
    const stepwise = await project(tmp())
    await run(stepwise, files.slice(0, 2), { threads: 2, workerScript: script, rangeBytes: 64 * 1024 })
    await run(stepwise, files, { threads: 2, workerScript: script, rangeBytes: 64 * 1024 })
    const oneStep = await project(tmp())
    await run(oneStep, files.slice(0, 2), { threads: 1, workerScript: null })
    await run(oneStep, files, { threads: 1, workerScript: null })
    expect(await output(stepwise)).toEqual(await output(oneStep))
  }, 120_000)

  it('gives a one-range file in parts that add up to its records at once', async () => {
    const gz = files[4] as string
    const job: RangeJob = {
      file: { path: gz, format: 'txt', compressed: true, bytes: (await fs.stat(gz)).size },
      options: { invalidUtf8: 'reject', jsonlField: 'text', csvColumn: 'text', minChars: 10, scriptThreshold: 0.5, txtMode: 'line' },
      language: 'hu',
      threshold: 2 ** 28,
    }
    const whole = await processRange(job)
    const parts: RangeResult[] = []
    const last = await processRange({ ...job, partBytes: 32 * 1024 }, undefined, undefined, async (p) => void parts.push(p))
    parts.push(last)
    expect(parts.length).toBeGreaterThanOrEqual(4)
    const join = <K extends 'kind' | 'line' | 'hi' | 'lo' | 'bytes' | 'words' | 'bodyEnd'>(k: K) => parts.flatMap((p) => [...p[k]])
    for (const k of ['kind', 'line', 'hi', 'lo', 'bytes', 'words'] as const) expect(join(k)).toEqual([...whole[k]])
    expect(Buffer.concat(parts.map((p) => p.body)).equals(Buffer.from(whole.body))).toBe(true)
    expect(parts.reduce((n, p) => n + p.documentsRead, 0)).toBe(whole.documentsRead)
    // the range's lines come with the last part
    expect(parts.map((p) => p.lines)).toEqual([...parts.slice(1).map(() => 0), whole.lines])
    expect(parts.every((p, i) => i === parts.length - 1 || p.body.length >= 32 * 1024)).toBe(true)
  })

  it('names the same line in an error found by a worker on a later range', async () => {
    const src = tmp()
    const good = (await fs.readFile(big)).subarray(0, 300_000)
    const at = good.lastIndexOf(10) + 1
    const bad = await write(src, 'bad.txt', Buffer.concat([good.subarray(0, at), Buffer.from('rossz bájt: \xff itt\n', 'latin1'), good.subarray(0, 1000)]))
    const messages: string[] = []
    for (const req of [{ threads: 1, workerScript: null }, { threads: 2, workerScript: script, rangeBytes: 32 * 1024 }]) {
      const dir = await project(tmp())
      const r = await run(dir, [bad], req)
      expect(r.final.state).toBe('failed')
      messages.push(r.final.error?.message ?? '')
      // Nothing of the failed ingest is left.
      await expect(fs.stat(join(dir, 'corpora'))).rejects.toThrow()
    }
    expect(messages[0]).toMatch(/bad\.txt, line \d+, byte \d+: invalid UTF-8/)
    expect(messages[1]).toBe(messages[0])
  }, 60_000)

  it('leaves the project as it was when cancelled while threads read', async () => {
    const dir = await project(tmp())
    await run(dir, files.slice(1, 2), { threads: 1, workerScript: null })
    const before = await output(dir)
    const jobs = new JobManager<JobTypes>({ logDir: join(dir, 'logs') })
    const job = jobs.start({ kind: 'ingest', title: 'ingest', projectDir: dir, run: (ctx) => ingestCorpus(ctx, { projectDir: dir, role: 'target', paths: files, threads: 2, workerScript: script, rangeBytes: 16 * 1024 }) })
    let fractions: number[] = []
    jobs.onChange((s) => {
      if (s.id === job.id && s.progress.fraction !== null) fractions.push(s.progress.fraction)
      if (s.id === job.id && (s.progress.fraction ?? 0) > 0.2) jobs.cancel(job.id)
    })
    const final = await jobs.waitFor(job)
    expect(final.state).toBe('cancelled')
    expect(await output(dir)).toEqual(before)
    const names = await fs.readdir(join(dir, 'corpora', 'target'))
    expect(names.filter((n) => n.startsWith('.staging'))).toEqual([])
    // Progress only grows.
    fractions = fractions.filter((f, i) => i === 0 || f !== fractions[i - 1])
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1] as number)
  }, 60_000)
})

describe('cleaning fast path', () => {
  it('gives what the rules give, on texts made of tricky characters', () => {
    const rand = mulberry32(5)
    const alphabet = ['a', 'é', 'ő', 'Z', ' ', ' ', '\n', '\n', '\r', '\t', '\u00a0', '\u0301', '\u0308', '\u200b', '\u200c', '\u2028', '\u0085', '„', '”', '–', '\u2126', '\u212b', '\u2000', '\u1100', '\u1161', '\u00c5', 'A\u030a', 'ﬁ', 'İ', 'Σ', '\u0000', '\ufeff', '😀', '\ud800', '\u3000', '\u0e01', '\u0e33', 'ก']
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(rand() * 12)
      let s = ''
      for (let k = 0; k < n; k++) s += alphabet[Math.floor(rand() * alphabet.length)]
      const slow = cleanSlow(s)
      if (isClean(s)) expect(slow).toBe(s)
      expect(cleanText(s)).toBe(slow)
    }
    expect(isClean('Árvíztűrő tükörfúrógép „idézet” – vége.\nMásodik sor.')).toBe(true)
  })

  it('counts the same on UTF-8 bytes as on the text, and finds the bytes JSON escapes', () => {
    const rand = mulberry32(7)
    const alphabet = ['a', 'é', 'ő', 'Z', '7', ' ', ' ', '\n', '"', '\\', "'", '-', '.', '\r', '\t', '\u00a0', '\u0301', '\u200b', '\u2028', '„', '–', '\u2126', 'ﬁ', 'Σ', '\u0000', '\u0085', '😀', '\u0e01', 'ก', '漢', 'Ж']
    let clean = 0
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(rand() * 14)
      let s = ''
      for (let k = 0; k < n; k++) s += alphabet[Math.floor(rand() * alphabet.length)]
      const bytes = Buffer.from(s)
      const pos = new Int32Array(bytes.length)
      const out = { specials: -1 }
      const fromBytes = countCharactersIfCleanUtf8(bytes, newScriptCounts(), pos, out)
      const fromText = countCharactersIfClean(s, newScriptCounts())
      expect(fromBytes).toEqual(fromText)
      expect(fromText !== null).toBe(isClean(s))
      if (!fromBytes) continue
      clean++
      const escaped = [...bytes.entries()].filter(([, b]) => b === 0x22 || b === 0x5c || b === 0x0a).map(([k]) => k)
      expect([...pos.subarray(0, out.specials)]).toEqual(escaped)
    }
    expect(clean).toBeGreaterThan(1000)
  })
})
