/**
 * A freshly initialised model written straight to a Hugging Face folder, without tensors: for the
 * demo project's base model (no weights can be downloaded here) and for tests and benchmarks.
 * Initialisation follows transformers' `_init_weights`: normal(0, 0.02) for matrices and
 * embeddings, zero biases, unit norms; GPT-2's residual projections (`c_proj`) use
 * 0.02 / sqrt(2 · layers), as in the GPT-2 paper.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { type ModelConfig, configJson } from './config'
import { type FloatDtype, fromFloat32 } from './dtype'
import { normalRng } from '../common/rng'
import { paramSpecs, storedName } from './names'
import { type TensorToWrite, writeSafetensorsSharded } from './safetensors'

export async function writeInitialisedModel(dir: string, config: ModelConfig, opts: { seed?: number; dtype?: FloatDtype; std?: number } = {}): Promise<void> {
  const rng = normalRng(opts.seed ?? 0)
  const dtype = opts.dtype ?? 'F32'
  const std = opts.std ?? 0.02
  const tensors: TensorToWrite[] = paramSpecs(config).map((spec) => ({
    name: storedName(config, spec.name),
    dtype,
    shape: spec.shape,
    data: () => {
      const n = spec.shape.reduce((a, b) => a * b, 1)
      const values = new Float32Array(n)
      if (spec.kind === 'norm') values.fill(1)
      else if (spec.kind !== 'bias') {
        const s = config.arch === 'gpt2' && /c_proj\.weight$/.test(spec.name) ? std / Math.sqrt(2 * config.numLayers) : std
        for (let i = 0; i < n; i++) values[i] = rng() * s
      }
      return fromFloat32(values, dtype)
    },
  }))
  await fs.mkdir(dir, { recursive: true })
  await writeSafetensorsSharded(dir, tensors)
  await fs.writeFile(join(dir, 'config.json'), JSON.stringify(configJson(config, { dtype }), null, 2) + '\n')
}
