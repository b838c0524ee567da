/**
 * Exporting a checkpoint of the open project as a Hugging Face folder or a GGUF file: the export job
 * (`export.checkpoint`; after a page reload the project's active one is found again), the model
 * card it would write (`export.card`) the checkpoint's size in parameters (`model.info`) and its GGUF file's size per dtype (`export.ggufSizes`).
 */
import { defineStore } from 'pinia'
import { computed, shallowRef, watch } from 'vue'
import { EXPORT_JOB, isJobOf, type ExportDtype, type ExportFormat, type JobOf, type ModelInfo } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs } from './followedJobs'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'

export type ExportJob = JobOf<typeof EXPORT_JOB>

export interface ExportRequest {
  run: string
  checkpoint: number
  dtype: ExportDtype
  /** `hf` (a Hugging Face folder, the default) or `gguf` (one file and an Ollama Modelfile). */
  format?: ExportFormat
  out: string
  /** Replace a non-empty folder that no export wrote (only after the user confirmed it). */
  force?: boolean
}

export const useExportStore = defineStore('export', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  const followed = useFollowedJobs([EXPORT_JOB], () => undefined)
  /** The export job to show: the one this window started or the project's active one, else the last one shown (so that its folder stays on screen). */
  const lastShown = shallowRef<{ projectDir: string; id: string } | null>(null)
  watch(
    () => followed.shown(EXPORT_JOB),
    (job) => {
      if (job?.projectDir) lastShown.value = { projectDir: job.projectDir, id: job.id }
    },
    { immediate: true, flush: 'sync' },
  )
  const job = computed<ExportJob | null>(() => {
    const shown = followed.shown(EXPORT_JOB)
    if (shown) return shown
    const last = lastShown.value
    if (last === null || last.projectDir !== projects.currentDir) return null
    const known = jobs.get(last.id)
    return isJobOf(known, EXPORT_JOB) ? known : null
  })
  const exporting = computed(() => job.value !== null && !isFinished(job.value))

  /** Starts the export; a refusal (a missing checkpoint, a folder it may not replace) is thrown as the engine's error. */
  async function start(request: ExportRequest): Promise<ExportJob> {
    const dir = requireProjectDir()
    const { job: started } = await api.call('export.checkpoint', { dir, run: request.run, checkpoint: request.checkpoint, dtype: request.dtype, format: request.format ?? 'hf', out: request.out, force: request.force ?? false })
    return followed.started(dir, started)
  }

  /** The model card (README.md) the export would write, with what is evaluated of the base and the checkpoint. */
  async function card(run: string, checkpoint: number, dtype: ExportDtype): Promise<string> {
    const dir = requireProjectDir()
    return (await api.call('export.card', { dir, run, checkpoint, dtype })).markdown
  }

  /** The size of the GGUF file of a checkpoint in each of its storage types (computed from the tensor shapes). */
  async function ggufSizes(run: string, checkpoint: number): Promise<Record<string, number>> {
    const dir = requireProjectDir()
    return (await api.call('export.ggufSizes', { dir, run, checkpoint })).sizes
  }

  /** What a checkpoint folder holds (its parameters give the size of each storage type). */
  async function info(checkpointDir: string): Promise<ModelInfo> {
    return api.call('model.info', { model: checkpointDir })
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { job, exporting, start, card, info, ggufSizes }
})
