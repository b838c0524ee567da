import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Engine } from '../../../main/engine/api/engine'
import { evaluateRun } from '../../../main/engine/evaluation/project'
import { checkpointStep, importRun } from '../../../main/engine/handoff/import'
import { checkpointProblem } from '../../../main/engine/training/checkpoints'
import { readRun, runStatus } from '../../../main/engine/training/runs'
import { useSuiteTmp, useTmp } from '../../helpers/tmp'
import { GPT2_TOKENIZER, handoffProject } from './helpers'

const tmp = useTmp()
const suiteTmp = useSuiteTmp()
let engine: Engine
let dir: string

beforeAll(async () => {
  ;({ engine, dir } = await handoffProject(suiteTmp))
  // A local run to stand in for the cluster's: its checkpoints at steps 2 and 4 are what train.py would write.
  const { job } = await engine.invoke('train.start', { dir })
  expect((await engine.jobs.waitFor(job)).state).toBe('done')
}, 240_000)
afterAll(async () => engine?.close())

const local = (step: number) => join(dir, 'runs', 'main', 'checkpoints', `step-${step}`)

/** An external run's output folder as a Hugging Face Trainer leaves it: checkpoint-<n>/ folders of Hugging Face files. */
async function externalRun(opts: { tokenizer?: string } = {}): Promise<string> {
  const out = join(tmp(), 'output')
  for (const step of [2, 4]) {
    const to = join(out, `checkpoint-${step}`)
    await fs.mkdir(to, { recursive: true })
    for (const f of await fs.readdir(local(step))) {
      if (f.endsWith('.json') && f !== 'checksums.json') await fs.copyFile(join(local(step), f), join(to, f))
      if (f.endsWith('.safetensors')) await fs.copyFile(join(local(step), f), join(to, f))
    }
    await fs.writeFile(join(to, 'trainer_state.json'), '{"global_step": ' + step + '}\n')
  }
  // Trainers that save the tokenizer once, next to the checkpoints.
  await fs.rename(join(out, 'checkpoint-4', 'tokenizer.json'), join(out, 'tokenizer.json'))
  if (opts.tokenizer) {
    await fs.copyFile(opts.tokenizer, join(out, 'tokenizer.json'))
    await fs.copyFile(opts.tokenizer, join(out, 'checkpoint-2', 'tokenizer.json'))
  }
  // A DeepSpeed shard folder, which is not a Hugging Face folder.
  await fs.mkdir(join(out, 'global_step6'))
  await fs.writeFile(join(out, 'global_step6', 'mp_rank_00_model_states.pt'), 'shard')
  await fs.copyFile(join(dir, 'runs', 'main', 'metrics.jsonl'), join(out, 'metrics.jsonl'))
  return out
}

describe('runs import', () => {
  it('reads the step from step-<n>, checkpoint-<n> and global_step<n> folder names', () => {
    expect(['step-20', 'checkpoint-500', 'global_step7', 'checkpoint-last', 'steps-3', 'step-'].map(checkpointStep)).toEqual([20, 500, 7, null, null, null])
  })

  it('registers an external run\'s checkpoints with checksums, and evaluation treats it like the local run', async () => {
    const from = await externalRun()
    const r = await importRun(dir, from, 'cluster')
    expect(r.checkpoints.map((c) => [c.step, c.from])).toEqual([
      [2, join(from, 'checkpoint-2')],
      [4, join(from, 'checkpoint-4')],
    ])
    expect(r.skipped).toEqual([{ folder: join(from, 'global_step6'), reason: expect.stringContaining('has no config.json') }])
    expect(r.metrics).toBe(4)

    const status = await runStatus(dir, 'cluster')
    expect(status).toMatchObject({ state: 'done', step: 4, steps: 4, imported: { from } })
    expect(status.checkpoints.map((c) => c.step)).toEqual([4, 2])
    for (const c of status.checkpoints) {
      expect(await checkpointProblem(c.dir)).toBeNull()
      const sums = JSON.parse(await fs.readFile(join(c.dir, 'checksums.json'), 'utf8')) as Record<string, string>
      expect(Object.keys(sums).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json'].filter((f) => f !== 'generation_config.json' || sums[f]).sort())
    }
    // The tokenizer saved once beside the checkpoints travelled into each.
    expect(await fs.readFile(join(status.checkpoints[0]!.dir, 'tokenizer.json'), 'utf8')).toBe(await fs.readFile(join(local(4), 'tokenizer.json'), 'utf8'))
    // The planned settings are the project's (no bundle beside this folder); it is marked imported.
    expect((await readRun(dir, 'cluster'))?.imported?.from).toBe(from)

    // Same weights, same numbers: the imported checkpoints evaluate exactly as the local ones.
    const [mine, theirs] = [await evaluateRun(dir, 'main', { samples: false }), await evaluateRun(dir, 'cluster', { samples: false })]
    expect(theirs.checkpoints.map((c) => c.step)).toEqual([2, 4])
    for (const [i, c] of theirs.checkpoints.entries()) {
      expect(c.target?.bitsPerByte).toEqual(expect.any(Number))
      expect(c.target?.bitsPerByte).toBe(mine.checkpoints[i]!.target?.bitsPerByte)
      expect(c.english?.bitsPerByte).toBe(mine.checkpoints[i]!.english?.bitsPerByte)
      // The tokens seen come with train.py's metrics.
      expect([c.tokensTarget, c.tokensEnglish]).toEqual([mine.checkpoints[i]!.tokensTarget, mine.checkpoints[i]!.tokensEnglish])
    }

    // It is never trained here, and its name is taken.
    await expect(engine.invoke('train.start', { dir, run: 'cluster', resume: true })).rejects.toThrow(/trained elsewhere and imported/)
    await expect(importRun(dir, from, 'cluster')).rejects.toThrow(/already has a run "cluster"/)
  }, 240_000)

  it("takes LLaMA-Factory's trainer_log.jsonl as the run's metrics (loss and learning rate), up to the last checkpoint", async () => {
    const from = await externalRun()
    await fs.rm(join(from, 'metrics.jsonl'))
    const log = [1, 2, 3, 4, 5].map((step) => JSON.stringify({ current_steps: step, total_steps: 5, loss: 10 - step, lr: step * 1e-5, epoch: 0.1, percentage: step * 20, elapsed_time: '0:00:01', remaining_time: '0:00:04' }))
    await fs.writeFile(join(from, 'trainer_log.jsonl'), log.join('\n') + '\n')
    const r = await importRun(dir, from, 'lf')
    expect(r.metrics).toBe(4)
    const metrics = await engine.invoke('train.metrics', { dir, run: 'lf' })
    expect(metrics.map((m) => [m.step, m.loss, m.lr])).toEqual([1, 2, 3, 4].map((step) => [step, 10 - step, step * 1e-5]))
    expect(metrics[0]).toMatchObject({ lossTarget: null, lossEnglish: null })
  }, 120_000)

  it('refuses checkpoints of another tokenizer, and a folder with no checkpoints, leaving the project as it was', async () => {
    const before = (await engine.invoke('train.runs', { dir })).map((r) => r.name)
    const from = await externalRun({ tokenizer: GPT2_TOKENIZER })
    await expect(importRun(dir, from, 'other')).rejects.toThrow(/is not the project's tokenizer: it has 50257 tokens \(the project's has 50307\)/)
    const empty = tmp()
    await expect(importRun(dir, empty, 'empty')).rejects.toThrow(/holds no checkpoint folders/)
    expect((await engine.invoke('train.runs', { dir })).map((r) => r.name)).toEqual(before)
    expect((await fs.readdir(join(dir, 'runs'))).filter((n) => n.startsWith('.'))).toEqual([])
  }, 120_000)
})
