import { computed, ref, shallowRef, toValue, type ComputedRef, type MaybeRefOrGetter } from 'vue'
import type { JobSnapshot } from '../../../main/engine/contract'
import { describeError, type DisplayError } from '../errors'

/** An error as `ErrorMessage` shows it. */
export interface ShownError {
  message: string
  hint?: string | null
}

export interface StartAction {
  /** True while the start function runs (the engine has not answered yet). */
  starting: ComputedRef<boolean>
  /** Why the last start failed (the engine refused it, or the link failed); null once a new start begins. */
  startError: ComputedRef<DisplayError | null>
  /** What went wrong, for the panel to show: the start error, else the job's failure; null when nothing did. */
  shownError: ComputedRef<ShownError | null>
  /**
   * Runs `start` (which asks the engine to start the job) with `starting` set, after clearing the
   * last start error. Its error is kept in `startError`, not thrown. Resolves with whether it
   * succeeded.
   */
  run(start: () => Promise<unknown>): Promise<boolean>
  /** Forgets the last start error (when the user submits a form that turns out not to be valid). */
  clearError(): void
}

/**
 * Starting a job from a panel: the `starting` flag, the error of a start that failed, and one
 * error to show for both a failed start and a failed job. `job` is the job the panel shows;
 * `failedMessage` is said when a failed job carries no error of its own. Call it from `setup`.
 */
export function useStartAction(job: MaybeRefOrGetter<JobSnapshot | null | undefined>, failedMessage: string): StartAction {
  const starting = ref(false)
  const startError = shallowRef<DisplayError | null>(null)

  const shownError = computed<ShownError | null>(() => {
    if (startError.value) return startError.value
    const shown = toValue(job)
    if (shown?.state === 'failed') return shown.error ?? { message: failedMessage }
    return null
  })

  async function run(start: () => Promise<unknown>): Promise<boolean> {
    startError.value = null
    starting.value = true
    try {
      await start()
      return true
    } catch (error) {
      startError.value = describeError(error)
      return false
    } finally {
      starting.value = false
    }
  }

  function clearError(): void {
    startError.value = null
  }

  return { starting: computed(() => starting.value), startError: computed(() => startError.value), shownError, run, clearError }
}
