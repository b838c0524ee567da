import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { load as loadYaml } from 'js-yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Engine } from '../../../main/engine/api/engine'
import { vocabFingerprint } from '../../../main/engine/common/fingerprint'
import { corpusDocuments } from '../../../main/engine/corpus/text'
import { type HandoffRecord, writeHandoff } from '../../../main/engine/handoff/bundle'
import { DATASET_NAMES, LLAMAFACTORY_KEYS, documentProbabilities } from '../../../main/engine/handoff/llamafactory'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { readManifest } from '../../../main/engine/project/manifest'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { corpusFingerprint, prepareTokenData } from '../../../main/engine/training/data'
import { runStatus } from '../../../main/engine/training/runs'
import { TokenFile } from '../../../main/engine/training/tokens'
import { useSuiteTmp, useTmp } from '../../helpers/tmp'
import { handoffProject } from './helpers'

const tmp = useTmp()
const suiteTmp = useSuiteTmp()
let engine: Engine
let dir: string
const resized = () => join(dir, 'models', 'add-50-mean')

beforeAll(async () => {
  ;({ engine, dir } = await handoffProject(suiteTmp))
}, 180_000)
afterAll(async () => engine?.close())

const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>

describe('a hand-off bundle', () => {
  it('for FSDP: the resized model, the token files, the Python driver and launch scripts, and the run with its fingerprints', async () => {
    const out = join(tmp(), 'cluster')
    const r = await writeHandoff(dir, { run: 'big', out, target: 'fsdp' })
    expect(r).toMatchObject({ out, target: 'fsdp', run: 'big', created: true, command: './launch.sh --nproc-per-node 1', tokensPerStep: 2 * 16 * 2 })
    expect(r.importCommand).toBe(`vernacular runs import ${dir} ${join(out, 'output')} --run big`)
    expect(r.files.map((f) => f.name)).toEqual([
      'README.md',
      'data/english.tokens',
      'data/target.tokens',
      'launch.sh',
      'model/config.json',
      'model/generation_config.json',
      'model/model.safetensors',
      'model/special_tokens_map.json',
      'model/tokenizer.json',
      'model/tokenizer_config.json',
      'requirements.txt',
      'slurm.sbatch',
      'train.py',
      'vernacular-run.json',
      'vernacular_data.py',
    ])
    // The run did not exist: it is planned now, with the project's settings.
    expect((await runStatus(dir, 'big')).state).toBe('planned')

    const record = (await readJson(join(out, 'vernacular-run.json'))) as unknown as HandoffRecord
    const manifest = await readManifest(dir)
    const tok = await Tokenizer.fromFile(join(resized(), 'tokenizer.json'))
    expect(record).toMatchObject({
      format: 'vernacular-handoff',
      version: 1,
      target: 'fsdp',
      run: 'big',
      project: { name: 'Magyar', language: 'hu' },
      eos: 50256,
      englishShare: 0.25,
      tokenizer: { file: 'model/tokenizer.json', fingerprint: vocabFingerprint(tok), vocabSize: tok.vocabSize },
      corpus: { fingerprint: await corpusFingerprint(dir) },
      settings: { ...manifest.training, englishShare: 0.25 },
      optimizer: { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1, decayEmbeddings: false },
      schedule: { name: 'warmup-cosine', warmupSteps: 1, totalSteps: 4, floorRatio: 0.1 },
      model: { dir: 'model', modelType: 'gpt2', vocabRows: 50307 },
    })

    // The token files are the project's, byte for byte, and our reader opens them.
    const data = await prepareTokenData(dir, join(resized(), 'tokenizer.json'))
    for (const role of ['target', 'english'] as const) {
      const f = await TokenFile.open(join(out, 'data', `${role}.tokens`))
      try {
        expect(f.documents).toBe(data.roles[role]!.documents)
        expect(record.data[role]).toEqual({ file: `data/${role}.tokens`, documents: f.documents, tokens: data.roles[role]!.tokens, bytes: data.roles[role]!.bytes })
      } finally {
        await f.close()
      }
      expect(Buffer.compare(await fs.readFile(join(out, 'data', `${role}.tokens`)), await fs.readFile(join(data.dir, `${role}.tokens`)))).toBe(0)
    }

    // The model is the resized one, a folder transformers would load, with the extended tokenizer.
    const ckpt = await openCheckpoint(join(out, 'model'))
    expect(ckpt.config.vocabSize).toBe(50307)
    expect(Buffer.compare(await fs.readFile(join(out, 'model', 'model.safetensors')), await fs.readFile(join(resized(), 'model.safetensors')))).toBe(0)
    expect(vocabFingerprint(await Tokenizer.fromFile(join(out, 'model', 'tokenizer.json')))).toBe(record.tokenizer.fingerprint)
    expect(await readJson(join(out, 'model', 'config.json'))).toMatchObject({ architectures: ['GPT2LMHeadModel'], vocab_size: 50307, eos_token_id: 50256 })
    expect(await readJson(join(out, 'model', 'tokenizer_config.json'))).toMatchObject({ eos_token: '<|endoftext|>', tokenizer_class: 'PreTrainedTokenizerFast' })

    // The scripts are executable and parse; the README says how to run them and what was verified.
    expect((await fs.stat(join(out, 'launch.sh'))).mode & 0o111).not.toBe(0)
    execFileSync('bash', ['-n', join(out, 'launch.sh')])
    expect(await fs.readFile(join(out, 'requirements.txt'), 'utf8')).toMatch(/torch>=2\.4/)
    const readme = await fs.readFile(join(out, 'README.md'), 'utf8')
    expect(readme).toContain('./launch.sh --nproc-per-node 8 --nnodes 4')
    expect(readme).toContain('vernacular runs import PROJECT output --run big-cluster')
    expect(readme).toMatch(/\*\*Not run:\*\* FSDP/)
    expect(readme).toContain('| tokens per optimizer step | 64 |')
  }, 120_000)

  it('for LLaMA-Factory: train.yaml with only the keys 0.9 documents, ZeRO-3, the datasets as JSONL, the replay share by tokens', async () => {
    const out = join(tmp(), 'lf')
    const r = await writeHandoff(dir, { run: 'main', out, target: 'llamafactory' })
    expect(r.files.map((f) => f.name)).toEqual([
      'README.md',
      'data/dataset_info.json',
      'data/english.jsonl',
      'data/english.tokens',
      'data/target.jsonl',
      'data/target.tokens',
      'ds_z3_config.json',
      'launch.sh',
      'model/config.json',
      'model/generation_config.json',
      'model/model.safetensors',
      'model/special_tokens_map.json',
      'model/tokenizer.json',
      'model/tokenizer_config.json',
      'requirements.txt',
      'train.yaml',
      'vernacular-run.json',
      'vernacular_data.py',
    ])
    const yaml = loadYaml(await fs.readFile(join(out, 'train.yaml'), 'utf8')) as Record<string, unknown>
    for (const key of Object.keys(yaml)) expect(LLAMAFACTORY_KEYS, key).toContain(key)
    const record = (await readJson(join(out, 'vernacular-run.json'))) as unknown as HandoffRecord
    const s = record.settings
    expect(yaml).toEqual({
      model_name_or_path: 'model',
      stage: 'pt',
      do_train: true,
      finetuning_type: 'full',
      deepspeed: 'ds_z3_config.json',
      dataset: 'vernacular_target,vernacular_english',
      dataset_dir: 'data',
      cutoff_len: 16,
      packing: true,
      neat_packing: true,
      mix_strategy: 'interleave_under',
      interleave_probs: expect.stringMatching(/^0\.\d+,0\.\d+$/),
      output_dir: 'output',
      save_steps: 2,
      logging_steps: 1,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 2,
      learning_rate: s.learningRate,
      lr_scheduler_type: 'cosine',
      warmup_steps: 1,
      max_steps: 4,
      weight_decay: s.weightDecay,
      max_grad_norm: 1,
      bf16: true,
      seed: s.seed,
    })
    expect(typeof yaml.learning_rate).toBe('number')
    // Documents are picked with probabilities that give 25% of the tokens to English.
    const [pt, pe] = (yaml.interleave_probs as string).split(',').map(Number) as [number, number]
    expect(pt + pe).toBeCloseTo(1, 10)
    const t = record.data.target!
    const e = record.data.english!
    const expectedTokensEnglish = (pe * (e.tokens + e.documents)) / e.documents
    const expectedTokensTarget = (pt * (t.tokens + t.documents)) / t.documents
    expect(expectedTokensEnglish / (expectedTokensEnglish + expectedTokensTarget)).toBeCloseTo(0.25, 3)
    expect(documentProbabilities(0.25, { tokens: 90, documents: 10 }, { tokens: 90, documents: 10 }).english).toBeCloseTo(0.25, 12)

    const info = await readJson(join(out, 'data', 'dataset_info.json'))
    expect(info).toEqual({
      [DATASET_NAMES.target]: { file_name: 'target.jsonl', columns: { prompt: 'text' } },
      [DATASET_NAMES.english]: { file_name: 'english.jsonl', columns: { prompt: 'text' } },
    })
    for (const role of ['target', 'english'] as const) {
      const lines = (await fs.readFile(join(out, 'data', `${role}.jsonl`), 'utf8')).trim().split('\n')
      const docs: string[] = []
      for await (const d of corpusDocuments(dir, role, 'train')) docs.push(d)
      expect(lines.map((l) => (JSON.parse(l) as { text: string }).text)).toEqual(docs)
    }
    const ds = await readJson(join(out, 'ds_z3_config.json'))
    expect(ds).toMatchObject({ zero_optimization: { stage: 3, stage3_gather_16bit_weights_on_model_save: true }, bf16: { enabled: 'auto' } })
    execFileSync('bash', ['-n', join(out, 'launch.sh')])
    const readme = await fs.readFile(join(out, 'README.md'), 'utf8')
    expect(readme).toContain('LLaMA-Factory 0.9.1')
    expect(readme).toMatch(/mixes by \*document\*/)
    expect(readme).toContain('`cosine` decays to 0')
  }, 120_000)

  it('without replay: one dataset, no English data; and a bundle may be written again over itself', async () => {
    await engine.invoke('project.setTraining', { dir, replay: { englishShare: 0 } })
    try {
      const out = join(tmp(), 'solo')
      await writeHandoff(dir, { run: 'solo', out, target: 'llamafactory' })
      const yaml = loadYaml(await fs.readFile(join(out, 'train.yaml'), 'utf8')) as Record<string, unknown>
      expect(yaml.dataset).toBe('vernacular_target')
      expect(yaml).not.toHaveProperty('mix_strategy')
      expect(yaml).not.toHaveProperty('interleave_probs')
      await expect(fs.access(join(out, 'data', 'english.tokens'))).rejects.toThrow()
      expect(((await readJson(join(out, 'vernacular-run.json'))) as unknown as HandoffRecord).data.english).toBeNull()
      // Written again: the run now exists (planned), and the folder is the hand-off's own.
      const again = await writeHandoff(dir, { run: 'solo', out, target: 'fsdp' })
      expect(again.created).toBe(false)
      expect(again.files.map((f) => f.name)).toContain('train.py')
      expect(again.files.map((f) => f.name)).not.toContain('train.yaml')
    } finally {
      await engine.invoke('project.setTraining', { dir, replay: { englishShare: 0.25 } })
    }
  }, 120_000)

  it('refuses a folder inside the project, and a non-empty folder it did not write unless forced', async () => {
    await expect(writeHandoff(dir, { run: 'main', out: join(dir, 'bundle'), target: 'fsdp' })).rejects.toThrow(/inside the project; a bundle is carried to another machine/)
    const foreign = join(tmp(), 'mine')
    await fs.mkdir(foreign, { recursive: true })
    await fs.writeFile(join(foreign, 'notes.txt'), 'keep me')
    await expect(writeHandoff(dir, { run: 'main', out: foreign, target: 'fsdp' })).rejects.toThrow(/is not empty and was not written by vernacular handoff \(it holds notes\.txt\)/)
    expect(await fs.readFile(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me')
    await writeHandoff(dir, { run: 'main', out: foreign, target: 'fsdp', force: true })
    await expect(fs.access(join(foreign, 'notes.txt'))).rejects.toThrow()
  }, 120_000)
})
