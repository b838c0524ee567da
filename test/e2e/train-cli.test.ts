import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { CLI, ROOT, runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { demoText } from '../engine/tokenizer/fixtures'

const tmp = useTmp()
const GPT2_TOKENIZER = join(ROOT, 'resources/demo/base/tokenizer.json')
const json = (s: string) => JSON.parse(s) as Record<string, unknown>

/** A project as the CLI makes it: Hungarian and English text, a tiny GPT-2 base, 100 new tokens, the resized model. */
async function project(): Promise<string> {
  const dir = join(tmp(), 'magyar')
  const src = tmp()
  await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 400).join('\n') + '\n')
  await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 200).join('\n') + '\n')
  const base = join(tmp(), 'base')
  await writeInitialisedModel(base, parseModelConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, eos_token_id: 50256, bos_token_id: 50256 }, 'config.json'), { seed: 3 })
  await fs.copyFile(GPT2_TOKENIZER, join(base, 'tokenizer.json'))
  const steps: string[][] = [
    ['project', 'create', dir, '--name', 'Magyar', '--language', 'hu'],
    ['corpus', 'add', dir, '--role', 'target', join(src, 'hu.txt'), '--txt-mode', 'line', '--min-heldout', '10'],
    ['corpus', 'add', dir, '--role', 'english', join(src, 'en.txt'), '--txt-mode', 'line', '--min-heldout', '10'],
    ['model', 'set-base', dir, base],
    ['vocab', 'extend', dir, '--mode', 'add', '--count', '100'],
    ['model', 'resize', '--model', base, '--changes', join(dir, 'tokenizer', 'add-100', 'vocab-changes.json'), '--out', join(dir, 'models', 'add-100-mean')],
  ]
  for (const args of steps) {
    const r = await runCli([...args, '--json'])
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
  }
  return dir
}

const SMALL = ['--seq-len', '16', '--batch', '2', '--checkpoint-every', '2', '--eval-every', '2', '--keep', '5']

describe('vernacular train', () => {
  it('trains a run in a worker, reporting metrics as JSON lines, and its status', async () => {
    const dir = await project()
    const r = await runCli(['train', dir, ...SMALL, '--steps', '4', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const status = json(r.stdout)
    expect(status).toMatchObject({ name: 'main', state: 'done', step: 4, steps: 4, plannedReplayShare: 0.25 })
    expect((status.checkpoints as { step: number }[]).map((c) => c.step)).toEqual([4, 2])
    const progress = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => json(l))
      .filter((l) => l.metrics)
    expect(progress.map((p) => (p.metrics as { step: number }).step)).toEqual([1, 2, 3, 4])
    for (const p of progress) expect(Object.keys(p.metrics as object).sort()).toEqual(['loss', 'lossEnglish', 'lossTarget', 'lr', 'step', 'tokensPerSecond'])

    // The checkpoint is a Hugging Face folder that `model info` reads, with its tokenizer.
    const info = await runCli(['model', 'info', join(dir, 'runs', 'main', 'checkpoints', 'step-4'), '--json'])
    expect(json(info.stdout)).toMatchObject({ vocabulary: 50357, tokenizer: { vocabSize: 50357 } })

    const st = await runCli(['train', 'status', dir, '--json'])
    const s = json(st.stdout)
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['state', 'step', 'steps', 'tokensTarget', 'tokensEnglish', 'plannedReplayShare', 'realisedReplayShare', 'epochsTarget', 'epochsEnglish', 'checkpoints']))
    expect((s.tokensTarget as number) + (s.tokensEnglish as number)).toBe(4 * 2 * 16)
    expect(s.epochsTarget as number).toBeGreaterThan(0)
    expect((await fs.readFile(join(dir, 'runs', 'main', 'metrics.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(4)
    // Flags are not written back to the manifest; the run records its settings.
    const manifest = json(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')) as { training: { steps: number }; runs: { name: string; status: string }[] }
    expect(manifest.training.steps).toBe(1000)
    expect(manifest.runs).toEqual([expect.objectContaining({ name: 'main', status: 'done' })])
    expect(json(await fs.readFile(join(dir, 'runs', 'main', 'run.json'), 'utf8'))).toMatchObject({ settings: { steps: 4, sequenceLength: 16 } })
  }, 240_000)

  it('pauses from another terminal, refuses a second train of the run, and resumes', async () => {
    const dir = await project()
    const child = spawn(process.execPath, [CLI, 'train', dir, ...SMALL, '--steps', '400', '--json'], { cwd: ROOT })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((r) => child.on('close', r))
    // Wait for training to be under way.
    for (let i = 0; i < 600 && !err.includes('"metrics"'); i++) await new Promise((r) => setTimeout(r, 100))
    expect(err).toContain('"metrics"')

    const second = await runCli(['train', dir, '--resume', '--json'])
    expect(second.code).toBe(1)
    expect(json(second.stdout)).toMatchObject({ error: { code: 'locked' } })

    const pause = await runCli(['train', 'pause', dir, '--run', 'main', '--json'])
    expect(pause.code, pause.stderr).toBe(0)
    expect(await exited).toBe(0)
    const paused = json((await runCli(['train', 'status', dir, '--json'])).stdout) as { state: string; step: number; checkpoints: { step: number }[] }
    expect(paused.state).toBe('paused')
    expect(paused.checkpoints[0]?.step).toBe(paused.step)

    // Resumed, it goes on from the step after the checkpoint; cancelled, it checkpoints and stops for good.
    const again = spawn(process.execPath, [CLI, 'train', dir, '--resume', '--json'], { cwd: ROOT })
    let err2 = ''
    again.stderr.on('data', (d) => (err2 += d))
    const exited2 = new Promise<number | null>((r) => again.on('close', r))
    for (let i = 0; i < 600 && !err2.includes('"metrics"'); i++) await new Promise((r) => setTimeout(r, 100))
    const firstStep = err2
      .split('\n')
      .filter((l) => l.includes('"metrics"'))
      .map((l) => (json(l).metrics as { step: number }).step)[0]
    expect(firstStep).toBe(paused.step + 1)
    expect((await runCli(['train', 'cancel', dir, '--run', 'main', '--json'])).code).toBe(0)
    expect(await exited2).toBe(0)
    const cancelled = json((await runCli(['train', 'status', dir, '--json'])).stdout) as { state: string; step: number; checkpoints: { step: number }[] }
    expect(cancelled.state).toBe('cancelled')
    expect(cancelled.checkpoints[0]?.step).toBe(cancelled.step)
    expect(cancelled.step).toBeGreaterThan(paused.step)
  }, 240_000)

  it('marks a run whose worker was killed as failed, with the reason, and resumes it from its last checkpoint', async () => {
    const dir = await project()
    const child = spawn(process.execPath, [CLI, 'train', dir, ...SMALL, '--steps', '400', '--json'], { cwd: ROOT })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((r) => child.on('close', r))
    for (let i = 0; i < 600 && (err.match(/"metrics"/g) ?? []).length < 3; i++) await new Promise((r) => setTimeout(r, 100))
    // kill -9 of the worker, whose pid its run lock names.
    const lock = json(await fs.readFile(join(dir, 'runs', 'main', '.vernacular.lock'), 'utf8')) as { pid: number }
    process.kill(lock.pid, 'SIGKILL')
    expect(await exited).toBe(1)
    expect(json(out)).toMatchObject({ error: { message: expect.stringContaining('the training worker was killed (SIGKILL') } })
    const failed = json((await runCli(['train', 'status', dir, '--json'])).stdout) as { state: string; failure: string; checkpoints: { step: number }[] }
    expect(failed.state).toBe('failed')
    expect(failed.failure).toContain('SIGKILL')
    const last = failed.checkpoints[0]!.step

    const again = spawn(process.execPath, [CLI, 'train', dir, '--resume', '--json'], { cwd: ROOT })
    let err2 = ''
    again.stderr.on('data', (d) => (err2 += d))
    const exited2 = new Promise<number | null>((r) => again.on('close', r))
    for (let i = 0; i < 600 && !err2.includes('"metrics"'); i++) await new Promise((r) => setTimeout(r, 100))
    expect((json(err2.split('\n').find((l) => l.includes('"metrics"'))!).metrics as { step: number }).step).toBe(last + 1)
    // Ctrl-C pauses: a checkpoint, the run paused, exit code 130.
    again.kill('SIGINT')
    expect(await exited2).toBe(130)
    const paused = json((await runCli(['train', 'status', dir, '--json'])).stdout) as { state: string; step: number; checkpoints: { step: number }[] }
    expect(paused.state).toBe('paused')
    expect(paused.checkpoints[0]?.step).toBe(paused.step)
  }, 240_000)

  it('refuses bad settings before a run starts, naming the flag', async () => {
    const dir = await project()
    const share = await runCli(['train', dir, '--replay-share', '1.5', '--json'])
    expect(share.code).toBe(2)
    expect(json(share.stdout)).toMatchObject({ error: { message: expect.stringContaining('--replay-share must be at most 1') } })
    const long = await runCli(['train', dir, '--seq-len', '128', '--json'])
    expect(json(long.stdout)).toMatchObject({ error: { message: expect.stringContaining("longer than the model's context (64)"), hint: expect.stringMatching(/^Use --seq-len 64 or less\.\nUsage: vernacular train /) } })
    await fs.rm(join(dir, 'corpora', 'english'), { recursive: true })
    const noEnglish = await runCli(['train', dir, '--seq-len', '16', '--json'])
    expect(json(noEnglish.stdout)).toMatchObject({ error: { message: expect.stringContaining("English corpus is empty") } })
    const noReplay = await runCli(['train', dir, ...SMALL, '--steps', '2', '--replay-share', '0', '--json'])
    expect(noReplay.code, noReplay.stderr).toBe(0)
    expect(json(noReplay.stdout)).toMatchObject({ state: 'done', tokensEnglish: 0, realisedReplayShare: 0 })
  }, 240_000)
})
