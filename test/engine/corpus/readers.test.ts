import { promises as fs } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { detectTxtMode, firstInvalidUtf8, formatOf, parseDelimited, readDocuments, type SourceFile } from '../../../main/engine/corpus/readers'
import { useTmp } from '../../helpers/tmp'
import { write } from './helpers'

const tmp = useTmp()

async function docs(file: SourceFile, opts: Partial<Parameters<typeof readDocuments>[1]> = {}) {
  const counters = { rawBytes: 0, invalidBytesReplaced: 0 }
  const out = []
  for await (const d of readDocuments(file, { invalidUtf8: 'reject', jsonlField: 'text', csvColumn: 'text', txtMode: 'line', ...opts }, counters)) out.push(d)
  return { docs: out, counters }
}

async function source(dir: string, name: string, content: string | Buffer): Promise<SourceFile> {
  const path = await write(dir, name, content)
  const kind = formatOf(path)
  if (!kind) throw new Error('no format')
  return { path, ...kind, bytes: (await fs.stat(path)).size }
}

describe('formats', () => {
  it('recognises formats by name, .gz included', () => {
    expect(formatOf('/a/b.TXT')).toEqual({ format: 'txt', compressed: false })
    expect(formatOf('x.jsonl.gz')).toEqual({ format: 'jsonl', compressed: true })
    expect(formatOf('x.tsv')).toEqual({ format: 'tsv', compressed: false })
    expect(formatOf('x.pdf')).toBeNull()
  })

  it('reads one document per line or blank-line separated blocks, and detects which', async () => {
    const dir = tmp()
    const lines = await source(dir, 'lines.txt', 'első sor\r\nmásodik sor\n\nharmadik sor\n')
    expect(await detectTxtMode(lines)).toBe('line')
    expect((await docs(lines)).docs).toEqual([
      { text: 'első sor', line: 1 },
      { text: 'második sor', line: 2 },
      { text: 'harmadik sor', line: 4 },
    ])
    const blocks = await source(dir, 'blocks.txt', '\ufeffCím\nElső bekezdés.\n\nMásik cím\nMásik bekezdés.\nHarmadik sor.\n\n\nZáró cím\nZáró bekezdés.\n\nUtóirat\nVége.\n')
    expect(await detectTxtMode(blocks)).toBe('blank')
    expect((await docs(blocks, { txtMode: 'blank' })).docs).toEqual([
      { text: 'Cím\nElső bekezdés.', line: 1 },
      { text: 'Másik cím\nMásik bekezdés.\nHarmadik sor.', line: 4 },
      { text: 'Záró cím\nZáró bekezdés.', line: 9 },
      { text: 'Utóirat\nVége.', line: 12 },
    ])
    // Sentences one per line with a stray blank line are still one document per line.
    const stray = await source(dir, 'stray.txt', Array.from({ length: 60 }, (_, i) => `Mondat ${i}.`).join('\n').replace('Mondat 30.', '\nMondat 30.'))
    expect(await detectTxtMode(stray)).toBe('line')
  })

  it('reads a JSONL field and names the line of a bad record', async () => {
    const dir = tmp()
    const ok = await source(dir, 'a.jsonl', '{"text": "egy", "id": 1}\n\n{"text": "kettő"}\n')
    expect((await docs(ok)).docs).toEqual([
      { text: 'egy', line: 1 },
      { text: 'kettő', line: 3 },
    ])
    const other = await source(dir, 'b.jsonl', '{"content": "x"}\n')
    expect((await docs(other, { jsonlField: 'content' })).docs[0]?.text).toBe('x')
    await expect(docs(other)).rejects.toThrow(/b\.jsonl, line 1: no "text" field \(it has: content\)/)
    const broken = await source(dir, 'c.jsonl', '{"text": "a"}\n{"text": oops}\n')
    await expect(docs(broken)).rejects.toThrow(/c\.jsonl, line 2: not valid JSON/)
    const notObject = await source(dir, 'd.jsonl', '["text"]\n')
    await expect(docs(notObject)).rejects.toThrow(/line 1: not a JSON object/)
  })

  it('reads CSV with quoted fields across lines, and TSV', async () => {
    const dir = tmp()
    const csv = await source(dir, 'a.csv', 'id,text\n1,"Első, idézett\nkét soros"\n2,"Idézőjel ""belül"""\n3,egyszerű\n')
    expect((await docs(csv)).docs).toEqual([
      { text: 'Első, idézett\nkét soros', line: 2 },
      { text: 'Idézőjel "belül"', line: 4 },
      { text: 'egyszerű', line: 5 },
    ])
    const tsv = await source(dir, 'a.tsv', 'text\tlang\nszöveg egy\thu\nszöveg kettő\thu\n')
    expect((await docs(tsv)).docs.map((d) => d.text)).toEqual(['szöveg egy', 'szöveg kettő'])
    await expect(docs(csv, { csvColumn: 'body' })).rejects.toThrow(/no column named "body" in the header \(columns: "id", "text"\)/)
    const open = await source(dir, 'b.csv', 'text\n"never closed\n')
    await expect(docs(open)).rejects.toThrow(/a quoted field is never closed/)
    expect(parseDelimited('a,"b,c",d', ',')).toEqual(['a', 'b,c', 'd'])
    expect(parseDelimited('"open', ',')).toBeNull()
  })

  it('reads gzip and reports a truncated one', async () => {
    const dir = tmp()
    const gz = gzipSync(Buffer.from('első sor\nmásodik sor\n'))
    expect((await docs(await source(dir, 'a.txt.gz', gz))).docs.map((d) => d.text)).toEqual(['első sor', 'második sor'])
    const big = gzipSync(Buffer.from(Array.from({ length: 20000 }, (_, i) => `sor ${i} ${'x'.repeat(50)}`).join('\n')))
    const truncated = await source(dir, 'b.txt.gz', big.subarray(0, Math.floor(big.length / 2)))
    await expect(docs(truncated)).rejects.toThrow(/b\.txt\.gz, after \d+ decompressed bytes: the gzip data is damaged or truncated/)
    await expect(docs(await source(dir, 'c.txt.gz', Buffer.from('not gzip at all')))).rejects.toThrow(/damaged or truncated/)
  })

  it('stops a decompression bomb', async () => {
    const dir = tmp()
    const line = 'a'.repeat(99) + '\n'
    const bomb = gzipSync(Buffer.from(line.repeat(800_000)), { level: 9 }) // 80 MB from ~80 KB
    await expect(docs(await source(dir, 'bomb.txt.gz', bomb))).rejects.toThrow(/looks like a decompression bomb/)
  })

  it('rejects invalid UTF-8 with line and byte offset, or replaces and counts it', async () => {
    const dir = tmp()
    const bad = await source(dir, 'latin2.txt', Buffer.concat([Buffer.from('jó sor\nrossz: '), Buffer.from([0xf5, 0x20, 0xe9]), Buffer.from('\n')]))
    await expect(docs(bad)).rejects.toThrow(/latin2\.txt, line 2, byte 15: invalid UTF-8 \(byte 0xf5\)/)
    const replaced = await docs(bad, { invalidUtf8: 'replace' })
    expect(replaced.docs[1]?.text).toBe('rossz: \ufffd \ufffd')
    expect(replaced.counters.invalidBytesReplaced).toBe(2)
  })

  it('refuses binary files and endless lines', async () => {
    const dir = tmp()
    await expect(docs(await source(dir, 'bin.txt', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01])))).rejects.toThrow(/NUL byte; it looks like a binary file/)
    const long = await source(dir, 'long.txt', 'rövid\n' + 'x'.repeat(17 * 1024 * 1024))
    await expect(docs(long)).rejects.toThrow(/long\.txt, line 2: the line is longer than 16 MiB/)
  })

  it('finds the first invalid UTF-8 byte', () => {
    expect(firstInvalidUtf8(Buffer.from('árvíztűrő 🙂'))).toBe(-1)
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc3]))).toBe(1) // truncated sequence
    expect(firstInvalidUtf8(Buffer.from([0xe0, 0x80, 0x80]))).toBe(0) // overlong
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0) // surrogate
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x80]))).toBe(1) // lone continuation
  })
})

