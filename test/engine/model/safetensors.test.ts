import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { floatToHalfBits, fromFloat32, toFloat32 } from '../../../main/engine/model/dtype'
import { readSafetensorsHeader, readTensorBytes, readTensorFloat32, writeSafetensors, writeSafetensorsSharded } from '../../../main/engine/model/safetensors'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const FIXTURES = join(__dirname, 'fixtures')

/** A safetensors file from a header object and data bytes, written by hand. */
async function handMade(file: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): Promise<string> {
  const json = Buffer.from(JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length))
  await fs.writeFile(file, Buffer.concat([len, json, data]))
  return file
}

describe('float conversions', () => {
  it('widens F16 and BF16 exactly and narrows with round-to-nearest-even', () => {
    // Every finite half is exact in float32 and survives the round trip.
    const halves = new Uint16Array(65536).map((_, i) => i)
    const widened = toFloat32(new Uint8Array(halves.buffer), 'F16')
    const back = new Uint16Array(fromFloat32(widened, 'F16').buffer)
    let mismatches = 0
    for (let i = 0; i < 65536; i++) if (!Number.isNaN(widened[i]) && back[i] !== i) mismatches++
    expect(mismatches).toBe(0)
    expect(widened[0x3c00]).toBe(1)
    expect(widened[0xc000]).toBe(-2)
    expect(widened[0x0001]).toBe(2 ** -24) // smallest subnormal
    expect(widened[0x7bff]).toBe(65504) // largest finite
    expect(widened[0x7c00]).toBe(Infinity)
    // Ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
    expect(floatToHalfBits(new Uint32Array(new Float32Array([1 + 2 ** -11]).buffer)[0]!)).toBe(0x3c00)
    expect(floatToHalfBits(new Uint32Array(new Float32Array([1 + 3 * 2 ** -11]).buffer)[0]!)).toBe(0x3c02)
    expect(floatToHalfBits(new Uint32Array(new Float32Array([70000]).buffer)[0]!)).toBe(0x7c00) // overflow
    expect(floatToHalfBits(new Uint32Array(new Float32Array([2 ** -25 * 1.5]).buffer)[0]!)).toBe(0x0001) // rounds up to the smallest subnormal
    // BF16: the top 16 bits, rounded to nearest even.
    const values = new Float32Array([1, -3.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.140625, NaN])
    const bf = toFloat32(fromFloat32(values, 'BF16'), 'BF16')
    expect(Array.from(bf.subarray(0, 5))).toEqual([1, -3.5, 1, 1 + 2 ** -6, 3.140625])
    expect(Number.isNaN(bf[5])).toBe(true)
  })
})

describe('safetensors files', () => {
  it('writes files the reader reads back, header padded to 8 bytes, with metadata', async () => {
    const dir = tmp()
    const a = new Float32Array([1, 2, 3, 4, 5, 6])
    const b = new Float32Array([0.5, -0.25])
    const file = join(dir, 'x.safetensors')
    await writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: () => fromFloat32(a, 'F32') },
      { name: 'b', dtype: 'BF16', shape: [2], data: () => fromFloat32(b, 'BF16') },
    ])
    const bytes = await fs.readFile(file)
    const n = Number(bytes.readBigUInt64LE(0))
    expect((8 + n) % 8).toBe(0)
    const h = await readSafetensorsHeader(file)
    expect(h.metadata).toEqual({ format: 'pt' })
    expect(h.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['a', 'F32', [2, 3]],
      ['b', 'BF16', [2]],
    ])
    expect(Array.from(await readTensorFloat32(h.tensors[0]!))).toEqual(Array.from(a))
    expect(Array.from(await readTensorFloat32(h.tensors[1]!))).toEqual([0.5, -0.25])
  })

  it('refuses damaged headers with the file named and the problem said', async () => {
    const dir = tmp()
    const data = new Uint8Array(16)
    const ok = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }
    const cases: [string, Promise<string>, RegExp][] = [
      ['short', fs.writeFile(join(dir, 'short'), Buffer.alloc(5)).then(() => join(dir, 'short')), /shorter than the 8-byte header length/],
      ['length past the end', handMade(join(dir, 'len'), ok, data, 10_000n), /claims 10000 bytes but the file has only/],
      ['huge length', handMade(join(dir, 'huge'), ok, data, 2n ** 40n), /more than the 100000000 allowed/],
      ['not json', fs.writeFile(join(dir, 'nojson'), Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{')])).then(() => join(dir, 'nojson')), /header is not JSON/],
      ['offsets past the data', handMade(join(dir, 'off'), { w: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 24] } }, data), /ends at byte 24 of the data, past its end \(16 bytes\)/],
      ['dtype and shape disagree', handMade(join(dir, 'shape'), { w: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, data), /has 16 bytes but its shape \[3, 2\] of F32 needs 24/],
      ['unknown dtype', handMade(join(dir, 'dtype'), { w: { dtype: 'F12', shape: [2], data_offsets: [0, 3] } }, data), /unknown dtype "F12"/],
      ['overlap', handMade(join(dir, 'overlap'), { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data), /"a" and "b" overlap/],
      ['negative shape', handMade(join(dir, 'neg'), { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data), /bad shape/],
    ]
    for (const [what, fileP, message] of cases) {
      const file = await fileP
      const err = await readSafetensorsHeader(file).then(
        () => null,
        (e: Error & { file?: string; code?: string }) => e,
      )
      expect(err, what).not.toBeNull()
      expect(err!.message, what).toMatch(message)
      expect(err!.message, what).toContain(file)
      expect(err!.code, what).toBe('bad-input')
    }
  })

  it('shards like save_pretrained, with an index the checkpoint reader follows', async () => {
    const src = await openCheckpoint(join(FIXTURES, 'llama'))
    const dir = tmp()
    const tensors = src.tensors.map(({ info }) => ({ name: info.name, dtype: info.dtype, shape: info.shape, data: () => readTensorBytes(info) }))
    const r = await writeSafetensorsSharded(dir, tensors, 40_000)
    expect(r.files.length).toBeGreaterThan(2)
    expect(r.files[0]).toBe(`model-00001-of-0000${r.files.length}.safetensors`)
    expect(r.index).toBe('model.safetensors.index.json')
    const index = JSON.parse(await fs.readFile(join(dir, r.index!), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> }
    expect(Object.keys(index.weight_map).sort()).toEqual(src.tensors.map((t) => t.info.name).sort())
    expect(index.metadata.total_size).toBe(r.totalBytes)
    await fs.copyFile(join(FIXTURES, 'llama', 'config.json'), join(dir, 'config.json'))
    const back = await openCheckpoint(dir)
    expect(back.weightFiles).toEqual(r.files)
    for (const { spec, info } of back.tensors) {
      const orig = src.tensors.find((t) => t.spec.name === spec.name)!
      expect(Buffer.compare(Buffer.from(await readTensorBytes(info)), Buffer.from(await readTensorBytes(orig.info)))).toBe(0)
    }
  })
})

describe('model folders', () => {
  async function copyFixture(name: string): Promise<string> {
    const dir = join(tmp(), name)
    await fs.cp(join(FIXTURES, name), dir, { recursive: true })
    return dir
  }
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: Error & { code?: string; details?: string[]; hint?: string }) => e,
    )

  it('reads config and weights, with or without prefixes, skipping legacy buffers', async () => {
    const gpt2 = await openCheckpoint(join(FIXTURES, 'gpt2-f16-noprefix'))
    expect(gpt2.storedDtype).toBe('F16')
    expect(gpt2.skipped).toEqual(['h.0.attn.bias', 'h.1.attn.bias'])
    expect(gpt2.parameterCount).toBe(30592)
    const sharded = await openCheckpoint(join(FIXTURES, 'llama3-sharded'))
    expect(sharded.weightFiles).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    expect(sharded.config.arch === 'llama' && sharded.config.ropeScaling?.type).toBe('llama3')
  })

  it('explains folders without config or weights, and unsupported model types', async () => {
    const empty = tmp()
    expect((await failure(openCheckpoint(empty)))!.message).toMatch(/has no config\.json/)
    const noWeights = await copyFixture('gpt2')
    await fs.rm(join(noWeights, 'model.safetensors'))
    await fs.writeFile(join(noWeights, 'pytorch_model.bin'), 'x')
    const e1 = (await failure(openCheckpoint(noWeights)))!
    expect(e1.message).toMatch(/has no model\.safetensors .*it has pytorch_model\.bin/)
    expect(e1.hint).toMatch(/safe_serialization=True/)
    const bert = await copyFixture('gpt2')
    await fs.writeFile(join(bert, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 10 }))
    const e2 = (await failure(openCheckpoint(bert)))!
    expect(e2.message).toMatch(/model_type "bert" is not supported/)
    expect(e2.hint).toMatch(/gpt2, llama, mistral, qwen2, qwen3/)
  })

  it('lists missing, extra and misshapen tensors before loading anything', async () => {
    const dir = await copyFixture('llama')
    const cfg = JSON.parse(await fs.readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
    // One layer fewer in the config: layer 1's tensors are extra.
    await fs.writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 1 }))
    const extra = (await failure(openCheckpoint(dir)))!
    expect(extra.message).toMatch(/9 tensors this llama configuration has no place for: model\.layers\.1\./)
    // One more: layer 2's are missing.
    await fs.writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 3 }))
    const missing = (await failure(openCheckpoint(dir)))!
    expect(missing.message).toMatch(/missing 9 tensors: layers\.2\.self_attn\.q_proj\.weight/)
    // A wider MLP: the shapes disagree.
    await fs.writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 90 }))
    const shapes = (await failure(openCheckpoint(dir)))!
    expect(shapes.details!.join('\n')).toMatch(/model\.layers\.0\.mlp\.gate_proj\.weight has shape \[88, 32\], config\.json implies \[90, 32\]/)
    expect(shapes.details!.length).toBe(6)
  })

  it('refuses an index that names a missing shard', async () => {
    const dir = await copyFixture('llama3-sharded')
    await fs.rm(join(dir, 'model-00002-of-00002.safetensors'))
    const e = (await failure(openCheckpoint(dir)))!
    expect(e.message).toMatch(/lists model-00002-of-00002\.safetensors, which is not in the folder/)
  })
})
