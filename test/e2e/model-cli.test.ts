import { promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { TOKENIZER_FILES, demoText } from '../engine/tokenizer/fixtures'

// The `vernacular model` commands as scripts use them: exact flags and JSON fields.
const tmp = useTmp()
const FIXTURES = join(__dirname, '..', 'engine', 'model', 'fixtures')
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>

function env(dir: string): NodeJS.ProcessEnv {
  return { VERNACULAR_HOME: join(dir, 'home'), VERNACULAR_BACKEND: 'wasm' }
}

/** A small GPT-2 with GPT-2's tokenizer, written through the CLI-independent engine helper. */
async function smallGpt2(dir: string): Promise<string> {
  const model = join(dir, 'gpt2-small')
  await fs.mkdir(model, { recursive: true })
  const config = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, bos_token_id: 50256, eos_token_id: 50256, torch_dtype: 'float32' }
  await fs.writeFile(join(model, 'config.json'), JSON.stringify(config))
  const { writeInitialisedModel } = await import('../../main/engine/model/init')
  const { parseModelConfig } = await import('../../main/engine/model/config')
  await writeInitialisedModel(model, parseModelConfig(config, 'config.json'), { seed: 1, std: 0.3 })
  await fs.copyFile(TOKENIZER_FILES.gpt2, join(model, 'tokenizer.json'))
  return model
}

describe('vernacular model', () => {
  it('info: architecture, parameters, vocabulary, layers, dims, dtype, tied', async () => {
    const dir = tmp()
    const r = await runCli(['model', 'info', join(FIXTURES, 'mistral-bf16'), '--json'], { env: env(dir) })
    expect(r.code).toBe(0)
    expect(json(r.stdout)).toMatchObject({
      architecture: 'MistralForCausalLM',
      parameters: 30880,
      vocabulary: 96,
      layers: 2,
      dims: { hidden: 32, heads: 4, kvHeads: 2, headDim: 16 },
      dtype: 'bfloat16',
      tied: false,
    })
    const human = await runCli(['model', 'info', join(FIXTURES, 'gpt2')], { env: env(dir) })
    expect(human.stdout).toContain('GPT2LMHeadModel (gpt2), 30.6k parameters, stored as float32')
    expect(human.stdout).toMatch(/output head\s+tied to the input embeddings/)
  })

  it('logits: one row per position, matching the PyTorch reference', async () => {
    const dir = tmp()
    const exp = JSON.parse(readFileSync(join(FIXTURES, 'llama', 'expected.json'), 'utf8')) as { ids: number[][]; logits: number[][][] }
    const ids = exp.ids[0]!
    const r = await runCli(['model', 'logits', '--model', join(FIXTURES, 'llama'), '--ids', ids.join(','), '--json'], { env: env(dir) })
    expect(r.code).toBe(0)
    const out = json(r.stdout) as { logits: number[][] }
    expect(out.logits.length).toBe(ids.length)
    let maxDiff = 0
    out.logits.forEach((row, t) => row.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - exp.logits[0]![t]![i]!)))))
    expect(maxDiff).toBeLessThan(1e-4)
    const bad = await runCli(['model', 'logits', '--model', join(FIXTURES, 'llama'), '--ids', '1,200'], { env: env(dir) })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/Token id 200 is outside this model's vocabulary \(0 … 95\)/)
  })

  it('score and resize: NLL and bits per byte; an extended model scores its own tokenizer', async () => {
    const dir = tmp()
    const model = await smallGpt2(dir)
    const text = join(dir, 'hu.txt')
    await fs.writeFile(text, demoText('hu').heldout.slice(0, 20).join('\n') + '\n')
    const score = await runCli(['model', 'score', '--model', model, '--tokenizer', join(model, 'tokenizer.json'), '--text', text, '--json'], { env: env(dir) })
    expect(score.code).toBe(0)
    const s = json(score.stdout) as { tokens: number; bytes: number; nll: number; bitsPerByte: number }
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['tokens', 'bytes', 'nll', 'bitsPerByte']))
    expect(s.bitsPerByte).toBeCloseTo(s.nll / Math.LN2 / s.bytes, 10)
    expect(s.bytes).toBe(demoText('hu').heldout.slice(0, 20).reduce((n, l) => n + Buffer.byteLength(l), 0))

    const train = join(dir, 'train.txt')
    await fs.writeFile(train, demoText('hu').train.slice(0, 3000).join('\n') + '\n')
    const ext = await runCli(['tokenizer', 'extend', '--base', join(model, 'tokenizer.json'), '--corpus', train, '--mode', 'add', '--count', '300', '--out', join(dir, 'tok'), '--json'], { env: env(dir) })
    expect(ext.code).toBe(0)
    const out = join(dir, 'resized')
    const resize = await runCli(['model', 'resize', '--model', model, '--changes', join(dir, 'tok', 'vocab-changes.json'), '--init', 'mean', '--out', out, '--pad-multiple', '64', '--json'], { env: env(dir) })
    expect(resize.code).toBe(0)
    expect(json(resize.stdout)).toMatchObject({ mode: 'add', init: 'mean', rowsBefore: 50257, rowsAfter: 50560, appended: 300, overwritten: 0, padding: { from: 50557, to: 50560 } })
    const info = json((await runCli(['model', 'info', out, '--json'], { env: env(dir) })).stdout)
    expect(info).toMatchObject({ vocabulary: 50560, tokenizer: { vocabSize: 50557 } })
    // The extended tokenizer needs fewer tokens for the same bytes.
    const s2 = json((await runCli(['model', 'score', '--model', out, '--tokenizer', join(out, 'tokenizer.json'), '--text', text, '--json'], { env: env(dir) })).stdout) as typeof s
    expect(s2.bytes).toBe(s.bytes)
    expect(s2.tokens).toBeLessThan(s.tokens * 0.9)
    // The base model cannot score with the extended tokenizer: it has no rows for the new ids.
    const wrong = await runCli(['model', 'score', '--model', model, '--tokenizer', join(out, 'tokenizer.json'), '--text', text], { env: env(dir) })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/has 50557 tokens but the model has only 50257 embedding rows/)
  })

  it('bad input: clear errors, nothing written', async () => {
    const dir = tmp()
    const noConfig = join(dir, 'empty')
    await fs.mkdir(noConfig)
    const r1 = await runCli(['model', 'info', noConfig], { env: env(dir) })
    expect(r1.code).toBe(1)
    const r1json = await runCli(['model', 'info', noConfig, '--json'], { env: env(dir) })
    expect(r1json.code).toBe(1)
    expect(json(r1json.stdout)).toMatchObject({ error: { code: 'bad-input', file: noConfig } })
    expect(r1.stderr).toMatch(/has no config\.json, so it is not a Hugging Face model folder/)
    const r2 = await runCli(['model', 'resize', '--model', join(FIXTURES, 'gpt2'), '--changes', join(dir, 'nope.json'), '--init', 'mean', '--out', join(dir, 'out')], { env: env(dir) })
    expect(r2.code).toBe(1)
    expect(r2.stderr).toMatch(/has no tokenizer\.json|nope\.json/)
    await expect(fs.access(join(dir, 'out'))).rejects.toThrow()
    const r3 = await runCli(['model', 'resize', '--model', join(FIXTURES, 'gpt2'), '--changes', 'x', '--init', 'zeros', '--out', join(dir, 'out')], { env: env(dir) })
    expect(r3.code).toBe(2)
    expect(r3.stderr).toMatch(/--init must be mean or random/)
  })
})
