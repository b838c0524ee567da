import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import type { Evaluation, RunEvaluation, RunSettings } from '../../../main/engine/contract'
import { corpusDocuments } from '../../../main/engine/corpus/text'
import { EVALUATIONS_DIR, addProjectTask, compareRuns, evaluateRun, listProjectTasks, relativeChanges, setEvaluationLimit, suggestBest } from '../../../main/engine/evaluation/project'
import { heldoutScore, scoreDocuments } from '../../../main/engine/evaluation/heldout'
import { readTask } from '../../../main/engine/evaluation/tasks'
import { scoreMultipleChoice } from '../../../main/engine/evaluation/multipleChoice'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { loadModel, prefixToken } from '../../../main/engine/model/operations'
import { setBaseModel } from '../../../main/engine/model/project'
import { createProject } from '../../../main/engine/project/projects'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { prepareTokenData } from '../../../main/engine/training/data'
import { heldoutSample } from '../../../main/engine/training/heldout'
import { runDir, setRunState, writeRun } from '../../../main/engine/training/runs'
import { runTraining } from '../../../main/engine/training/trainer'
import { ingest } from '../corpus/helpers'
import { demoText } from '../tokenizer/fixtures'
const GPT2_TOKENIZER = join(__dirname, '../../../resources/demo/base/tokenizer.json')
const HU_CLOZE = join(__dirname, '../../../resources/demo/tasks/hu-cloze.jsonl')
const EOS = 50256
const SETTINGS: RunSettings = {
  sequenceLength: 16,
  batchSize: 2,
  gradientAccumulation: 1,
  steps: 4,
  learningRate: 1e-2,
  warmupSteps: 1,
  weightDecay: 0.1,
  seed: 7,
  checkpointEvery: 2,
  keepCheckpoints: 5,
  evalEvery: 0,
  embeddingOnlySteps: 0,
  documentMasking: true,
  englishShare: 0.25,
}

let project: string
let baseDir: string

/** A project with a little Hungarian and English text, a tiny GPT-2 base, a task, and run `main` trained to checkpoints at steps 2 and 4. */
let root: string
let n = 0
const tmp = () => join(root, `t${n++}`)
afterAll(() => rmSync(root, { recursive: true, force: true }))

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vernacular-eval-'))
  project = join(tmp(), 'p')
  await createProject({ dir: project, name: 'T', language: 'hu' })
  const src = tmp()
  await fs.mkdir(src)
  await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 200).join('\n') + '\n')
  await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 150).join('\n') + '\n')
  await ingest(project, 'target', [join(src, 'hu.txt')], { txtMode: 'line', minHeldout: 8 })
  await ingest(project, 'english', [join(src, 'en.txt')], { txtMode: 'line', minHeldout: 8 })
  baseDir = join(tmp(), 'base')
  await writeInitialisedModel(baseDir, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, bos_token_id: EOS, eos_token_id: EOS }, 'config.json'), { seed: 1 })
  await fs.copyFile(GPT2_TOKENIZER, join(baseDir, 'tokenizer.json'))
  await setBaseModel(project, baseDir)
  // A task: the first 12 items of the demo's Hungarian cloze.
  await fs.mkdir(join(project, 'tasks'))
  await fs.writeFile(join(project, 'tasks', 'hu-cloze.jsonl'), (await fs.readFile(HU_CLOZE, 'utf8')).split('\n').slice(0, 12).join('\n') + '\n')

  await writeRun(project, { format: 'vernacular-run', version: 1, name: 'main', createdAt: new Date().toISOString(), settings: SETTINGS, model: baseDir, tokenizer: join(baseDir, 'tokenizer.json'), pinned: [], failure: null })
  await setRunState(project, 'main', 'running')
  const { tf } = await selectBackend({ requested: 'wasm' })
  const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
  await runTraining({
    tf,
    runDir: runDir(project, 'main'),
    modelDir: baseDir,
    data: await prepareTokenData(project, GPT2_TOKENIZER),
    heldout: { target: await heldoutSample(project, 'target', tok, EOS, 16, 100), english: null },
    eos: EOS,
    settings: SETTINGS,
  })
  await setRunState(project, 'main', 'done')
}, 240_000)

describe('evaluating a run', () => {
  it('scores the base and each checkpoint on held-out text, tasks and prompts, and caches every part', async () => {
    const r = await evaluateRun(project, 'main', { samples: false })
    expect(r.missing).toEqual([])
    expect(r.checkpoints.map((c) => c.step)).toEqual([2, 4])
    // The base's numbers are those of the model and data scored directly.
    const model = await loadModel(baseDir)
    const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
    try {
      const prefix = await prefixToken(tok, GPT2_TOKENIZER, model.config)
      const direct = heldoutScore(await scoreDocuments(model, tok, corpusDocuments(project, 'english', 'heldout'), { prefix, lang: 'en' }))
      expect(r.base.english).toMatchObject({ bitsPerByte: direct.bitsPerByte, tokens: direct.tokens, bytes: direct.bytes })
      const task = await readTask(join(project, 'tasks', 'hu-cloze.jsonl'))
      expect(r.base.tasks['hu-cloze']).toEqual(await scoreMultipleChoice(model, tok, task.items, { prefix }))
    } finally {
      model.dispose()
    }
    expect(r.base.tasks['hu-cloze']!.n).toBe(12)
    // Training at a high rate on Hungarian moves its held-out bits per byte; tokens come from the metrics.
    const last = r.checkpoints[1]!
    expect(last.target!.bitsPerByte).not.toBe(r.base.target!.bitsPerByte)
    expect(last.tokensTarget + last.tokensEnglish).toBe(4 * 2 * 16)

    // Everything is cached: a read-only pass gives the same, and the cache files stay as they were.
    const files = await fs.readdir(join(project, EVALUATIONS_DIR))
    expect(files).toHaveLength(3)
    const stamp = async () => Promise.all(files.map(async (f) => (await fs.readdir(join(project, EVALUATIONS_DIR, f))).sort().join(',')))
    const before = await stamp()
    const again = await evaluateRun(project, 'main', { samples: false, compute: false })
    expect(again).toEqual(r)
    expect(r.limit).toBeNull()
    expect(await stamp()).toEqual(before)

    // A new task is computed for every model, the rest read from the cache.
    await fs.copyFile(join(project, 'tasks', 'hu-cloze.jsonl'), join(project, 'tasks', 'copy.jsonl'))
    const partial = await evaluateRun(project, 'main', { samples: false, compute: false })
    expect(partial.missing.map((m) => m.step)).toEqual([null, 2, 4])
    const withCopy = await evaluateRun(project, 'main', { samples: false })
    expect(withCopy.checkpoints[1]!.tasks.copy).toEqual(withCopy.checkpoints[1]!.tasks['hu-cloze'])
    await fs.rm(join(project, 'tasks', 'copy.jsonl'))
  }, 240_000)

  it('scores only the first N held-out documents and task items under the project\'s limit, cached apart from full results', async () => {
    const full = await evaluateRun(project, 'main', { samples: false })
    expect(full.limit).toBeNull()
    expect(full.base.english!.documents).toBeGreaterThan(3)
    await setEvaluationLimit(project, 3)
    try {
      // Nothing limited is cached yet: a read-only pass finds every model missing.
      expect((await evaluateRun(project, 'main', { samples: false, compute: false })).missing.map((m) => m.step)).toEqual([null, 2, 4])
      const quick = await evaluateRun(project, 'main', { samples: false })
      expect(quick.limit).toBe(3)
      expect(quick.base.target!.documents).toBe(3)
      expect(quick.base.english!.documents).toBe(3)
      expect(quick.base.tasks['hu-cloze']!.n).toBe(3)
      // The same numbers as scoring the first three documents and items directly.
      const model = await loadModel(baseDir)
      const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
      try {
        const prefix = await prefixToken(tok, GPT2_TOKENIZER, model.config)
        const docs: string[] = []
        for await (const d of corpusDocuments(project, 'english', 'heldout')) if (docs.push(d) === 3) break
        async function* three() {
          yield* docs
        }
        const direct = heldoutScore(await scoreDocuments(model, tok, three(), { prefix, lang: 'en' }))
        expect(quick.base.english).toMatchObject({ bitsPerByte: direct.bitsPerByte, tokens: direct.tokens, documents: 3 })
        const task = await readTask(join(project, 'tasks', 'hu-cloze.jsonl'))
        expect(quick.base.tasks['hu-cloze']).toEqual(await scoreMultipleChoice(model, tok, task.items.slice(0, 3), { prefix }))
      } finally {
        model.dispose()
      }
      expect((await compareRuns(project, { compute: false })).limit).toBe(3)
    } finally {
      await setEvaluationLimit(project, null)
    }
    // Back to everything: the full results are still cached, untouched.
    expect(await evaluateRun(project, 'main', { samples: false, compute: false })).toEqual(full)
  }, 240_000)

  it('skips a damaged checkpoint when evaluating all, and names its file when asked for it', async () => {
    const ckpt = join(runDir(project, 'main'), 'checkpoints', 'step-2')
    const weights = join(ckpt, 'model.safetensors')
    const good = await fs.readFile(weights)
    const bad = Buffer.from(good)
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1)
    await fs.writeFile(weights, bad)
    try {
      await expect(evaluateRun(project, 'main', { checkpoint: 2, samples: false })).rejects.toThrow(/step-2 is damaged.*model\.safetensors/)
      const r = await evaluateRun(project, 'main', { samples: false })
      expect(r.checkpoints.map((c) => c.step)).toEqual([4])
      expect(r.missing).toEqual([{ run: 'main', step: 2 }])
      await expect(evaluateRun(project, 'main', { checkpoint: 9 })).rejects.toMatchObject({ message: expect.stringMatching(/no checkpoint at step 9/), hint: expect.stringMatching(/steps 2, 4/) })
    } finally {
      await fs.writeFile(weights, good)
    }
  }, 120_000)

  it('compares runs and suggests the checkpoint by the stated rule', async () => {
    const c = await compareRuns(project, { maxEnglishChange: 10 })
    expect(c.runs.map((r) => r.run)).toEqual(['main'])
    expect(c.rule).toContain('Hungarian')
    expect(c.rule).toContain('1000%')
    const gains = c.runs[0]!.checkpoints.map((x) => relativeChanges(c.runs[0]!.base, x).targetGain!)
    const bestStep = c.runs[0]!.checkpoints[gains.indexOf(Math.max(...gains))]!.step
    expect(c.best).toEqual({ run: 'main', step: bestStep, rule: c.rule })
  }, 240_000)
})

describe('a project\'s tasks', () => {
  it('are checked line by line when added, listed with their items, and not replaced without force', async () => {
    const src = tmp()
    await fs.mkdir(src)
    const bad = join(src, 'bad.jsonl')
    await fs.writeFile(bad, '{"context": "A", "choices": ["b", "c"], "gold": 0}\n{"context": "A", "choices": ["b", "c"], "gold": 5}\n')
    await expect(addProjectTask(project, bad)).rejects.toThrow(/bad\.jsonl.*line 2/)
    expect((await listProjectTasks(project)).map((t) => t.name)).toEqual(['hu-cloze'])
    const good = join(src, 'mini.jsonl')
    await fs.writeFile(good, '{"context": "A", "choices": ["b", "c"], "gold": 0}\n{"query": "A", "choices": ["b", "c"], "gold": 1}\n')
    expect(await addProjectTask(project, good)).toEqual({ name: 'mini', file: join(project, 'tasks', 'mini.jsonl'), items: 2, error: null })
    await expect(addProjectTask(project, good)).rejects.toThrow(/already has a task named mini/)
    await addProjectTask(project, good, { force: true })
    await fs.writeFile(join(project, 'tasks', 'broken.jsonl'), 'not json\n')
    const listed = await listProjectTasks(project)
    expect(listed.map((t) => [t.name, t.items])).toEqual([
      ['broken', null],
      ['hu-cloze', 12],
      ['mini', 2],
    ])
    expect(listed[0]!.error).toMatch(/line 1/)
    await fs.rm(join(project, 'tasks', 'broken.jsonl'))
    await fs.rm(join(project, 'tasks', 'mini.jsonl'))
  })
})

describe('the best-checkpoint rule', () => {
  const lang = (bitsPerByte: number) => ({ bitsPerByte, bytePerplexity: 2 ** bitsPerByte, wordPerplexity: null, documents: 1, bytes: 1, tokens: 1 })
  const e = (target: number, english: number): Evaluation => ({ target: lang(target), english: lang(english), tasks: {}, samples: [] })
  const run = (name: string, points: [number, number, number][]): RunEvaluation => ({
    run: name,
    base: e(4, 2),
    checkpoints: points.map(([step, t, en]) => ({ step, dir: `/${name}/${step}`, tokensTarget: 0, tokensEnglish: 0, ...e(t, en) })),
  })

  it('takes the largest target gain whose English change is within the tolerance, the earlier step on a tie', () => {
    const replay = run('replay', [
      [100, 3.5, 2.02],
      [200, 3.0, 2.08],
    ])
    const none = run('no-replay', [
      [100, 3.2, 2.1],
      [200, 2.8, 2.4],
    ])
    expect(relativeChanges(replay.base, replay.checkpoints[1]!)).toEqual({ targetGain: 0.25, englishChange: expect.closeTo(0.04, 10) })
    expect(suggestBest([replay, none], 'hu', 0.05)).toMatchObject({ run: 'replay', step: 200 })
    expect(suggestBest([replay, none], 'hu', 0.01)).toBeNull()
    expect(suggestBest([replay, none], 'hu', 0.2)).toMatchObject({ run: 'no-replay', step: 200 })
    expect(suggestBest([run('a', [[100, 3, 2], [200, 3, 2]])], 'hu', 0)).toMatchObject({ step: 100 })
  })
})
