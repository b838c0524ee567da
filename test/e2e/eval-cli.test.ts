import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { ROOT, TOKENIZER_FILES, demoText } from '../engine/tokenizer/fixtures'

// `vernacular eval bpb` and `vernacular eval mc` as scripts use them: exact flags and JSON fields.
const tmp = useTmp()
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>

function env(dir: string): NodeJS.ProcessEnv {
  return { VERNACULAR_HOME: join(dir, 'home'), VERNACULAR_BACKEND: 'wasm' }
}

/** A small GPT-2 with GPT-2's tokenizer and no BOS in its config (the EOS is the prefix token). */
async function smallGpt2(dir: string): Promise<string> {
  const model = join(dir, 'gpt2-small')
  await fs.mkdir(model, { recursive: true })
  const config = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: 50256, torch_dtype: 'float32' }
  const { writeInitialisedModel } = await import('../../main/engine/model/init')
  const { parseModelConfig } = await import('../../main/engine/model/config')
  await writeInitialisedModel(model, parseModelConfig(config, 'config.json'), { seed: 1, std: 0.3 })
  await fs.copyFile(TOKENIZER_FILES.gpt2, join(model, 'tokenizer.json'))
  return model
}

describe('vernacular eval', () => {
  it('eval bpb: the held-out fields, the same as model score; Thai words by the segmenter', async () => {
    const dir = tmp()
    const model = await smallGpt2(dir)
    const text = join(dir, 'th.txt')
    await fs.writeFile(text, demoText('th').heldout.slice(0, 10).join('\n') + '\n')
    const args = ['--model', model, '--tokenizer', join(model, 'tokenizer.json'), '--text', text, '--lang', 'th', '--json']
    const bpb = await runCli(['eval', 'bpb', ...args], { env: env(dir) })
    expect(bpb.code).toBe(0)
    const r = json(bpb.stdout) as { documents: number; bytes: number; words: number; tokens: number; nll: number; bitsPerByte: number; bytePerplexity: number; wordPerplexity: number }
    expect(Object.keys(r)).toEqual(['documents', 'bytes', 'words', 'tokens', 'nll', 'bitsPerByte', 'bytePerplexity', 'wordPerplexity'])
    expect(r.documents).toBe(10)
    expect(r.bitsPerByte).toBeCloseTo(r.nll / Math.LN2 / r.bytes, 10)
    expect(r.wordPerplexity).toBeCloseTo(Math.exp(r.nll / r.words), 6)
    const score = await runCli(['model', 'score', ...args], { env: env(dir) })
    expect(score.code).toBe(0)
    // The alias: the same numbers, with its older fields; the first token of each line is scored after the EOS.
    expect(json(score.stdout)).toMatchObject({ ...r, lines: 10, bos: '<|endoftext|>', prefix: 'eos', unscoredFirstTokens: 0 })
    const human = await runCli(['eval', 'bpb', ...args.slice(0, -1)], { env: env(dir) })
    expect(human.stdout).toMatch(/bits per byte\s+\d+\.\d{4}\n/)
    expect(human.stdout).toMatch(/word perplexity\s+\d/)
  })

  it('eval mc: accuracy on the demo cloze task; a bad line and an empty file are errors naming them', async () => {
    const dir = tmp()
    const model = await smallGpt2(dir)
    const base = ['--model', model, '--tokenizer', join(model, 'tokenizer.json')]
    const task = join(dir, 'hu.jsonl')
    const lines = (await fs.readFile(join(ROOT, 'resources/demo/tasks/hu-cloze.jsonl'), 'utf8')).split('\n').slice(0, 40)
    await fs.writeFile(task, lines.join('\n') + '\n')
    const mc = await runCli(['eval', 'mc', ...base, '--task', task, '--json'], { env: env(dir) })
    expect(mc.code).toBe(0)
    const r = json(mc.stdout) as { n: number; acc: number; accNorm: number; accStderr: number; accNormStderr: number }
    expect(Object.keys(r)).toEqual(['n', 'acc', 'accNorm', 'accStderr', 'accNormStderr'])
    expect(r.n).toBe(40)
    expect(r.accStderr).toBeCloseTo(Math.sqrt((r.acc * (1 - r.acc)) / 39), 12)

    await fs.writeFile(task, lines.slice(0, 3).join('\n') + '\n{"context": "x", "choices": ["a", "b"], "gold": 2}\n')
    const gold = await runCli(['eval', 'mc', ...base, '--task', task], { env: env(dir) })
    expect(gold.code).toBe(1)
    expect(gold.stderr).toContain(`${task}, line 4: "gold" 2 is out of range`)
    await fs.writeFile(task, lines.slice(0, 2).join('\n') + '\n{"context": "x", "choices": ["a", "b"],\n')
    const malformed = await runCli(['eval', 'mc', ...base, '--task', task, '--json'], { env: env(dir) })
    expect(malformed.code).toBe(1)
    expect(json(malformed.stdout)).toMatchObject({ error: { code: 'bad-input', message: expect.stringContaining(`${task}, line 3: not valid JSON`) } })
    await fs.writeFile(task, '')
    const empty = await runCli(['eval', 'mc', ...base, '--task', task], { env: env(dir) })
    expect(empty.code).toBe(1)
    expect(empty.stderr).toContain('has no items')
    const usage = await runCli(['eval', 'mc', ...base], { env: env(dir) })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/--task is required/)
  })
})
