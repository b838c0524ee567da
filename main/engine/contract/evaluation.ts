/**
 * Evaluation: held-out language modelling (bits per byte, byte and word perplexity) and
 * multiple-choice tasks (accuracy and normalised accuracy with their standard errors), with the
 * metrics named and defined as lm-evaluation-harness defines them, so that the numbers compare
 * with published ones. docs/evaluation.md says how each is computed and the task file format.
 */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import { runName } from './training'
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

/** Held-out language modelling of one language's held-out split, as a project evaluation reports it. */
export interface LanguageEvaluation {
  bitsPerByte: number
  bytePerplexity: number
  wordPerplexity: number | null
  documents: number
  bytes: number
  tokens: number
}

/** One prompt's continuations by one model: greedy, and top-p with a fixed seed. */
export interface SampleEvaluation {
  id: string
  lang: string
  prompt: string
  greedy: string
  topP: string
}

/**
 * What a model (the base, or a checkpoint) scores on a project: held-out bits per byte of the
 * target language and of English (null when the project has no held-out text for it), each task of
 * the project's tasks/ folder, and the fixed prompts' samples.
 */
export interface Evaluation {
  target: LanguageEvaluation | null
  english: LanguageEvaluation | null
  tasks: Record<string, MultipleChoiceResult>
  samples: SampleEvaluation[]
}

export interface CheckpointEvaluation extends Evaluation {
  step: number
  dir: string
  /** Tokens of each language the run had trained on at this checkpoint. */
  tokensTarget: number
  tokensEnglish: number
}

/** The base model (with the base tokenizer) and the checkpoints of a run, evaluated. */
export interface RunEvaluation {
  run: string
  base: Evaluation
  checkpoints: CheckpointEvaluation[]
}

/** The suggested checkpoint, and the rule that chose it. */
export interface BestCheckpoint {
  run: string
  step: number
  rule: string
}

export interface Comparison {
  runs: RunEvaluation[]
  best: BestCheckpoint | null
  /** The rule in words, also when no checkpoint meets it. */
  rule: string
  maxEnglishChange: number
  /**
   * The project's evaluation limit: every result was computed on the first `limit` held-out
   * documents per language and task items (a quick check), or on everything when null.
   */
  limit: number | null
}

/** A task of a project's tasks/ folder. */
export interface ProjectTask {
  name: string
  file: string
  /** Items; null when the file cannot be read as a task (then `error` says why). */
  items: number | null
  error: string | null
}

export const EVAL_BPB_JOB = 'eval-bpb'
export const EVAL_MC_JOB = 'eval-mc'
export const EVAL_RUN_JOB = 'eval-run'
export const EVAL_COMPARE_JOB = 'eval-compare'

export interface EvaluationJobs {
  [EVAL_BPB_JOB]: { result: HeldoutScore; labels: Record<string, never> }
  [EVAL_MC_JOB]: { result: MultipleChoiceResult; labels: Record<string, never> }
  [EVAL_RUN_JOB]: { result: RunEvaluation & { limit: number | null }; labels: { run: string } }
  [EVAL_COMPARE_JOB]: { result: Comparison; labels: Record<string, never> }
}

/** Formats of a comparison report: one row per model, or one self-contained HTML page with the charts. */
export const REPORT_FORMATS = ['csv', 'html'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** What `eval.report` wrote. */
export interface ReportResult {
  /** The file written (absolute). */
  out: string
  format: ReportFormat
  bytes: number
  runs: number
  /** Checkpoints in the report (those evaluated). */
  checkpoints: number
  /** What is not evaluated yet, so not in the report. */
  missing: { run: string; step: number | null }[]
}

/** The default tolerance of the best-checkpoint rule: English bits per byte may rise by 5% of the base's. */
export const DEFAULT_MAX_ENGLISH_CHANGE = 0.05

const checkpointChoice = z.union([z.literal('all'), z.literal('last'), z.number().int().min(0)])

/** The language whose words `wordPerplexity` counts (`und`: split at spaces and punctuation). */
export const wordLanguage = languageTag.default('und')

export const evaluationMethods = {
  /** Held-out language modelling of a text file, one document per line. */
  'eval.bpb': jobMethod(EVAL_BPB_JOB)(z.object({ model: fsPath, tokenizer: fsPath, text: fsPath, lang: wordLanguage }).strict()),
  /** A multiple-choice task file (JSONL): ours, Belebele's rows, or the harness's field names. */
  'eval.mc': jobMethod(EVAL_MC_JOB)(z.object({ model: fsPath, tokenizer: fsPath, task: fsPath }).strict()),
  /**
   * Evaluates the project's base model (with the base tokenizer) and a run's checkpoints (all, the
   * last, or one step); results are cached per model checksum and data, so nothing is computed twice.
   */
  'eval.run': jobMethod(EVAL_RUN_JOB)(z.object({ dir: fsPath, run: runName.default('main'), checkpoint: checkpointChoice.default('all'), samples: z.boolean().default(true) }).strict()),
  /** Evaluates what is missing of the runs' checkpoints, then compares them and suggests the best. */
  'eval.compare': jobMethod(EVAL_COMPARE_JOB)(
    z.object({ dir: fsPath, runs: z.array(runName).optional(), maxEnglishChange: z.number().min(0).max(10).default(DEFAULT_MAX_ENGLISH_CHANGE) }).strict(),
  ),
  /**
   * Sets the project's evaluation limit: score only the first `limit` held-out documents per
   * language and items per task (a quick check, lm-evaluation-harness's `--limit`); null for
   * everything. Results under a limit are cached apart and marked as limited.
   */
  'eval.setLimit': method<{ limit: number | null }>()(z.object({ dir: fsPath, limit: z.number().int().min(1).max(10_000_000).nullable() }).strict()),
  /** The project's tasks (the JSONL files of its tasks/ folder), each checked. */
  'eval.tasks': method<ProjectTask[]>()(z.object({ dir: fsPath }).strict()),
  /**
   * Checks a task file (every line; an error names the file and line) and copies it into the
   * project's tasks/ folder under `name` (the file's stem by default); an existing task of that name
   * is replaced only with `force`.
   */
  'eval.addTask': method<ProjectTask>()(
    z
      .object({
        dir: fsPath,
        file: fsPath,
        name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'A task name has letters, digits, dots, dashes and underscores (at most 64), starting with a letter or digit.')
          .optional(),
        force: z.boolean().default(false),
      })
      .strict(),
  ),
  /** The comparison from what is already evaluated (nothing is computed): for the Compare step to draw at once. */
  'eval.results': method<Comparison & { missing: { run: string; step: number | null }[] }>()(
    z.object({ dir: fsPath, runs: z.array(runName).optional(), maxEnglishChange: z.number().min(0).max(10).default(DEFAULT_MAX_ENGLISH_CHANGE) }).strict(),
  ),
  /**
   * Writes the comparison of what is evaluated (nothing is computed) to the file `out`: a CSV, one
   * row per model, or a self-contained HTML report with the charts. An existing file is replaced
   * only when it is an earlier report, or with `force`.
   */
  'eval.report': method<ReportResult>()(
    z
      .object({
        dir: fsPath,
        runs: z.array(runName).optional(),
        maxEnglishChange: z.number().min(0).max(10).default(DEFAULT_MAX_ENGLISH_CHANGE),
        format: z.enum(REPORT_FORMATS),
        out: fsPath,
        force: z.boolean().default(false),
      })
      .strict(),
  ),
}
