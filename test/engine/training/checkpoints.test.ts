import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { mulberry32 } from '../../../main/engine/common/rng'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { CausalLM } from '../../../main/engine/model/model'
import { AdamW } from '../../../main/engine/model/optimizer'
import { warmupCosine } from '../../../main/engine/model/schedule'
import { nextTokenBatch, trainStep } from '../../../main/engine/model/train'
import {
  checkpointProblem,
  latestGoodCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  readTrainerState,
  writeCheckpoint,
} from '../../../main/engine/training/checkpoints'
import type { MixtureState } from '../../../main/engine/training/mixture'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const CONFIG = parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32 }, 'config.json')
const DATA: MixtureState = { version: 1, draws: { state: '1', inc: '3' }, streams: { target: null, english: null }, sequences: { target: 0, english: 0 } }

function rows(seed: number): number[][] {
  const r = mulberry32(seed)
  return Array.from({ length: 2 }, () => Array.from({ length: 9 }, () => Math.floor(r() * 40)))
}

describe('training checkpoints', () => {
  it('resume exactly: weights and moments written and read back continue bit for bit', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const run = tmp()
    const modelDir = tmp()
    await fs.writeFile(join(modelDir, 'tokenizer.json'), '{"fake": true}\n')
    const schedule = warmupCosine({ peak: 1e-2, warmupSteps: 2, totalSteps: 8 })
    const model = CausalLM.init(tf, CONFIG, 1)
    const opt = new AdamW(tf, model, { lr: 1e-2, weightDecay: 0.1 })
    for (let s = 0; s < 3; s++) await trainStep(model, [nextTokenBatch(rows(s))], opt, schedule)
    const info = await writeCheckpoint(run, { model, optimizer: await opt.state(), modelDir, state: { step: 3, data: DATA, metricsOffset: 123, extra: { tokens: 54 } } })
    expect(info.dir).toBe(join(run, 'checkpoints', 'step-3'))
    expect((await fs.readdir(info.dir)).sort()).toEqual(['checksums.json', 'config.json', 'model.safetensors', 'tokenizer.json', 'trainer-state'])
    expect(await checkpointProblem(info.dir)).toBeNull()
    // A Hugging Face folder our loader opens.
    expect((await openCheckpoint(info.dir)).config.vocabSize).toBe(40)

    // The uninterrupted run goes on…
    const losses: number[] = []
    for (let s = 3; s < 6; s++) losses.push((await trainStep(model, [nextTokenBatch(rows(s))], opt, schedule)).loss)
    const finalWeights = await Promise.all([...model.params.values()].map(async (v) => Array.from((await v.data()) as Float32Array)))

    // …and the resumed one gives the same losses and weights, bit for bit.
    const resumed = await CausalLM.load(tf, await openCheckpoint(info.dir))
    const { state, optimizer } = await readTrainerState(info.dir)
    expect(state).toMatchObject({ step: 3, metricsOffset: 123, extra: { tokens: 54 }, data: DATA })
    const opt2 = new AdamW(tf, resumed, { lr: 1 })
    opt2.load(optimizer)
    const again: number[] = []
    for (let s = 3; s < 6; s++) again.push((await trainStep(resumed, [nextTokenBatch(rows(s))], opt2, schedule)).loss)
    expect(again).toEqual(losses)
    expect(await Promise.all([...resumed.params.values()].map(async (v) => Array.from((await v.data()) as Float32Array)))).toEqual(finalWeights)
    for (const x of [model, resumed]) x.dispose()
    opt.dispose()
    opt2.dispose()
  })

  it('resume from the newest intact checkpoint, naming the damaged file of a newer one', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const run = tmp()
    const model = CausalLM.init(tf, CONFIG, 2)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    await trainStep(model, [nextTokenBatch(rows(9))], opt, warmupCosine({ peak: 1e-3, warmupSteps: 0, totalSteps: 4 }))
    for (const step of [10, 20, 30]) await writeCheckpoint(run, { model, optimizer: await opt.state(), modelDir: tmp(), state: { step, data: DATA, metricsOffset: 0, extra: {} } })
    expect((await listCheckpoints(run)).map((c) => c.step)).toEqual([30, 20, 10])
    expect((await latestGoodCheckpoint(run)).checkpoint?.step).toBe(30)

    // A flipped byte in the newest weights; a missing file in the one before.
    const weights = join(run, 'checkpoints', 'step-30', 'model.safetensors')
    const bytes = await fs.readFile(weights)
    bytes[bytes.length - 1]! ^= 1
    await fs.writeFile(weights, bytes)
    await fs.rm(join(run, 'checkpoints', 'step-20', 'trainer-state', 'optimizer.safetensors'))
    const { checkpoint, warnings } = await latestGoodCheckpoint(run)
    expect(checkpoint?.step).toBe(10)
    expect(warnings).toEqual([
      `Checkpoint step-30 is damaged (${weights} does not match its checksum); resuming from an earlier one.`,
      `Checkpoint step-20 is damaged (${join(run, 'checkpoints', 'step-20', 'trainer-state', 'optimizer.safetensors')} is missing); resuming from an earlier one.`,
    ])
    model.dispose()
    opt.dispose()
  })

  it('keep the newest N and the pinned ones', async () => {
    const { tf } = await selectBackend({ requested: 'wasm' })
    const run = tmp()
    const model = CausalLM.init(tf, CONFIG, 3)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    for (const step of [1, 2, 3, 4, 5]) await writeCheckpoint(run, { model, optimizer: await opt.state(), modelDir: tmp(), state: { step, data: DATA, metricsOffset: 0, extra: {} } })
    expect(await pruneCheckpoints(run, 2, new Set([1]))).toEqual([3, 2])
    expect((await listCheckpoints(run)).map((c) => c.step)).toEqual([5, 4, 1])
    model.dispose()
  })
})
