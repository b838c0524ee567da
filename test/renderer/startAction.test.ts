import { describe, expect, it } from 'vitest'
import { shallowRef } from 'vue'
import { ApiError, VOCAB_SWEEP_JOB, type JobSnapshot } from '../../main/engine/contract'
import { useStartAction } from '../../renderer/src/composables/startAction'
import { job } from './fakes'

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('useStartAction', () => {
  it('is starting while the start function runs, and resolves true when it succeeds', async () => {
    const action = useStartAction(null, 'The sweep failed.')
    expect(action.starting.value).toBe(false)
    const reply = deferred()
    const running = action.run(() => reply.promise)
    expect(action.starting.value).toBe(true)
    reply.resolve()
    await expect(running).resolves.toBe(true)
    expect(action.starting.value).toBe(false)
    expect(action.startError.value).toBeNull()
    expect(action.shownError.value).toBeNull()
  })

  it('keeps the start error, described, instead of throwing it', async () => {
    const action = useStartAction(null, 'The sweep failed.')
    const refused = new ApiError({ code: 'busy', message: 'A sweep is already running.', hint: 'Wait for it.' })
    await expect(action.run(() => Promise.reject(refused))).resolves.toBe(false)
    expect(action.starting.value).toBe(false)
    expect(action.startError.value).toEqual({ code: 'busy', message: 'A sweep is already running.', hint: 'Wait for it.' })
    expect(action.shownError.value).toEqual({ code: 'busy', message: 'A sweep is already running.', hint: 'Wait for it.' })

    await action.run(() => Promise.reject(new Error('The link to the engine was lost.')))
    expect(action.startError.value).toEqual({ code: null, message: 'The link to the engine was lost.', hint: null })
  })

  it('catches an error thrown before the start function returns a promise', async () => {
    const action = useStartAction(null, 'The sweep failed.')
    const ok = await action.run(() => {
      throw new Error('No project is open.')
    })
    expect(ok).toBe(false)
    expect(action.starting.value).toBe(false)
    expect(action.startError.value?.message).toBe('No project is open.')
  })

  it('clears the last start error when a new start begins, or when asked', async () => {
    const action = useStartAction(null, 'The sweep failed.')
    await action.run(() => Promise.reject(new Error('first')))
    const reply = deferred()
    const running = action.run(() => reply.promise)
    expect(action.startError.value).toBeNull()
    reply.resolve()
    await running

    await action.run(() => Promise.reject(new Error('second')))
    expect(action.startError.value?.message).toBe('second')
    action.clearError()
    expect(action.startError.value).toBeNull()
    expect(action.shownError.value).toBeNull()
  })

  it('shows the failure of the job, with its own error or the panel’s message', () => {
    const shown = shallowRef<JobSnapshot | null>(null)
    const action = useStartAction(shown, 'The sweep failed.')
    expect(action.shownError.value).toBeNull()

    shown.value = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'running' })
    expect(action.shownError.value).toBeNull()
    shown.value = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'done' })
    expect(action.shownError.value).toBeNull()
    shown.value = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'cancelled' })
    expect(action.shownError.value).toBeNull()

    shown.value = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'failed', error: { code: 'no-corpus', message: 'The project has no text yet.', hint: 'Add text first.' } })
    expect(action.shownError.value).toEqual({ code: 'no-corpus', message: 'The project has no text yet.', hint: 'Add text first.' })
    shown.value = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'failed', error: null })
    expect(action.shownError.value).toEqual({ message: 'The sweep failed.' })
  })

  it('takes the job as a getter too, and shows a start error over the job’s failure', async () => {
    const failed = job({ id: 's', kind: VOCAB_SWEEP_JOB, state: 'failed', error: { code: 'x', message: 'The last sweep broke.' } })
    const action = useStartAction(() => failed, 'The sweep failed.')
    expect(action.shownError.value?.message).toBe('The last sweep broke.')
    await action.run(() => Promise.reject(new Error('Refused.')))
    expect(action.shownError.value?.message).toBe('Refused.')
    action.clearError()
    expect(action.shownError.value?.message).toBe('The last sweep broke.')
  })
})
