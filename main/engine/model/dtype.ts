/**
 * Floating-point storage types of Hugging Face checkpoints and their conversion to and from the
 * float32 we compute in. Half and bfloat16 tensors are widened exactly; narrowing rounds to
 * nearest, ties to even, as PyTorch's `.to(torch.float16 / torch.bfloat16)` does.
 */

export type FloatDtype = 'F32' | 'F16' | 'BF16'

/** Bytes per element of every dtype the safetensors format defines. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
}

/** The name `config.json` uses (`torch_dtype`) for each storage type, and back. */
export const TORCH_DTYPE: Readonly<Record<FloatDtype, string>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }

export function dtypeFromTorch(name: unknown): FloatDtype | null {
  switch (name) {
    case 'float32':
    case 'float':
      return 'F32'
    case 'float16':
    case 'half':
      return 'F16'
    case 'bfloat16':
      return 'BF16'
    default:
      return null
  }
}

let halfTable: Float32Array | null = null

/** All 65,536 half-precision values, widened: a table lookup is the fastest conversion in JS. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable
  const t = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exp = (h >> 10) & 0x1f
    const frac = h & 0x3ff
    if (exp === 0) t[h] = sign * frac * 2 ** -24
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15)
  }
  halfTable = t
  return t
}

/** Decodes little-endian stored values of `dtype` into float32. `bytes` may sit at any offset. */
export function toFloat32(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const n = bytes.byteLength / (dtype === 'F32' ? 4 : 2)
  // Copy into an aligned buffer first; a view on a file read may start at an odd offset.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice()
  if (dtype === 'F32') {
    return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength) as ArrayBuffer)
  }
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, n)
  const out = new Float32Array(n)
  if (dtype === 'F16') {
    const t = halfToFloatTable()
    for (let i = 0; i < n; i++) out[i] = t[halves[i] as number] as number
  } else {
    const bits = new Uint32Array(out.buffer)
    for (let i = 0; i < n; i++) bits[i] = (halves[i] as number) << 16
  }
  return out
}

/** Encodes float32 values as `dtype`, little-endian, rounding to nearest even. */
export function fromFloat32(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength) as ArrayBuffer)
  const n = values.length
  const out = new Uint16Array(n)
  const bits = new Uint32Array(values.buffer, values.byteOffset, n)
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) {
      const b = bits[i] as number
      if ((b & 0x7f800000) === 0x7f800000 && b & 0x007fffff) out[i] = ((b >>> 16) | 0x40) & 0xffff // quiet NaN
      else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = floatToHalfBits(bits[i] as number)
  }
  return new Uint8Array(out.buffer)
}

/** IEEE 754 binary32 bits → binary16 bits, round to nearest even (subnormals and overflow included). */
export function floatToHalfBits(b: number): number {
  const sign = (b >>> 16) & 0x8000
  const exp = (b >>> 23) & 0xff
  let mant = b & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0) // Inf or NaN
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00 // overflow to infinity
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit bit into place.
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    const rest = mant & ((1 << shift) - 1)
    let m = mant >>> shift
    if (rest > half || (rest === half && m & 1)) m++
    return sign | m
  }
  let m = mant >>> 13
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++
    if (m === 0x400) {
      m = 0
      e++
      if (e >= 0x1f) return sign | 0x7c00
    }
  }
  return sign | (e << 10) | m
}
