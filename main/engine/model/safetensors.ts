/**
 * The safetensors format, read and written here without a library:
 *
 *   [8 bytes: header length N, little-endian u64] [N bytes: JSON header] [tensor data]
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the data section) and may hold a `__metadata__` map of strings. Headers come from files users
 * download, so everything is checked before any tensor is read: the length against the file size,
 * every offset inside the data section, the byte count against dtype × shape, no overlaps.
 * Tensors are read one at a time from the file, so a large checkpoint never has to fit in memory
 * twice.
 */
import { promises as fs } from 'node:fs'
import { basename, join } from 'node:path'
import { EngineError, fsError } from '../common/errors'
import { syncDir } from '../common/fsutil'
import { DTYPE_BYTES, type FloatDtype, toFloat32 } from './dtype'

/** The reference implementation refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000

export interface TensorInfo {
  name: string
  dtype: string
  shape: number[]
  /** The file that holds it, and the byte range in that file (absolute, not data-relative). */
  file: string
  start: number
  end: number
}

export interface SafetensorsHeader {
  file: string
  size: number
  metadata: Record<string, string> | null
  tensors: TensorInfo[]
}

function bad(file: string, problem: string): EngineError {
  return new EngineError('bad-input', `${file} is not a valid safetensors file: ${problem}.`, {
    file,
    hint: 'The file may be truncated or damaged (an interrupted download?). Download or export it again.',
  })
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** Reads and validates the header of one safetensors file. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch (e) {
    throw fsError(e, file, 'read')
  }
  try {
    const size = (await handle.stat()).size
    if (size < 8) throw bad(file, `it is ${size} bytes long, shorter than the 8-byte header length`)
    const lenBuf = Buffer.alloc(8)
    await handle.read(lenBuf, 0, 8, 0)
    const headerLen = lenBuf.readBigUInt64LE(0)
    if (headerLen > BigInt(MAX_HEADER_BYTES)) throw bad(file, `the header claims ${headerLen} bytes, more than the ${MAX_HEADER_BYTES} allowed`)
    const n = Number(headerLen)
    if (8 + n > size) throw bad(file, `the header claims ${n} bytes but the file has only ${size - 8} after the length`)
    const headerBuf = Buffer.alloc(n)
    await handle.read(headerBuf, 0, n, 8)
    let header: unknown
    try {
      header = JSON.parse(headerBuf.toString('utf8'))
    } catch (e) {
      throw bad(file, `the header is not JSON (${(e as Error).message})`)
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(file, 'the header is not a JSON object')
    const dataStart = 8 + n
    const dataLen = size - dataStart
    let metadata: Record<string, string> | null = null
    const tensors: TensorInfo[] = []
    for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (value === null) continue
        if (typeof value !== 'object' || Array.isArray(value) || Object.values(value as object).some((v) => typeof v !== 'string')) {
          throw bad(file, '__metadata__ must map names to strings')
        }
        metadata = value as Record<string, string>
        continue
      }
      const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
      if (typeof v !== 'object' || v === null) throw bad(file, `the entry for "${name}" is not an object`)
      if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) throw bad(file, `"${name}" has an unknown dtype ${JSON.stringify(v.dtype)}`)
      if (!Array.isArray(v.shape) || v.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(file, `"${name}" has a bad shape ${JSON.stringify(v.shape)}`)
      const offs = v.data_offsets
      if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0) || offs[0] > offs[1]) {
        throw bad(file, `"${name}" has bad data_offsets ${JSON.stringify(offs)}`)
      }
      const [begin, end] = offs as [number, number]
      if (end > dataLen) throw bad(file, `"${name}" ends at byte ${end} of the data, past its end (${dataLen} bytes)`)
      const shape = v.shape as number[]
      const want = elementCount(shape) * (DTYPE_BYTES[v.dtype] as number)
      if (end - begin !== want) throw bad(file, `"${name}" has ${end - begin} bytes but its shape [${shape.join(', ')}] of ${v.dtype} needs ${want}`)
      tensors.push({ name, dtype: v.dtype, shape, file, start: dataStart + begin, end: dataStart + end })
    }
    const sorted = [...tensors].sort((a, b) => a.start - b.start)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as TensorInfo
      const cur = sorted[i] as TensorInfo
      if (cur.start < prev.end) throw bad(file, `"${prev.name}" and "${cur.name}" overlap`)
    }
    return { file, size, metadata, tensors }
  } finally {
    await handle.close()
  }
}

/** The raw little-endian bytes of one tensor. */
export async function readTensorBytes(t: TensorInfo): Promise<Uint8Array> {
  const len = t.end - t.start
  const buf = new Uint8Array(len)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(t.file, 'r')
  } catch (e) {
    throw fsError(e, t.file, 'read')
  }
  try {
    let done = 0
    while (done < len) {
      const { bytesRead } = await handle.read(buf, done, Math.min(len - done, 1 << 30), t.start + done)
      if (bytesRead === 0) throw bad(t.file, `it ended while reading "${t.name}"`)
      done += bytesRead
    }
  } finally {
    await handle.close()
  }
  return buf
}

export function isFloatDtype(d: string): d is FloatDtype {
  return d === 'F32' || d === 'F16' || d === 'BF16'
}

/** One tensor as float32 (F16 and BF16 widened exactly). */
export async function readTensorFloat32(t: TensorInfo): Promise<Float32Array> {
  if (!isFloatDtype(t.dtype)) {
    throw new EngineError('bad-input', `${t.file}: "${t.name}" is stored as ${t.dtype}; only F32, F16 and BF16 weights can be loaded.`, { file: t.file })
  }
  return toFloat32(await readTensorBytes(t), t.dtype)
}

export interface TensorToWrite {
  name: string
  dtype: string
  shape: number[]
  /** The bytes, little-endian; produced when the tensor is written, so large files stream. */
  data: () => Promise<Uint8Array> | Uint8Array
}

function byteLength(t: TensorToWrite): number {
  const per = DTYPE_BYTES[t.dtype]
  if (per === undefined) throw new Error(`unknown dtype ${t.dtype} for ${t.name}`)
  return elementCount(t.shape) * per
}

/** The header bytes (length prefix included), padded with spaces to a multiple of 8 as the Rust library does. */
function encodeHeader(tensors: readonly TensorToWrite[], metadata: Record<string, string> | null): Buffer {
  const header: Record<string, unknown> = {}
  if (metadata) header.__metadata__ = metadata
  let offset = 0
  for (const t of tensors) {
    const len = byteLength(t)
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] }
    offset += len
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8')
  const pad = (8 - ((8 + json.length) % 8)) % 8
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([len, json])
}

/** Writes one safetensors file, tensor by tensor, and syncs it. */
export async function writeSafetensors(file: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> | null = { format: 'pt' }): Promise<number> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(file, 'w', 0o644)
    const header = encodeHeader(tensors, metadata)
    await handle.write(header)
    let total = 0
    for (const t of tensors) {
      const bytes = await t.data()
      if (bytes.byteLength !== byteLength(t)) throw new Error(`"${t.name}" has ${bytes.byteLength} bytes, its shape needs ${byteLength(t)}`)
      await handle.write(bytes)
      total += bytes.byteLength
    }
    await handle.sync()
    return total
  } catch (e) {
    // A Node filesystem error (string code); errors the tensors' producers throw pass through as they are.
    if (!(e instanceof EngineError) && typeof (e as NodeJS.ErrnoException).code === 'string') throw fsError(e, file, 'write')
    throw e
  } finally {
    await handle?.close()
  }
}

export interface ShardedWriteResult {
  /** The weight files written, in order. */
  files: string[]
  /** The index file, when there is more than one shard. */
  index: string | null
  totalBytes: number
}

/**
 * Writes tensors into `dir` as Hugging Face does: `model.safetensors` if they fit in one shard,
 * else `model-0000i-of-0000n.safetensors` files plus `model.safetensors.index.json`.
 */
export async function writeSafetensorsSharded(dir: string, tensors: readonly TensorToWrite[], maxShardBytes = 5 * 1024 ** 3): Promise<ShardedWriteResult> {
  const shards: TensorToWrite[][] = [[]]
  let current = 0
  for (const t of tensors) {
    const len = byteLength(t)
    const last = shards[shards.length - 1] as TensorToWrite[]
    if (last.length > 0 && current + len > maxShardBytes) {
      shards.push([t])
      current = len
    } else {
      last.push(t)
      current += len
    }
  }
  const n = shards.length
  const pad = (i: number) => String(i).padStart(5, '0')
  const names = n === 1 ? ['model.safetensors'] : shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`)
  let totalBytes = 0
  const weightMap: Record<string, string> = {}
  for (let i = 0; i < n; i++) {
    const name = names[i] as string
    totalBytes += await writeSafetensors(join(dir, name), shards[i] as TensorToWrite[])
    for (const t of shards[i] as TensorToWrite[]) weightMap[t.name] = name
  }
  let index: string | null = null
  if (n > 1) {
    index = 'model.safetensors.index.json'
    await fs.writeFile(join(dir, index), JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: weightMap }, null, 2) + '\n')
  }
  await syncDir(dir)
  return { files: names, index, totalBytes }
}

/** Whether a file name is one of the weight files `writeSafetensorsSharded` writes. */
export function isWeightFileName(name: string): boolean {
  return name === 'model.safetensors' || name === 'model.safetensors.index.json' || /^model-\d{5}-of-\d{5}\.safetensors$/.test(basename(name))
}
