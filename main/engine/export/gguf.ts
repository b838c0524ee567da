/**
 * A GGUF writer (version 3, as the ggml repository's docs/gguf.md describes the format):
 *
 *   header        magic "GGUF", version u32, tensor count u64, metadata count u64
 *   metadata      key (u64 length + UTF-8), value type u32, value (arrays: item type u32, count u64, items)
 *   tensor infos  name, dimension count u32, dimensions u64 (innermost first), ggml type u32,
 *                 offset u64 into the data section (a multiple of the alignment)
 *   padding       to `general.alignment` (32)
 *   data          each tensor's bytes, padded to the alignment
 *
 * Everything is little-endian. Tensors are F32, F16 or Q8_0 (blocks of 32 values: an F16 scale
 * `d = max|x| / 127` and 32 int8 `round(x / d)`, as ggml's reference quantizer makes them).
 * Shapes here are in row-major order as numpy writes them ([rows, columns]); the file stores them
 * reversed (ggml's `ne[0]` is the row length).
 */
import { promises as fs } from 'node:fs'
import { EngineError } from '../common/errors'
import { floatToHalfBits, fromFloat32 } from '../model/dtype'

export const GGUF_ALIGNMENT = 32
export const Q8_0_BLOCK = 32

/** ggml tensor types the writer produces, with their ggml_type numbers. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const
export type GgmlType = keyof typeof GGML_TYPE

/** GGUF metadata value types. */
const VALUE_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const
type ScalarType = 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64'

export type GgufValue = { type: ScalarType; value: number | boolean | string } | { type: 'array'; itemType: 'string' | 'i32' | 'f32' | 'u32'; values: readonly (string | number)[] }

/** Shorthands for metadata values. */
export const kv = {
  str: (value: string): GgufValue => ({ type: 'string', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  strings: (values: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', values }),
  i32s: (values: readonly number[]): GgufValue => ({ type: 'array', itemType: 'i32', values }),
  f32s: (values: readonly number[]): GgufValue => ({ type: 'array', itemType: 'f32', values }),
}

export interface GgufTensor {
  name: string
  /** Row-major shape (numpy order). */
  shape: number[]
  type: GgmlType
  /** The values in row-major order, as float32. */
  data: () => Promise<Float32Array>
}

/** Bytes one tensor of this shape takes in the file, before alignment padding. */
export function ggmlTensorBytes(shape: readonly number[], type: GgmlType): number {
  const n = shape.reduce((a, b) => a * b, 1)
  if (type === 'F32') return 4 * n
  if (type === 'F16') return 2 * n
  return (n / Q8_0_BLOCK) * (2 + Q8_0_BLOCK)
}

/** Whether a tensor of this shape can be stored as `type` (Q8_0 needs rows that are whole blocks). */
export function ggmlTypeFits(shape: readonly number[], type: GgmlType): boolean {
  return type !== 'Q8_0' || (shape.length > 0 && (shape[shape.length - 1] as number) % Q8_0_BLOCK === 0)
}

const pad = (n: number) => (GGUF_ALIGNMENT - (n % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16)
  length = 0
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = Buffer.alloc(size)
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }
  u32(v: number) {
    this.ensure(4)
    this.buf.writeUInt32LE(v >>> 0, this.length)
    this.length += 4
  }
  i32(v: number) {
    this.ensure(4)
    this.buf.writeInt32LE(v, this.length)
    this.length += 4
  }
  u64(v: number) {
    this.ensure(8)
    this.buf.writeBigUInt64LE(BigInt(v), this.length)
    this.length += 8
  }
  f32(v: number) {
    this.ensure(4)
    this.buf.writeFloatLE(v, this.length)
    this.length += 4
  }
  u8(v: number) {
    this.ensure(1)
    this.buf.writeUInt8(v, this.length)
    this.length += 1
  }
  string(s: string) {
    const bytes = Buffer.from(s, 'utf8')
    this.u64(bytes.length)
    this.ensure(bytes.length)
    bytes.copy(this.buf, this.length)
    this.length += bytes.length
  }
  zeros(n: number) {
    this.ensure(n)
    this.buf.fill(0, this.length, this.length + n)
    this.length += n
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length)
  }
}

function writeScalar(w: ByteWriter, type: ScalarType | 'string' | 'i32' | 'f32' | 'u32', v: number | boolean | string) {
  switch (type) {
    case 'u32':
      return w.u32(v as number)
    case 'i32':
      return w.i32(v as number)
    case 'f32':
      return w.f32(v as number)
    case 'u64':
      return w.u64(v as number)
    case 'bool':
      return w.u8(v ? 1 : 0)
    case 'string':
      return w.string(v as string)
  }
}

/** The header, metadata and tensor infos, padded to the alignment; the data section follows. */
export function ggufHeader(metadata: readonly [string, GgufValue][], tensors: readonly Pick<GgufTensor, 'name' | 'shape' | 'type'>[]): Buffer {
  const w = new ByteWriter()
  w.u32(0x46554747) // "GGUF"
  w.u32(3)
  w.u64(tensors.length)
  w.u64(metadata.length)
  for (const [key, value] of metadata) {
    w.string(key)
    w.u32(VALUE_TYPE[value.type])
    if (value.type === 'array') {
      w.u32(VALUE_TYPE[value.itemType])
      w.u64(value.values.length)
      for (const item of value.values) writeScalar(w, value.itemType, item)
    } else writeScalar(w, value.type, value.value)
  }
  let offset = 0
  for (const t of tensors) {
    if (!ggmlTypeFits(t.shape, t.type)) throw new Error(`${t.name}: rows of ${t.shape[t.shape.length - 1]} values are not whole Q8_0 blocks of ${Q8_0_BLOCK}`)
    w.string(t.name)
    w.u32(t.shape.length)
    for (let i = t.shape.length - 1; i >= 0; i--) w.u64(t.shape[i] as number)
    w.u32(GGML_TYPE[t.type])
    w.u64(offset)
    const bytes = ggmlTensorBytes(t.shape, t.type)
    offset += bytes + pad(bytes)
  }
  w.zeros(pad(w.length))
  return w.bytes()
}

/** Q8_0 blocks of `values` (whose length is a multiple of 32), as ggml's reference quantizer makes them. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / Q8_0_BLOCK
  const out = new Uint8Array(blocks * (2 + Q8_0_BLOCK))
  const view = new DataView(out.buffer)
  const f32 = new Float32Array(1)
  const u32 = new Uint32Array(f32.buffer)
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK
    let amax = 0
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[base + i] as number))
    const d = Math.fround(amax / 127)
    const id = d !== 0 ? Math.fround(1 / d) : 0
    const o = b * (2 + Q8_0_BLOCK)
    f32[0] = d
    view.setUint16(o, floatToHalfBits(u32[0] as number), true)
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      // roundf: halves away from zero
      const x = Math.fround((values[base + i] as number) * id)
      view.setInt8(o + 2 + i, Math.sign(x) * Math.round(Math.abs(x)))
    }
  }
  return out
}

/** A tensor's values encoded as `type`. */
export function encodeTensor(values: Float32Array, type: GgmlType): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  if (type === 'F16') return fromFloat32(values, 'F16')
  return quantizeQ8_0(values)
}

/** The file size a GGUF with this metadata and these tensors has. */
export function ggufFileBytes(metadata: readonly [string, GgufValue][], tensors: readonly Pick<GgufTensor, 'name' | 'shape' | 'type'>[]): number {
  let n = ggufHeader(metadata, tensors).length
  for (const t of tensors) {
    const b = ggmlTensorBytes(t.shape, t.type)
    n += b + pad(b)
  }
  return n
}

/** Writes a GGUF file, tensor by tensor (`onTensor` before each); returns its size in bytes. */
export async function writeGguf(file: string, metadata: readonly [string, GgufValue][], tensors: readonly GgufTensor[], onTensor: (name: string, index: number) => void = () => {}): Promise<number> {
  const handle = await fs.open(file, 'w')
  try {
    const header = ggufHeader(metadata, tensors)
    await handle.write(header)
    let size = header.length
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i] as GgufTensor
      onTensor(t.name, i)
      const values = await t.data()
      const expected = t.shape.reduce((a, b) => a * b, 1)
      if (values.length !== expected) throw new Error(`${t.name}: ${values.length} values for shape [${t.shape.join(', ')}]`)
      const bytes = encodeTensor(values, t.type)
      if (t.type === 'F16') {
        const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, values.length)
        let over = 0
        for (let j = 0; j < values.length; j++) if (((halves[j] as number) & 0x7fff) === 0x7c00 && Number.isFinite(values[j] as number)) over++
        if (over > 0) {
          throw new EngineError('bad-input', `${over} weight${over === 1 ? '' : 's'} of ${t.name} lie outside the range of F16 (±65504) and would become infinite.`, {
            hint: 'Export with --dtype q8_0 (scaled per block of 32) or --dtype f32.',
          })
        }
      }
      await handle.write(bytes)
      const p = pad(bytes.length)
      if (p) await handle.write(new Uint8Array(p))
      size += bytes.length + p
    }
    await handle.sync()
    return size
  } finally {
    await handle.close()
  }
}
