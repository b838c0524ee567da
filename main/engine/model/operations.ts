/**
 * The model operations the CLI and the app call: describe a model folder, compute logits, and the
 * building blocks of scoring (`prefixToken`, `scoreWindows` on a model already loaded), which the
 * trainer's held-out evaluation and the evaluation stage (evaluation/) use.
 */
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { engineBackend } from '../backend/select'
import type { ModelInfo } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import { loadTokenizerCached } from '../tokenizer/estimate'
import { vocabFingerprint } from '../common/fingerprint'
import { Tokenizer } from '../tokenizer/tokenizer'
import { type HfCheckpoint, openCheckpoint } from './checkpoint'
import { TORCH_DTYPE } from './dtype'
import { CausalLM } from './model'

export const ARCHITECTURE_CLASS: Record<string, string> = {
  gpt2: 'GPT2LMHeadModel',
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
}

export async function describeCheckpoint(ckpt: HfCheckpoint): Promise<ModelInfo> {
  const c = ckpt.config
  const archs = c.raw.architectures
  let tokenizer: ModelInfo['tokenizer'] = null
  let tokenizerProblem: string | null = null
  if (ckpt.tokenizerFile) {
    try {
      const tok = await loadTokenizerCached(ckpt.tokenizerFile)
      tokenizer = { file: ckpt.tokenizerFile, vocabSize: tok.vocabSize, family: tok.family, vocabSha256: vocabFingerprint(tok) }
    } catch (e) {
      tokenizerProblem = (e as Error).message
    }
  }
  let weightBytes = 0
  for (const f of ckpt.weightFiles) weightBytes += (await fs.stat(join(ckpt.dir, f))).size
  return {
    dir: ckpt.dir,
    architecture: Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : (ARCHITECTURE_CLASS[c.modelType] ?? c.modelType),
    modelType: c.modelType,
    family: c.arch,
    parameters: ckpt.parameterCount,
    vocabulary: c.vocabSize,
    layers: c.numLayers,
    dims: {
      hidden: c.hiddenSize,
      intermediate: c.mlpSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
    },
    maxPositions: c.maxPositions,
    dtype: TORCH_DTYPE[ckpt.storedDtype],
    tied: c.tied,
    weightFiles: ckpt.weightFiles,
    weightBytes,
    tokenizer,
    tokenizerProblem,
  }
}

export async function modelInfo(dir: string): Promise<ModelInfo> {
  return describeCheckpoint(await openCheckpoint(dir))
}

/** Loads a model folder for inference (not trainable), reporting progress to `ctx`. */
export async function loadModel(dir: string, ctx?: JobContext): Promise<CausalLM> {
  const ckpt = await openCheckpoint(dir)
  const { tf, report } = await engineBackend()
  ctx?.log(`backend ${report.name}: ${report.why}`)
  return CausalLM.load(tf, ckpt, {
    trainable: false,
    ...(ctx ? { signal: ctx.signal, onProgress: (p) => ctx.progress({ done: p.done, total: p.total, message: `Loading ${p.name}` }) } : {}),
  })
}

/** Logits for one sequence of ids: one row of vocabulary-sized logits per position. */
export async function modelLogits(dir: string, ids: number[]): Promise<{ logits: number[][] }> {
  const model = await loadModel(dir)
  try {
    const V = model.config.vocabSize
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= V)
    if (bad !== undefined) throw new EngineError('invalid-request', `Token id ${bad} is outside this model's vocabulary (0 … ${V - 1}).`, { hint: 'Give ids the model knows.' })
    if (ids.length === 0) throw new EngineError('invalid-request', 'No token ids given.', { hint: 'Give at least one id, e.g. --ids 1,2,3.' })
    const { tf } = model
    const input = tf.tensor2d([ids], [1, ids.length], 'int32') as Tensor2D
    const out = model.logits(input)
    const data = (await out.data()) as Float32Array
    tf.dispose([input, out])
    const logits: number[][] = []
    for (let t = 0; t < ids.length; t++) logits.push(Array.from(data.subarray(t * V, (t + 1) * V)))
    return { logits }
  } finally {
    model.dispose()
  }
}

/**
 * The id each scored line starts with: the tokenizer's BOS as `tokenizer_config.json` beside it
 * names it, else the token its post-processor puts first, else the model's `bos_token_id`
 * (GPT-2's is `<|endoftext|>`, as lm-evaluation-harness uses it).
 */
export async function beginningOfSequence(tok: Tokenizer, tokenizerFile: string, modelBos: number | null): Promise<{ id: number; token: string } | null> {
  try {
    const cfg = JSON.parse(await fs.readFile(join(dirname(tokenizerFile), 'tokenizer_config.json'), 'utf8')) as { bos_token?: unknown }
    const bos = typeof cfg.bos_token === 'string' ? cfg.bos_token : (cfg.bos_token as { content?: unknown } | undefined)?.content
    const id = typeof bos === 'string' ? tok.tokenToId(bos) : undefined
    if (id !== undefined) return { id, token: bos as string }
  } catch {
    // No tokenizer_config.json beside it: use the next source.
  }
  const withSpecial = tok.encode('a', { addSpecialTokens: true })
  const plain = tok.encode('a')
  if (withSpecial.length > plain.length && tok.specialIds.has(withSpecial[0] as number) && withSpecial[0] !== plain[0]) {
    const id = withSpecial[0] as number
    return { id, token: tok.idToToken(id) ?? String(id) }
  }
  if (modelBos !== null && tok.idToToken(modelBos) !== undefined) return { id: modelBos, token: tok.idToToken(modelBos) as string }
  return null
}

/**
 * The tokenizer's end-of-sequence token: its EOS as `tokenizer_config.json` beside it names it,
 * else the model's `eos_token_id`.
 */
export async function endOfSequence(tok: Tokenizer, tokenizerFile: string, modelEos: number | null): Promise<{ id: number; token: string } | null> {
  try {
    const cfg = JSON.parse(await fs.readFile(join(dirname(tokenizerFile), 'tokenizer_config.json'), 'utf8')) as { eos_token?: unknown }
    const eos = typeof cfg.eos_token === 'string' ? cfg.eos_token : (cfg.eos_token as { content?: unknown } | undefined)?.content
    const id = typeof eos === 'string' ? tok.tokenToId(eos) : undefined
    if (id !== undefined) return { id, token: eos as string }
  } catch {
    // No tokenizer_config.json beside it: use the model's.
  }
  if (modelEos !== null && tok.idToToken(modelEos) !== undefined) return { id: modelEos, token: tok.idToToken(modelEos) as string }
  return null
}

/** The token a scored text is conditioned on first, and whether it is the model's BOS or EOS. */
export interface PrefixToken {
  id: number
  token: string
  kind: 'bos' | 'eos'
}

/**
 * lm-evaluation-harness's prefix token (`HFLM.prefix_token_id`): the BOS, or the EOS where the
 * model has no BOS; null when it has neither. Held-out scoring predicts a document's first token
 * from it, and a multiple-choice item with an empty context is scored after it.
 */
export async function prefixToken(tok: Tokenizer, tokenizerFile: string, config: { bosTokenId: number | null; eosTokenId: number | null }): Promise<PrefixToken | null> {
  const bos = await beginningOfSequence(tok, tokenizerFile, config.bosTokenId)
  if (bos) return { ...bos, kind: 'bos' }
  const eos = await endOfSequence(tok, tokenizerFile, config.eosTokenId)
  return eos ? { ...eos, kind: 'eos' } : null
}

/**
 * Splits a line's ids (BOS first, if any) into windows of at most `maxLen` inputs. Each window
 * predicts the ids after its first, and starts with the last id of the window before, so every
 * token after the first is predicted exactly once (lm-evaluation-harness's rolling windows).
 */
export function rollingWindows(ids: number[], maxLen: number): number[][] {
  const out: number[][] = []
  for (let start = 0; start < ids.length - 1; start += maxLen - 1) out.push(ids.slice(start, Math.min(ids.length, start + maxLen)))
  return out
}

export interface WindowScores {
  /** Summed next-token negative log-likelihood (nats) over every window. */
  nll: number
  /** Tokens predicted: each window's length less its first id and the ids it skips. */
  tokens: number
  /** Each window's summed NLL, in the order the windows were given. */
  perWindow: number[]
}

/**
 * Scores token windows with a loaded model: each window's ids after its first, each given the ids
 * before it in the window (the window is the whole context), less the first `skip[i]` of window i
 * (ids that are context only, as in lm-evaluation-harness's requests: a multiple-choice context,
 * or the overlap of a last rolling window). The model reads every id of a window but its last, so
 * a window may be one id longer than the model's context. Windows are batched by similar length,
 * at most `batchTokens` ids (padding included) a batch; a window of fewer than two ids predicts
 * nothing. Longer windows than the model takes, or ids outside its vocabulary, are refused.
 */
export async function scoreWindows(
  model: CausalLM,
  windows: readonly (readonly number[])[],
  opts: { batchTokens?: number; ctx?: JobContext; skip?: readonly number[] } = {},
): Promise<WindowScores> {
  const { tf } = model
  const { ctx } = opts
  const batchTokens = opts.batchTokens ?? 4096
  const V = model.config.vocabSize
  for (const w of windows) {
    if (w.length > model.maxSequence + 1) {
      throw new EngineError('invalid-request', `A window of ${w.length} tokens is longer than this model takes (${model.maxSequence}, and the token after them).`, {
        hint: 'Split the text into windows the model takes (rollingWindows).',
      })
    }
    const bad = w.find((id) => !Number.isInteger(id) || id < 0 || id >= V)
    if (bad !== undefined) throw new EngineError('invalid-request', `Token id ${bad} is outside this model's vocabulary (0 … ${V - 1}).`, { hint: 'Score with the tokenizer that belongs to the model.' })
  }
  const perWindow = windows.map(() => 0)
  // Similar lengths together, so padding wastes little (stable: equal lengths keep their order).
  const order = windows.map((_, i) => i).filter((i) => (windows[i] as readonly number[]).length >= 2)
  order.sort((a, b) => (windows[a] as readonly number[]).length - (windows[b] as readonly number[]).length)
  let nll = 0
  let tokens = 0
  let i = 0
  while (i < order.length) {
    ctx?.throwIfCancelled()
    const len = (k: number) => (windows[order[k] as number] as readonly number[]).length
    // Grow the batch while batch size × its longest (last) window stays within the budget.
    let j = i + 1
    while (j < order.length && (j - i + 1) * len(j) <= batchTokens) j++
    const batch = order.slice(i, j)
    const T = len(j - 1)
    const flat = new Int32Array(batch.length * T)
    batch.forEach((w, r) => flat.set(windows[w] as readonly number[], r * T))
    const ids = tf.tensor2d(flat, [batch.length, T], 'int32') as Tensor2D
    const out = model.nextTokenNll(ids)
    const data = (await out.data()) as Float32Array
    tf.dispose([ids, out])
    batch.forEach((w, r) => {
      const n = (windows[w] as readonly number[]).length - 1
      const from = Math.min(n, Math.max(0, opts.skip?.[w] ?? 0))
      let sum = 0
      for (let t = from; t < n; t++) sum += data[r * (T - 1) + t] as number
      perWindow[w] = sum
      nll += sum
      tokens += n - from
    })
    i = j
    ctx?.progress({ done: i, total: order.length, message: `Scored ${i} of ${order.length} sequences` })
    await new Promise((r) => setImmediate(r))
  }
  return { nll, tokens, perWindow }
}
