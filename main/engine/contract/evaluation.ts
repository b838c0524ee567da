/**
 * Evaluation: held-out language modelling (bits per byte, byte and word perplexity) and
 * multiple-choice tasks (accuracy and normalised accuracy with their standard errors), with the
 * metrics named and defined as lm-evaluation-harness defines them, so that the numbers compare
 * with published ones. docs/evaluation.md says how each is computed and the task file format.
 */
import { z } from 'zod'
import { jobMethod } from './jobs'
import { fsPath, languageTag } from './values'

/**
 * Held-out language modelling of a text, each document (line) scored on its own with rolling
 * windows (the harness's `loglikelihood_rolling`): every token once, the first predicted from the
 * prefix token (BOS, or EOS where the model has no BOS).
 */
export interface HeldoutScore {
  /** Documents scored: the non-blank lines. */
  documents: number
  /** UTF-8 bytes of the documents. */
  bytes: number
  /** Words of the documents, counted as the Corpus step counts them for the language (a dictionary segmenter for Thai). */
  words: number
  /** Tokens scored (predicted). */
  tokens: number
  /** Summed negative log-likelihood of the tokens, in nats. */
  nll: number
  /** nll / ln 2 / bytes: independent of the tokenizer, so base and extended tokenizers compare fairly. */
  bitsPerByte: number
  /** exp(nll / bytes) = 2^bitsPerByte. */
  bytePerplexity: number
  /** exp(nll / words); null when the text has no words. */
  wordPerplexity: number | null
}

/** A multiple-choice task's result: the harness's `acc` and `acc_norm`, each with its standard error. */
export interface MultipleChoiceResult {
  /** Items (questions) scored. */
  n: number
  /** Share of items whose gold choice has the highest log-likelihood given the context. */
  acc: number
  /** The same with each log-likelihood divided by its choice's length in characters. */
  accNorm: number
  /** Standard error of the mean of acc, sqrt(acc (1 − acc) / (n − 1)); null for a single item. */
  accStderr: number | null
  accNormStderr: number | null
}

export const EVAL_BPB_JOB = 'eval-bpb'
export const EVAL_MC_JOB = 'eval-mc'

export interface EvaluationJobs {
  [EVAL_BPB_JOB]: { result: HeldoutScore; labels: Record<string, never> }
  [EVAL_MC_JOB]: { result: MultipleChoiceResult; labels: Record<string, never> }
}

/** The language whose words `wordPerplexity` counts (`und`: split at spaces and punctuation). */
export const wordLanguage = languageTag.default('und')

export const evaluationMethods = {
  /** Held-out language modelling of a text file, one document per line. */
  'eval.bpb': jobMethod(EVAL_BPB_JOB)(z.object({ model: fsPath, tokenizer: fsPath, text: fsPath, lang: wordLanguage }).strict()),
  /** A multiple-choice task file (JSONL): ours, Belebele's rows, or the harness's field names. */
  'eval.mc': jobMethod(EVAL_MC_JOB)(z.object({ model: fsPath, tokenizer: fsPath, task: fsPath }).strict()),
}
