import { promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { ROOT, runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { demoText } from '../engine/tokenizer/fixtures'
import { writePrefixTokenizer } from '../../resources/demo/prefix-tokenizer'

// `VERNACULAR_BACKEND=webgpu` through the built CLI on SwiftShader (the webgpu project gives this
// process, and so the CLI and its training worker, SwiftShader's Vulkan driver): doctor shows the
// adapter, and `model logits`, `model score` and `train` give what the cpu backend gives. Each
// command has to exit by itself (Dawn must not keep Node's event loop alive), or this times out.
const tmp = useTmp()
const FIXTURES = join(__dirname, '..', 'engine', 'model', 'fixtures')
const GPT2_TOKENIZER = join(ROOT, 'resources/demo/base/tokenizer.json')
// GPT-2's tokenizer cut to its first 8,191 tokens + <|endoftext|> (id 8191), as the demo base model
// has it: a smaller output head than 50,257 rows keeps these runs short on SwiftShader.
const VOCAB = 8192
const EOS = 8191
const GPT2 = { model_type: 'gpt2', vocab_size: VOCAB, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: EOS, bos_token_id: EOS }

async function smallGpt2(dir: string, seed: number): Promise<string> {
  await writeInitialisedModel(dir, parseModelConfig(GPT2, 'config.json'), { seed, std: 0.3 })
  await writePrefixTokenizer(GPT2_TOKENIZER, join(dir, 'tokenizer.json'), VOCAB)
  return dir
}
const json = (s: string) => JSON.parse(s) as Record<string, unknown>
type Backend = 'webgpu' | 'cpu'
const env = (home: string, backend: Backend): NodeJS.ProcessEnv => ({ VERNACULAR_HOME: join(home, 'home'), VERNACULAR_BACKEND: backend })

async function cli(args: string[], home: string, backend: Backend): Promise<Record<string, unknown>> {
  const r = await runCli([...args, '--json'], { env: env(home, backend) })
  expect(r.code, `${backend}: ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
  return json(r.stdout)
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length)
  let m = 0
  a.forEach((row, t) => row.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[t]![i]!)))))
  return m
}

describe('VERNACULAR_BACKEND=webgpu on SwiftShader', () => {
  it('doctor shows the adapter it uses and why', async () => {
    const home = tmp()
    const report = (await cli(['doctor'], home, 'webgpu')) as { backend: { name: string; why: string; adapter: { vendor: string; architecture: string; software: boolean; limits: { maxBufferSize: number } } }; warnings: string[] }
    expect(report.backend).toMatchObject({ name: 'webgpu', why: 'chosen by VERNACULAR_BACKEND', adapter: { vendor: 'google', architecture: 'swiftshader', software: true } })
    expect(report.backend.adapter.limits.maxBufferSize).toBeGreaterThanOrEqual(256 * 1024 ** 2)
    expect(report.warnings).toContainEqual(expect.stringMatching(/software adapter/))
    const human = await runCli(['doctor'], { env: env(home, 'webgpu') })
    expect(human.stdout).toMatch(/Adapter\s+google swiftshader \(SwiftShader driver [^)]*\), software; buffers up to/)
  })

  it('model logits and model score match the cpu backend', async () => {
    const home = tmp()
    const exp = JSON.parse(readFileSync(join(FIXTURES, 'llama', 'expected.json'), 'utf8')) as { ids: number[][]; logits: number[][][] }
    const args = ['model', 'logits', '--model', join(FIXTURES, 'llama'), '--ids', exp.ids[0]!.join(',')]
    const gpu = (await cli(args, home, 'webgpu')).logits as number[][]
    const cpu = (await cli(args, home, 'cpu')).logits as number[][]
    // Float32 against PyTorch's float64 within the golden tests' 1e-4, and against each other.
    expect(maxAbsDiff(gpu, exp.logits[0]!)).toBeLessThan(1e-4)
    expect(maxAbsDiff(gpu, cpu)).toBeLessThan(1e-4)

    const model = await smallGpt2(join(home, 'gpt2'), 1)
    const text = join(home, 'hu.txt')
    await fs.writeFile(text, demoText('hu').heldout.slice(0, 6).join('\n') + '\n')
    const score = ['model', 'score', '--model', model, '--tokenizer', join(model, 'tokenizer.json'), '--text', text]
    const s1 = (await cli(score, home, 'webgpu')) as { tokens: number; nll: number }
    const s2 = (await cli(score, home, 'cpu')) as { tokens: number; nll: number }
    expect(s1.tokens).toBe(s2.tokens)
    expect(Math.abs(s1.nll - s2.nll) / s2.nll).toBeLessThan(1e-5)
  })

  it('train runs in its worker on webgpu with the cpu backend\'s losses, and its checkpoint\'s logits match', async () => {
    const home = tmp()
    const dir = join(home, 'magyar')
    const src = tmp()
    await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 200).join('\n') + '\n')
    await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 100).join('\n') + '\n')
    const base = await smallGpt2(join(home, 'base'), 3)
    for (const args of [
      ['project', 'create', dir, '--name', 'Magyar', '--language', 'hu'],
      ['corpus', 'add', dir, '--role', 'target', join(src, 'hu.txt'), '--txt-mode', 'line', '--min-heldout', '5'],
      ['corpus', 'add', dir, '--role', 'english', join(src, 'en.txt'), '--txt-mode', 'line', '--min-heldout', '5'],
      ['model', 'set-base', dir, base],
      ['vocab', 'extend', dir, '--mode', 'add', '--count', '20'],
      ['model', 'resize', '--model', base, '--changes', join(dir, 'tokenizer', 'add-20', 'vocab-changes.json'), '--out', join(dir, 'models', 'add-20-mean')],
    ])
      await cli(args, home, 'cpu')
    const settings = ['--seq-len', '16', '--batch', '2', '--steps', '2', '--eval-every', '0', '--checkpoint-every', '2']
    const losses: Record<Backend, number[]> = { webgpu: [], cpu: [] }
    for (const backend of ['webgpu', 'cpu'] as const) {
      const status = await cli(['train', dir, '--run', backend, ...settings], home, backend)
      expect(status).toMatchObject({ name: backend, state: 'done', step: 2 })
      const lines = (await fs.readFile(join(dir, 'runs', backend, 'metrics.jsonl'), 'utf8')).trim().split('\n')
      losses[backend] = lines.map((l) => json(l).loss as number)
    }
    // The same batches (the mixture is seeded) and the same start: the same losses, to float32.
    expect(losses.webgpu).toHaveLength(2)
    losses.webgpu.forEach((l, i) => expect(Math.abs(l - losses.cpu[i]!) / losses.cpu[i]!).toBeLessThan(1e-5))
    const ids = ['--ids', `${EOS},40,1212,318,257,1332`]
    const ckpt = (b: Backend) => join(dir, 'runs', b, 'checkpoints', 'step-2')
    const gpu = (await cli(['model', 'logits', '--model', ckpt('webgpu'), ...ids], home, 'webgpu')).logits as number[][]
    const cpu = (await cli(['model', 'logits', '--model', ckpt('cpu'), ...ids], home, 'cpu')).logits as number[][]
    expect(maxAbsDiff(gpu, cpu)).toBeLessThan(1e-4)
  })
})
