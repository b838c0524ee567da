/**
 * Token files: the train split of one corpus role, tokenised once with the run's tokenizer and read
 * back by the trainer a document at a time, never whole. The format (docs/training-data.md):
 *
 *   offset  size  field (little-endian)
 *        0     8  magic "VRNTOKS\0"
 *        8     4  version, 1
 *       12     4  bytes per token: 2 (uint16, when the vocabulary fits) or 4 (uint32)
 *       16     4  vocabulary size of the tokenizer
 *       20     4  reserved, 0
 *       24     8  document count D
 *       32     8  token count N
 *       40     8  byte offset of the index
 *       48    32  the tokenizer's vocabulary fingerprint (sha256, common/fingerprint.ts)
 *       80    48  reserved, 0
 *      128  N·b   the tokens of every document, one after the other (no separators)
 *    index (D+1)·8  token offsets: document d is tokens [index[d], index[d+1])
 */
import { promises as fs } from 'node:fs'
import { EngineError } from '../common/errors'

export const TOKENS_MAGIC = 'VRNTOKS\0'
export const TOKENS_VERSION = 1
export const TOKENS_HEADER_BYTES = 128

export interface TokenFileHeader {
  version: number
  bytesPerToken: 2 | 4
  vocabSize: number
  documents: number
  tokens: number
  indexOffset: number
  /** The tokenizer's vocabulary fingerprint, hex. */
  tokenizer: string
}

function encodeHeader(h: TokenFileHeader): Buffer {
  const b = Buffer.alloc(TOKENS_HEADER_BYTES)
  b.write(TOKENS_MAGIC, 0, 'latin1')
  b.writeUInt32LE(h.version, 8)
  b.writeUInt32LE(h.bytesPerToken, 12)
  b.writeUInt32LE(h.vocabSize, 16)
  b.writeBigUInt64LE(BigInt(h.documents), 24)
  b.writeBigUInt64LE(BigInt(h.tokens), 32)
  b.writeBigUInt64LE(BigInt(h.indexOffset), 40)
  Buffer.from(h.tokenizer, 'hex').copy(b, 48, 0, 32)
  return b
}

function decodeHeader(b: Buffer, file: string): TokenFileHeader {
  const bad = (what: string) =>
    new EngineError('bad-input', `${file} is not a Vernacular token file (${what}).`, { file, hint: 'Delete the data/ folder of the project; the trainer tokenises the corpora again.' })
  if (b.length < TOKENS_HEADER_BYTES || b.toString('latin1', 0, 8) !== TOKENS_MAGIC) throw bad('wrong magic')
  const version = b.readUInt32LE(8)
  if (version !== TOKENS_VERSION) throw bad(`version ${version}; this Vernacular reads version ${TOKENS_VERSION}`)
  const bytesPerToken = b.readUInt32LE(12)
  if (bytesPerToken !== 2 && bytesPerToken !== 4) throw bad(`${bytesPerToken} bytes per token`)
  return {
    version,
    bytesPerToken,
    vocabSize: b.readUInt32LE(16),
    documents: Number(b.readBigUInt64LE(24)),
    tokens: Number(b.readBigUInt64LE(32)),
    indexOffset: Number(b.readBigUInt64LE(40)),
    tokenizer: b.toString('hex', 48, 80),
  }
}

/** Writes a token file document by document; `finish` writes the index and the header. */
export class TokenFileWriter {
  private readonly bytesPerToken: 2 | 4
  private offsets = new Float64Array(1024)
  private documents = 0
  private tokens = 0
  private chunk: Buffer
  private used = 0
  private position = TOKENS_HEADER_BYTES

  private constructor(
    private readonly handle: fs.FileHandle,
    readonly file: string,
    private readonly vocabSize: number,
    private readonly tokenizer: string,
  ) {
    this.bytesPerToken = vocabSize <= 0x10000 ? 2 : 4
    this.chunk = Buffer.alloc(1 << 20)
  }

  /** `tokenizer` is the vocabulary fingerprint (64 hex digits). */
  static async create(file: string, vocabSize: number, tokenizer: string): Promise<TokenFileWriter> {
    if (!/^[0-9a-f]{64}$/.test(tokenizer)) throw new Error('the tokenizer fingerprint must be 64 hex digits')
    const handle = await fs.open(file, 'w')
    return new TokenFileWriter(handle, file, vocabSize, tokenizer)
  }

  async add(ids: ArrayLike<number>): Promise<void> {
    const b = this.bytesPerToken
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (!(id >= 0 && id < this.vocabSize)) throw new Error(`token id ${id} is outside the vocabulary (${this.vocabSize})`)
      if (this.used + b > this.chunk.length) await this.flush()
      if (b === 2) this.chunk.writeUInt16LE(id, this.used)
      else this.chunk.writeUInt32LE(id, this.used)
      this.used += b
    }
    if (this.documents + 1 >= this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2)
      grown.set(this.offsets)
      this.offsets = grown
    }
    this.tokens += ids.length
    this.documents++
    this.offsets[this.documents] = this.tokens
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return
    await this.handle.write(this.chunk, 0, this.used, this.position)
    this.position += this.used
    this.used = 0
  }

  /** Writes the index and the header, syncs and closes the file. */
  async finish(): Promise<TokenFileHeader> {
    await this.flush()
    const index = Buffer.alloc((this.documents + 1) * 8)
    for (let d = 0; d <= this.documents; d++) index.writeBigUInt64LE(BigInt(this.offsets[d]!), d * 8)
    const header: TokenFileHeader = {
      version: TOKENS_VERSION,
      bytesPerToken: this.bytesPerToken,
      vocabSize: this.vocabSize,
      documents: this.documents,
      tokens: this.tokens,
      indexOffset: this.position,
      tokenizer: this.tokenizer,
    }
    await this.handle.write(index, 0, index.length, this.position)
    await this.handle.write(encodeHeader(header), 0, TOKENS_HEADER_BYTES, 0)
    await this.handle.sync()
    await this.handle.close()
    return header
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined)
  }
}

/** A token file open for reading documents by index. The index is held (8 bytes a document); tokens are read on demand. */
export class TokenFile {
  private constructor(
    private readonly handle: fs.FileHandle,
    readonly file: string,
    readonly header: TokenFileHeader,
    private readonly index: Float64Array,
  ) {}

  static async open(file: string): Promise<TokenFile> {
    let handle: fs.FileHandle
    try {
      handle = await fs.open(file, 'r')
    } catch (e) {
      throw new EngineError((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not-found' : 'io', `Cannot open ${file}: ${(e as Error).message}`, { file })
    }
    try {
      const { size } = await handle.stat()
      const head = Buffer.alloc(TOKENS_HEADER_BYTES)
      await handle.read(head, 0, TOKENS_HEADER_BYTES, 0)
      const header = decodeHeader(head, file)
      const tokenBytes = header.tokens * header.bytesPerToken
      if (header.indexOffset !== TOKENS_HEADER_BYTES + tokenBytes || size !== header.indexOffset + (header.documents + 1) * 8) {
        throw new EngineError('bad-input', `${file} is truncated or damaged (its size does not match its header).`, { file, hint: 'Delete the data/ folder of the project; the trainer tokenises the corpora again.' })
      }
      const raw = Buffer.alloc((header.documents + 1) * 8)
      await handle.read(raw, 0, raw.length, header.indexOffset)
      const index = new Float64Array(header.documents + 1)
      for (let d = 0; d <= header.documents; d++) index[d] = Number(raw.readBigUInt64LE(d * 8))
      return new TokenFile(handle, file, header, index)
    } catch (e) {
      await handle.close()
      throw e
    }
  }

  get documents(): number {
    return this.header.documents
  }

  get tokens(): number {
    return this.header.tokens
  }

  /** Tokens in document `d`. */
  length(d: number): number {
    return this.index[d + 1]! - this.index[d]!
  }

  /** The tokens of document `d`. */
  async read(d: number): Promise<Uint32Array> {
    if (!(d >= 0 && d < this.documents)) throw new RangeError(`document ${d} of ${this.documents}`)
    const start = this.index[d]!
    const n = this.index[d + 1]! - start
    const b = this.header.bytesPerToken
    const buf = Buffer.alloc(n * b)
    await this.handle.read(buf, 0, buf.length, TOKENS_HEADER_BYTES + start * b)
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i++) out[i] = b === 2 ? buf.readUInt16LE(i * 2) : buf.readUInt32LE(i * 4)
    return out
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}
