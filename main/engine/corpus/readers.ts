import { createReadStream } from 'node:fs'
import { isUtf8 } from 'node:buffer'
import { createGunzip } from 'node:zlib'
import type { IngestOptions } from '../contract'
import { EngineError } from '../common/errors'

/**
 * Streaming readers: bytes from disk (gunzipped where needed) → lines with their number and byte
 * offset, UTF-8 checked → documents for each format. Memory stays bounded by the longest document
 * allowed, whatever the file's size.
 */

export type SourceFormat = 'txt' | 'jsonl' | 'csv' | 'tsv'

export interface SourceFile {
  path: string
  format: SourceFormat
  compressed: boolean
  bytes: number
}

export interface RawDocument {
  text: string
  /** 1-based line where the document starts. */
  line: number
}

/**
 * A byte range of an uncompressed file, split at a document boundary (see `planRanges`): lines are
 * numbered from `lineBase` + 1, and the checks that only make sense at the start of a file (a
 * byte-order mark, a binary file) run only when `start` is 0.
 */
export interface ByteRange {
  start: number
  /** Exclusive. */
  end: number
  /** Lines before the range (0 when not known: the caller adds it later). */
  lineBase: number
}

export interface ReadCounters {
  /** Bytes of the file on disk read so far (compressed bytes for .gz). */
  rawBytes: number
  invalidBytesReplaced: number
  /** Lines read (of the range, when reading one), set when the reading is complete. */
  lines?: number
  /** Fed every byte of the file on disk, to checksum it in the same pass. */
  digest?: { update(chunk: Buffer): unknown }
}

/** The longest line or document accepted; longer ones are an error, not a memory blow-up. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
/** A .gz whose output grows past this many times its size is treated as a decompression bomb. */
export const MAX_GZIP_RATIO = 200

const FORMATS: Record<string, SourceFormat> = { '.txt': 'txt', '.text': 'txt', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv', '.tsv': 'tsv' }

/** The format of a file from its name, or null when it is not one ingest reads. */
export function formatOf(path: string): { format: SourceFormat; compressed: boolean } | null {
  const lower = path.toLowerCase()
  const compressed = lower.endsWith('.gz')
  const base = compressed ? lower.slice(0, -3) : lower
  const dot = base.lastIndexOf('.')
  const format = dot >= 0 ? FORMATS[base.slice(dot)] : undefined
  return format ? { format, compressed } : null
}

function badInput(file: string, where: string, message: string, hint: string): EngineError {
  return new EngineError('bad-input', `${file}${where ? `, ${where}` : ''}: ${message}`, { file, hint })
}

/** Offset of the first byte that is not valid UTF-8, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0
  const n = buf.length
  while (i < n) {
    const b = buf[i] as number
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80]
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800]
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000]
    else return i
    if (i + need >= n) return i
    let cp = b & (0x3f >> need)
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]
      if (c === undefined || (c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return -1
}

/** Counts the invalid sequences the UTF-8 decoder will replace with U+FFFD. */
function countInvalidSequences(buf: Uint8Array): number {
  let count = 0
  let rest = buf
  for (;;) {
    const at = firstInvalidUtf8(rest)
    if (at < 0) return count
    count++
    rest = rest.subarray(at + 1)
  }
}

/** The file's bytes, decompressed if needed, with the raw bytes counted and gzip bombs stopped. */
async function* fileBytes(file: SourceFile, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<Buffer> {
  if (range && range.end <= range.start) return
  const raw = createReadStream(file.path, { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end - 1 } : {}) })
  // With async iteration or pipe in control of the flow, 'data' still sees every chunk once.
  raw.on('data', (chunk) => {
    counters.rawBytes += (chunk as Buffer).length
    counters.digest?.update(chunk as Buffer)
  })
  if (!file.compressed) {
    try {
      for await (const chunk of raw) {
        if (signal?.aborted) return
        yield chunk as Buffer
      }
    } catch (e) {
      throw readError(file.path, e)
    } finally {
      raw.destroy()
    }
    return
  }
  const gunzip = createGunzip()
  raw.on('error', (e) => gunzip.destroy(e))
  raw.pipe(gunzip)
  let out = 0
  try {
    for await (const chunk of gunzip) {
      if (signal?.aborted) return
      out += (chunk as Buffer).length
      if (out > 64 * 1024 * 1024 && out > MAX_GZIP_RATIO * Math.max(counters.rawBytes, 1)) {
        throw badInput(
          file.path,
          '',
          `decompresses to more than ${MAX_GZIP_RATIO} times its size (${out} bytes from ${counters.rawBytes}); it looks like a decompression bomb`,
          'Decompress it yourself and check its contents, then add the plain file.',
        )
      }
      yield chunk as Buffer
    }
  } catch (e) {
    if (e instanceof EngineError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR' || /unexpected end|incorrect header|invalid/i.test(String((e as Error).message))) {
      throw badInput(file.path, `after ${out} decompressed bytes`, `the gzip data is damaged or truncated (${(e as Error).message})`, 'Download or compress the file again; `gzip -t FILE` checks it.')
    }
    throw readError(file.path, e)
  } finally {
    raw.destroy()
    gunzip.destroy()
  }
}

function readError(path: string, e: unknown): EngineError {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') return new EngineError('permission-denied', `Cannot read ${path}: permission denied.`, { file: path, hint: 'Check the file permissions.' })
  if (code === 'EISDIR') return new EngineError('bad-input', `${path} is a folder, not a file.`, { file: path })
  return new EngineError('io', `Cannot read ${path}: ${(e as Error).message}`, { file: path })
}

export interface Line {
  text: string
  /** 1-based. */
  line: number
}

/** Bytes decoded at once by the fast path of `readLineBatches` (see `fastLines`). */
const DECODE_PIECE = 32 * 1024

/**
 * Lines of a file, decoded from UTF-8. Invalid UTF-8 is an error naming the line and byte offset,
 * or, with `invalidUtf8: 'replace'`, replaced with U+FFFD and counted. A NUL byte near the start
 * means a binary file. A line longer than MAX_DOCUMENT_BYTES is an error.
 */
export async function* readLines(file: SourceFile, options: Pick<IngestOptions, 'invalidUtf8'>, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(file, options, counters, signal, range)) yield* batch
}

/**
 * `readLines` by the batch: the lines of each chunk read (about 1 MiB). A chunk of valid UTF-8 is
 * decoded at once and split as a string; one with invalid bytes, line by line as `readLines`
 * describes. Lines before an error are yielded before it is thrown.
 */
export function readLineBatches(file: SourceFile, options: Pick<IngestOptions, 'invalidUtf8'>, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<Line[]> {
  return readLineItems(file, options, counters, signal, range, false) as AsyncGenerator<Line[]>
}

/**
 * A line left undecoded (see `readLineItems`): bytes `s` to `e` of `region`, valid UTF-8, without
 * its newline or the carriage return before it (`cr`).
 */
export interface SpanLine {
  line: number
  region: Buffer
  s: number
  e: number
  cr: boolean
}

/**
 * `readLineBatches`, where with `spans` the lines of a region of valid UTF-8 come undecoded, as
 * spans of it (`SpanLine`); the others are decoded as `readLineBatches` decodes them.
 */
async function* readLineItems(file: SourceFile, options: Pick<IngestOptions, 'invalidUtf8'>, counters: ReadCounters, signal: AbortSignal | undefined, range: ByteRange | undefined, spans: boolean): AsyncGenerator<(Line | SpanLine)[]> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let lineNo = range?.lineBase ?? 0
  let offset = range?.start ?? 0 // of the pending line's start
  const atFileStart = !range || range.start === 0
  let sawBytes = !atFileStart

  const decode = (bytes: Buffer, start: number): string => {
    if (bytes.length && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1)
    if (atFileStart && offset === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
    if (!isUtf8(bytes)) {
      if (options.invalidUtf8 === 'replace') {
        counters.invalidBytesReplaced += countInvalidSequences(bytes)
      } else {
        const at = firstInvalidUtf8(bytes)
        throw badInput(
          file.path,
          `line ${lineNo}, byte ${start + Math.max(at, 0)}`,
          `invalid UTF-8 (byte 0x${(bytes[Math.max(at, 0)] ?? 0).toString(16).padStart(2, '0')})`,
          'Convert the file to UTF-8 (e.g. `iconv -f latin2 -t utf-8`), or choose "replace invalid bytes" to ingest it with U+FFFD in their place.',
        )
      }
    }
    return bytes.toString('utf8')
  }

  /** Lines of `region` (whole lines, each ending with a newline), one by one. */
  const slowLines = (region: Buffer, out: Line[]): void => {
    let start = 0
    for (;;) {
      const nl = region.indexOf(10, start)
      if (nl < 0) break
      const bytes = region.subarray(start, nl)
      lineNo++
      if (bytes.length > MAX_DOCUMENT_BYTES) throw tooLong(file.path, lineNo)
      out.push({ text: decode(bytes, offset), line: lineNo })
      offset += bytes.length + 1
      start = nl + 1
    }
  }

  /**
   * Lines of `region` decoded at once: when it is valid UTF-8, cannot hold a line too long, and
   * does not start the file with a byte-order mark. It is decoded in pieces of about DECODE_PIECE bytes cut
   * after a newline: decoding is several times faster when input and output stay in the cache.
   */
  const fastLines = (region: Buffer, out: Line[]): boolean => {
    if (region.length > MAX_DOCUMENT_BYTES || (atFileStart && offset === 0 && region[0] === 0xef && region[1] === 0xbb && region[2] === 0xbf) || !isUtf8(region)) return false
    for (let pos = 0; pos < region.length; ) {
      let end = pos + DECODE_PIECE < region.length ? region.indexOf(10, pos + DECODE_PIECE) + 1 : region.length
      if (end <= 0) end = region.length
      const str = region.toString('utf8', pos, end)
      let start = 0
      for (;;) {
        const nl = str.indexOf('\n', start)
        if (nl < 0) break
        lineNo++
        out.push({ text: str.slice(start, nl > start && str.charCodeAt(nl - 1) === 13 ? nl - 1 : nl), line: lineNo })
        start = nl + 1
      }
      pos = end
    }
    offset += region.length
    return true
  }

  /** `fastLines`, leaving the lines undecoded. */
  const fastSpans = (region: Buffer, out: SpanLine[]): boolean => {
    if (region.length > MAX_DOCUMENT_BYTES || (atFileStart && offset === 0 && region[0] === 0xef && region[1] === 0xbb && region[2] === 0xbf) || !isUtf8(region)) return false
    for (let start = 0; ; ) {
      const nl = region.indexOf(10, start)
      if (nl < 0) break
      lineNo++
      const cr = nl > start && region[nl - 1] === 13
      out.push({ line: lineNo, region, s: start, e: cr ? nl - 1 : nl, cr })
      start = nl + 1
    }
    offset += region.length
    return true
  }

  for await (const chunk of fileBytes(file, counters, signal, range)) {
    if (!sawBytes) {
      sawBytes = true
      const head = chunk.subarray(0, 8192)
      const nul = head.indexOf(0)
      if (nul >= 0) throw badInput(file.path, `byte ${nul}`, 'contains a NUL byte; it looks like a binary file, not text', 'Give text files: .txt, .jsonl, .csv or .tsv (optionally .gz).')
    }
    const lastNl = chunk.lastIndexOf(10)
    const out: (Line | SpanLine)[] = []
    if (lastNl >= 0) {
      const whole = chunk.subarray(0, lastNl + 1)
      const region = pendingBytes ? Buffer.concat([...pending, whole], pendingBytes + whole.length) : whole
      pending = []
      pendingBytes = 0
      try {
        if (!(spans ? fastSpans(region, out as SpanLine[]) : fastLines(region, out as Line[]))) slowLines(region, out as Line[])
      } catch (e) {
        if (out.length) yield out
        throw e
      }
    }
    if (lastNl + 1 < chunk.length) {
      const rest = chunk.subarray(lastNl + 1)
      pending.push(rest)
      pendingBytes += rest.length
    }
    if (out.length) yield out
    if (pendingBytes > MAX_DOCUMENT_BYTES) throw tooLong(file.path, lineNo + 1)
  }
  if (pendingBytes) {
    lineNo++
    counters.lines = lineNo - (range?.lineBase ?? 0)
    yield [{ text: decode(Buffer.concat(pending, pendingBytes), offset), line: lineNo }]
  }
  counters.lines = lineNo - (range?.lineBase ?? 0)
}

function tooLong(path: string, line: number): EngineError {
  return badInput(
    path,
    `line ${line}`,
    `the line is longer than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB`,
    'Is this really text with one document per line? Split very long documents, or convert the file to JSONL.',
  )
}

/**
 * Reads the start of a .txt file and decides whether documents are lines or blank-line separated
 * blocks: blocks when blank lines recur (at least 3, and one per 100 lines) and the typical block
 * has several lines. A line-per-document file with a stray blank line stays `line`.
 */
export async function detectTxtMode(file: SourceFile): Promise<'line' | 'blank'> {
  const counters: ReadCounters = { rawBytes: 0, invalidBytesReplaced: 0 }
  const blockSizes: number[] = []
  let current = 0
  let read = 0
  for await (const { text } of readLines(file, { invalidUtf8: 'replace' }, counters)) {
    if (++read > 2000) break
    if (text.trim() === '') {
      if (current > 0) blockSizes.push(current)
      current = 0
    } else current++
  }
  const separators = blockSizes.length // blocks closed by a blank line
  if (current > 0) blockSizes.push(current)
  const lines = blockSizes.reduce((a, b) => a + b, 0)
  const median = [...blockSizes].sort((a, b) => a - b)[Math.floor(blockSizes.length / 2)] ?? 0
  return separators >= 3 && separators / lines >= 0.01 && median >= 2 ? 'blank' : 'line'
}

/** Splits one CSV/TSV record's worth of text into fields; returns null while a quoted field is still open. */
export function parseDelimited(text: string, delimiter: string): string[] | null {
  const fields: string[] = []
  let field = ''
  let i = 0
  let quoted = false
  let atFieldStart = true
  while (i < text.length) {
    const c = text[i] as string
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
        i++
        continue
      }
      field += c
      i++
      continue
    }
    if (c === '"' && atFieldStart) {
      quoted = true
      atFieldStart = false
      i++
      continue
    }
    if (c === delimiter) {
      fields.push(field)
      field = ''
      atFieldStart = true
      i++
      continue
    }
    field += c
    atFieldStart = false
    i++
  }
  if (quoted) return null
  fields.push(field)
  return fields
}

type DocumentOptions = Pick<IngestOptions, 'invalidUtf8' | 'jsonlField' | 'csvColumn'> & { txtMode: 'line' | 'blank' }

/** Documents of one file in its format, with the line each starts on. */
export async function* readDocuments(file: SourceFile, options: DocumentOptions, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<RawDocument> {
  for await (const batch of readDocumentBatches(file, options, counters, signal, range)) yield* batch
}

/** A line that is empty or only white space. */
function blank(text: string): boolean {
  if (text.length === 0) return true
  const c = text.charCodeAt(0)
  // A printable ASCII character first: not blank (the common case, without trimming).
  if (c > 32 && c < 127) return false
  return text.trim() === ''
}

/** `readDocuments` by the batch (the documents completed by each chunk of lines); documents before an error are yielded before it is thrown. */
export async function* readDocumentBatches(file: SourceFile, options: DocumentOptions, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<RawDocument[]> {
  if (file.format === 'txt') {
    // The .txt parser is readDocumentSpans's; documents it leaves as bytes are decoded here.
    for await (const batch of readDocumentSpans(file, options, counters, signal, range)) yield batch.map((d) => (d.bytes ? { text: d.bytes.toString('utf8'), line: d.line } : d))
    return
  }
  const parser = documentParser(file, options)
  for await (const lines of readLineBatches(file, options, counters, signal, range)) {
    const out: RawDocument[] = []
    try {
      for (const l of lines) parser.line(l, out)
    } catch (e) {
      if (out.length) yield out
      throw e
    }
    if (out.length) yield out
  }
  const out: RawDocument[] = []
  parser.end(out)
  if (out.length) yield out
}

/** A document of a .txt file as `readDocumentSpans` gives it: its UTF-8 bytes where they are exactly its text, else its text. */
export type SpanDocument = { line: number; text: string; bytes?: undefined } | { line: number; bytes: Buffer; text?: undefined }

/** A span line that is empty or only white space (most lines start with a byte that says it is not). */
function blankSpan(l: SpanLine): boolean {
  if (l.e === l.s) return true
  const b = l.region[l.s] as number
  // printable ASCII, or the lead byte of U+00C0–U+07FF (no white space there)
  if ((b > 32 && b < 127) || (b >= 0xc3 && b <= 0xdf)) return false
  return blank(l.region.toString('utf8', l.s, l.e))
}

/**
 * `readDocumentBatches` for ingest: the documents of a .txt file whose text is exactly a span of
 * the file's bytes (a line; a block of lines without carriage returns within one chunk) come as
 * those bytes, undecoded; the rest, and every document of other formats, come as text. This is
 * the one .txt parser (one document per line, or blocks separated by blank lines):
 * `readDocumentBatches` gives its documents decoded.
 */
export async function* readDocumentSpans(file: SourceFile, options: DocumentOptions, counters: ReadCounters, signal?: AbortSignal, range?: ByteRange): AsyncGenerator<SpanDocument[]> {
  if (file.format !== 'txt') {
    yield* readDocumentBatches(file, options, counters, signal, range)
    return
  }
  const byLine = options.txtMode === 'line'
  // the open block (blank-line mode): a span of one region, or lines of text
  let mode: 'none' | 'span' | 'text' = 'none'
  let region: Buffer | null = null
  let from = 0
  let to = 0
  let lines: string[] = []
  let blockBytes = 0
  let startLine = 0
  const toText = () => {
    lines = [(region as Buffer).toString('utf8', from, to)]
    blockBytes = (lines[0] as string).length
    mode = 'text'
  }
  const flush = (out: SpanDocument[]) => {
    if (mode === 'span') out.push({ bytes: (region as Buffer).subarray(from, to), line: startLine })
    else if (mode === 'text') out.push({ text: lines.length === 1 ? (lines[0] as string) : lines.join('\n'), line: startLine })
    mode = 'none'
    region = null
    lines = []
    blockBytes = 0
  }
  const addText = (text: string, line: number) => {
    if (mode === 'span') toText()
    if (mode === 'none') {
      mode = 'text'
      startLine = line
    }
    lines.push(text)
    blockBytes += text.length
    if (blockBytes > MAX_DOCUMENT_BYTES) throw badInput(file.path, `line ${startLine}`, `a document (lines ${startLine}–${line}) is longer than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB with no blank line`, 'Separate documents with blank lines, or use one document per line.')
  }
  for await (const items of readLineItems(file, options, counters, signal, range, true)) {
    const out: SpanDocument[] = []
    try {
      for (const l of items) {
        if ('region' in l) {
          if (blankSpan(l)) {
            if (!byLine) flush(out)
            continue
          }
          if (byLine) out.push({ bytes: l.region.subarray(l.s, l.e), line: l.line })
          else if (mode === 'none' && !l.cr) {
            mode = 'span'
            region = l.region
            from = l.s
            to = l.e
            startLine = l.line
          } else if (mode === 'span' && l.region === region && !l.cr && l.s === to + 1) to = l.e
          else addText(l.region.toString('utf8', l.s, l.e), l.line)
        } else if (blank(l.text)) {
          if (!byLine) flush(out)
        } else if (byLine) out.push({ text: l.text, line: l.line })
        else addText(l.text, l.line)
      }
    } catch (e) {
      if (out.length) yield out
      throw e
    }
    if (out.length) yield out
  }
  const out: SpanDocument[] = []
  flush(out)
  if (out.length) yield out
}

interface DocumentParser {
  line(l: Line, out: RawDocument[]): void
  end(out: RawDocument[]): void
}

function documentParser(file: SourceFile, options: DocumentOptions): DocumentParser {
  if (file.format === 'jsonl') {
    const field = options.jsonlField
    return {
      line: (l, out) => {
        if (blank(l.text)) return
        let value: unknown
        try {
          value = JSON.parse(l.text)
        } catch (e) {
          throw badInput(file.path, `line ${l.line}`, `not valid JSON (${(e as Error).message.slice(0, 120)})`, 'Each line of a .jsonl file must be one JSON object; fix or remove this line.')
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw badInput(file.path, `line ${l.line}`, 'not a JSON object', `Each line must be an object with a "${field}" field.`)
        }
        const text = (value as Record<string, unknown>)[field]
        if (typeof text !== 'string') {
          const keys = Object.keys(value).slice(0, 12).join(', ')
          throw badInput(
            file.path,
            `line ${l.line}`,
            text === undefined ? `no "${field}" field (it has: ${keys || 'no fields'})` : `the "${field}" field is not a string`,
            `Choose the field that holds the text (JSONL field option, or --field on the command line).`,
          )
        }
        out.push({ text, line: l.line })
      },
      end: () => undefined,
    }
  }
  // CSV / TSV with a header row; quoted fields may span lines.
  const delimiter = file.format === 'tsv' ? '\t' : ','
  let column = -1
  let record = ''
  let recordLine = 0
  return {
    line: (l, out) => {
      if (!record) recordLine = l.line
      record = record ? `${record}\n${l.text}` : l.text
      if (record.length > MAX_DOCUMENT_BYTES) throw tooLong(file.path, recordLine)
      const fields = parseDelimited(record, delimiter)
      if (!fields) return
      record = ''
      if (column < 0) {
        column = fields.findIndex((f) => f.trim() === options.csvColumn)
        if (column < 0) {
          throw badInput(file.path, 'line 1', `no column named "${options.csvColumn}" in the header (columns: ${fields.slice(0, 20).map((f) => JSON.stringify(f.trim())).join(', ')})`, 'Choose the column that holds the text (CSV column option, or --column on the command line).')
        }
        return
      }
      if (fields.length === 1 && fields[0] === '') return
      out.push({ text: fields[column] ?? '', line: recordLine })
    },
    end: () => {
      if (record) throw badInput(file.path, `line ${recordLine}`, 'a quoted field is never closed', 'Check the quoting of that record.')
      if (column < 0) throw badInput(file.path, '', 'the file has no header row', `The first line must name the columns, one of them "${options.csvColumn}".`)
    },
  }
}
