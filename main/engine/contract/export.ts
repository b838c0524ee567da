/** Export: a checkpoint of a training run written as a Hugging Face model folder with a model card. */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import { runName } from './training'
import { fsPath } from './values'

/** Export formats: `hf` (a Hugging Face folder) and `gguf` (one llama.cpp file and an Ollama Modelfile). */
export const EXPORT_FORMATS = ['hf', 'gguf'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]
/** Storage types of the weights of a Hugging Face folder (safetensors F32, F16, BF16). */
export const EXPORT_DTYPES = ['f32', 'f16', 'bf16'] as const
/** Storage types of a GGUF file (ggml F32, F16, Q8_0; norms and biases stay F32). */
export const GGUF_DTYPES = ['f32', 'f16', 'q8_0'] as const
export type ExportDtype = (typeof EXPORT_DTYPES)[number] | (typeof GGUF_DTYPES)[number]
const ALL_DTYPES = ['f32', 'f16', 'bf16', 'q8_0'] as const satisfies readonly ExportDtype[]

/** One language's held-out language-modelling numbers, as evaluation reports them (extra fields are kept). */
const languageMetrics = z.looseObject({
  bitsPerByte: z.number(),
  bytePerplexity: z.number().nullish(),
  wordPerplexity: z.number().nullish(),
})
/** One multiple-choice task's numbers. */
const taskMetrics = z.looseObject({
  n: z.number().int().min(0),
  acc: z.number(),
  accNorm: z.number().nullish(),
  accStderr: z.number().nullish(),
  accNormStderr: z.number().nullish(),
})
/** The evaluation of one model (the base, or the adapted checkpoint): `E` of `eval run`. */
export const exportEvaluationEntry = z.looseObject({
  target: languageMetrics.nullish(),
  english: languageMetrics.nullish(),
  tasks: z.record(z.string(), taskMetrics).default({}),
})
/** What the model card's evaluation table shows: the base against the exported checkpoint. */
export const exportEvaluation = z
  .object({
    base: exportEvaluationEntry,
    adapted: exportEvaluationEntry,
    /** Measured on the first `limit` held-out documents per language and task items only (the project's evaluation limit). */
    limit: z.number().int().positive().nullable().optional(),
  })
  .strict()
export type ExportEvaluationEntry = z.input<typeof exportEvaluationEntry>
export type ExportEvaluation = z.input<typeof exportEvaluation>

export interface ExportedFile {
  name: string
  bytes: number
}

export interface ExportResult {
  /** The folder written (absolute). */
  out: string
  format: ExportFormat
  dtype: ExportDtype
  run: string
  checkpoint: number
  /** Every file in the folder, by name, with its size. */
  files: ExportedFile[]
  /** Whether the model card has an evaluation table. */
  evaluated: boolean
  seconds: number
}

export const EXPORT_JOB = 'export'

export interface ExportJobs {
  [EXPORT_JOB]: { result: ExportResult; labels: { run: string; checkpoint: string } }
}

const exportSource = z.object({
  dir: fsPath,
  run: runName,
  checkpoint: z.number().int().min(0),
  dtype: z.enum(ALL_DTYPES).default('f32'),
  evaluation: exportEvaluation.optional(),
})

export const exportMethods = {
  /**
   * Writes checkpoint `step-<checkpoint>` of a run as a Hugging Face folder in `out` (`format: 'gguf'`:
   * `out/<project>-step-<n>-<dtype>.gguf` and an Ollama Modelfile). A non-empty
   * `out` that an earlier export did not write is refused unless `force` (which replaces it).
   */
  'export.checkpoint': jobMethod(EXPORT_JOB)(exportSource.extend({ out: fsPath, format: z.enum(EXPORT_FORMATS).default('hf'), force: z.boolean().default(false) }).strict()),
  /** The size in bytes of the GGUF file of a checkpoint in each GGUF dtype (nothing is written); refused for a model GGUF export does not cover. */
  'export.ggufSizes': method<{ sizes: Record<(typeof GGUF_DTYPES)[number], number> }>()(exportSource.omit({ dtype: true, evaluation: true }).strict()),
  /** The model card (README.md) that export would write, for a preview; nothing is written. */
  'export.card': method<{ markdown: string }>()(exportSource.strict()),
}
