/**
 * The vocabulary of the open project: its base tokenizer, the last sweep over vocabulary sizes,
 * the extended tokenizers written so far (`vocab.status`), and the jobs that change them
 * (`vocab.sweep`, `vocab.extend`). The status is reloaded whenever such a job of the open project
 * finishes.
 */
import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import { INGEST_JOB, VOCAB_EXTEND_JOB, isJobOf, VOCAB_SWEEP_JOB, type ExtendMode, type JobOf, type JobSnapshot, type PreviewResult, type VocabStatus } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

type VocabJobKind = typeof VOCAB_SWEEP_JOB | typeof VOCAB_EXTEND_JOB
const VOCAB_JOB_KINDS: readonly string[] = [VOCAB_SWEEP_JOB, VOCAB_EXTEND_JOB]

export const useVocabStore = defineStore('vocab', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** The open project's vocabulary status; null until it has been loaded. */
  const resource = useProjectResource((dir) => api.call('vocab.status', { dir }))
  /** The latest job of each kind started from this window, by project folder. */
  const jobIds = shallowRef<Readonly<Record<string, Partial<Record<VocabJobKind, string>>>>>({})
  /** Jobs whose finish already caused a reload. */
  const reloadedFor = new Set<string>()

  const status = resource.value
  const loading = resource.loading
  const loadError = resource.loadError

  /**
   * The job of a kind to show: the latest started from here while it runs or no other does, else
   * (after a reload, or when another window started it) the newest active one of the open project.
   */
  function jobOf<K extends VocabJobKind>(kind: K): JobOf<K> | null {
    const dir = projects.currentDir
    if (dir === null) return null
    const id = jobIds.value[dir]?.[kind]
    const others = jobs.active.filter((job): job is JobOf<K> => job.projectDir === dir && isJobOf(job, kind))
    if (id !== undefined) {
      const mine = jobs.get(id)
      if (isJobOf(mine, kind) && (!isFinished(mine) || others.length === 0)) return mine
    }
    return others[0] ?? null
  }

  const sweepJob = computed(() => jobOf(VOCAB_SWEEP_JOB))
  const extendJob = computed(() => jobOf(VOCAB_EXTEND_JOB))
  const sweeping = computed(() => sweepJob.value !== null && !isFinished(sweepJob.value))
  const extending = computed(() => extendJob.value !== null && !isFinished(extendJob.value))
  /** Ingest jobs of the open project still running: a sweep or extension started now would miss their text. */
  const ingestJobs = computed(() => jobs.active.filter((job) => job.kind === INGEST_JOB && job.projectDir !== null && job.projectDir === projects.currentDir))

  api.onEvent((event) => {
    if (event.type === 'job') onVocabJobFinished(event.job)
  })

  /** Reloads the status once per sweep or extension of the open project that finishes with a result. */
  function onVocabJobFinished(job: JobSnapshot): void {
    if (!VOCAB_JOB_KINDS.includes(job.kind) || job.state !== 'done' || reloadedFor.has(job.id)) return
    if (job.projectDir === null || job.projectDir !== projects.currentDir) return
    reloadedFor.add(job.id)
    void load()
  }

  /** Asks the engine for the open project's status. Failures are kept in `loadError`, not thrown. */
  const load = resource.load


  /** Makes the tokenizer.json at `path` the project's base tokenizer; engine errors are thrown. */
  async function setBase(path: string): Promise<VocabStatus> {
    const projectDir = requireProjectDir()
    const result = await api.call('vocab.setBase', { dir: projectDir, path })
    // This reply is newer than any load still on its way.
    resource.set(projectDir, result)
    return result
  }

  /** Starts a sweep over `counts` new tokens; the engine answers at once with the job. */
  async function sweep(counts: number[]): Promise<JobSnapshot> {
    const dir = requireProjectDir()
    const { job } = await api.call('vocab.sweep', { dir, counts })
    return started(dir, VOCAB_SWEEP_JOB, job)
  }

  /** Starts writing an extended tokenizer; the engine answers at once with the job. */
  async function extend(mode: ExtendMode, count: number): Promise<JobSnapshot> {
    const dir = requireProjectDir()
    const { job } = await api.call('vocab.extend', { dir, mode, count })
    return started(dir, VOCAB_EXTEND_JOB, job)
  }

  function started(dir: string, kind: VocabJobKind, job: JobSnapshot): JobSnapshot {
    jobs.track(job)
    jobIds.value = { ...jobIds.value, [dir]: { ...jobIds.value[dir], [kind]: job.id } }
    // A very short job may be done before its reply arrives, and its event may have been missed.
    onVocabJobFinished(jobs.get(job.id) ?? job)
    return job
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
