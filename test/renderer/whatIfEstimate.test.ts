import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref, type EffectScope, type Ref } from 'vue'
import { ApiError, type MemoryEstimateResult } from '../../main/engine/contract'
import { useWhatIfEstimate, WHAT_IF_DELAY_MS, type WhatIfEstimate } from '../../renderer/src/composables/whatIfEstimate'

/** An estimate whose total names the numbers it is for, so a test can tell them apart. */
function estimateFor(batch: number, seqLen: number): MemoryEstimateResult {
  return { parameters: 1000, weights: 4000, gradients: 4000, optimizer: 8000, activations: batch * seqLen, total: 16_000 + batch * seqLen }
}

/** A fake `baseModel.estimate`: each call waits until the test settles it. */
function fakeEstimate() {
  const calls: { batch: number; seqLen: number; resolve(): void; reject(error: unknown): void }[] = []
  const estimate = vi.fn(
    (batch: number, seqLen: number) =>
      new Promise<MemoryEstimateResult>((resolve, reject) => {
        calls.push({ batch, seqLen, resolve: () => resolve(estimateFor(batch, seqLen)), reject })
      }),
  )
  return { estimate, calls }
}

/** Lets the watchers run, and a settled reply be handled. */
async function settle(): Promise<void> {
  await nextTick()
  await Promise.resolve()
  await nextTick()
}

const SAVED = { batch: 4, seqLen: 128 }

describe('useWhatIfEstimate', () => {
  let scope: EffectScope
  let batch: Ref<number | null>
  let seqLen: Ref<number | null>
  let model: Ref<string | null>
  let skip: Ref<boolean>
  let fake: ReturnType<typeof fakeEstimate>
  let whatIf: WhatIfEstimate<MemoryEstimateResult>

  beforeEach(() => {
    vi.useFakeTimers()
    batch = ref(SAVED.batch)
    seqLen = ref(SAVED.seqLen)
    model = ref('/models/tiny')
    skip = ref(false)
    fake = fakeEstimate()
    scope = effectScope()
    whatIf = scope.run(() =>
      useWhatIfEstimate({
        typed: () => ({ batch: batch.value, seqLen: seqLen.value }),
        model,
        saved: () => ({ ...SAVED, estimate: estimateFor(SAVED.batch, SAVED.seqLen) }),
        estimate: fake.estimate,
        skip,
      }),
    )!
  })

  /** Types a batch, waits out the delay and answers the request it makes. */
  async function answerBatch(value: number): Promise<void> {
    batch.value = value
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    fake.calls.at(-1)!.resolve()
    await settle()
  }

  afterEach(() => {
    scope.stop()
    vi.useRealTimers()
  })

  it('shows the saved estimate, and asks for nothing, while the saved numbers are typed', async () => {
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS * 4)
    expect(fake.estimate).not.toHaveBeenCalled()
    expect(whatIf.isSaved.value).toBe(true)
    expect(whatIf.estimating.value).toBe(false)
    expect(whatIf.shown.value).toEqual({ ...SAVED, estimate: estimateFor(4, 128), isSaved: true })
  })

  it('asks once typing has paused for the delay, with the numbers last typed', async () => {
    batch.value = 8
    await settle()
    expect(whatIf.estimating.value).toBe(true)
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS - 1)
    batch.value = 16
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS - 1)
    expect(fake.estimate).not.toHaveBeenCalled()
    // Until the reply comes, the saved estimate stays shown.
    expect(whatIf.shown.value?.isSaved).toBe(true)

    vi.advanceTimersByTime(1)
    expect(fake.estimate).toHaveBeenCalledTimes(1)
    expect(fake.estimate).toHaveBeenCalledWith(16, 128)
    expect(whatIf.estimating.value).toBe(true)

    fake.calls[0]!.resolve()
    await settle()
    expect(whatIf.estimating.value).toBe(false)
    expect(whatIf.isSaved.value).toBe(false)
    expect(whatIf.shown.value).toEqual({ batch: 16, seqLen: 128, estimate: estimateFor(16, 128), isSaved: false })
  })

  it('keeps only the newest reply when replies come back out of order', async () => {
    batch.value = 8
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    seqLen.value = 256
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    expect(fake.calls.map(({ batch, seqLen }) => [batch, seqLen])).toEqual([
      [8, 128],
      [8, 256],
    ])

    fake.calls[1]!.resolve()
    await settle()
    expect(whatIf.shown.value).toMatchObject({ batch: 8, seqLen: 256, isSaved: false })
    expect(whatIf.estimating.value).toBe(false)

    // The older reply, late, changes nothing.
    fake.calls[0]!.resolve()
    await settle()
    expect(whatIf.shown.value).toMatchObject({ batch: 8, seqLen: 256, isSaved: false })
    expect(whatIf.estimating.value).toBe(false)

    // Nor does a late failure of an older request.
    batch.value = 2
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    batch.value = 3
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    fake.calls[3]!.resolve()
    fake.calls[2]!.reject(new Error('The link to the engine was lost.'))
    await settle()
    expect(whatIf.shown.value).toMatchObject({ batch: 3, seqLen: 256 })
    expect(whatIf.estimateError.value).toBeNull()
  })

  it('keeps the error of the newest request, described, until the numbers change', async () => {
    batch.value = 64
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    fake.calls[0]!.reject(new ApiError({ code: 'invalid', message: 'The batch is too large.', hint: 'Try a smaller one.' }))
    await settle()
    expect(whatIf.estimateError.value).toEqual({ code: 'invalid', message: 'The batch is too large.', hint: 'Try a smaller one.' })
    expect(whatIf.estimating.value).toBe(false)
    expect(whatIf.shown.value?.isSaved).toBe(true)

    batch.value = 32
    await settle()
    expect(whatIf.estimateError.value).toBeNull()
    expect(whatIf.estimating.value).toBe(true)
  })

  it('falls back to the saved estimate when the saved numbers are typed again, and does not ask again for numbers it knows', async () => {
    await answerBatch(8)
    expect(whatIf.shown.value).toMatchObject({ batch: 8, seqLen: 128, isSaved: false })

    batch.value = SAVED.batch
    await settle()
    expect(whatIf.isSaved.value).toBe(true)
    expect(whatIf.estimating.value).toBe(false)
    expect(whatIf.shown.value).toEqual({ ...SAVED, estimate: estimateFor(4, 128), isSaved: true })

    batch.value = 8
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS * 4)
    expect(fake.estimate).toHaveBeenCalledTimes(1)
    expect(whatIf.estimating.value).toBe(false)
    expect(whatIf.shown.value).toMatchObject({ batch: 8, seqLen: 128, isSaved: false })
  })

  it('asks nothing while a number is not valid, when told to skip, or without a model', async () => {
    batch.value = null
    await settle()
    expect(whatIf.estimating.value).toBe(false)
    skip.value = true
    batch.value = 8
    await settle()
    expect(whatIf.estimating.value).toBe(false)
    skip.value = false
    model.value = null
    await settle()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS * 4)
    expect(fake.estimate).not.toHaveBeenCalled()
    expect(whatIf.shown.value?.isSaved).toBe(true)
  })

  it('shows only estimates for the current model, and asks again for another one', async () => {
    await answerBatch(8)
    expect(whatIf.shown.value).toMatchObject({ batch: 8, seqLen: 128, isSaved: false })

    model.value = '/models/other'
    await settle()
    expect(whatIf.shown.value?.isSaved).toBe(true)
    expect(whatIf.estimating.value).toBe(true)
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    expect(fake.estimate).toHaveBeenCalledTimes(2)
  })

  it('clears the timer when its scope is disposed', async () => {
    batch.value = 8
    await settle()
    expect(vi.getTimerCount()).toBe(1)
    scope.stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS * 4)
    expect(fake.estimate).not.toHaveBeenCalled()
  })

  it('shows nothing when there is no saved estimate and no "what if" one', async () => {
    const inner = effectScope()
    const none = inner.run(() =>
      useWhatIfEstimate({
        typed: () => ({ batch: 8, seqLen: 128 }),
        model: '/models/tiny',
        saved: { ...SAVED, estimate: null },
        estimate: fake.estimate,
      }),
    )!
    // The numbers differ from the saved ones from the start: asked for without any change.
    expect(none.estimating.value).toBe(true)
    expect(none.shown.value).toBeNull()
    vi.advanceTimersByTime(WHAT_IF_DELAY_MS)
    expect(fake.estimate).toHaveBeenCalledWith(8, 128)
    fake.calls[0]!.resolve()
    await settle()
    expect(none.shown.value).toEqual({ batch: 8, seqLen: 128, estimate: estimateFor(8, 128), isSaved: false })
    inner.stop()
  })
})
