/**
 * bench:gpu — training tokens per second on a GPU through the REAL trainer (`runTraining`,
 * main/engine/training/trainer.ts), with the model FLOPs utilisation against the card's fp32 peak,
 * beside PyTorch CUDA on the same shapes.
 *
 * - Backend: the engine's (`VERNACULAR_BACKEND`, the setting, or the fallback order); meant for
 *   `webgpu` (Dawn on the GPU's Vulkan, Metal or D3D12 driver) or `node-gpu`. It prints the
 *   backend, why it was chosen, and the WebGPU adapter with its limits.
 * - Inputs as a project gets them: a temporary project with the demo corpora ingested (hu as the
 *   target, en as replay), token files made with GPT-2's tokenizer by `prepareTokenData`, and a
 *   model folder with random weights written by `writeInitialisedModel`.
 * - Shapes (--configs): `gpt2-124m` (GPT-2 small: d768, 12 layers, 12 heads, vocabulary 50,257,
 *   1,024 positions, tied head: 124 M parameters) and `llama-0.5b` (d1024, 24 layers, 16 heads, MLP
 *   4,096, vocabulary 50,304, untied head: 0.50 B parameters), at batch 8 × 512 (--batch, --seq).
 *   `--quick`: a tiny GPT-2 (d64, 2 layers, vocabulary 50,257) at 2 × 64, 1 + 2 steps: a smoke run
 *   that works on SwiftShader (`VERNACULAR_BACKEND=webgpu` with SwiftShader's driver, see
 *   docs/performance.md).
 * - The run: the demo project's training plan (AdamW lr 1e-4, warm-up, weight decay 0.1, clipping
 *   at 1.0, document masking, English share 0.25), held-out evaluation off, no checkpoint before
 *   the end; --warmup steps (default 2) untimed, then --steps (default 5) timed from one `onStep`
 *   to the next. tok/s = batch × seq ÷ mean step time.
 * - MFU = achieved FLOP/s ÷ the card's fp32 peak (no tensor cores: tfjs computes in float32, and
 *   PyTorch runs with TF32 off). FLOPs per token = 6 · N + 12 · L · D · T (PaLM, appendix B: N the
 *   parameters that take part in products, i.e. without the position table, with the head once;
 *   the second term is attention's two products). The peak comes from --peak-tflops, or from the
 *   table below by the GPU's name (nvidia-smi, or the adapter's description).
 * - PyTorch (test/bench/gpu_reference.py): the same shapes in plain torch.nn (model_reference.py's
 *   modules), float32 with TF32 off, AdamW, random batches, on CUDA. Skipped with the reason when
 *   /usr/bin/python3 (or --python) cannot import torch or torch sees no CUDA device.
 *
 * Flags: --configs gpt2-124m,llama-0.5b, --batch 8, --seq 512, --steps 5, --warmup 2, --quick,
 * --peak-tflops X, --no-torch, --python PATH, --keep.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { engineBackend } from '../../main/engine/backend/select'
import type { GpuAdapterReport } from '../../main/engine/contract'
import { openCheckpoint } from '../../main/engine/model/checkpoint'
import { type ModelConfig, parseModelConfig } from '../../main/engine/model/config'
import { writeInitialisedModel } from '../../main/engine/model/init'
import { createProject } from '../../main/engine/project/projects'
import { detectGpus } from '../../main/engine/system/gpus'
import { prepareTokenData } from '../../main/engine/training/data'
import { type RunSettings, runTraining } from '../../main/engine/training/trainer'
import { ingest } from '../engine/corpus/helpers'
import { timingSettings } from './settings'

const ROOT = resolve(__dirname, '../..')
const DEMO = join(ROOT, 'resources', 'demo')
const say = (line = '') => process.stdout.write(line + '\n')
const progress = (msg: string) => process.stderr.write(`  … ${msg}\n`)
const n0 = (x: number) => Math.round(x).toLocaleString('en')

/** fp32 peak TFLOP/s (without tensor cores) of common cards, from the vendors' data sheets; matched by name, longest key first. */
export const FP32_PEAK_TFLOPS: Record<string, number> = {
  'H100 SXM': 67,
  'H100 PCIe': 51,
  'H100 NVL': 60,
  H200: 67,
  'A100': 19.5,
  A10G: 31.2,
  A10: 31.2,
  L40S: 91.6,
  L40: 90.5,
  L4: 30.3,
  T4: 8.1,
  V100: 15.7,
  'RTX 6000 Ada': 91.1,
  'RTX A6000': 38.7,
  'RTX 4090': 82.6,
  'RTX 4080': 48.7,
  'RTX 4070': 29.1,
  'RTX 3090': 35.6,
  'RTX 3080': 29.8,
  'RTX 3070': 20.3,
  'RX 7900 XTX': 61.4,
  MI300X: 163.4,
  MI250X: 47.9,
  'Apple M2 Max': 13.6,
  'Apple M3 Max': 16.4,
}

export function peakFor(name: string): { key: string; tflops: number } | null {
  const key = Object.keys(FP32_PEAK_TFLOPS)
    .sort((a, b) => b.length - a.length)
    .find((k) => name.toLowerCase().includes(k.toLowerCase()))
  return key ? { key, tflops: FP32_PEAK_TFLOPS[key]! } : null
}

interface Options {
  configs: string[]
  batch: number
  seq: number
  steps: number
  warmup: number
  quick: boolean
  peakTflops: number | null
  torch: boolean
  python: string
  keep: boolean
}

function parseArgs(argv: string[]): Options {
  const o: Options = { configs: ['gpt2-124m', 'llama-0.5b'], batch: 8, seq: 512, steps: 5, warmup: 2, quick: false, peakTflops: null, torch: true, python: '/usr/bin/python3', keep: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const next = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--configs') o.configs = next().split(',')
    else if (a === '--batch') o.batch = Number(next())
    else if (a === '--seq') o.seq = Number(next())
    else if (a === '--steps') o.steps = Number(next())
    else if (a === '--warmup') o.warmup = Number(next())
    else if (a === '--peak-tflops') o.peakTflops = Number(next())
    else if (a === '--python') o.python = next()
    else if (a === '--no-torch') o.torch = false
    else if (a === '--keep') o.keep = true
    else if (a === '--quick') o.quick = true
    else throw new Error(`unknown flag ${a}`)
  }
  if (o.quick) Object.assign(o, { configs: ['tiny'], batch: 2, seq: 64, steps: 2, warmup: 1 })
  return o
}

/** config.json fields of each shape (what PyTorch gets too). */
const SHAPES: Record<string, Record<string, unknown>> = {
  'gpt2-124m': { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, bos_token_id: 50256, eos_token_id: 50256, tie_word_embeddings: true },
  'llama-0.5b': { model_type: 'llama', vocab_size: 50304, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 16, max_position_embeddings: 2048, bos_token_id: 50256, eos_token_id: 50256, tie_word_embeddings: false },
  tiny: { model_type: 'gpt2', vocab_size: 50257, n_positions: 512, n_embd: 64, n_layer: 2, n_head: 4, bos_token_id: 50256, eos_token_id: 50256, tie_word_embeddings: true },
}

/** FLOPs of a training step per token (forward + backward), PaLM's count. */
export function flopsPerToken(config: ModelConfig, parameters: number, seq: number): number {
  const D = config.hiddenSize
  const positionTable = config.arch === 'gpt2' ? config.maxPositions * D : 0
  // An untied input embedding is a lookup, not a product; a tied one is the head's product.
  const lookup = config.tied ? 0 : config.vocabSize * D
  return 6 * (parameters - positionTable - lookup) + 12 * config.numLayers * D * seq
}

const settingsFor = (o: Options): RunSettings => timingSettings(o, o.warmup + o.steps)

function describeAdapter(a: GpuAdapterReport): string {
  return `${[a.vendor, a.architecture].filter(Boolean).join(' ')} (${a.description || a.device || 'no description'})${a.software ? ', SOFTWARE' : ''}; maxBufferSize ${n0(a.limits.maxBufferSize / 2 ** 20)} MiB, maxStorageBufferBindingSize ${n0(a.limits.maxStorageBufferBindingSize / 2 ** 20)} MiB`
}

interface TorchRow {
  config: string
  tokensPerSecond?: number
  error?: string
}

/** PyTorch CUDA on the same shapes, or why not. */
function runTorch(o: Options, configs: string[]): { rows: TorchRow[]; device?: string } | { skipped: string } {
  if (!o.torch) return { skipped: 'skipped (--no-torch)' }
  if (!existsSync(o.python)) return { skipped: `skipped: ${o.python} not found (--python PATH)` }
  const probe = spawnSync(o.python, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available())'], { encoding: 'utf8' })
  if (probe.status !== 0) return { skipped: `skipped: ${o.python} cannot import torch` }
  const [version, cuda] = probe.stdout.trim().split(' ')
  if (cuda !== 'True') return { skipped: `skipped: torch ${version} sees no CUDA device` }
  const args = [join(__dirname, 'gpu_reference.py'), '--configs', JSON.stringify(Object.fromEntries(configs.map((c) => [c, SHAPES[c]]))), '--batch', String(o.batch), '--seq', String(o.seq), '--steps', String(o.steps), '--warmup', String(o.warmup)]
  const r = spawnSync(o.python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) return { skipped: `failed (exit ${r.status}); see its output above` }
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { device: string; rows: TorchRow[] }
  return out
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const { tf, report } = await engineBackend()
  say(`bench:gpu — backend ${report.name} (${report.why})`)
  for (const a of report.attempts) say(`  ${a.ok ? '✓' : '✗'} ${a.name}: ${a.reason}`)
  if (report.adapter) say(`  adapter: ${describeAdapter(report.adapter)}`)
  const gpuName = (await detectGpus())[0]?.name ?? report.adapter?.description ?? ''
  const peak = o.peakTflops !== null ? { key: '--peak-tflops', tflops: o.peakTflops } : peakFor(gpuName)
  say(`  GPU: ${gpuName || 'none found'}; fp32 peak: ${peak ? `${peak.tflops} TFLOP/s (${peak.key})` : 'unknown (give --peak-tflops for MFU)'}`)
  if (report.name !== 'webgpu' && report.name !== 'node-gpu') say(`  note: ${report.name} is not a GPU backend; set VERNACULAR_BACKEND=webgpu to use the GPU through Dawn`)
  if (report.adapter?.software) say('  note: a software adapter (on the CPU): the figures say nothing about a GPU')

  const work = await fs.mkdtemp(join(tmpdir(), 'vernacular-bench-gpu-'))
  const rows: { config: string; params: number; tokPerS: number; mfu: number | null; losses: number[] }[] = []
  try {
    progress('ingesting the demo corpora (hu, en)')
    const projectDir = join(work, 'project')
    await createProject({ dir: projectDir, name: 'Bench', language: 'hu' })
    const hu = await ingest(projectDir, 'target', [join(DEMO, 'corpora', 'hu')])
    const en = await ingest(projectDir, 'english', [join(DEMO, 'corpora', 'en')])
    if (hu.final.state !== 'done' || en.final.state !== 'done') throw new Error(`ingest failed: ${hu.final.state} / ${en.final.state}`)
    const tokenizerFile = join(DEMO, 'base', 'tokenizer.json')
    progress('token files (GPT-2 tokenizer)')
    const data = await prepareTokenData(projectDir, tokenizerFile)
    const eos = 50256
    for (const name of o.configs) {
      const raw = SHAPES[name]
      if (!raw) throw new Error(`unknown config ${name} (${Object.keys(SHAPES).join(', ')})`)
      const config = parseModelConfig(raw, `<${name}>`)
      const modelDir = join(work, 'models', name)
      progress(`${name}: writing random weights`)
      await writeInitialisedModel(modelDir, config, { seed: 0 })
      await fs.copyFile(tokenizerFile, join(modelDir, 'tokenizer.json'))
      const params = (await openCheckpoint(modelDir)).parameterCount
      const s = settingsFor(o)
      const times: number[] = []
      const losses: number[] = []
      let last = performance.now()
      progress(`${name}: ${o.warmup} + ${o.steps} steps at ${o.batch} × ${o.seq}`)
      await runTraining({
        tf,
        runDir: join(work, 'runs', name),
        modelDir,
        data,
        heldout: { target: null, english: null },
        eos,
        settings: s,
        onStep: (m) => {
          const now = performance.now()
          const dt = (now - last) / 1000
          times.push(dt)
          losses.push(m.loss)
          last = now
          progress(`${name} step ${m.step}: ${dt.toFixed(2)} s, loss ${m.loss.toFixed(4)}`)
        },
      })
      const timed = times.slice(o.warmup)
      const tokPerS = (o.batch * o.seq) / (timed.reduce((a, b) => a + b, 0) / timed.length)
      const flops = flopsPerToken(config, params, o.seq) * tokPerS
      rows.push({ config: name, params, tokPerS, mfu: peak ? flops / (peak.tflops * 1e12) : null, losses })
    }
  } finally {
    if (o.keep) say(`  kept ${work}`)
    else await fs.rm(work, { recursive: true, force: true })
  }

  const torch = runTorch(o, o.configs)
  say('')
  say(`| config | params | batch × seq | ${report.name} tok/s | MFU (fp32) | PyTorch CUDA tok/s | ours / PyTorch |`)
  say('| --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    const t = 'rows' in torch ? torch.rows.find((x) => x.config === r.config) : undefined
    const ref = t?.tokensPerSecond
    say(`| ${r.config} | ${(r.params / 1e6).toFixed(1)} M | ${o.batch} × ${o.seq} | ${n0(r.tokPerS)} | ${r.mfu === null ? '–' : `${(r.mfu * 100).toFixed(1)}%`} | ${ref ? n0(ref) : (t?.error ?? '–')} | ${ref ? `${(r.tokPerS / ref).toFixed(2)}×` : '–'} |`)
  }
  say('')
  say(`PyTorch: ${'rows' in torch ? `CUDA on ${torch.device}, float32 (TF32 off)` : torch.skipped}`)
  say(`losses (first to last step): ${rows.map((r) => `${r.config} ${r.losses[0]?.toFixed(3)} → ${r.losses.at(-1)?.toFixed(3)}`).join('; ')}`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
