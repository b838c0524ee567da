import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { demoText } from '../tokenizer/fixtures'
import { GPT2_TOKENIZER, inProcessWorker } from '../training/helpers'

export { GPT2_TOKENIZER }

/**
 * What the hand-off tests hand off: a Hungarian project with a little Hungarian and English text, a
 * tiny GPT-2 base with GPT-2's tokenizer, 50 new tokens and the base resized for them (mean
 * initialisation), and a small training plan (4 steps of 2 × 2 sequences of 16 tokens, 25% English).
 */
export async function handoffProject(tmp: () => string): Promise<{ engine: Engine; dir: string }> {
  const engine = new Engine({ mode: 'cli', home: tmp(), spawnWorker: inProcessWorker })
  const dir = join(tmp(), 'magyar')
  await engine.invoke('project.create', { dir, name: 'Magyar', language: 'hu' })
  const src = tmp()
  await fs.mkdir(src, { recursive: true })
  await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 200).join('\n') + '\n')
  await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 120).join('\n') + '\n')
  for (const [role, file] of [['target', 'hu.txt'], ['english', 'en.txt']] as const) {
    const { job } = await engine.invoke('corpus.add', { dir, role, paths: [join(src, file)], options: { txtMode: 'line', minHeldout: 8 } })
    expect((await engine.jobs.waitFor(job)).state).toBe('done')
  }
  const base = join(tmp(), 'base')
  await writeInitialisedModel(base, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: 50256, bos_token_id: 50256 }, 'config.json'), { seed: 5 })
  await fs.copyFile(GPT2_TOKENIZER, join(base, 'tokenizer.json'))
  await engine.invoke('baseModel.set', { dir, path: base })
  const ext = await engine.invoke('vocab.extend', { dir, mode: 'add', count: 50 })
  expect((await engine.jobs.waitFor(ext.job)).state).toBe('done')
  const resize = await engine.invoke('baseModel.resize', { dir, mode: 'add', count: 50, init: 'mean' })
  expect((await engine.jobs.waitFor(resize.job)).state).toBe('done')
  await engine.invoke('project.setTraining', {
    dir,
    training: { sequenceLength: 16, batchSize: 2, gradientAccumulation: 2, steps: 4, warmupSteps: 1, checkpointEvery: 2, evalEvery: 0, keepCheckpoints: 5 },
    replay: { englishShare: 0.25 },
  })
  return { engine, dir }
}
