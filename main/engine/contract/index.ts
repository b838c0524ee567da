/**
 * The API contract: every request the renderer (or any other client) can make of the engine, the
 * shape of each result, the jobs it starts, and the events the engine pushes. It is the seam
 * between the renderer and the engine; the desktop app carries it over Electron IPC, web mode over
 * a loopback WebSocket, and the renderer cannot tell which.
 *
 * One file per stage, in the order the data flows (corpus → tokenizer → model), plus the
 * application (`app`), the project manifest, jobs and the wire format. Each method has one
 * registry entry (`method<Result>()(paramsSchema)` or `jobMethod(kind)(paramsSchema)`). Requests
 * are validated with these schemas at the process boundary before they reach the engine; results
 * and events are produced by the engine itself and described here as types.
 *
 * These files may import nothing but zod: the renderer bundles them.
 */
import type { z } from 'zod'
import { BENCHMARK_JOB, appMethods } from './app'
import { INGEST_JOB, corpusMethods } from './corpus'
import { EVAL_BPB_JOB, EVAL_COMPARE_JOB, EVAL_MC_JOB, EVAL_RUN_JOB, evaluationMethods } from './evaluation'
import { EXPORT_JOB, exportMethods } from './export'
import { HANDOFF_JOB, RUNS_IMPORT_JOB, handoffMethods } from './handoff'
import { type JobKind, jobMethods } from './jobs'
import { MODEL_DOWNLOAD_JOB, MODEL_RESIZE_JOB, MODEL_SCORE_JOB, modelMethods } from './model'
import { MODEL_SAMPLE_JOB, sampleMethods } from './sample'
import { TOKENIZER_EXTEND_JOB, TOKENIZER_SWEEP_JOB, VOCAB_EXTEND_JOB, VOCAB_SWEEP_JOB, tokenizerMethods } from './tokenizer'
import { TRAIN_JOB, trainingMethods } from './training'

export * from './values'
export * from './manifest'
export * from './recipes'
export * from './app'
export * from './corpus'
export * from './tokenizer'
export * from './model'
export * from './sample'
export * from './training'
export * from './evaluation'
export * from './export'
export * from './handoff'
export * from './jobs'
export * from './wire'

/** Every API method, by name. */
export const methods = { ...appMethods, ...corpusMethods, ...tokenizerMethods, ...modelMethods, ...sampleMethods, ...trainingMethods, ...evaluationMethods, ...exportMethods, ...handoffMethods, ...jobMethods }

export type Methods = typeof methods
export type MethodName = keyof Methods
export const METHOD_NAMES = Object.keys(methods) as MethodName[]

/** What callers pass (defaults may be omitted). */
export type ParamsIn<M extends MethodName> = z.input<Methods[M]['params']>
/** What the engine receives after validation (defaults filled in, strings trimmed). */
export type Params<M extends MethodName> = z.output<Methods[M]['params']>
/** What the method answers. */
export type Result<M extends MethodName> = Exclude<Methods[M]['result'], undefined>
/** The methods that start a job, and the kind of job each starts. */
export type JobMethodName = { [M in MethodName]: Methods[M]['job'] extends null ? never : M }[MethodName]

/** Every job kind, in the order the data flows. */
export const JOB_KINDS = [BENCHMARK_JOB, INGEST_JOB, TOKENIZER_EXTEND_JOB, TOKENIZER_SWEEP_JOB, VOCAB_SWEEP_JOB, VOCAB_EXTEND_JOB, MODEL_SCORE_JOB, MODEL_RESIZE_JOB, MODEL_DOWNLOAD_JOB, MODEL_SAMPLE_JOB, TRAIN_JOB, EVAL_BPB_JOB, EVAL_MC_JOB, EVAL_RUN_JOB, EVAL_COMPARE_JOB, EXPORT_JOB, HANDOFF_JOB, RUNS_IMPORT_JOB] as const

/** A kind declared by a stage but missing from JOB_KINDS is a type error here. */
export const JOB_KINDS_COMPLETE: Exclude<JobKind, (typeof JOB_KINDS)[number]> extends never ? true : never = true
