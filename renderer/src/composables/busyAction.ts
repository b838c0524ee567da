import { ref, shallowRef } from 'vue'
import { describeError, type DisplayError } from '../errors'

/**
 * A form's action that may fail: `busy` while it runs (for the button), and the engine's error,
 * described for display, kept in `error` instead of thrown. `run` resolves with the action's
 * answer, or undefined when it failed.
 */
export function useBusyAction() {
  const busy = ref(false)
  const error = shallowRef<DisplayError | null>(null)
  async function run<T>(action: () => Promise<T>): Promise<T | undefined> {
    busy.value = true
    error.value = null
    try {
      return await action()
    } catch (caught) {
      error.value = describeError(caught)
      return undefined
    } finally {
      busy.value = false
    }
  }
  return { busy, error, run }
}
