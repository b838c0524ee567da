import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { inProcessWorker as inProcess } from '../training/helpers'
import { demoText } from '../tokenizer/fixtures'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const GPT2_TOKENIZER = join(__dirname, '../../../resources/demo/base/tokenizer.json')

describe('Engine API: training', () => {
  it('plans training, trains a run as a job with metrics, and reports its status and metrics', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp(), spawnWorker: inProcess })
    try {
      const dir = join(tmp(), 'p')
      await engine.invoke('project.create', { dir, name: 'T', language: 'hu' })
      const src = tmp()
      await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 300).join('\n') + '\n')
      await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 150).join('\n') + '\n')
      for (const [role, file] of [['target', 'hu.txt'], ['english', 'en.txt']] as const) {
        const { job } = await engine.invoke('corpus.add', { dir, role, paths: [join(src, file)], options: { txtMode: 'line', minHeldout: 10 } })
        expect((await engine.jobs.waitFor(job)).state).toBe('done')
      }
      const base = join(tmp(), 'base')
      await writeInitialisedModel(base, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: 50256 }, 'config.json'), { seed: 2 })
      await fs.copyFile(GPT2_TOKENIZER, join(base, 'tokenizer.json'))
      await engine.invoke('baseModel.set', { dir, path: base })

      // Nothing to train yet: the plan asks for 5000 new tokens and no model was resized for them.
      await expect(engine.invoke('train.start', { dir })).rejects.toThrow(/not been resized for the vocabulary plan \(add 5000\)/)
      const planned = await engine.invoke('project.setTraining', { dir, training: { sequenceLength: 16, batchSize: 2, steps: 3, checkpointEvery: 3, evalEvery: 3 }, replay: { englishShare: 0.5 } })
      expect(planned.manifest.training).toMatchObject({ sequenceLength: 16, batchSize: 2, steps: 3, learningRate: 1e-4, documentMasking: true })
      expect(planned.manifest.replay.englishShare).toBe(0.5)
      await expect(engine.invoke('project.setTraining', { dir, replay: { englishShare: 2 } })).rejects.toThrow(/englishShare/)

      const ext = await engine.invoke('vocab.extend', { dir, mode: 'add', count: 50 })
      expect((await engine.jobs.waitFor(ext.job)).state).toBe('done')
      const resize = await engine.invoke('baseModel.resize', { dir, mode: 'add', count: 50, init: 'mean' })
      expect((await engine.jobs.waitFor(resize.job)).state).toBe('done')

      const seen: number[] = []
      engine.jobs.onChange((j) => {
        if (j.kind === 'train' && j.progress.metrics?.step) seen.push(j.progress.metrics.step)
      })
      const { job } = await engine.invoke('train.start', { dir })
      expect(job.labels).toEqual({ run: 'main' })
      const done = await engine.jobs.waitFor(job)
      expect(done.state).toBe('done')
      expect(done.result).toMatchObject({ name: 'main', state: 'done', step: 3, steps: 3, plannedReplayShare: 0.5 })
      expect(done.result!.checkpoints.map((c) => c.step)).toEqual([3])
      expect(new Set(seen)).toEqual(new Set([1, 2, 3]))
      const metrics = await engine.invoke('train.metrics', { dir, run: 'main' })
      expect(metrics.map((m) => m.step)).toEqual([1, 2, 3])
      expect(metrics[2]!.heldout).toEqual({ target: expect.any(Number), english: expect.any(Number) })
      expect((await engine.invoke('train.runs', { dir })).map((r) => [r.name, r.state])).toEqual([['main', 'done']])
      const pinned = await engine.invoke('train.pin', { dir, run: 'main', step: 3, pinned: true })
      expect(pinned.checkpoints).toEqual([expect.objectContaining({ step: 3, pinned: true })])
      await expect(engine.invoke('train.pause', { dir, run: 'main' })).rejects.toThrow(/is done: there is nothing to pause/)
      await expect(engine.invoke('train.start', { dir })).rejects.toThrow(/already exists \(done, step 3\)/)
    } finally {
      await engine.close()
    }
  }, 180_000)
})
