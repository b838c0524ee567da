/**
 * Log-likelihood requests as lm-evaluation-harness makes them for a causal model (`HFLM` in
 * lm_eval/models/huggingface.py, `get_rolling_token_windows` and `make_disjoint_window` in
 * lm_eval/utils.py), turned into the windows `scoreWindows` scores: the ids a forward pass reads
 * (all but the last) and how many of its first predictions are context only.
 *
 * - Rolling (`loglikelihood_rolling`, held-out text): the document's tokens, the first predicted
 *   from the prefix token (BOS, or EOS where the model has no BOS). The first window reads the
 *   prefix and up to `maxLength` − 1 tokens and predicts up to `maxLength`; each later window
 *   predicts the next `maxLength` tokens (fewer at the end) reading the `maxLength` tokens before
 *   each, so every token is predicted exactly once and the last window keeps a full context.
 * - Continuation (`loglikelihood`, multiple choice): trailing spaces of the context move to the
 *   continuation; context + continuation are encoded whole and split where the context's own
 *   encoding ends (`_encode_pair`); an empty context is the prefix token. Neither gets a BOS (the
 *   harness's `add_bos_token` is off by default). The pair is cut from the left to `maxLength` + 1
 *   ids, so the model reads at most `maxLength`.
 */
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import type { CausalLM } from '../model/model'
import { type PrefixToken, loadModel, prefixToken, scoreWindows } from '../model/operations'
import { Tokenizer } from '../tokenizer/tokenizer'

/** One forward pass's worth of a request: `ids` (the model reads all but the last), of which the first `skip` predictions are context. */
export interface ScoredWindow {
  ids: number[]
  skip: number
}

/**
 * The rolling windows of one document's tokens (`get_rolling_token_windows` with context length 1,
 * made disjoint). With no prefix token the first token is context only, never predicted.
 */
export function rollingRequestWindows(tokens: readonly number[], prefix: number | null, maxLength: number): ScoredWindow[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`maxLength must be a positive integer, not ${maxLength}`)
  // Without a prefix token the first token stands in for it: it is read, never predicted.
  const first = prefix ?? tokens[0]
  const list = prefix === null ? tokens.slice(1) : tokens
  if (first === undefined || list.length === 0) return []
  const windows: ScoredWindow[] = [{ ids: [first, ...list.slice(0, maxLength)], skip: 0 }]
  let predicted = Math.min(maxLength, list.length)
  while (predicted < list.length) {
    const n = Math.min(list.length - predicted, maxLength)
    const end = predicted + n
    // Reads list[end − maxLength − 1 … end − 2] and predicts the last n of list[… end − 1].
    windows.push({ ids: list.slice(end - maxLength - 1, end), skip: maxLength - n })
    predicted = end
  }
  return windows
}

/** `_encode_pair`: the context's ids and the continuation's, as the harness splits them. */
export function encodePair(tok: Tokenizer, context: string, continuation: string, prefix: number | null): { context: number[]; continuation: number[] } {
  if (context === '') {
    if (prefix === null) throw new EngineError('bad-input', 'An item with an empty context needs a BOS or EOS token to be scored after, and this model has neither.', { hint: 'Give the item a context.' })
    return { context: [prefix], continuation: tok.encode(continuation) }
  }
  const spaces = context.length - context.trimEnd().length
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation
    context = context.slice(0, context.length - spaces)
  }
  const whole = tok.encode(context + continuation)
  const contextIds = tok.encode(context)
  return { context: contextIds, continuation: whole.slice(contextIds.length) }
}

/** The window that scores `continuation` after `context` (ids), cut from the left as the harness cuts it. */
export function continuationWindow(context: readonly number[], continuation: readonly number[], maxLength: number): ScoredWindow {
  if (continuation.length > maxLength) throw new RangeError(`a continuation of ${continuation.length} tokens is longer than the model's context (${maxLength})`)
  const ids = [...context, ...continuation].slice(-(maxLength + 1))
  return { ids, skip: ids.length - 1 - continuation.length }
}

/** Scores windows with a loaded model: the summed log-likelihood (nats, ≤ 0) of each window's scored predictions, and the total tokens scored. */
export async function scoreRequestWindows(model: CausalLM, windows: readonly ScoredWindow[], opts: { ctx?: JobContext; batchTokens?: number } = {}): Promise<{ loglikelihoods: number[]; tokens: number }> {
  const r = await scoreWindows(
    model,
    windows.map((w) => w.ids),
    { ...opts, skip: windows.map((w) => w.skip) },
  )
  return { loglikelihoods: r.perWindow.map((nll) => (nll === 0 ? 0 : -nll)), tokens: r.tokens }
}

/** A model loaded for scoring with its tokenizer and prefix token. */
export interface Scorer {
  model: CausalLM
  tok: Tokenizer
  prefix: PrefixToken | null
}

/**
 * Loads a model folder and a tokenizer for scoring, refusing a tokenizer with more ids than the
 * model has embedding rows. The caller disposes `model`.
 */
export async function openScorer(modelDir: string, tokenizerFile: string, ctx?: JobContext): Promise<Scorer> {
  const tok = await Tokenizer.fromFile(tokenizerFile)
  const model = await loadModel(modelDir, ctx)
  try {
    if (tok.vocabSize > model.config.vocabSize) {
      throw new EngineError('bad-input', `${tokenizerFile} has ${tok.vocabSize} tokens but the model has only ${model.config.vocabSize} embedding rows.`, {
        file: tokenizerFile,
        hint: 'Score with the tokenizer that belongs to the model (for an extended tokenizer, resize the model first with `vernacular model resize`).',
      })
    }
    return { model, tok, prefix: await prefixToken(tok, tokenizerFile, model.config) }
  } catch (e) {
    model.dispose()
    throw e
  }
}
