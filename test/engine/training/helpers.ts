import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { createProject } from '../../../main/engine/project/projects'
import { trainRun, type WorkerEvent, type WorkerProcess, type WorkerSpawner } from '../../../main/engine/training/worker'
import { ingest } from '../corpus/helpers'
import { demoText } from '../tokenizer/fixtures'

/** GPT-2's tokenizer (the demo's base) and its end-of-text id, which the training tests train with. */
export const GPT2_TOKENIZER = join(__dirname, '../../../resources/demo/base/tokenizer.json')
export const GPT2_EOS = 50256

/**
 * What the training tests train on: a Hungarian project with the first `target` lines of the demo's
 * Hungarian train text and `english` lines of its English (10 held out of each), and a tiny
 * untrained GPT-2 (width 16, 2 heads, 64 positions, `layers` blocks) with GPT-2's vocabulary.
 */
export async function smallTrainingProject(tmp: () => string, opts: { target: number; english: number; layers: number }): Promise<{ dir: string; modelDir: string }> {
  const dir = join(tmp(), 'p')
  await createProject({ dir, name: 'T', language: 'hu' })
  const src = tmp()
  await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, opts.target).join('\n') + '\n')
  await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, opts.english).join('\n') + '\n')
  await ingest(dir, 'target', [join(src, 'hu.txt')], { txtMode: 'line', minHeldout: 10 })
  await ingest(dir, 'english', [join(src, 'en.txt')], { txtMode: 'line', minHeldout: 10 })
  const modelDir = join(tmp(), 'model')
  await writeInitialisedModel(modelDir, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: opts.layers, n_head: 2, n_positions: 64 }, 'config.json'), { seed: 1 })
  return { dir, modelDir }
}

/** A training worker that runs in this process (the CLI and the app fork one; the protocol is the same). */
export const inProcessWorker: WorkerSpawner = (): WorkerProcess => {
  const listeners: ((e: WorkerEvent) => void)[] = []
  let onExit: (code: number | null, signal: string | null) => void = () => undefined
  return {
    send: (m) => void trainRun(m.projectDir, m.run, (e) => listeners.forEach((l) => l(e))).then(() => onExit(0, null)),
    onMessage: (l) => void listeners.push(l),
    onExit: (l) => void (onExit = l),
    kill: () => undefined,
  }
}
