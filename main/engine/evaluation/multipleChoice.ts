/**
 * Multiple-choice tasks as lm-evaluation-harness scores them (`output_type: multiple_choice`):
 * each choice's log-likelihood given the context (the sum of its tokens' log-probabilities, the
 * pair tokenised as `_encode_pair` does: requests.ts), then per item
 *
 *   acc      = [argmax_i ll_i = gold]
 *   acc_norm = [argmax_i ll_i / len(choice_i) = gold]     (len in characters, the choice as written)
 *
 * and over the items their means with `mean_stderr` (metrics.ts). Every choice of every item is
 * one window, and the windows are batched by length (`scoreWindows`), many choices per forward
 * pass.
 */
import type { MultipleChoiceResult } from '../contract'
import { EngineError } from '../common/errors'
import type { JobContext } from '../jobs/manager'
import type { CausalLM } from '../model/model'
import type { PrefixToken } from '../model/operations'
import type { Tokenizer } from '../tokenizer/tokenizer'
import { argmax, codePoints, mean, meanStderr } from './metrics'
import { type ScoredWindow, continuationWindow, encodePair, openScorer, scoreRequestWindows } from './requests'
import { type ChoiceItem, readTask } from './tasks'

export interface ChoiceScoringOptions {
  /** The token an empty context stands for (`prefixToken`). */
  prefix: PrefixToken | null
  ctx?: JobContext
  batchTokens?: number
  /** The task file, named in errors. */
  source?: string
}

/** Each item's choices' log-likelihoods (nats, ≤ 0) given its context, with a model already loaded. */
export async function choiceLoglikelihoods(model: CausalLM, tok: Tokenizer, items: readonly ChoiceItem[], opts: ChoiceScoringOptions): Promise<number[][]> {
  const where = (item: ChoiceItem) => `${opts.source ?? 'the task'}, line ${item.line}`
  const windows: ScoredWindow[] = []
  for (const item of items) {
    opts.ctx?.throwIfCancelled()
    item.choices.forEach((choice, k) => {
      let pair: { context: number[]; continuation: number[] }
      try {
        pair = encodePair(tok, item.context, item.delimiter + choice, opts.prefix?.id ?? null)
      } catch (e) {
        if (e instanceof EngineError) throw new EngineError(e.code, `${where(item)}: ${e.message}`, { ...(opts.source ? { file: opts.source } : {}), ...(e.hint ? { hint: e.hint } : {}) })
        throw e
      }
      if (pair.continuation.length > model.maxSequence) {
        throw new EngineError('bad-input', `${where(item)}: choice ${k} is ${pair.continuation.length} tokens, longer than the model's context (${model.maxSequence}).`, {
          ...(opts.source ? { file: opts.source } : {}),
          hint: 'Shorten the choice.',
        })
      }
      windows.push(continuationWindow(pair.context, pair.continuation, model.maxSequence))
    })
  }
  const { loglikelihoods } = await scoreRequestWindows(model, windows, { ...(opts.ctx ? { ctx: opts.ctx } : {}), ...(opts.batchTokens ? { batchTokens: opts.batchTokens } : {}) })
  const out: number[][] = []
  let w = 0
  for (const item of items) {
    out.push(item.choices.map(() => loglikelihoods[w++] as number))
  }
  return out
}

/** acc and acc_norm with their standard errors, from each item's choices' log-likelihoods. */
export function multipleChoiceMetrics(items: readonly ChoiceItem[], loglikelihoods: readonly (readonly number[])[]): MultipleChoiceResult {
  if (items.length === 0) throw new EngineError('bad-input', 'The task has no items.', { hint: 'Give a task with at least one item.' })
  const acc: number[] = []
  const accNorm: number[] = []
  items.forEach((item, i) => {
    const lls = loglikelihoods[i] as readonly number[]
    acc.push(argmax(lls) === item.gold ? 1 : 0)
    accNorm.push(argmax(lls.map((ll, k) => ll / codePoints(item.choices[k] as string))) === item.gold ? 1 : 0)
  })
  return { n: items.length, acc: mean(acc), accNorm: mean(accNorm), accStderr: meanStderr(acc), accNormStderr: meanStderr(accNorm) }
}

/** Scores a task's items with a model already loaded (as the trainer holds one for each checkpoint). */
export async function scoreMultipleChoice(model: CausalLM, tok: Tokenizer, items: readonly ChoiceItem[], opts: ChoiceScoringOptions): Promise<MultipleChoiceResult> {
  return multipleChoiceMetrics(items, await choiceLoglikelihoods(model, tok, items, opts))
}

/** Scores a task file with a model folder and a tokenizer: what `eval mc` reports. */
export async function scoreTaskFile(modelDir: string, tokenizerFile: string, taskFile: string, opts: { ctx?: JobContext; batchTokens?: number } = {}): Promise<MultipleChoiceResult> {
  // Read the task first, so that a bad line is reported before the model loads.
  const task = await readTask(taskFile)
  const { model, tok, prefix } = await openScorer(modelDir, tokenizerFile, opts.ctx)
  try {
    return await scoreMultipleChoice(model, tok, task.items, { ...opts, prefix, source: taskFile })
  } finally {
    model.dispose()
  }
}
