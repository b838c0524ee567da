import { hash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import type { IngestOptions, RemovalReason } from '../contract'
import { cleanSlow } from './clean'
import { readDocumentSpans, type ByteRange, type ReadCounters, type SourceFile } from './readers'
import { type CharCounts, countCharacters, countCharactersIfClean, countCharactersIfCleanUtf8, newScriptCounts, scriptIndex, scriptsForLanguage } from './scripts'
import { ProfileBuilder } from './profile'
import { wordCounter } from './words'

/**
 * The per-document half of ingest, which needs nothing but the document: read, clean, check length
 * and script, hash, and serialise. It runs on a range of a file (a whole file, or a byte range of
 * one split at a document boundary), in a worker thread or in the job's own thread, and returns
 * its records in file order in flat typed arrays. What depends on the documents before (dedupe,
 * the train/held-out shards, the profiles' word tallies, line numbers) is left to the merge, which
 * takes ranges in file order; so the output does not depend on how the work was divided.
 */

/** Files larger than this are split into ranges of about this size. */
export const RANGE_BYTES = 8 * 1024 * 1024
/** How far past a range's nominal end a document boundary is looked for before giving up on a split. */
const BOUNDARY_SEARCH = 4 * 1024 * 1024

export const REJECT_REASONS: readonly RemovalReason[] = ['empty', 'too-short', 'no-letters', 'wrong-script', 'duplicate']
/** Record kind 0: a candidate document (kept unless a duplicate); k > 0: rejected for REJECT_REASONS[k - 1]. */
export const KEEP = 0

export interface RangeJob {
  file: SourceFile
  options: Pick<IngestOptions, 'invalidUtf8' | 'jsonlField' | 'csvColumn' | 'minChars' | 'scriptThreshold'> & { txtMode: 'line' | 'blank' }
  language: string
  /** Absent: the whole file. */
  range?: ByteRange
  /** The held-out threshold: documents whose hash's first 32 bits are below it are held out. */
  threshold: number
  /** Time the phases (see `PhaseTimes`). */
  profile?: boolean
  /**
   * Give the records in parts of about this many bytes of shard lines (to `onPart`), so that a
   * file that is one range however large (.gz, CSV/TSV) is held in memory a part at a time.
   */
  partBytes?: number
}

/** Seconds spent in each phase, when profiling. */
export interface PhaseTimes {
  read: number
  clean: number
  scripts: number
  hash: number
  serialise: number
  words: number
  merge: number
  tally: number
  write: number
  checksum: number
}

export function emptyPhases(): PhaseTimes {
  return { read: 0, clean: 0, scripts: 0, hash: 0, serialise: 0, words: 0, merge: 0, tally: 0, write: 0, checksum: 0 }
}

export function addPhases(into: PhaseTimes, from: PhaseTimes): void {
  for (const k of Object.keys(into) as (keyof PhaseTimes)[]) into[k] += from[k]
}

export interface RangeResult {
  /** Lines numbers in the records count from this (0 for a range whose line base was not known). */
  lineBase: number
  /** Lines in the range. */
  lines: number
  documentsRead: number
  invalidBytesReplaced: number
  rawBytes: number
  /** Records: one per document read, in order. */
  count: number
  kind: Uint8Array
  line: Float64Array
  hi: Uint32Array
  lo: Uint32Array
  /** UTF-8 bytes of the cleaned text (candidates). */
  bytes: Uint32Array
  characters: Uint32Array
  spacedWords: Uint32Array
  /**
   * Words as the word counter counts them: for segmenter languages, and for documents whose words
   * are listed (else 0).
   */
  words: Uint32Array
  /** Where a document's lower-cased words are in `wordList` (UTF-16 units), or -1 at the end when not listed. */
  wordStart: Float64Array
  wordEnd: Float64Array
  /** The listed documents' words, each document's separated by WORD_SEPARATOR. */
  wordList: string
  /** Letters per script: `scriptCount` per candidate record, in record order (rejects have none). */
  scripts: Uint32Array
  scriptCount: number
  /**
   * UTF-8 bodies, record after record, ending at `bodyEnd[i]`: a candidate's is its text as a JSON
   * string; a reject's is the rest of its JSON record after `"line":N` (`}` or `,"share":…,"text":…}`).
   */
  body: Uint8Array
  bodyEnd: Float64Array
  phases: PhaseTimes | null
}

/** Grows typed arrays as records come. */
class Columns {
  count = 0
  kind = new Uint8Array(1024)
  line = new Float64Array(1024)
  hi = new Uint32Array(1024)
  lo = new Uint32Array(1024)
  bytes = new Uint32Array(1024)
  characters = new Uint32Array(1024)
  spacedWords = new Uint32Array(1024)
  words = new Uint32Array(1024)
  bodyEnd = new Float64Array(1024)
  wordStart = new Float64Array(1024)
  wordEnd = new Float64Array(1024)
  scripts: Uint32Array
  scriptsUsed = 0
  body: Uint8Array
  bodyUsed = 0
  private utf8 = new Uint8Array(1 << 16)
  /** Where the body `scanClean` wrote ends. */
  private scanned = 0
  private specials = new Int32Array(1 << 12)

  /** `bodyBytes`: the bodies' expected size (a range's bodies are about as long as its text). */
  constructor(readonly scriptCount: number, bodyBytes: number) {
    this.scripts = new Uint32Array(1024 * scriptCount)
    this.body = uninitialised(bodyBytes)
  }

  next(): number {
    if (this.count === this.kind.length) {
      const n = this.count * 2
      const grow = <T extends Uint8Array | Uint32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(n)
        b.set(a)
        return b
      }
      this.kind = grow(this.kind)
      this.line = grow(this.line)
      this.hi = grow(this.hi)
      this.lo = grow(this.lo)
      this.bytes = grow(this.bytes)
      this.characters = grow(this.characters)
      this.spacedWords = grow(this.spacedWords)
      this.words = grow(this.words)
      this.bodyEnd = grow(this.bodyEnd)
      this.wordStart = grow(this.wordStart)
      this.wordEnd = grow(this.wordEnd)
    }
    return this.count++
  }

  addScripts(byScript: Uint32Array): void {
    if (this.scriptsUsed + byScript.length > this.scripts.length) {
      const b = new Uint32Array(this.scripts.length * 2)
      b.set(this.scripts)
      this.scripts = b
    }
    this.scripts.set(byScript, this.scriptsUsed)
    this.scriptsUsed += byScript.length
  }

  /**
   * A candidate's text: its UTF-8 bytes (returned, for hashing; valid until the next call) and its
   * body, the JSON string of the text. The body is escaped from the bytes, which is what
   * `JSON.stringify` then UTF-8 gives for well-formed text (a lone surrogate, which JSON escapes
   * as \uXXXX and UTF-8 cannot carry, takes the slow way).
   */
  addText(i: number, text: string): Uint8Array {
    if (text.length * 3 > this.utf8.length) this.utf8 = new Uint8Array(Math.max(text.length * 3, this.utf8.length * 2))
    const src = this.utf8
    const n = encoder.encodeInto(text, src).written
    if (!(text as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      this.addBody(i, JSON.stringify(text))
      return src.subarray(0, n)
    }
    // At most 6 bytes per byte (\u00XX), and the quotes.
    const body = this.reserve(n * 6 + 2)
    let o = this.bodyUsed
    body[o++] = 0x22
    for (let k = 0; k < n; k++) {
      const b = src[k] as number
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        body[o++] = b
        continue
      }
      body[o++] = 0x5c
      const short = SHORT_ESCAPE[b] as number
      if (short !== 0) body[o++] = short
      else {
        body[o++] = 0x75 // u00XX, lower-case hex as JSON.stringify writes it
        body[o++] = 0x30
        body[o++] = 0x30
        body[o++] = HEX[b >> 4] as number
        body[o++] = HEX[b & 15] as number
      }
    }
    body[o++] = 0x22
    this.bodyUsed = o
    this.bodyEnd[i] = o
    return src.subarray(0, n)
  }

  /**
   * For a document that comes as its UTF-8 bytes (valid UTF-8): in one pass, whether the text is
   * clean already (`countCharactersIfClean`), its counts, and its body (the JSON string, escaped
   * from the bytes) written after the bodies so far. Null when cleaning would change the text;
   * else the body is the record's once `keepScanned(i)` is called.
   */
  scanClean(src: Uint8Array, byScript: Uint32Array): CharCounts | null {
    const n = src.length
    if (this.specials.length < n) this.specials = new Int32Array(Math.max(n, this.specials.length * 2))
    const pos = this.specials
    const chars = countCharactersIfCleanUtf8(src, byScript, pos, escapes)
    if (!chars) return null
    const specials = escapes.specials
    // The body: the bytes copied at once, then each byte to escape made two, moving the bytes
    // after it (from the last one back, so that every byte moves once).
    const body = this.reserve(n + specials + 2)
    const base = this.bodyUsed + 1
    body[base - 1] = 0x22
    body.set(src, base)
    let end = n
    for (let j = specials - 1; j >= 0; j--) {
      const p = pos[j] as number
      if (end > p + 1) body.copyWithin(base + p + 2 + j, base + p + 1, base + end)
      const b = src[p] as number
      body[base + p + j] = 0x5c
      body[base + p + j + 1] = b === 0x0a ? 0x6e : b
      end = p
    }
    body[base + n + specials] = 0x22
    this.scanned = base + n + specials + 1
    return chars
  }

  /** Makes the body `scanClean` wrote record `i`'s. */
  keepScanned(i: number): void {
    this.bodyUsed = this.scanned
    this.bodyEnd[i] = this.scanned
  }

  /** Room for `bytes` more bytes of bodies (the buffer doubles, keeping what is there); returns the buffer. */
  private reserve(bytes: number): Uint8Array {
    const need = this.bodyUsed + bytes
    if (need > this.body.length) {
      let size = this.body.length * 2
      while (size < need) size *= 2
      const b = uninitialised(size)
      b.set(this.body.subarray(0, this.bodyUsed))
      this.body = b
    }
    return this.body
  }

  addBody(i: number, text: string): void {
    // At most 3 bytes per UTF-16 unit.
    this.reserve(text.length * 3)
    this.bodyUsed += encoder.encodeInto(text, this.body.subarray(this.bodyUsed)).written
    this.bodyEnd[i] = this.bodyUsed
  }
}

/** The count of bytes to escape `countCharactersIfCleanUtf8` found (a box, so that it returns the counts alone). */
const escapes = { specials: 0 }

const encoder = new TextEncoder()

/** A byte array of its own (transferable) without the zero fill: every byte is written before it is read. */
function uninitialised(n: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n)
}
/** The escapes JSON.stringify writes with one letter after the backslash. */
const SHORT_ESCAPE = new Uint8Array(0x60)
for (const [b, letter] of [[0x22, '"'], [0x5c, '\\'], [0x08, 'b'], [0x0c, 'f'], [0x0a, 'n'], [0x0d, 'r'], [0x09, 't']] as const) SHORT_ESCAPE[b] = letter.charCodeAt(0)
const HEX = new TextEncoder().encode('0123456789abcdef')

/** The rest of a reject's JSON record after its line number: what `JSON.stringify({ reason, line, ...extra, text })` writes there. */
export function rejectTail(text: string | null, extra: Record<string, unknown> = {}): string {
  const rest = JSON.stringify({ ...extra, ...(text === null ? {} : { text: text.length > 2000 ? text.slice(0, 2000) + '…' : text }) })
  return rest === '{}' ? '}' : ',' + rest.slice(1)
}

/** Separates a document's words in `RangeResult.wordList` (cleaning removes it from text). */
export const WORD_SEPARATOR = '\u0001'

/** Reads, cleans, checks and hashes the documents of one range. */
export async function processRange(job: RangeJob, onBytes?: (rawBytes: number) => void, signal?: AbortSignal, onPart?: (part: RangeResult) => Promise<void>): Promise<RangeResult> {
  const { file, options } = job
  const counter = wordCounter(job.language)
  const targetScripts = scriptsForLanguage(job.language).map(scriptIndex)
  const byScript = newScriptCounts()
  // Bodies are the text and its JSON escapes (~1% of Hungarian web text); a .gz range inflates.
  const rawBytes = job.range ? job.range.end - job.range.start : file.bytes
  const parts = onPart && job.partBytes ? job.partBytes : 0
  const bodyBytes = Math.min(Math.ceil(parts ? parts * 1.05 : rawBytes * (file.compressed ? 4 : 1.02)) + 65536, 64 << 20)
  let cols = new Columns(byScript.length, bodyBytes)
  const counters: ReadCounters = { rawBytes: 0, invalidBytesReplaced: 0 }
  const phases = job.profile ? emptyPhases() : null
  const now = phases ? () => performance.now() / 1000 : () => 0
  const firstRange = !job.range || job.range.start === 0
  let trainCandidates = 0
  let wordList: string[] = []
  let wordListLength = 0
  let documentsRead = 0
  let reportedBytes = 0
  // what the parts given so far have counted
  let partDocuments = 0
  let partInvalid = 0
  let partRaw = 0
  /** The records so far as a result (all but the last part count no lines: the range's come with the last). */
  const result = (last: boolean): RangeResult => {
    const n = cols.count
    const r: RangeResult = {
      lineBase: job.range?.lineBase ?? 0,
      // Lines in the range: it ends just after a newline (or at the end of the file).
      lines: last ? (counters.lines ?? 0) : 0,
      documentsRead: documentsRead - partDocuments,
      invalidBytesReplaced: counters.invalidBytesReplaced - partInvalid,
      rawBytes: counters.rawBytes - partRaw,
      count: n,
      kind: cols.kind.slice(0, n),
      line: cols.line.slice(0, n),
      hi: cols.hi.slice(0, n),
      lo: cols.lo.slice(0, n),
      bytes: cols.bytes.slice(0, n),
      characters: cols.characters.slice(0, n),
      spacedWords: cols.spacedWords.slice(0, n),
      words: cols.words.slice(0, n),
      wordStart: cols.wordStart.slice(0, n),
      wordEnd: cols.wordEnd.slice(0, n),
      wordList: wordList.join(''),
      scripts: cols.scripts.slice(0, cols.scriptsUsed),
      scriptCount: cols.scriptCount,
      // a view of the bodies' own buffer, transferred as it is (no copy)
      body: cols.body.subarray(0, cols.bodyUsed),
      bodyEnd: cols.bodyEnd.slice(0, n),
      phases: last ? phases : null,
    }
    partDocuments = documentsRead
    partInvalid = counters.invalidBytesReplaced
    partRaw = counters.rawBytes
    return r
  }
  const reject = (reason: RemovalReason, line: number, tail: string) => {
    const i = cols.next()
    cols.kind[i] = REJECT_REASONS.indexOf(reason) + 1
    cols.line[i] = line
    cols.wordEnd[i] = -1
    cols.addBody(i, tail)
  }
  let t = now()
  for await (const batch of readDocumentSpans(file, options, counters, signal, job.range)) {
    if (onBytes && counters.rawBytes - reportedBytes >= 1 << 20) {
      reportedBytes = counters.rawBytes
      onBytes(reportedBytes)
    }
    if (parts && cols.bodyUsed >= parts) {
      // documents read but not yet in a record are none: parts are cut between batches
      await (onPart as (part: RangeResult) => Promise<void>)(result(false))
      cols = new Columns(byScript.length, bodyBytes)
      wordList = []
      wordListLength = 0
    }
    for (const raw of batch) {
      documentsRead++
      let t1 = now()
      if (phases) phases.read += t1 - t
      // Most text is clean already: one pass says so and counts (on its bytes, which it also
      // escapes into the shard line, when the reader left it undecoded); the rest is cleaned,
      // then counted.
      let text: string | null = raw.text ?? null
      let utf8: Uint8Array | null = null
      byScript.fill(0)
      let chars: CharCounts | null
      if (raw.bytes) {
        chars = cols.scanClean(raw.bytes, byScript)
        if (chars) utf8 = raw.bytes
        else text = raw.bytes.toString('utf8')
      } else chars = countCharactersIfClean(text as string, byScript)
      if (phases) {
        t = now()
        phases.scripts += t - t1
        t1 = t
      }
      if (!chars) {
        text = cleanSlow(text as string)
        byScript.fill(0)
        chars = countCharacters(text, byScript)
        if (phases) {
          t = now()
          phases.clean += t - t1
          t1 = t
        }
      }
      const textOf = () => (text ??= (raw.bytes as Buffer).toString('utf8'))
      if (text === '') {
        reject('empty', raw.line, '}')
        t = now()
        continue
      }
      if (chars.characters < options.minChars) {
        reject('too-short', raw.line, rejectTail(textOf()))
        t = now()
        continue
      }
      if (chars.letters === 0) {
        reject('no-letters', raw.line, rejectTail(textOf()))
        t = now()
        continue
      }
      let inScript = 0
      for (const s of targetScripts) inScript += byScript[s] as number
      const share = inScript / chars.letters
      if (share < options.scriptThreshold) {
        reject('wrong-script', raw.line, rejectTail(textOf(), { share: Math.round(share * 1000) / 1000 }))
        t = now()
        continue
      }
      const i = cols.next()
      if (utf8) cols.keepScanned(i)
      else utf8 = cols.addText(i, text as string)
      if (phases) {
        t = now()
        phases.serialise += t - t1
        t1 = t
      }
      const digest = hash('sha1', utf8, 'buffer') as unknown as Buffer
      if (phases) {
        t = now()
        phases.hash += t - t1
        t1 = t
      }
      const hi = digest.readUInt32BE(0)
      cols.kind[i] = KEEP
      cols.line[i] = raw.line
      cols.hi[i] = hi
      cols.lo[i] = digest.readUInt32BE(4)
      cols.characters[i] = chars.characters
      cols.spacedWords[i] = chars.spacedWords
      cols.bytes[i] = utf8.length
      cols.addScripts(byScript)
      // The words of a document the profile may tally (see ProfileBuilder.addCounted), listed here
      // so that the merge only adds them up; others it lists itself if it needs them.
      const heldout = hi < job.threshold
      if (ProfileBuilder.mayTally(hi) || heldout || (firstRange && trainCandidates < ProfileBuilder.exactDocuments)) {
        const words: string[] = []
        cols.words[i] = counter.count(textOf(), (w) => words.push(w))
        const joined = words.join(WORD_SEPARATOR)
        wordList.push(joined)
        wordListLength += joined.length
        cols.wordStart[i] = wordListLength - joined.length
        cols.wordEnd[i] = wordListLength
      } else {
        cols.wordEnd[i] = -1
        if (counter.segmenter) cols.words[i] = counter.count(textOf())
      }
      if (!heldout) trainCandidates++
      t = now()
      if (phases) phases.words += t - t1
    }
  }
  if (phases) phases.read += now() - t
  onBytes?.(counters.rawBytes)
  return result(true)
}

/**
 * Splits a file into ranges of about RANGE_BYTES, each starting at a document boundary: after a
 * newline (a document per line, JSONL), or after a blank line (blank-line separated documents).
 * Compressed files and CSV/TSV (whose quoted fields may span lines) are one range.
 */
export async function planRanges(file: SourceFile, txtMode: 'line' | 'blank' | null, rangeBytes = RANGE_BYTES): Promise<ByteRange[] | null> {
  if (file.compressed || file.format === 'csv' || file.format === 'tsv' || file.bytes <= rangeBytes) return null
  const blank = file.format === 'txt' && txtMode === 'blank'
  const out: ByteRange[] = []
  const h = await fs.open(file.path, 'r')
  try {
    const buf = Buffer.allocUnsafe(64 * 1024)
    let start = 0
    while (file.bytes - start > rangeBytes * 1.5) {
      let cut = -1
      for (let pos = start + rangeBytes; cut < 0 && pos < Math.min(file.bytes, start + rangeBytes + BOUNDARY_SEARCH); ) {
        const { bytesRead } = await h.read(buf, 0, buf.length, pos)
        if (bytesRead < 3) break
        for (let i = 0; i + 2 < bytesRead; i++) {
          if (buf[i] !== 10) continue
          if (!blank) {
            cut = pos + i + 1
            break
          }
          // A blank line: "\n\n" or "\n\r\n"; the range starts after it.
          if (buf[i + 1] === 10) {
            cut = pos + i + 2
            break
          }
          if (buf[i + 1] === 13 && buf[i + 2] === 10) {
            cut = pos + i + 3
            break
          }
        }
        pos += bytesRead - 2
      }
      if (cut < 0 || cut >= file.bytes) break
      out.push({ start, end: cut, lineBase: 0 })
      start = cut
    }
    out.push({ start, end: file.bytes, lineBase: 0 })
  } finally {
    await h.close()
  }
  return out.length > 1 ? out : null
}
