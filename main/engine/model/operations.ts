/**
 * The model operations the CLI and the app call: describe a model folder, compute logits, score a
 * text (bits per byte; `scoreWindows` scores token windows with a model already loaded, as
 * evaluation during training does).
 */
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { engineBackend } from '../backend/select'
import type { ModelInfo, ScoreResult } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import { loadTokenizerCached } from '../tokenizer/estimate'
import { vocabFingerprint } from '../common/fingerprint'
import { textFileLines } from '../corpus/text'
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

async function loadModel(dir: string, ctx?: JobContext): Promise<CausalLM> {
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
  /** Tokens predicted: each window's length less its first id. */
  tokens: number
  /** Each window's summed NLL, in the order the windows were given. */
  perWindow: number[]
}

/**
 * Scores token windows with a loaded model: each window's ids after its first, each given the ids
 * before it in the window (the window is the whole context). Windows are batched by similar
 * length, at most `batchTokens` ids (padding included) a batch; a window of fewer than two ids
 * predicts nothing. Longer windows than the model takes, or ids outside its vocabulary, are refused.
 */
export async function scoreWindows(model: CausalLM, windows: readonly (readonly number[])[], opts: { batchTokens?: number; ctx?: JobContext } = {}): Promise<WindowScores> {
  const { tf } = model
  const { ctx } = opts
  const batchTokens = opts.batchTokens ?? 4096
  const V = model.config.vocabSize
  for (const w of windows) {
    if (w.length > model.maxSequence) {
      throw new EngineError('invalid-request', `A window of ${w.length} tokens is longer than this model takes (${model.maxSequence}).`, { hint: 'Split the text into windows the model takes (rollingWindows).' })
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
      let sum = 0
      for (let t = 0; t < n; t++) sum += data[r * (T - 1) + t] as number
      perWindow[w] = sum
      nll += sum
      tokens += n
    })
    i = j
    ctx?.progress({ done: i, total: order.length, message: `Scored ${i} of ${order.length} sequences` })
    await new Promise((r) => setImmediate(r))
  }
  return { nll, tokens, perWindow }
}

/**
 * Summed next-token negative log-likelihood (nats) of each line of a text file, lines scored
 * independently, each after the BOS if there is one, in rolling windows of the model's context
 * (`scoreWindows`); and bits per byte over the lines' UTF-8 bytes.
 */
export async function scoreFile(modelDir: string, tokenizerFile: string, textFile: string, ctx?: JobContext, batchTokens = 4096): Promise<ScoreResult> {
  const tok = await Tokenizer.fromFile(tokenizerFile)
  const model = await loadModel(modelDir, ctx)
  try {
    if (tok.vocabSize > model.config.vocabSize) {
      throw new EngineError('bad-input', `${tokenizerFile} has ${tok.vocabSize} tokens but the model has only ${model.config.vocabSize} embedding rows.`, {
        file: tokenizerFile,
        hint: 'Score with the tokenizer that belongs to the model (for an extended tokenizer, resize the model first with `vernacular model resize`).',
      })
    }
    const bos = await beginningOfSequence(tok, tokenizerFile, model.config.bosTokenId)
    const windows: number[][] = []
    let bytes = 0
    let lines = 0
    let unscored = 0
    const encoder = new TextEncoder()
    for await (const line of textFileLines(textFile)) {
      if (line.trim() === '') continue
      lines++
      bytes += encoder.encode(line).length
      const ids = tok.encode(line)
      if (bos) ids.unshift(bos.id)
      else unscored++
      windows.push(...rollingWindows(ids, model.maxSequence))
    }
    if (lines === 0) throw new EngineError('bad-input', `${textFile} has no text to score.`, { file: textFile, hint: 'Give a text file with one document or sentence per line.' })
    const { nll, tokens } = await scoreWindows(model, windows, { batchTokens, ctx })
    return {
      tokens,
      bytes,
      nll,
      bitsPerByte: nll / Math.LN2 / bytes,
      lines,
      bos: bos?.token ?? null,
      unscoredFirstTokens: unscored,
      nllPerToken: tokens ? nll / tokens : 0,
    }
  } finally {
    model.dispose()
  }
}
