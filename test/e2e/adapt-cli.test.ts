import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CheckpointEvaluation, Evaluation } from '../../main/engine/contract'
import { runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'

const tmp = useTmp()

interface AdaptJson {
  tokenizer: string
  model: string
  run: string
  checkpoint: string
  steps: { step: string; done: string }[]
  evaluation: { base: Evaluation; adapted: CheckpointEvaluation; limit: number | null }
}

describe('vernacular adapt', () => {
  it('takes a template project through every step, evaluates base and adapted, and skips what is done the second time', async () => {
    const dir = join(tmp(), 'hu-demo')
    const created = await runCli(['project', 'create', dir, '--template', 'demo', '--json'])
    expect(created.code, created.stderr).toBe(0)
    // The template's plan, made tiny for a test: 300 new tokens, 4 steps of 2 × 32 tokens, checkpoints at 2 and 4.
    const file = join(dir, 'vernacular.json')
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { vocabulary: { count: number }; training: Record<string, number> }
    manifest.vocabulary.count = 300
    Object.assign(manifest.training, { steps: 4, sequenceLength: 32, batchSize: 2, checkpointEvery: 2, evalEvery: 2, warmupSteps: 1 })
    await fs.writeFile(file, JSON.stringify(manifest, null, 2))
    expect((await fs.readdir(join(dir, 'tasks'))).sort()).toEqual(['en-cloze.jsonl', 'hu-cloze.jsonl'])
    // A quick check: the first 40 held-out documents per language and items per task.
    const limited = await runCli(['eval', 'limit', dir, '40', '--json'])
    expect(limited.code, limited.stderr).toBe(0)
    expect(JSON.parse(limited.stdout)).toEqual({ limit: 40 })

    const first = await runCli(['adapt', dir, '--json'])
    expect(first.code, first.stderr).toBe(0)
    const r = JSON.parse(first.stdout) as AdaptJson
    expect(r.steps).toEqual(['corpus', 'vocab', 'resize', 'train', 'eval'].map((step) => ({ step, done: 'ran' })))
    expect(r.tokenizer).toBe(join(dir, 'tokenizer', 'add-300', 'tokenizer.json'))
    expect(r.model).toBe(join(dir, 'models', 'add-300-mean'))
    expect(r.checkpoint).toBe(join(dir, 'runs', 'main', 'checkpoints', 'step-4'))
    const { base, adapted } = r.evaluation
    expect(r.evaluation.limit).toBe(40)
    expect(adapted.step).toBe(4)
    expect(adapted.tokensTarget + adapted.tokensEnglish).toBe(4 * 2 * 32)
    for (const e of [base, adapted]) {
      expect(e.target!.bitsPerByte).toBeGreaterThan(0)
      expect(e.english!.bitsPerByte).toBeGreaterThan(0)
      expect(Object.keys(e.tasks).sort()).toEqual(['en-cloze', 'hu-cloze'])
      expect(e.tasks['hu-cloze']!.n).toBe(40)
      expect([e.target!.documents, e.english!.documents]).toEqual([40, 40])
      expect(e.samples.map((s) => s.lang)).toEqual(expect.arrayContaining(['hu', 'en']))
    }
    // The English-centric base spells Hungarian in many tokens; the extended tokenizer and a few steps already lower its bits per byte.
    expect(adapted.target!.bitsPerByte).toBeLessThan(base.target!.bitsPerByte)
    expect(await fs.stat(join(dir, 'evaluations'))).toBeTruthy()

    // Again: every step is done, and the evaluation is read back from the cache, equal.
    const second = await runCli(['adapt', dir, '--json'])
    expect(second.code, second.stderr).toBe(0)
    const again = JSON.parse(second.stdout) as AdaptJson
    expect(again.steps.slice(0, 4).map((s) => s.done)).toEqual(['skipped', 'skipped', 'skipped', 'skipped'])
    expect(again.evaluation).toEqual(r.evaluation)

    // The human table names the languages and both models.
    const human = await runCli(['eval', 'run', dir, '--checkpoint', 'last'])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/Hungarian bpb/)
    expect(human.stdout).toMatch(/^main\s+base\s/m)
    expect(human.stdout).toMatch(/^main\s+step 4\s/m)
    expect(human.stdout).toContain('A quick check: only the first 40 held-out documents per language and items per task were scored')
  }, 600_000)
})
