/**
 * The vocabulary of the open project: its base tokenizer, the last sweep over vocabulary sizes,
 * the extended tokenizers written so far (`vocab.status`), and the jobs that change them
 * (`vocab.sweep`, `vocab.extend`). The status is reloaded whenever such a job of the open project
 * finishes.
 */
import { defineStore } from 'pinia'
import { computed } from 'vue'
import { INGEST_JOB, VOCAB_EXTEND_JOB, VOCAB_SWEEP_JOB, type ExtendMode, type JobOf, type PreviewResult, type VocabStatus } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs } from './followedJobs'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export const useVocabStore = defineStore('vocab', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** The open project's vocabulary status; null until it has been loaded. */
  const resource = useProjectResource((dir) => api.call('vocab.status', { dir }))
  /** Asks the engine for the open project's status. Failures are kept in `loadError`, not thrown. */
  const load = resource.load
  /** The status is reloaded once per sweep or extension of the open project that finishes with a result. */
  const followed = useFollowedJobs([VOCAB_SWEEP_JOB, VOCAB_EXTEND_JOB], load)

  const status = resource.value
  const loading = resource.loading
  const loadError = resource.loadError

  /** The sweep and the extension to show (see `FollowedJobs.shown`). */
  const sweepJob = computed(() => followed.shown(VOCAB_SWEEP_JOB))
  const extendJob = computed(() => followed.shown(VOCAB_EXTEND_JOB))
  const sweeping = computed(() => sweepJob.value !== null && !isFinished(sweepJob.value))
  const extending = computed(() => extendJob.value !== null && !isFinished(extendJob.value))
  /** Ingest jobs of the open project still running: a sweep or extension started now would miss their text. */
  const ingestJobs = computed(() => jobs.active.filter((job) => job.kind === INGEST_JOB && job.projectDir !== null && job.projectDir === projects.currentDir))

  /** Makes the tokenizer.json at `path` the project's base tokenizer; engine errors are thrown. */
  async function setBase(path: string): Promise<VocabStatus> {
    const projectDir = requireProjectDir()
    const result = await api.call('vocab.setBase', { dir: projectDir, path })
    // This reply is newer than any load still on its way.
    resource.set(projectDir, result)
    return result
  }

  /** Starts a sweep over `counts` new tokens; the engine answers at once with the job. */
  async function sweep(counts: number[]): Promise<JobOf<typeof VOCAB_SWEEP_JOB>> {
    const dir = requireProjectDir()
    const { job } = await api.call('vocab.sweep', { dir, counts })
    return followed.started(dir, job)
  }

  /** Starts writing an extended tokenizer; the engine answers at once with the job. */
  async function extend(mode: ExtendMode, count: number): Promise<JobOf<typeof VOCAB_EXTEND_JOB>> {
    const dir = requireProjectDir()
    const { job } = await api.call('vocab.extend', { dir, mode, count })
    return followed.started(dir, job)
  }

  /** How `text` splits under the base tokenizer and with the first `count` tokens of the last sweep. */
  async function preview(text: string, count: number): Promise<PreviewResult> {
    const dir = requireProjectDir()
    return api.call('vocab.preview', { dir, text, count })
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { status, loading, loadError, sweepJob, extendJob, sweeping, extending, ingestJobs, load, setBase, sweep, extend, preview }
})
