/**
 * The open project's multiple-choice tasks (`eval.tasks`: the JSONL files of its tasks/ folder,
 * each checked) and adding one (`eval.addTask`: every line checked, then copied in). Evaluating
 * again scores only a new or changed task: results are cached per task file's checksum.
 */
import { defineStore } from 'pinia'
import type { ProjectTask } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export interface AddTaskRequest {
  file: string
  /** The task's name; the file's name without .jsonl when not given. */
  name?: string
  /** Replace a task of the same name (only after the user confirmed it). */
  force?: boolean
}

export const useTasksStore = defineStore('tasks', () => {
  const api = getApi()
  const projects = useProjectStore()

  const resource = useProjectResource((dir) => api.call('eval.tasks', { dir }))

  /** Checks the file and adds it to the project; a refusal (a bad line, a name taken) is thrown as the engine's error. */
  async function add(request: AddTaskRequest): Promise<ProjectTask> {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    const added = await api.call('eval.addTask', { dir, file: request.file, ...(request.name ? { name: request.name } : {}), force: request.force ?? false })
    await resource.load()
    return added
  }

  return { tasks: resource.value, loading: resource.loading, loadError: resource.loadError, load: resource.load, add }
})
