/**
 * The base model of the open project: the Hugging Face folder it adapts, what it is, whether
 * training it fits this machine, and the resized models made from it (`baseModel.status`), and the
 * jobs that resize it (`baseModel.resize`). The status is reloaded whenever such a job of the open
 * project finishes.
 */
import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import { MODEL_RESIZE_JOB, type BaseModelStatus, type EmbeddingInitMethod, type ExtendMode, type JobOf, type JobSnapshot, type MemoryEstimateResult } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export const useBaseModelStore = defineStore('baseModel', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  const resource = useProjectResource((dir) => api.call('baseModel.status', { dir }))
  /** The latest resize job started from this window, by project folder. */
  const jobIds = shallowRef<Readonly<Record<string, string>>>({})
  /** Jobs whose finish already caused a reload. */
  const reloadedFor = new Set<string>()

  /** The open project's base model status; null until it has been loaded. */
  const status = resource.value
  const loading = resource.loading
  const loadError = resource.loadError

  /**
   * The resize job to show: the latest started from here while it runs or no other does, else
   * (after a reload, or when another window started it) the newest active one of the open project.
   */
  const resizeJob = computed<JobOf<typeof MODEL_RESIZE_JOB> | null>(() => {
    const dir = projects.currentDir
    if (dir === null) return null
    const id = jobIds.value[dir]
    const others = jobs.active.filter((job): job is JobOf<typeof MODEL_RESIZE_JOB> => job.kind === MODEL_RESIZE_JOB && job.projectDir === dir)
    if (id !== undefined) {
      const mine = jobs.get(id)
      if (mine?.kind === MODEL_RESIZE_JOB && (!isFinished(mine) || others.length === 0)) return mine
    }
    return others[0] ?? null
  })
  const resizing = computed(() => resizeJob.value !== null && !isFinished(resizeJob.value))

  api.onEvent((event) => {
    if (event.type === 'job') onResizeFinished(event.job)
  })

  /** Reloads the status once per resize of the open project that finishes with a result. */
  function onResizeFinished(job: JobSnapshot): void {
    if (job.kind !== MODEL_RESIZE_JOB || job.state !== 'done' || reloadedFor.has(job.id)) return
    if (job.projectDir === null || job.projectDir !== projects.currentDir) return
    reloadedFor.add(job.id)
    void load()
  }

  /** Asks the engine for the open project's status. Failures are kept in `loadError`, not thrown. */
  const load = resource.load

  /** Makes the Hugging Face model folder at `path` the project's base model; engine errors are thrown. */
  async function setModel(path: string): Promise<BaseModelStatus> {
    const dir = requireProjectDir()
    const result = await api.call('baseModel.set', { dir, path })
    // This reply is newer than any load still on its way.
    resource.set(dir, result)
    return result
  }

  /** The memory training the base model takes at another batch and sequence length. */
  async function estimate(batch: number, seqLen: number): Promise<MemoryEstimateResult> {
    const model = status.value?.path
    if (!model) throw new Error('The project has no base model yet.')
    return api.call('model.estimate', { model, batch, seqLen, optimizer: 'adamw' })
  }

  /** Starts resizing the base model for the extended tokenizer `<mode>-<count>`; the engine answers at once with the job. */
  async function resize(mode: ExtendMode, count: number, init: EmbeddingInitMethod, padMultiple: number | null): Promise<JobSnapshot> {
    const dir = requireProjectDir()
    const { job } = await api.call('baseModel.resize', padMultiple === null ? { dir, mode, count, init } : { dir, mode, count, init, padMultiple })
    jobs.track(job)
    jobIds.value = { ...jobIds.value, [dir]: job.id }
    // A very short job may be done before its reply arrives, and its event may have been missed.
    onResizeFinished(jobs.get(job.id) ?? job)
    return job
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { status, loading, loadError, resizeJob, resizing, load, setModel, estimate, resize }
})
