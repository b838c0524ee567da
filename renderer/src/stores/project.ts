/** Projects: the recent list and the one that is open. */
import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import type { ParamsIn, ProjectSummary, RecentProject } from '../../../main/engine/contract'
import { getApi } from '../api/client'

export const useProjectStore = defineStore('project', () => {
  const api = getApi()

  const recent = shallowRef<RecentProject[]>([])
  const current = shallowRef<ProjectSummary | null>(null)

  const manifest = computed(() => current.value?.manifest ?? null)
  const currentDir = computed(() => current.value?.dir ?? null)
  const hasRecent = computed(() => recent.value.length > 0)

  api.onEvent((event) => {
    if (event.type !== 'project') return
    if (current.value?.dir === event.dir) current.value = { dir: event.dir, manifest: event.manifest }
    if (recent.value.some((p) => p.dir === event.dir)) {
      recent.value = recent.value.map((p) => (p.dir === event.dir ? { ...p, name: event.manifest.name, language: event.manifest.language } : p))
    }
  })

  async function loadRecent(): Promise<RecentProject[]> {
    recent.value = await api.call('project.recent', {})
    return recent.value
  }

  async function open(dir: string): Promise<ProjectSummary> {
    return (current.value = await api.call('project.open', { dir }))
  }

  /** The bundled demo project, created in the user's Vernacular folder the first time. */
  async function openDemo(): Promise<ProjectSummary> {
    return (current.value = await api.call('project.openDemo', {}))
  }

  async function create(params: ParamsIn<'project.create'>): Promise<ProjectSummary> {
    return (current.value = await api.call('project.create', params))
  }

  async function rename(name: string): Promise<ProjectSummary> {
    const dir = current.value?.dir
    if (dir === undefined) throw new Error('No project is open.')
    const renamed = await api.call('project.rename', { dir, name })
    if (current.value?.dir === renamed.dir) current.value = renamed
    return renamed
  }

  async function forget(dir: string): Promise<RecentProject[]> {
    recent.value = await api.call('project.forget', { dir })
    return recent.value
  }

  function close(): void {
    current.value = null
  }

  return { recent, current, manifest, currentDir, hasRecent, loadRecent, open, openDemo, create, rename, forget, close }
})
