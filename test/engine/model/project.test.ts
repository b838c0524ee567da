import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { BACKEND_NAMES } from '../../../main/engine/contract'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { estimateMemory } from '../../../main/engine/model/memory'
import { snapshotTree, useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES, demoText } from '../tokenizer/fixtures'

// The Base model step's operations on a real project, through the engine API the app uses.
const tmp = useTmp()
const GPT2 = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 128, bos_token_id: 50256 }

async function modelFolder(tokenizer: string): Promise<string> {
  const dir = join(tmp(), 'model')
  await writeInitialisedModel(dir, parseModelConfig(GPT2, 'config.json'), { seed: 1, dtype: 'F16' })
  await fs.copyFile(tokenizer, join(dir, 'tokenizer.json'))
  return dir
}

describe('base model step operations', () => {
  it('records a model folder, adopts its tokenizer, estimates memory and resizes for an extended tokenizer', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      const dir = join(tmp(), 'p')
      await engine.invoke('project.create', { dir, name: 'Model', language: 'hu' })
      const empty = await engine.invoke('baseModel.status', { dir })
      expect(empty).toMatchObject({ path: null, info: null, estimate: null, resized: [] })

      // A folder that is no model is refused and the project is left as it was.
      const before = await snapshotTree(dir)
      await expect(engine.invoke('baseModel.set', { dir, path: tmp() })).rejects.toMatchObject({ code: 'bad-input', message: expect.stringMatching(/has no config\.json/) })
      expect(await snapshotTree(dir)).toEqual(before)

      const model = await modelFolder(TOKENIZER_FILES.gpt2)
      const status = await engine.invoke('baseModel.set', { dir, path: model })
      expect(status.path).toBe(model)
      expect(status.info).toMatchObject({ architecture: 'GPT2LMHeadModel', vocabulary: 50257, layers: 1, dtype: 'float16', tied: true })
      // The project had no base tokenizer: the model's own became it.
      expect(status.tokenizer).toBe('same')
      expect((await engine.invoke('vocab.status', { dir })).base).toMatchObject({ vocabSize: 50257 })
      // The estimate is the engine's, at the project's batch and the sequence cut to the model's context.
      const manifest = (await engine.invoke('project.open', { dir })).manifest
      expect(status.training).toEqual({ batch: manifest.training.batchSize, seqLen: manifest.training.sequenceLength, optimizer: 'adamw' })
      expect(status.estimate).toEqual(estimateMemory(parseModelConfig(GPT2, 'c'), { batch: manifest.training.batchSize, seqLen: 128, optimizer: 'adamw' }))
      expect(status.fits).toBe(status.estimate!.total <= status.device.memoryBytes!)
      // And with activations recomputed (no less here: one layer, so the head's chunk is the peak either way); on
      // auto (the default) a run keeps them when the step fits.
      expect(status.recomputed).toEqual(estimateMemory(parseModelConfig(GPT2, 'c'), { batch: manifest.training.batchSize, seqLen: 128, optimizer: 'adamw', recompute: true }))
      expect(status.recomputed!.activations).toBeLessThanOrEqual(status.estimate!.activations)
      expect(status.fitsRecomputed).toBe(status.recomputed!.total <= status.device.memoryBytes!)
      expect(status.recompute).toEqual({ setting: 'auto', on: !status.fits })
      expect(BACKEND_NAMES).toContain(status.device.backend)

      // Resizing needs an extended tokenizer first.
      const noTok = await engine.invoke('baseModel.resize', { dir, mode: 'add', count: 80, init: 'mean' })
      expect((await engine.jobs.wait(noTok.job.id)).error?.message).toMatch(/has no extended tokenizer add-80/)

      const data = tmp()
      await fs.writeFile(join(data, 'hu.txt'), demoText('hu').train.slice(0, 3000).join('\n') + '\n')
      const ingest = await engine.invoke('corpus.add', { dir, role: 'target', paths: [join(data, 'hu.txt')], options: { txtMode: 'line' } })
      expect((await engine.jobs.wait(ingest.job.id)).state).toBe('done')
      const extend = await engine.invoke('vocab.extend', { dir, mode: 'add', count: 80 })
      expect((await engine.jobs.wait(extend.job.id)).state).toBe('done')
      const resize = await engine.invoke('baseModel.resize', { dir, mode: 'add', count: 80, init: 'mean', padMultiple: 64 })
      const done = await engine.jobs.waitFor(resize.job)
      expect(done.state).toBe('done')
      expect(done.result).toMatchObject({ out: join(dir, 'models', 'add-80-mean'), count: 80, rowsBefore: 50257, rowsAfter: 50368, appended: 80, padding: { from: 50337, to: 50368 } })
      const after = await engine.invoke('baseModel.status', { dir })
      expect(after.resized.map((r) => [r.mode, r.count, r.init, r.rowsAfter])).toEqual([['add', 80, 'mean', 50368]])
      // The time the resize took is recorded in resize.json, so the list shows it (not 0 s).
      expect(after.resized[0]!.seconds).toBeGreaterThan(0)
      expect(after.resized[0]!.seconds).toBe(done.result!.seconds)
      expect((await engine.invoke('model.info', { model: join(dir, 'models', 'add-80-mean') })).tokenizer?.vocabSize).toBe(50337)
    } finally {
      await engine.close()
    }
  }, 60_000)

  it('says when the model’s tokenizer is not the project’s base tokenizer', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      const dir = join(tmp(), 'p')
      await engine.invoke('project.create', { dir, name: 'Model', language: 'hu' })
      await engine.invoke('vocab.setBase', { dir, path: TOKENIZER_FILES.llama2 })
      const status = await engine.invoke('baseModel.set', { dir, path: await modelFolder(TOKENIZER_FILES.gpt2) })
      expect(status.tokenizer).toBe('different')
      // The project's own base tokenizer is kept.
      expect((await engine.invoke('vocab.status', { dir })).base).toMatchObject({ vocabSize: 32000 })
    } finally {
      await engine.close()
    }
  }, 60_000)
})
