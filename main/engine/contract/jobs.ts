/**
 * Jobs: long work the engine runs in the background (ingest, learning tokens, resizing, …), and
 * the registry that ties every API method to its params, its result and, for a method that starts
 * a job, the job's kind. Each stage declares its job kinds with their result and labels in its own
 * file; `JobSnapshot` is the union of them all, discriminated by `kind`, so that
 * `job.kind === 'model-resize'` narrows `job.result` to a `ResizeSummary`.
 */
import { z } from 'zod'
import type { SystemJobs } from './app'
import type { CorpusJobs } from './corpus'
import type { EvaluationJobs } from './evaluation'
import type { ExportJobs } from './export'
import type { HandoffJobs } from './handoff'
import type { ModelJobs } from './model'
import type { SampleJobs } from './sample'
import type { TokenizerJobs } from './tokenizer'
import type { TrainingJobs } from './training'
import { fsPath } from './values'

/** What a stage declares for each job kind it starts. */
export interface JobType {
  /** The job's result, once it is done. */
  result: unknown
  /** Strings that let clients place the job (an ingest job has `role`). */
  labels: Readonly<Record<string, string | undefined>>
}

/** Every job kind, with its result and labels. */
export interface JobTypes extends SystemJobs, CorpusJobs, TokenizerJobs, ModelJobs, SampleJobs, TrainingJobs, EvaluationJobs, ExportJobs, HandoffJobs {}
export type JobKind = keyof JobTypes
export type JobResult<K extends JobKind> = JobTypes[K]['result']
export type JobLabels<K extends JobKind> = JobTypes[K]['labels']

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobProgress {
  /** 0 … 1, or null while the total is unknown. */
  fraction: number | null
  message: string
  /** Seconds left, estimated from the rate so far; null until there is a rate. */
  etaSeconds: number | null
  /** Numbers a job reports as it goes (a training run: step, loss, lossTarget, lossEnglish, lr, tokensPerSecond). */
  metrics?: Readonly<Record<string, number | null>>
}

export interface JobError {
  code: string
  message: string
  hint?: string
}

/** A job of kind `K` as clients see it. */
export interface JobSnapshotOf<K extends string, R = unknown, L = Readonly<Record<string, string | undefined>>> {
  id: string
  /** Grows with every change of the job, so a client can drop snapshots older than one it has. */
  revision: number
  kind: K
  title: string
  /** The project the job works on, if any. */
  projectDir: string | null
  /** What the job is about, for clients to place it. */
  labels: L
  state: JobState
  progress: JobProgress
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  error: JobError | null
  /** The result once the job is done; null before, and after a failure. */
  result: R | null
  logFile: string | null
}

/** Any job: narrow it with `job.kind`. */
export type JobSnapshot = { [K in JobKind]: JobSnapshotOf<K, JobResult<K>, JobLabels<K>> }[JobKind]
/** A job of kind `K` (or of any of the kinds in `K`). */
export type JobOf<K extends JobKind> = Extract<JobSnapshot, { kind: K }>

/** Whether `job` is of kind `kind` (narrows it, result included). */
export function isJobOf<K extends JobKind>(job: JobSnapshot | null | undefined, kind: K): job is JobOf<K> {
  return job?.kind === kind
}

// ---------------------------------------------------------------------------------------------
// The method registry: one entry per API method
// ---------------------------------------------------------------------------------------------

/**
 * One API method: the schema its params are validated against at the process boundary, its result
 * type (a type only: results are produced by the engine itself), and the kind of the job it starts,
 * if it starts one.
 */
export interface MethodSpec<P extends z.ZodType, R, K extends JobKind | null> {
  params: P
  job: K
  /** Type only; never set. */
  readonly result?: R
}

/** A method that answers with `R`. */
export function method<R>() {
  return <P extends z.ZodType>(params: P): MethodSpec<P, R, null> => ({ params, job: null })
}

/** A method that starts a job of kind `kind` and answers at once with its snapshot. */
export function jobMethod<K extends JobKind>(kind: K) {
  return <P extends z.ZodType>(params: P): MethodSpec<P, { job: JobOf<K> }, K> => ({ params, job: kind })
}

export const jobMethods = {
  'jobs.list': method<JobSnapshot[]>()(z.object({ projectDir: fsPath.optional() }).strict()),
  'jobs.get': method<JobSnapshot>()(z.object({ id: z.string().min(1) }).strict()),
  'jobs.cancel': method<JobSnapshot>()(z.object({ id: z.string().min(1) }).strict()),
}
