import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { ROOT, runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { demoText } from '../engine/tokenizer/fixtures'

const tmp = useTmp()
const GPT2_TOKENIZER = join(ROOT, 'resources/demo/base/tokenizer.json')
const json = (s: string) => JSON.parse(s) as Record<string, unknown>

describe('vernacular handoff and runs import', () => {
  it('writes a bundle for FSDP, and brings an external run back as a run of the project', async () => {
    const dir = join(tmp(), 'magyar')
    const src = tmp()
    await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 200).join('\n') + '\n')
    await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 100).join('\n') + '\n')
    const base = join(tmp(), 'base')
    await writeInitialisedModel(base, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: 50256, bos_token_id: 50256 }, 'config.json'), { seed: 3 })
    await fs.copyFile(GPT2_TOKENIZER, join(base, 'tokenizer.json'))
    for (const args of [
      ['project', 'create', dir, '--name', 'Magyar', '--language', 'hu'],
      ['corpus', 'add', dir, '--role', 'target', join(src, 'hu.txt'), '--txt-mode', 'line', '--min-heldout', '10'],
      ['corpus', 'add', dir, '--role', 'english', join(src, 'en.txt'), '--txt-mode', 'line', '--min-heldout', '10'],
      ['model', 'set-base', dir, base],
      ['vocab', 'extend', dir, '--mode', 'add', '--count', '40'],
      ['model', 'resize', '--model', base, '--changes', join(dir, 'tokenizer', 'add-40', 'vocab-changes.json'), '--out', join(dir, 'models', 'add-40-mean')],
    ]) {
      const r = await runCli([...args, '--json'])
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
    }

    const out = join(tmp(), 'bundle')
    const h = await runCli(['handoff', dir, '--run', 'big', '--out', out, '--seq-len', '32', '--batch', '2', '--grad-accum', '4', '--steps', '100', '--json'])
    expect(h.code, h.stdout + h.stderr).toBe(0)
    const bundle = json(h.stdout)
    expect(bundle).toMatchObject({ out, target: 'fsdp', run: 'big', created: true, command: './launch.sh --nproc-per-node 1', importCommand: `vernacular runs import ${dir} ${join(out, 'output')} --run big` })
    expect(bundle.tokensPerStep).toBe(2 * 32 * 4)
    expect(JSON.parse(await fs.readFile(join(out, 'vernacular-run.json'), 'utf8'))).toMatchObject({ settings: { sequenceLength: 32, batchSize: 2, gradientAccumulation: 4, steps: 100 } })
    // A new run takes the project's settings unless flags say otherwise; settings that cannot train are refused before anything is written.
    const long = await runCli(['handoff', dir, '--run', 'other', '--out', join(tmp(), 'b2'), '--json'])
    expect(long.code).toBe(2)
    expect(long.stdout).toMatch(/A sequence of 512 tokens is longer than the model's context \(64\)/)
    const kept = await runCli(['handoff', dir, '--run', 'big', '--out', out, '--steps', '5', '--json'])
    expect(kept.stdout).toMatch(/Run \\"big\\" exists and keeps its settings \(steps given\)/)
    expect((bundle.files as { name: string }[]).map((f) => f.name)).toEqual(expect.arrayContaining(['train.py', 'launch.sh', 'vernacular-run.json', 'data/target.tokens', 'model/model.safetensors']))
    const plain = await runCli(['handoff', dir, '--run', 'big', '--out', out, '--target', 'llamafactory'])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toContain('for LLaMA-Factory to ' + out)
    expect(plain.stdout).toContain('Then bring the checkpoints back: vernacular runs import')
    const bad = await runCli(['handoff', dir, '--run', 'big', '--out', out, '--target', 'deepspeed'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/--target/)

    // Stand-in for the cluster's output: a local run's checkpoint as a Hugging Face Trainer names it.
    const t = await runCli(['train', dir, '--run', 'local', '--seq-len', '16', '--batch', '2', '--steps', '2', '--checkpoint-every', '2', '--eval-every', '0', '--json'])
    expect(t.code, t.stderr).toBe(0)
    const ext = join(tmp(), 'output')
    await fs.mkdir(join(ext, 'checkpoint-2'), { recursive: true })
    const step2 = join(dir, 'runs', 'local', 'checkpoints', 'step-2')
    for (const f of await fs.readdir(step2)) if (/\.(json|safetensors)$/.test(f) && f !== 'checksums.json') await fs.copyFile(join(step2, f), join(ext, 'checkpoint-2', f))
    const imp = await runCli(['runs', 'import', dir, ext, '--run', 'big-cluster', '--json'])
    expect(imp.code, imp.stderr).toBe(0)
    expect(json(imp.stdout)).toMatchObject({ run: 'big-cluster', from: ext, checkpoints: [{ step: 2, from: join(ext, 'checkpoint-2') }], skipped: [], metrics: 0 })
    const status = await runCli(['train', 'status', dir, '--run', 'big-cluster', '--json'])
    expect(status.code, status.stdout + status.stderr).toBe(0)
    expect(json(status.stdout)).toMatchObject({ name: 'big-cluster', state: 'done', step: 2, imported: { from: ext } })
    const again = await runCli(['runs', 'import', dir, ext, '--run', 'big-cluster'])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain('already has a run "big-cluster"')
  }, 240_000)
})
