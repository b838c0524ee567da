/** The app itself: what the engine says about it, the state of the link to it, the last unexpected error. */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { AppInfo } from '../../../main/engine/contract'
import { getApi, getConnection } from '../api/client'
import type { ConnectionState } from '../api/connection'
import { describeError, type DisplayError } from '../errors'

export const useAppStore = defineStore('app', () => {
  const api = getApi()
  const link = getConnection()

  const info = shallowRef<AppInfo | null>(null)
  const connection = ref<ConnectionState>(link.state)
  const lastError = shallowRef<DisplayError | null>(null)

  link.onStateChange((state) => {
    connection.value = state
  })

  const isWeb = computed(() => info.value?.mode === 'web')
  const canPickDirectory = computed(() => info.value?.capabilities.pickDirectory ?? false)
  const canRevealPath = computed(() => info.value?.capabilities.revealPath ?? false)
  const connected = computed(() => connection.value === 'connected')

  async function load(): Promise<AppInfo> {
    const result = await api.call('app.info', {})
    info.value = result
    return result
  }

  /**
   * Shows an unexpected error in the banner. Errors caused by a lost or refused connection are
   * left to the connection banner, which already says what happened.
   */
  function reportError(error: unknown): void {
    const shown = describeError(error)
    if (!connected.value && (shown.code === 'unavailable' || shown.code === 'unauthorized')) return
    lastError.value = shown
  }

  function dismissError(): void {
    lastError.value = null
  }

  /** The native folder picker (desktop only); null when the user cancels. */
  async function pickDirectory(title: string, defaultPath?: string): Promise<string | null> {
    const { path } = await api.call('shell.pickDirectory', defaultPath ? { title, defaultPath } : { title })
    return path
  }

  /** Shows a file or folder in the system file manager (desktop only); a failure is reported, not thrown. */
  async function revealPath(path: string): Promise<void> {
    try {
      await api.call('shell.revealPath', { path })
    } catch (error) {
      reportError(error)
    }
  }

  function retryConnection(): void {
    link.retryNow()
  }

  return { info, connection, lastError, isWeb, canPickDirectory, canRevealPath, connected, load, reportError, dismissError, pickDirectory, revealPath, retryConnection }
})
