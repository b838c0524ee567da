/**
 * The comparison of the open project's runs: what is evaluated so far (`eval.results`, read from
 * the engine's cache, so the Compare step draws at once), the evaluation job that fills in the rest
 * (`eval.compare`; an `eval.run` job another window or the CLI started is shown too), the tolerance
 * of the best-checkpoint rule, and the reports (`eval.report`).
 *
 * The results are read again when an evaluation finishes, and while one runs each time its progress
 * moves on to another model (the parts it has evaluated are cached as it goes, so a checkpoint
 * appears in the table as soon as it is done). After a page reload the project's active evaluation
 * job is found again (see `useFollowedJobs`).
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import {
  DEFAULT_MAX_ENGLISH_CHANGE,
  EVAL_COMPARE_JOB,
  EVAL_RUN_JOB,
  isJobOf,
  type JobOf,
  type ReportFormat,
  type ReportResult,
  type Result,
} from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs } from './followedJobs'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export type Results = Result<'eval.results'>
export type EvaluationJob = JobOf<typeof EVAL_COMPARE_JOB> | JobOf<typeof EVAL_RUN_JOB>

export const useCompareStore = defineStore('compare', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** The tolerance of the rule: how far English bits per byte may rise above the base's (0.05 is 5%). */
  const maxEnglishChange = ref(DEFAULT_MAX_ENGLISH_CHANGE)

  const resource = useProjectResource((dir) => api.call('eval.results', { dir, maxEnglishChange: maxEnglishChange.value }))
  /** Reads what is evaluated again. Failures are kept in `loadError`, not thrown. */
  const load = resource.load
  const followed = useFollowedJobs([EVAL_COMPARE_JOB, EVAL_RUN_JOB], () => void load())

  /** The open project's comparison of what is evaluated, with what is not yet; null until loaded. */
  const results = resource.value

  /**
   * The evaluation to show: the comparison job this window started (or, after a reload, the
   * project's active one), else an `eval.run` job of the project; afterwards the last one shown,
   * so that how it ended stays on screen.
   */
  const lastShown = shallowRef<{ projectDir: string; id: string } | null>(null)
  watch(
    () => followed.shown(EVAL_COMPARE_JOB) ?? followed.shown(EVAL_RUN_JOB),
    (job) => {
      if (job?.projectDir) lastShown.value = { projectDir: job.projectDir, id: job.id }
    },
    { immediate: true, flush: 'sync' },
  )
  const job = computed<EvaluationJob | null>(() => {
    const shown = followed.shown(EVAL_COMPARE_JOB) ?? followed.shown(EVAL_RUN_JOB)
    if (shown) return shown
    const last = lastShown.value
    if (last === null || last.projectDir !== projects.currentDir) return null
    const known = jobs.get(last.id)
    return isJobOf(known, EVAL_COMPARE_JOB) || isJobOf(known, EVAL_RUN_JOB) ? known : null
  })
  const evaluating = computed(() => job.value !== null && !isFinished(job.value))

  // Each model the job moves on to means the ones before it are evaluated and cached: read again.
  watch(
    () => (evaluating.value && job.value ? { id: job.value.id, fraction: job.value.progress.fraction } : null),
    (now, before) => {
      if (now === null || now.fraction === null) return
      const was = before?.id === now.id ? (before.fraction ?? 0) : 0
      if (now.fraction > was) void load()
    },
  )

  /** Evaluates what is missing of every run's checkpoints (and the base), then compares them; the engine answers at once with the job. */
  async function evaluate(): Promise<JobOf<typeof EVAL_COMPARE_JOB>> {
    const dir = requireProjectDir()
    const { job: started } = await api.call('eval.compare', { dir, maxEnglishChange: maxEnglishChange.value })
    return followed.started(dir, started)
  }

  /** A new tolerance: the engine suggests the checkpoint again by it. */
  async function setTolerance(value: number): Promise<void> {
    maxEnglishChange.value = value
    await load()
  }

  /**
   * The project's evaluation limit: score only the first `limit` held-out documents per language and
   * items per task (a quick check), or everything (null). What is evaluated under it is read again.
   */
  async function setLimit(limit: number | null): Promise<void> {
    const dir = requireProjectDir()
    await api.call('eval.setLimit', { dir, limit })
    await load()
  }

  /** Writes the comparison of what is evaluated as a CSV or HTML report to the file `out`; engine errors are thrown. */
  async function report(format: ReportFormat, out: string): Promise<ReportResult> {
    const dir = requireProjectDir()
    return api.call('eval.report', { dir, format, out, maxEnglishChange: maxEnglishChange.value })
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { maxEnglishChange, results, loading: resource.loading, loadError: resource.loadError, job, evaluating, load, evaluate, setTolerance, setLimit, report }
})
