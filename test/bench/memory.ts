// `npm run bench:memory`: estimateMemory against the measured peak of real training steps
// (`trainStep` with AdamW; tf.profile's peakBytes) on the active backend, for GPT-2 and
// Llama-family configurations, with activations kept (tfjs's default) and recomputed in the
// backward pass (`CausalLM.recompute`, model/recompute.ts). It also times the steps, to show what
// recomputation costs: about one more forward pass.
// The reference is the measurement; the ratio says how far the estimate is off.
//
// Flags: --quick (the first two configurations only), --case TEXT (those whose name contains TEXT),
// --speed N (instead of memory: N timed steps of each, kept and recomputed alternating after a
// warm-up step each, so that both see the same load; medians).
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { engineBackend } from '../../main/engine/backend/select'
import { parseModelConfig } from '../../main/engine/model/config'
import { estimateMemory } from '../../main/engine/model/memory'
import { CausalLM } from '../../main/engine/model/model'
import { AdamW } from '../../main/engine/model/optimizer'
import { constantLr } from '../../main/engine/model/schedule'
import { trainStep } from '../../main/engine/model/train'

const CASES: { name: string; raw: Record<string, unknown>; batch: number; seqLen: number }[] = [
  { name: 'gpt2 d128 L4 V4096', raw: { model_type: 'gpt2', n_embd: 128, n_layer: 4, n_head: 4, n_positions: 256, vocab_size: 4096 }, batch: 8, seqLen: 128 },
  { name: 'llama d128 L4 GQA 4/2', raw: { model_type: 'llama', hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 4096 }, batch: 8, seqLen: 128 },
  { name: 'gpt2 d256 L2 V8192', raw: { model_type: 'gpt2', n_embd: 256, n_layer: 2, n_head: 8, n_positions: 256, vocab_size: 8192 }, batch: 4, seqLen: 96 },
  { name: 'qwen2 d192 L3 tied', raw: { model_type: 'qwen2', hidden_size: 192, intermediate_size: 512, num_hidden_layers: 3, num_attention_heads: 6, num_key_value_heads: 2, vocab_size: 6000, tie_word_embeddings: true }, batch: 4, seqLen: 128 },
  { name: 'gpt2 d128 L8 V4096', raw: { model_type: 'gpt2', n_embd: 128, n_layer: 8, n_head: 4, n_positions: 512, vocab_size: 4096 }, batch: 8, seqLen: 256 },
  // bench:train's `demo` configuration (GPT-2 d64, 2 layers, GPT-2's vocabulary) at the demo plan's 8 × 512.
  { name: 'demo d64 L2 V50257', raw: { model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 1024, vocab_size: 50257 }, batch: 8, seqLen: 512 },
]

const mb = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8)

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const only = process.argv.includes('--case') ? process.argv[process.argv.indexOf('--case') + 1] : undefined
  const { tf, report } = await engineBackend()
  console.log(`backend: ${report.name} (${report.why})\n`)
  console.log(
    `${'model'.padEnd(22)} ${'batch×seq'.padEnd(9)} ${'activations'.padEnd(11)} ${'weights'.padStart(8)} ${'grads'.padStart(8)} ${'AdamW'.padStart(8)} ${'activ.'.padStart(8)} ${'estimate'.padStart(9)} ${'measured'.padStart(9)}  ratio  ${'step s'.padStart(7)} ${'tok/s'.padStart(7)}`,
  )
  const speedIndex = process.argv.indexOf('--speed')
  if (speedIndex >= 0) return speed(tf, (quick ? CASES.slice(0, 2) : CASES).filter((k) => !only || k.name.includes(only)), Number(process.argv[speedIndex + 1] ?? 5))
  const summary: string[] = []
  for (const c of (quick ? CASES.slice(0, 2) : CASES).filter((k) => !only || k.name.includes(only))) {
    const config = parseModelConfig(c.raw, c.name)
    const results: { measured: number; seconds: number }[] = []
    for (const recompute of [false, true]) {
      const start = tf.memory().numBytes
      const model = CausalLM.init(tf, config, 1)
      model.recompute = recompute
      const opt = new AdamW(tf, model, { lr: 1e-3 })
      const ids = tf.randomUniform([c.batch, c.seqLen + 1], 0, config.vocabSize, 'int32', 7)
      const inputs = tf.slice(ids, [0, 0], [c.batch, c.seqLen]) as Tensor2D
      const targets = tf.slice(ids, [0, 1], [c.batch, c.seqLen]) as Tensor2D
      const inputBytes = (ids.size + inputs.size + targets.size) * 4
      const step = async () => void (await trainStep(model, [{ inputs, targets }], opt, constantLr(1e-3)))
      // The first step creates AdamW's moments; the second is the steady state, and is timed.
      let peak = (await tf.profile(step)).peakBytes
      const t0 = performance.now()
      peak = Math.max(peak, (await tf.profile(step)).peakBytes)
      const seconds = (performance.now() - t0) / 1000
      const measured = peak - start - inputBytes
      const e = estimateMemory(config, { batch: c.batch, seqLen: c.seqLen, optimizer: 'adamw', recompute })
      console.log(
        `${c.name.padEnd(22)} ${`${c.batch}×${c.seqLen}`.padEnd(9)} ${(recompute ? 'recomputed' : 'kept').padEnd(11)} ${mb(e.weights)} ${mb(e.gradients)} ${mb(e.optimizer)} ${mb(e.activations)} ${mb(e.total)} MB ${mb(measured)} MB  ${(e.total / measured).toFixed(3)}  ${seconds.toFixed(2).padStart(7)} ${Math.round((c.batch * c.seqLen) / seconds).toString().padStart(7)}`,
      )
      results.push({ measured, seconds })
      model.dispose()
      opt.dispose()
      tf.dispose([ids, inputs, targets])
    }
    const [kept, recomputed] = results as [{ measured: number; seconds: number }, { measured: number; seconds: number }]
    summary.push(`${c.name.padEnd(22)} peak ${(recomputed.measured / kept.measured).toFixed(2)}× (${mb(kept.measured).trim()} → ${mb(recomputed.measured).trim()} MB), step time ${(recomputed.seconds / kept.seconds).toFixed(2)}×`)
  }
  console.log('\nrecomputed against kept (measured):')
  for (const line of summary) console.log(line)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** Step times with activations kept and recomputed, alternating step by step. */
async function speed(tf: Awaited<ReturnType<typeof engineBackend>>['tf'], cases: typeof CASES, steps: number): Promise<void> {
  console.log(`${'model'.padEnd(22)} ${'batch×seq'.padEnd(9)} ${'kept tok/s'.padStart(10)} ${'recomputed tok/s'.padStart(16)}  median step-time ratio`)
  for (const c of cases) {
    const config = parseModelConfig(c.raw, c.name)
    const ids = tf.randomUniform([c.batch, c.seqLen + 1], 0, config.vocabSize, 'int32', 7)
    const inputs = tf.slice(ids, [0, 0], [c.batch, c.seqLen]) as Tensor2D
    const targets = tf.slice(ids, [0, 1], [c.batch, c.seqLen]) as Tensor2D
    const runs = [false, true].map((recompute) => {
      const model = CausalLM.init(tf, config, 1)
      model.recompute = recompute
      const opt = new AdamW(tf, model, { lr: 1e-3 })
      const step = async () => {
        const t0 = performance.now()
        await trainStep(model, [{ inputs, targets }], opt, constantLr(1e-3))
        return (performance.now() - t0) / 1000
      }
      return { model, opt, step, times: [] as number[] }
    })
    for (const r of runs) await r.step()
    for (let i = 0; i < steps; i++) for (const r of runs) r.times.push(await r.step())
    const [kept, recomputed] = runs as [(typeof runs)[0], (typeof runs)[0]]
    const tokens = c.batch * c.seqLen
    const ratio = median(recomputed.times.map((t, i) => t / (kept.times[i] as number)))
    console.log(`${c.name.padEnd(22)} ${`${c.batch}×${c.seqLen}`.padEnd(9)} ${Math.round(tokens / median(kept.times)).toString().padStart(10)} ${Math.round(tokens / median(recomputed.times)).toString().padStart(16)}  ${ratio.toFixed(2)}×`)
    for (const r of runs) {
      r.model.dispose()
      r.opt.dispose()
    }
    tf.dispose([ids, inputs, targets])
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
