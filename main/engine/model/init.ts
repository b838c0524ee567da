/**
 * Fresh weights, as transformers' `_init_weights` makes them: normal(0, std) (std 0.02, the
 * configs' `initializer_range`) for matrices, embeddings and the output head; zero biases; unit
 * norms; GPT-2's residual projections (`attn.c_proj` and `mlp.c_proj`) with std / sqrt(2 · layers),
 * as in the GPT-2 paper. One initialiser serves both `CausalLM.init` (a model in memory, for
 * tests and benchmarks) and `writeInitialisedModel` (a Hugging Face folder written without
 * tensors, for the demo project's base model: no weights can be downloaded here), so that the
 * two give the same weights for the same seed.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { type ModelConfig, configJson } from './config'
import { type FloatDtype, fromFloat32 } from './dtype'
import { normalRng } from '../common/rng'
import { type ParamSpec, paramSpecs, storedName } from './names'
import { type TensorToWrite, writeSafetensorsSharded } from './safetensors'

export interface InitOptions {
  /** Seeds the one normal stream all parameters draw from, in `paramSpecs` order. */
  seed?: number
  /** The standard deviation of matrices and embeddings (transformers' `initializer_range`). */
  std?: number
}

/** The standard deviation a parameter is drawn with, or null for the constant ones (biases, norms). */
export function initStd(config: ModelConfig, spec: ParamSpec, std = 0.02): number | null {
  if (spec.kind === 'bias' || spec.kind === 'norm') return null
  return config.arch === 'gpt2' && /(^|\.)c_proj\.weight$/.test(spec.name) ? std / Math.sqrt(2 * config.numLayers) : std
}

/**
 * Every parameter's initial float32 values, in `paramSpecs` order and in the stored layout
 * (`spec.shape`, PyTorch's [out, in] for the Llama family's linear layers: callers holding
 * [in, out] transpose). All parameters draw from one seeded stream, each in turn, so the values
 * depend only on the configuration, the seed and the std.
 */
export function* initialValues(config: ModelConfig, opts: InitOptions = {}): Generator<{ spec: ParamSpec; values: Float32Array }> {
  const rng = normalRng(opts.seed ?? 0)
  for (const spec of paramSpecs(config)) {
    const n = spec.shape.reduce((a, b) => a * b, 1)
    const values = new Float32Array(n)
    const s = initStd(config, spec, opts.std)
    if (spec.kind === 'norm') values.fill(1)
    else if (s !== null) for (let i = 0; i < n; i++) values[i] = rng() * s
    yield { spec, values }
  }
}

/** Writes config.json and freshly initialised weights (as `initialValues` gives them) into `dir`. */
export async function writeInitialisedModel(dir: string, config: ModelConfig, opts: InitOptions & { dtype?: FloatDtype } = {}): Promise<void> {
  const dtype = opts.dtype ?? 'F32'
  // The values are drawn lazily, as each tensor is written (in list order), so a large model
  // never holds more than one tensor's values.
  const values = initialValues(config, opts)
  const tensors: TensorToWrite[] = paramSpecs(config).map((spec) => ({
    name: storedName(config, spec.name),
    dtype,
    shape: spec.shape,
    data: () => {
      const next = values.next()
      if (next.done || next.value.spec.name !== spec.name) throw new Error(`initialised tensors written out of order at ${spec.name}`)
      return fromFloat32(next.value.values, dtype)
    },
  }))
  await fs.mkdir(dir, { recursive: true })
  await writeSafetensorsSharded(dir, tensors)
  await fs.writeFile(join(dir, 'config.json'), JSON.stringify(configJson(config, { dtype }), null, 2) + '\n')
}
