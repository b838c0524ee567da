/**
 * Held-out language modelling as lm-evaluation-harness's perplexity tasks (wikitext, pile) define
 * it: each document scored on its own with `loglikelihood_rolling` (requests.ts), then
 *
 *   bits_per_byte   = Σ nll / ln 2 / Σ bytes      (UTF-8 bytes of the documents)
 *   byte_perplexity = exp(Σ nll / Σ bytes)
 *   word_perplexity = exp(Σ nll / Σ words)
 *
 * summed over documents before dividing (the harness's weighted perplexity). Words are counted as
 * the Corpus step counts them (corpus/words.ts: `Intl.Segmenter` for Thai and other unspaced
 * scripts, chosen by the language), so word perplexity compares across tokenizers too. A
 * document is a non-blank line. The result does not depend on batching or timing: the same
 * model and text give the same numbers.
 */
import type { HeldoutScore, ScoreResult } from '../contract'
import { EngineError } from '../common/errors'
import { textFileLines } from '../corpus/text'
import { wordCounter } from '../corpus/words'
import type { JobContext } from '../jobs/manager'
import type { CausalLM } from '../model/model'
import type { PrefixToken } from '../model/operations'
import type { Tokenizer } from '../tokenizer/tokenizer'
import { type ScoredWindow, openScorer, rollingRequestWindows, scoreRequestWindows } from './requests'

export interface DocumentScores extends HeldoutScore {
  /** Documents whose first token was not scored (0 unless the model has neither BOS nor EOS). */
  unscoredFirstTokens: number
}

export interface ScoreDocumentsOptions {
  /** The token each document is predicted from (`prefixToken`); null when the model has neither BOS nor EOS. */
  prefix: PrefixToken | null
  /** The language whose words `wordPerplexity` counts (default `und`). */
  lang?: string
  ctx?: JobContext
  /** The most ids (padding included) one forward pass reads. */
  batchTokens?: number
  /** The file the documents come from, named in errors. */
  source?: string
}

/**
 * Scores documents with a model already loaded (as the trainer holds one for each checkpoint).
 * Blank documents are skipped; none at all is an error.
 */
export async function scoreDocuments(model: CausalLM, tok: Tokenizer, documents: Iterable<string> | AsyncIterable<string>, opts: ScoreDocumentsOptions): Promise<DocumentScores> {
  const words = wordCounter(opts.lang ?? 'und')
  const encoder = new TextEncoder()
  const prefix = opts.prefix?.id ?? null
  const windows: ScoredWindow[] = []
  let documentCount = 0
  let bytes = 0
  let wordCount = 0
  let unscored = 0
  for await (const doc of documents) {
    if (doc.trim() === '') continue
    opts.ctx?.throwIfCancelled()
    documentCount++
    bytes += encoder.encode(doc).length
    wordCount += words.count(doc)
    const ids = tok.encode(doc)
    if (prefix === null && ids.length > 0) unscored++
    for (const w of rollingRequestWindows(ids, prefix, model.maxSequence)) windows.push(w)
  }
  if (documentCount === 0) {
    const hint = 'Give text with one document or sentence per line.'
    throw opts.source ? new EngineError('bad-input', `${opts.source} has no text to score.`, { file: opts.source, hint }) : new EngineError('bad-input', 'There is no text to score.', { hint })
  }
  const { loglikelihoods, tokens } = await scoreRequestWindows(model, windows, { ...(opts.ctx ? { ctx: opts.ctx } : {}), ...(opts.batchTokens ? { batchTokens: opts.batchTokens } : {}) })
  // Summed in the order of the documents, so the total never depends on how windows were batched.
  let nll = 0
  for (const ll of loglikelihoods) nll -= ll
  return {
    documents: documentCount,
    bytes,
    words: wordCount,
    tokens,
    nll,
    bitsPerByte: nll / Math.LN2 / bytes,
    bytePerplexity: Math.exp(nll / bytes),
    wordPerplexity: wordCount > 0 ? Math.exp(nll / wordCount) : null,
    unscoredFirstTokens: unscored,
  }
}

/** The fields of a held-out score alone (what `eval bpb` reports). */
export function heldoutScore(s: HeldoutScore): HeldoutScore {
  const { documents, bytes, words, tokens, nll, bitsPerByte, bytePerplexity, wordPerplexity } = s
  return { documents, bytes, words, tokens, nll, bitsPerByte, bytePerplexity, wordPerplexity }
}

/**
 * Scores a text file, one document per line, with a model folder and a tokenizer: what `eval bpb`
 * and `model score` report (the latter with its older fields too).
 */
export async function scoreTextFile(modelDir: string, tokenizerFile: string, textFile: string, opts: { lang?: string; ctx?: JobContext; batchTokens?: number } = {}): Promise<ScoreResult> {
  const { model, tok, prefix } = await openScorer(modelDir, tokenizerFile, opts.ctx)
  try {
    const s = await scoreDocuments(model, tok, textFileLines(textFile, opts.ctx?.signal), { ...opts, prefix, source: textFile })
    return {
      ...heldoutScore(s),
      lines: s.documents,
      bos: prefix?.token ?? null,
      prefix: prefix?.kind ?? null,
      unscoredFirstTokens: s.unscoredFirstTokens,
      nllPerToken: s.tokens ? s.nll / s.tokens : 0,
    }
  } finally {
    model.dispose()
  }
}
