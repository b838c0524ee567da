import { watch } from 'vue'
import { useAppStore } from '../stores/app'

/**
 * Runs `callback` each time the link to the engine comes back after it was lost, so a view can
 * reload what it shows (events sent while the link was down are gone). Call it from `setup`.
 */
export function onReconnected(callback: () => void): void {
  const app = useAppStore()
  watch(
    () => app.connection,
    (state, before) => {
      if (state === 'connected' && before === 'reconnecting') callback()
    },
  )
}
