import { mkdtempSync, promises as fs, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gguf } from '@huggingface/gguf'
import { afterAll, describe, expect, it } from 'vitest'
import { GGUF_ALIGNMENT, type GgufTensor, ggmlTensorBytes, ggufFileBytes, kv, quantizeQ8_0, writeGguf } from '../../../main/engine/export/gguf'
import { ggufFileName, ggufUnsupported, permuteRope } from '../../../main/engine/export/ggufmodel'
import { parseModelConfig } from '../../../main/engine/model/config'
import { toFloat32 } from '../../../main/engine/model/dtype'

const root = mkdtempSync(join(tmpdir(), 'vernacular-gguf-writer-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const tensor = (name: string, shape: number[], type: GgufTensor['type'], values: Float32Array): GgufTensor => ({ name, shape, type, data: async () => values })

describe('the GGUF writer', () => {
  it('Q8_0: an F16 scale max|x|/127 and 32 int8 round(x/d) per block', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? (i - 16) / 8 : i === 40 ? -3 : 0))
    const q = quantizeQ8_0(x)
    expect(q.length).toBe(2 * 34)
    const view = new DataView(q.buffer)
    const d0 = toFloat32(q.subarray(0, 2), 'F16')[0] as number
    expect(d0).toBeCloseTo(2 / 127, 4) // max |x| of the first block is 16/8
    expect(view.getInt8(2 + 0)).toBe(-127) // -2 / d
    expect(view.getInt8(2 + 16)).toBe(0)
    expect(view.getInt8(2 + 17)).toBe(Math.round(0.125 / d0))
    expect(view.getInt8(34 + 2 + 8)).toBe(-127) // -3 in the second block
    expect(view.getInt8(34 + 2 + 9)).toBe(0)
  })

  it('writes a file @huggingface/gguf reads back: metadata, tensor infos innermost first, aligned offsets, predicted size', async () => {
    const file = join(root, 'tiny.gguf')
    const metadata: [string, ReturnType<typeof kv.str>][] = [
      ['general.architecture', kv.str('gpt2')],
      ['gpt2.block_count', kv.u32(1)],
      ['gpt2.attention.layer_norm_epsilon', kv.f32(1e-5)],
      ['tokenizer.ggml.tokens', kv.strings(['a', 'b', 'ő'])],
      ['tokenizer.ggml.token_type', kv.i32s([1, 1, 3])],
      ['tokenizer.ggml.scores', kv.f32s([0, -1, -2.5])],
      ['tokenizer.ggml.add_bos_token', kv.bool(false)],
    ]
    const a = Float32Array.from({ length: 3 * 32 }, (_, i) => Math.sin(i))
    const tensors = [tensor('w.f32', [3, 5], 'F32', a.slice(0, 15)), tensor('w.f16', [2, 3], 'F16', a.slice(0, 6)), tensor('w.q8', [3, 32], 'Q8_0', a)]
    const size = await writeGguf(file, metadata, tensors)
    expect((await fs.stat(file)).size).toBe(size)
    expect(ggufFileBytes(metadata, tensors)).toBe(size)
    const { metadata: m, tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true })
    const r = m as unknown as Record<string, unknown>
    expect(r.version).toBe(3)
    expect(r['general.architecture']).toBe('gpt2')
    expect(r['gpt2.block_count']).toBe(1)
    expect(r['gpt2.attention.layer_norm_epsilon']).toBeCloseTo(1e-5, 9)
    expect(r['tokenizer.ggml.tokens']).toEqual(['a', 'b', 'ő'])
    expect(r['tokenizer.ggml.token_type']).toEqual([1, 1, 3])
    expect(r['tokenizer.ggml.scores']).toEqual([0, -1, -2.5])
    expect(r['tokenizer.ggml.add_bos_token']).toBe(false)
    expect(tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)])).toEqual([
      ['w.f32', [5, 3], 0, 0],
      ['w.f16', [3, 2], 1, 64],
      ['w.q8', [32, 3], 8, 96],
    ])
    expect(Number(tensorDataOffset) % GGUF_ALIGNMENT).toBe(0)
    const bytes = await fs.readFile(file)
    const start = Number(tensorDataOffset)
    expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + 60))).toEqual(a.slice(0, 15))
    expect(ggmlTensorBytes([3, 32], 'Q8_0')).toBe(3 * 34)
  })

  it('refuses F16 weights past its range, and Q8_0 rows that are not whole blocks', async () => {
    await expect(writeGguf(join(root, 'big.gguf'), [], [tensor('blk.0.ffn_up.weight', [1, 2], 'F16', Float32Array.from([1, 1e6]))])).rejects.toThrow(
      '1 weight of blk.0.ffn_up.weight lie outside the range of F16',
    )
    await expect(writeGguf(join(root, 'odd.gguf'), [], [tensor('x', [2, 16], 'Q8_0', new Float32Array(32))])).rejects.toThrow('not whole Q8_0 blocks')
  })

  it('reorders each head from rotate-half to adjacent pairs (convert_hf_to_gguf.py permute)', () => {
    // 2 heads of 4 rows, 1 column: rows h·4 + [0, 1, 2, 3] become h·4 + [0, 2, 1, 3].
    expect(Array.from(permuteRope(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 4, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7])
  })
})

describe('what GGUF export covers', () => {
  it('GPT-2 and plain Llama; Qwen, biases and rope scaling are refused with a reason; the file is named for the project', () => {
    const base = { vocab_size: 64, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 }
    expect(ggufUnsupported(parseModelConfig({ model_type: 'gpt2', vocab_size: 64, n_embd: 32, n_layer: 1, n_head: 2, n_positions: 16 }, 'c'))).toBeNull()
    expect(ggufUnsupported(parseModelConfig({ model_type: 'llama', ...base }, 'c'))).toBeNull()
    expect(ggufUnsupported(parseModelConfig({ model_type: 'qwen2', ...base }, 'c'))).toBe('GGUF export of qwen2 models is not built yet (GPT-2 and Llama are)')
    expect(ggufUnsupported(parseModelConfig({ model_type: 'llama', ...base, attention_bias: true }, 'c'))).toContain('biases')
    expect(ggufUnsupported(parseModelConfig({ model_type: 'llama', ...base, rope_scaling: { type: 'linear', factor: 2 } }, 'c'))).toContain('linear rope scaling')
    expect(ggufFileName('Magyar / próba', 12, 'q8_0')).toBe('Magyar-próba-step-12-q8_0.gguf')
  })
})
