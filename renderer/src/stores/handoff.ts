/**
 * Running a run on a cluster: the bundle written for a distributed trainer (`handoff.write`) and
 * the checkpoints of such a run brought back as a run of the project (`runs.import`). Both are
 * jobs; after a page reload the project's active ones are found again. Either one that finishes
 * reloads the runs (a hand-off may plan a new run; an import adds one).
 */
import { defineStore } from 'pinia'
import { computed, shallowRef, watch, type ComputedRef } from 'vue'
import { HANDOFF_JOB, RUNS_IMPORT_JOB, isJobOf, type HandoffTarget, type JobOf, type JobSnapshot } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs, type FollowedJobs } from './followedJobs'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useTrainingStore } from './training'

export type HandoffJob = JobOf<typeof HANDOFF_JOB>
export type RunsImportJob = JobOf<typeof RUNS_IMPORT_JOB>

export interface HandoffRequest {
  run: string
  target: HandoffTarget
  out: string
  /** Replace a non-empty folder that no hand-off wrote (only when the user ticked Replace). */
  force?: boolean
}

type Kind = typeof HANDOFF_JOB | typeof RUNS_IMPORT_JOB

export const useHandoffStore = defineStore('handoff', () => {
  const api = getApi()
  const training = useTrainingStore()

  const followed = useFollowedJobs<Kind>([HANDOFF_JOB, RUNS_IMPORT_JOB], () => training.load())
  const handoffJob = shownJob(followed, HANDOFF_JOB)
  const importJob = shownJob(followed, RUNS_IMPORT_JOB)
  const writing = computed(() => handoffJob.value !== null && !isFinished(handoffJob.value))
  const importing = computed(() => importJob.value !== null && !isFinished(importJob.value))

  /** Starts writing the bundle; a refusal (a folder inside the project, a foreign folder, an imported run) is thrown as the engine's error. */
  async function write(request: HandoffRequest): Promise<HandoffJob> {
    const dir = requireProjectDir()
    const { job } = await api.call('handoff.write', { dir, run: request.run, out: request.out, target: request.target, force: request.force ?? false })
    return followed.started(dir, job)
  }

  /** Starts importing the checkpoints in `from` as run `run`. */
  async function importRun(from: string, run: string): Promise<RunsImportJob> {
    const dir = requireProjectDir()
    const { job } = await api.call('runs.import', { dir, from, run })
    return followed.started(dir, job)
  }

  const projects = useProjectStore()
  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { handoffJob, importJob, writing, importing, write, importRun }
})

/** The job of `kind` to show: the one `shown` picks while it is active, afterwards the last one it picked (so that its result stays on screen). */
function shownJob<K extends Kind>(followed: FollowedJobs<Kind>, kind: K): ComputedRef<JobOf<K> | null> {
  const jobs = useJobsStore()
  const projects = useProjectStore()
  const lastShown = shallowRef<{ projectDir: string; id: string } | null>(null)
  watch(
    (): JobSnapshot | null => followed.shown(kind),
    (job) => {
      if (job?.projectDir) lastShown.value = { projectDir: job.projectDir, id: job.id }
    },
    { immediate: true, flush: 'sync' },
  )
  return computed<JobOf<K> | null>(() => {
    const shown = followed.shown(kind)
    if (shown) return shown
    const last = lastShown.value
    if (last === null || last.projectDir !== projects.currentDir) return null
    const known = jobs.get(last.id)
    return isJobOf(known, kind) ? known : null
  })
}
