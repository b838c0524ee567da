/**
 * The base model of the open project: the Hugging Face folder it adapts, what it is, whether
 * training it fits this machine, and the resized models made from it (`baseModel.status`), and the
 * jobs that resize it (`baseModel.resize`). The status is reloaded whenever such a job of the open
 * project finishes.
 */
import { defineStore } from 'pinia'
import { computed } from 'vue'
import { MODEL_DOWNLOAD_JOB, MODEL_RESIZE_JOB, type BaseModelStatus, type EmbeddingInitMethod, type ExtendMode, type HubModelInfo, type JobOf, type MemoryEstimateResult } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs } from './followedJobs'
import { isFinished } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export const useBaseModelStore = defineStore('baseModel', () => {
  const api = getApi()
  const projects = useProjectStore()

  const resource = useProjectResource((dir) => api.call('baseModel.status', { dir }))
  /** Asks the engine for the open project's status. Failures are kept in `loadError`, not thrown. */
  const load = resource.load
  /** The status is reloaded once per resize or download (which sets the base model) of the open project that finishes with a result. */
  const followed = useFollowedJobs([MODEL_RESIZE_JOB, MODEL_DOWNLOAD_JOB], load)

  /** The open project's base model status; null until it has been loaded. */
  const status = resource.value
  const loading = resource.loading
  const loadError = resource.loadError

  /** The resize job to show (see `FollowedJobs.shown`). */
  const resizeJob = computed(() => followed.shown(MODEL_RESIZE_JOB))
  const resizing = computed(() => resizeJob.value !== null && !isFinished(resizeJob.value))

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
  async function resize(mode: ExtendMode, count: number, init: EmbeddingInitMethod, padMultiple: number | null): Promise<JobOf<typeof MODEL_RESIZE_JOB>> {
    const dir = requireProjectDir()
    const { job } = await api.call('baseModel.resize', padMultiple === null ? { dir, mode, count, init } : { dir, mode, count, init, padMultiple })
    return followed.started(dir, job)
  }

  /** The download from the Hub to show, and whether it runs. */
  const downloadJob = computed(() => followed.shown(MODEL_DOWNLOAD_JOB))
  const downloading = computed(() => downloadJob.value !== null && !isFinished(downloadJob.value))

  /** A Hub model's size and whether training it fits, before downloading it (with the project's batch and length). */
  async function hubInfo(repo: string, revision: string | null): Promise<HubModelInfo> {
    const dir = requireProjectDir()
    return api.call('model.hubInfo', revision ? { repo, revision, dir } : { repo, dir })
  }

  /** Starts downloading a Hub model; once it is in the cache the engine makes it the project's base model. */
  async function download(repo: string, revision: string | null): Promise<JobOf<typeof MODEL_DOWNLOAD_JOB>> {
    const dir = requireProjectDir()
    const { job } = await api.call('model.download', revision ? { repo, revision, dir } : { repo, dir })
    return followed.started(dir, job)
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { status, loading, loadError, resizeJob, resizing, downloadJob, downloading, load, setModel, estimate, resize, hubInfo, download }
})
