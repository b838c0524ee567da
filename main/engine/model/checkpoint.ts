/**
 * A Hugging Face model folder: config.json, the weights (`model.safetensors`, or shards listed in
 * `model.safetensors.index.json`), and the tokenizer files beside them. Opening one reads and
 * checks everything but the tensor data: the configuration, every header, that each tensor the
 * architecture needs is present exactly once with the right shape and a float dtype, and that
 * nothing unexpected is left over. Errors name the file and list what is wrong.
 */
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { EngineError, fsError } from '../common/errors'
import { pathExists } from '../common/fsutil'
import { type ModelConfig, parseModelConfig } from './config'
import type { FloatDtype } from './dtype'
import { HEAD_NAME, type ParamSpec, canonicalName, paramSpecs } from './names'
import { type TensorInfo, elementCount, isFloatDtype, readSafetensorsHeader } from './safetensors'

/** Tokenizer and generation files a model folder may carry, copied along when it is saved. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const
export const SIDE_FILES = ['generation_config.json'] as const

export interface CheckpointTensor {
  spec: ParamSpec
  info: TensorInfo
}

export interface HfCheckpoint {
  dir: string
  configFile: string
  config: ModelConfig
  /** The weight files, in order. */
  weightFiles: string[]
  /** Every parameter, by our name, in state_dict order. */
  tensors: CheckpointTensor[]
  /** The storage type most of the weights have. */
  storedDtype: FloatDtype
  /** Stored tensors that are buffers, not parameters (skipped). */
  skipped: string[]
  /** The model's tokenizer.json, if the folder has one. */
  tokenizerFile: string | null
  /** Which of TOKENIZER_FILES and SIDE_FILES the folder has. */
  sideFiles: string[]
  parameterCount: number
}

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw fsError(e, file, `read ${what}`)
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new EngineError('bad-input', `${file} is not valid JSON: ${(e as Error).message}.`, { file, hint: `Restore ${what} from the model's original download.` })
  }
}

/** Reads a model folder's config and weight headers, and checks them against each other. */
export async function openCheckpoint(dirIn: string): Promise<HfCheckpoint> {
  const dir = resolve(dirIn)
  let st
  try {
    st = await fs.stat(dir)
  } catch (e) {
    throw fsError(e, dir, 'open the model folder')
  }
  if (!st.isDirectory()) throw new EngineError('bad-input', `${dir} is not a folder.`, { file: dir, hint: 'Give the Hugging Face model folder (the one with config.json and model.safetensors).' })
  const configFile = join(dir, 'config.json')
  if (!(await pathExists(configFile))) {
    throw new EngineError('bad-input', `${dir} has no config.json, so it is not a Hugging Face model folder.`, {
      file: dir,
      hint: 'Give the folder that holds config.json and model.safetensors, as downloaded from the hub or written by save_pretrained.',
    })
  }
  const config = parseModelConfig(await readJsonFile(configFile, 'config.json'), configFile)

  // The weight files.
  const indexFile = join(dir, 'model.safetensors.index.json')
  let weightFiles: string[]
  let weightMap: Map<string, string> | null = null
  if (await pathExists(indexFile)) {
    const index = (await readJsonFile(indexFile, 'the weight index')) as { weight_map?: unknown }
    if (typeof index !== 'object' || index === null || typeof index.weight_map !== 'object' || index.weight_map === null) {
      throw new EngineError('bad-input', `${indexFile} has no "weight_map".`, { file: indexFile, hint: 'Restore the index file from the model download.' })
    }
    weightMap = new Map(Object.entries(index.weight_map as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
    weightFiles = [...new Set(weightMap.values())]
    for (const f of weightFiles) {
      if (f.includes('/') || f.includes('\\') || f.startsWith('.')) throw new EngineError('bad-input', `${indexFile} names a weight file outside the folder: ${f}.`, { file: indexFile })
      if (!(await pathExists(join(dir, f)))) {
        throw new EngineError('bad-input', `${indexFile} lists ${f}, which is not in the folder.`, { file: join(dir, f), hint: 'The download is incomplete: fetch the missing shard.' })
      }
    }
  } else if (await pathExists(join(dir, 'model.safetensors'))) {
    weightFiles = ['model.safetensors']
  } else {
    const legacy = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'model.ckpt.index', 'flax_model.msgpack']
    const found: string[] = []
    for (const f of legacy) if (await pathExists(join(dir, f))) found.push(f)
    throw new EngineError('bad-input', `${dir} has no model.safetensors (or model.safetensors.index.json)${found.length ? `; it has ${found.join(', ')}` : ''}.`, {
      file: dir,
      hint: found.length
        ? 'Vernacular reads only safetensors, which cannot run code when loaded. Convert with transformers: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True).'
        : 'Give the folder that holds the weights (model.safetensors).',
    })
  }

  // Every header, then every tensor matched to the architecture's list.
  const specs = paramSpecs(config)
  const byName = new Map(specs.map((s) => [s.name, s]))
  const found = new Map<string, TensorInfo>()
  const skipped: string[] = []
  const extra: string[] = []
  const problems: string[] = []
  for (const f of weightFiles) {
    const header = await readSafetensorsHeader(join(dir, f))
    for (const t of header.tensors) {
      if (weightMap && weightMap.get(t.name) !== f) {
        if (weightMap.has(t.name)) problems.push(`${t.name} is in ${f} but the index says ${weightMap.get(t.name)}`)
        else problems.push(`${t.name} is in ${f} but not in the index`)
        continue
      }
      const name = canonicalName(config, t.name)
      if (name === null || (name === HEAD_NAME && config.tied)) {
        skipped.push(t.name)
        continue
      }
      const spec = byName.get(name)
      if (!spec) {
        extra.push(t.name)
        continue
      }
      if (found.has(name)) {
        problems.push(`${t.name} appears twice (also as ${found.get(name)?.name})`)
        continue
      }
      if (!isFloatDtype(t.dtype)) problems.push(`${t.name} is ${t.dtype}, not F32, F16 or BF16`)
      if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
        problems.push(`${t.name} has shape [${t.shape.join(', ')}], config.json implies [${spec.shape.join(', ')}]`)
      }
      found.set(name, t)
    }
  }
  if (weightMap) {
    const seen = new Set([...found.values()].map((t) => t.name).concat(skipped, extra))
    for (const name of weightMap.keys()) if (!seen.has(name)) problems.push(`the index lists ${name}, but ${weightMap.get(name)} does not hold it`)
  }
  const missing = specs.filter((s) => !found.has(s.name)).map((s) => s.name)
  if (missing.length) problems.unshift(`missing ${missing.length} tensor${missing.length === 1 ? '' : 's'}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`)
  if (extra.length) problems.push(`${extra.length} tensor${extra.length === 1 ? '' : 's'} this ${config.modelType} configuration has no place for: ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', …' : ''}`)
  if (problems.length) {
    throw new EngineError('bad-input', `The weights in ${dir} do not match its config.json (${config.modelType}, ${config.numLayers} layers, hidden size ${config.hiddenSize}, vocabulary ${config.vocabSize}): ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''}.`, {
      file: dir,
      details: problems,
      hint: 'config.json and the weights must come from the same model; re-download the folder or fix config.json.',
    })
  }

  const tensors = specs.map((spec) => ({ spec, info: found.get(spec.name) as TensorInfo }))
  const dtypeBytes = new Map<string, number>()
  for (const t of tensors) dtypeBytes.set(t.info.dtype, (dtypeBytes.get(t.info.dtype) ?? 0) + elementCount(t.info.shape))
  const storedDtype = [...dtypeBytes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] as FloatDtype
  const sideFiles: string[] = []
  for (const f of [...TOKENIZER_FILES, ...SIDE_FILES]) if (await pathExists(join(dir, f))) sideFiles.push(f)
  return {
    dir,
    configFile,
    config,
    weightFiles,
    tensors,
    storedDtype,
    skipped,
    tokenizerFile: sideFiles.includes('tokenizer.json') ? join(dir, 'tokenizer.json') : null,
    sideFiles,
    parameterCount: tensors.reduce((n, t) => n + elementCount(t.spec.shape), 0),
  }
}
