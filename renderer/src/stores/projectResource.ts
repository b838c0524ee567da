/**
 * Something the engine computes for the open project (the corpus profile, the vocabulary status),
 * loaded on demand: the value shown is always the newest reply for the project that is open now,
 * an older reply never overwrites a newer one, and a failure is kept to show rather than thrown.
 */
import { computed, ref, shallowRef, type ComputedRef, type Ref } from 'vue'
import { describeError, type DisplayError } from '../errors'
import { useProjectStore } from './project'

export interface ProjectResource<T> {
  /** The open project's value; null until it has been loaded. */
  value: ComputedRef<T | null>
  loading: Ref<boolean>
  loadError: ComputedRef<DisplayError | null>
  /** Asks the engine again; resolves with the value, or null when it failed or no project is open. */
  load(): Promise<T | null>
  /** Takes a value that came another way (a reply that is newer than any load on its way). */
  set(projectDir: string, value: T): void
}

export function useProjectResource<T>(fetch: (projectDir: string) => Promise<T>): ProjectResource<T> {
  const projects = useProjectStore()
  const loaded = shallowRef<{ projectDir: string; value: T } | null>(null)
  const loading = ref(false)
  const failed = shallowRef<{ projectDir: string; error: DisplayError } | null>(null)
  /** Only the newest load may set `loaded`. */
  let loadCount = 0

  const value = computed<T | null>(() => (loaded.value !== null && loaded.value.projectDir === projects.currentDir ? loaded.value.value : null))
  const loadError = computed<DisplayError | null>(() => (failed.value !== null && failed.value.projectDir === projects.currentDir ? failed.value.error : null))

  async function load(): Promise<T | null> {
    const projectDir = projects.currentDir
    if (projectDir === null) return null
    const count = ++loadCount
    loading.value = true
    try {
      const result = await fetch(projectDir)
      if (count === loadCount) {
        loaded.value = { projectDir, value: result }
        failed.value = null
      }
      return result
    } catch (error) {
      if (count === loadCount) failed.value = { projectDir, error: describeError(error) }
      return null
    } finally {
      if (count === loadCount) loading.value = false
    }
  }

  function set(projectDir: string, result: T): void {
    loadCount++
    loading.value = false
    loaded.value = { projectDir, value: result }
    failed.value = null
  }

  return { value, loading, loadError, load, set }
}
