import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend } from '../../../main/engine/backend/select'
import { openCheckpoint, type HfCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { fromFloat32, toFloat32, type FloatDtype } from '../../../main/engine/model/dtype'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { CausalLM } from '../../../main/engine/model/model'
import { embeddingName } from '../../../main/engine/model/names'
import { resizeModel, type ResizeRecord } from '../../../main/engine/model/resize'
import { readTensorBytes } from '../../../main/engine/model/safetensors'
import type { VocabChanges } from '../../../main/engine/tokenizer/extend'
import { extendFiles } from '../../../main/engine/tokenizer/operations'
import { TOKENIZER_FILES, demoText } from '../tokenizer/fixtures'

// Embedding surgery on real extensions of GPT-2's tokenizer (learned on the demo's Hungarian text),
// applied to small GPT-2 and Llama models that carry that tokenizer.
let root: string
let addChanges: string
let replaceChanges: string

async function baseModel(name: string, raw: Record<string, unknown>, dtype: FloatDtype, seed: number): Promise<string> {
  const dir = join(root, name)
  const config = parseModelConfig(raw, name)
  await writeInitialisedModel(dir, config, { seed, dtype, std: 0.5 })
  await fs.copyFile(TOKENIZER_FILES.gpt2, join(dir, 'tokenizer.json'))
  await fs.writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 50256, eos_token_id: 50256 }))
  return dir
}

const GPT2 = { model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, bos_token_id: 50256, eos_token_id: 50256 }
const LLAMA = { model_type: 'llama', vocab_size: 50257, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: false }

afterAll(() => rmSync(root, { recursive: true, force: true }))

beforeAll(async () => {
  // One folder for the whole file: the extensions are shared by the tests.
  root = mkdtempSync(join(tmpdir(), 'vernacular-resize-'))
  const hu = join(root, 'hu.txt')
  const en = join(root, 'en.txt')
  await fs.writeFile(hu, demoText('hu').train.slice(0, 4000).join('\n') + '\n')
  await fs.writeFile(en, demoText('en').train.slice(0, 2000).join('\n') + '\n')
  await extendFiles({ base: TOKENIZER_FILES.gpt2, corpus: [hu], mode: 'add', count: 100, out: join(root, 'add-100') })
  await extendFiles({ base: TOKENIZER_FILES.gpt2, corpus: [hu], reference: [hu, en], mode: 'replace', count: 60, out: join(root, 'replace-60') })
  addChanges = join(root, 'add-100', 'vocab-changes.json')
  replaceChanges = join(root, 'replace-60', 'vocab-changes.json')
}, 120_000)

async function matrix(ckpt: HfCheckpoint, name: string): Promise<{ bytes: Uint8Array; dtype: FloatDtype; rows: number; D: number }> {
  const t = ckpt.tensors.find((x) => x.spec.name === name)!
  return { bytes: await readTensorBytes(t.info), dtype: t.info.dtype as FloatDtype, rows: t.info.shape[0]!, D: t.info.shape[1]! }
}

async function changes(file: string): Promise<VocabChanges> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as VocabChanges
}

/** The expected new row: the mean of the base rows, in float64, rounded to the storage type. */
function meanRow(base: Float32Array, D: number, ids: number[], dtype: FloatDtype): Float32Array {
  const acc = new Float64Array(D)
  for (const id of ids) for (let d = 0; d < D; d++) acc[d]! += base[id * D + d]!
  return toFloat32(fromFloat32(Float32Array.from(acc, (x) => x / ids.length), dtype), dtype)
}

describe('model resize', () => {
  it('add + mean: appends rows that average the pieces, and leaves every other byte as it was', async () => {
    const base = await baseModel('gpt2-f16', GPT2, 'F16', 1)
    const out = join(root, 'gpt2-add')
    const record = await resizeModel(base, addChanges, out, { init: 'mean' })
    const ch = await changes(addChanges)
    expect(record.rows).toEqual({ before: 50257, after: 50357 })
    expect(record.newRows).toMatchObject({ appended: 100, overwritten: 0 })
    expect(record.matrices).toEqual(['transformer.wte.weight'])
    const before = await openCheckpoint(base)
    const after = await openCheckpoint(out)
    expect(after.config.vocabSize).toBe(50357)
    expect(after.storedDtype).toBe('F16')
    // Every tensor but the embeddings is byte-identical; so are the embeddings' old rows.
    for (const { spec, info } of after.tensors) {
      const orig = before.tensors.find((t) => t.spec.name === spec.name)!
      const a = await readTensorBytes(info)
      const b = await readTensorBytes(orig.info)
      if (spec.name === 'wte.weight') expect(Buffer.compare(Buffer.from(a.subarray(0, b.length)), Buffer.from(b))).toBe(0)
      else expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), spec.name).toBe(0)
    }
    // Each new row is the mean of its decomposition's rows.
    const old = await matrix(before, 'wte.weight')
    const neu = await matrix(after, 'wte.weight')
    const oldF = toFloat32(old.bytes, 'F16')
    const newF = toFloat32(neu.bytes, 'F16')
    for (const a of ch.added) {
      expect(a.decomposition.length).toBeGreaterThan(1)
      expect(Array.from(newF.subarray(a.id * 16, a.id * 16 + 16))).toEqual(Array.from(meanRow(oldF, 16, a.decomposition, 'F16')))
    }
    // The folder is complete: extended tokenizer, side files, record.
    expect(await fs.readFile(join(out, 'tokenizer.json'), 'utf8')).toBe(await fs.readFile(join(root, 'add-100', 'tokenizer.json'), 'utf8'))
    expect((await fs.readdir(out)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'resize.json', 'tokenizer.json'])
    const saved = JSON.parse(await fs.readFile(join(out, 'resize.json'), 'utf8')) as ResizeRecord
    expect(saved).toMatchObject({ format: 'vernacular-resize', init: 'mean', changes: { mode: 'add', count: 100 } })

    // The resized model gives the base model's logits for text the base tokenizer can write,
    // and a new token's input row is what the mean said.
    const { tf } = await selectBackend({ requested: 'wasm' })
    const m0 = await CausalLM.load(tf, before)
    const m1 = await CausalLM.load(tf, after)
    const ids = tf.tensor2d([[464, 3290, 318, 257, 1332, 13]], undefined, 'int32') as Tensor2D
    const l0 = (await m0.logits(ids).data()) as Float32Array
    const l1 = (await m1.logits(ids).data()) as Float32Array
    for (let t = 0; t < 6; t++) expect(Array.from(l1.subarray(t * 50357, t * 50357 + 50257))).toEqual(Array.from(l0.subarray(t * 50257, (t + 1) * 50257)))
    m0.dispose()
    m1.dispose()
    ids.dispose()
  })

  it('replace + mean: overwrites exactly the freed rows, with means of the original rows', async () => {
    const base = await baseModel('gpt2-f32', GPT2, 'F32', 2)
    const out = join(root, 'gpt2-replace')
    const record = await resizeModel(base, replaceChanges, out, { init: 'mean' })
    const ch = await changes(replaceChanges)
    expect(record.rows).toEqual({ before: 50257, after: 50257 })
    expect(record.newRows).toMatchObject({ appended: 0, overwritten: 60 })
    const old = await matrix(await openCheckpoint(base), 'wte.weight')
    const neu = await matrix(await openCheckpoint(out), 'wte.weight')
    const oldF = toFloat32(old.bytes, 'F32')
    const newF = toFloat32(neu.bytes, 'F32')
    const freed = new Set(ch.added.map((a) => a.id))
    expect(new Set(ch.removed.map((r) => r.id))).toEqual(freed)
    let changedRows = 0
    for (let r = 0; r < 50257; r++) {
      const same = oldF.subarray(r * 16, r * 16 + 16).every((v, d) => Object.is(v, newF[r * 16 + d]))
      if (!same) changedRows++
      if (!freed.has(r)) expect(same, `row ${r}`).toBe(true)
    }
    expect(changedRows).toBe(60)
    for (const a of ch.added) expect(Array.from(newF.subarray(a.id * 16, a.id * 16 + 16))).toEqual(Array.from(meanRow(oldF, 16, a.decomposition, 'F32')))
  })

  it('random + padding on an untied BF16 Llama: both matrices grow, padding rows are zero, the seed decides', async () => {
    const base = await baseModel('llama-bf16', LLAMA, 'BF16', 3)
    const out = join(root, 'llama-random')
    const record = await resizeModel(base, addChanges, out, { init: 'random', seed: 7, padMultiple: 64 })
    expect(record.rows).toEqual({ before: 50257, after: 50368 })
    expect(record.padding).toEqual({ from: 50357, to: 50368 })
    expect(record.matrices).toEqual(['model.embed_tokens.weight', 'lm_head.weight'])
    const before = await openCheckpoint(base)
    const after = await openCheckpoint(out)
    for (const name of [embeddingName(after.config), 'lm_head.weight']) {
      const old = await matrix(before, name)
      const neu = await matrix(after, name)
      expect(neu.rows).toBe(50368)
      expect(Buffer.compare(Buffer.from(neu.bytes.subarray(0, old.bytes.length)), Buffer.from(old.bytes))).toBe(0)
      const f = toFloat32(neu.bytes, 'BF16')
      expect(f.subarray(50357 * 16).every((v) => v === 0)).toBe(true)
      // New rows follow each dimension's distribution over the base rows (std 0.5 here).
      const fresh = f.subarray(50257 * 16, 50357 * 16)
      const mean = fresh.reduce((a, b) => a + b, 0) / fresh.length
      const std = Math.sqrt(fresh.reduce((a, b) => a + (b - mean) ** 2, 0) / fresh.length)
      expect(Math.abs(mean)).toBeLessThan(0.1)
      expect(std).toBeGreaterThan(0.4)
      expect(std).toBeLessThan(0.6)
    }
    // Same seed, same rows; another seed, other rows.
    const again = join(root, 'llama-random-again')
    await resizeModel(base, addChanges, again, { init: 'random', seed: 7, padMultiple: 64 })
    const other = join(root, 'llama-random-other')
    await resizeModel(base, addChanges, other, { init: 'random', seed: 8, padMultiple: 64 })
    const bytesOf = async (dir: string) => (await matrix(await openCheckpoint(dir), 'lm_head.weight')).bytes
    expect(Buffer.compare(Buffer.from(await bytesOf(out)), Buffer.from(await bytesOf(again)))).toBe(0)
    expect(Buffer.compare(Buffer.from(await bytesOf(out)), Buffer.from(await bytesOf(other)))).not.toBe(0)
  })

  it('refuses changes made for another tokenizer, writing nothing', async () => {
    const base = await baseModel('gpt2-other', GPT2, 'F32', 4)
    const forged = join(root, 'add-100', 'forged-changes.json')
    const ch = await changes(addChanges)
    await fs.writeFile(forged, JSON.stringify({ ...ch, base: { ...ch.base, vocabSha256: 'f'.repeat(64) } }))
    const out = join(root, 'never')
    const err = await resizeModel(base, forged, out, { init: 'mean' }).catch((e: Error) => e)
    expect((err as Error).message).toMatch(/was made for another base tokenizer/)
    await expect(fs.access(out)).rejects.toThrow()
    // A model without its tokenizer cannot be checked, so it is refused too.
    await fs.rm(join(base, 'tokenizer.json'))
    const err2 = await resizeModel(base, addChanges, out, { init: 'mean' }).catch((e: Error) => e)
    expect((err2 as Error).message).toMatch(/has no tokenizer\.json/)
    await expect(fs.access(out)).rejects.toThrow()
  })
})
