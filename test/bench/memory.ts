// `npm run bench:memory`: estimateMemory against the measured peak of real training steps
// (`trainStep` with AdamW; tf.profile's peakBytes) on the active backend, for GPT-2 and
// Llama-family configurations.
// The reference is the measurement; the ratio says how far the estimate is off.
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
  { name: 'gpt2 d256 L2 V8192', raw: { model_type: 'gpt2', n_embd: 256, n_layer: 2, n_head: 8, n_positions: 256, vocab_size: 8192 }, batch: 4, seqLen: 96 },
  { name: 'llama d128 L4 GQA 4/2', raw: { model_type: 'llama', hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 4096 }, batch: 8, seqLen: 128 },
  { name: 'qwen2 d192 L3 tied', raw: { model_type: 'qwen2', hidden_size: 192, intermediate_size: 512, num_hidden_layers: 3, num_attention_heads: 6, num_key_value_heads: 2, vocab_size: 6000, tie_word_embeddings: true }, batch: 4, seqLen: 128 },
]

const mb = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8)

async function main(): Promise<void> {
  const { tf, report } = await engineBackend()
  console.log(`backend: ${report.name} (${report.why})\n`)
  console.log(`${'model'.padEnd(24)} ${'batch×seq'.padEnd(10)} ${'weights'.padStart(8)} ${'grads'.padStart(8)} ${'AdamW'.padStart(8)} ${'activ.'.padStart(8)} ${'estimate'.padStart(9)} ${'measured'.padStart(9)}  ratio`)
  for (const c of CASES) {
    const config = parseModelConfig(c.raw, c.name)
    const start = tf.memory().numBytes
    const model = CausalLM.init(tf, config, 1)
    const opt = new AdamW(tf, model, { lr: 1e-3 })
    const ids = tf.randomUniform([c.batch, c.seqLen + 1], 0, config.vocabSize, 'int32')
    const inputs = tf.slice(ids, [0, 0], [c.batch, c.seqLen]) as Tensor2D
    const targets = tf.slice(ids, [0, 1], [c.batch, c.seqLen]) as Tensor2D
    const inputBytes = (ids.size + inputs.size + targets.size) * 4
    const step = async () => void (await trainStep(model, [{ inputs, targets }], opt, constantLr(1e-3)))
    let peak = 0
    for (let i = 0; i < 2; i++) peak = Math.max(peak, (await tf.profile(step)).peakBytes)
    const measured = peak - start - inputBytes
    const e = estimateMemory(config, { batch: c.batch, seqLen: c.seqLen, optimizer: 'adamw' })
    console.log(`${c.name.padEnd(24)} ${`${c.batch}×${c.seqLen}`.padEnd(10)} ${mb(e.weights)} ${mb(e.gradients)} ${mb(e.optimizer)} ${mb(e.activations)} ${mb(e.total)} MB ${mb(measured)} MB  ${(e.total / measured).toFixed(3)}`)
    model.dispose()
    opt.dispose()
    tf.dispose([ids, inputs, targets])
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
