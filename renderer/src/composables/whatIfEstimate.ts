import { computed, onScopeDispose, ref, shallowRef, toValue, watch, type ComputedRef, type MaybeRefOrGetter, type Ref } from 'vue'
import type { MemoryEstimateResult } from '../../../main/engine/contract'
import { describeError, type DisplayError } from '../errors'

/** How long typing may pause before the estimate is asked for. */
export const WHAT_IF_DELAY_MS = 250

/** A batch and sequence length as typed; either is null while it is not a valid number. */
export interface TypedSettings {
  batch: number | null
  seqLen: number | null
}

/** The saved training settings and the engine's estimate for them (null when there is none). */
export interface SavedEstimate<Estimate extends MemoryEstimateResult | null = MemoryEstimateResult | null> {
  batch: number
  seqLen: number
  estimate: Estimate
}

/** An estimate to show, and whether it is the saved one or a "what if" one. */
export interface ShownEstimate {
  batch: number
  seqLen: number
  estimate: MemoryEstimateResult
  isSaved: boolean
}

export interface WhatIfEstimateOptions<Estimate extends MemoryEstimateResult | null> {
  /**
   * The numbers typed. Every time what this getter reads changes, the typing counts as new: the
   * error is forgotten, a reply on its way is dropped and the delay starts again.
   */
  typed: () => TypedSettings
  /** The base model the estimate is for; nothing is asked while it is null. */
  model: MaybeRefOrGetter<string | null>
  /** The saved settings and their estimate, shown while the numbers typed are these. */
  saved: MaybeRefOrGetter<SavedEstimate<Estimate>>
  /** Asks the engine for the estimate at a batch and sequence length. */
  estimate: (batch: number, seqLen: number) => Promise<MemoryEstimateResult>
  /** True when the numbers typed must not be estimated (a sequence longer than the model reads). */
  skip?: MaybeRefOrGetter<boolean>
  /** How long typing may pause before the estimate is asked for; `WHAT_IF_DELAY_MS` unless told. */
  delayMs?: number
}

export interface WhatIfEstimate<Estimate extends MemoryEstimateResult | null> {
  /** Whether the numbers typed are the saved ones. */
  isSaved: ComputedRef<boolean>
  /**
   * What to show: the saved estimate while the saved numbers are typed, else the newest "what
   * if" estimate for this model, else the saved one; null only when there is no saved estimate
   * and no "what if" one.
   */
  shown: ComputedRef<ShownEstimate | (null extends Estimate ? null : never)>
  /** True from typing new numbers until their estimate (or its error) comes back. */
  estimating: Readonly<Ref<boolean>>
  /** Why the estimate for the numbers typed failed; null once they change. */
  estimateError: Readonly<Ref<DisplayError | null>>
}

/**
 * The debounced "what if" memory estimate: when the batch and sequence length typed are not the
 * saved ones, the engine is asked for their estimate once typing pauses, and only the reply to the
 * newest request is kept. A request still waiting out the delay is not sent once the calling scope
 * (the component) is disposed. Call it from `setup`.
 */
export function useWhatIfEstimate<Estimate extends MemoryEstimateResult | null>(options: WhatIfEstimateOptions<Estimate>): WhatIfEstimate<Estimate> {
  const delayMs = options.delayMs ?? WHAT_IF_DELAY_MS
  const whatIf = shallowRef<{ model: string; batch: number; seqLen: number; estimate: MemoryEstimateResult } | null>(null)
  const estimating = ref(false)
  const estimateError = shallowRef<DisplayError | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Only the newest request may set `whatIf`. */
  let requestCount = 0

  const isSaved = computed(() => {
    const { batch, seqLen } = options.typed()
    const saved = toValue(options.saved)
    return batch === saved.batch && seqLen === saved.seqLen
  })

  /** New numbers typed, or another model: forget the last error, drop what is on its way, and ask again after the delay. */
  function restart(): void {
    clearTimeout(timer)
    estimateError.value = null
    // Whatever is on its way is for numbers no longer typed.
    requestCount++
    estimating.value = false
    const { batch, seqLen } = options.typed()
    const model = toValue(options.model)
    if (batch === null || seqLen === null || model === null || isSaved.value || toValue(options.skip)) return
    const known = whatIf.value
    if (known && known.model === model && known.batch === batch && known.seqLen === seqLen) return
    estimating.value = true
    timer = setTimeout(() => void ask(model, batch, seqLen), delayMs)
  }
  // Two watchers, so that `typed` (a fresh object each time) counts as new only when what it reads
  // changes, and the model only when it is another one.
  watch(options.typed, restart, { immediate: true })
  watch(() => toValue(options.model), restart)

  async function ask(model: string, batch: number, seqLen: number): Promise<void> {
    const count = ++requestCount
    try {
      const estimate = await options.estimate(batch, seqLen)
      if (count === requestCount) whatIf.value = { model, batch, seqLen, estimate }
    } catch (error) {
      if (count === requestCount) estimateError.value = describeError(error)
    } finally {
      if (count === requestCount) estimating.value = false
    }
  }

  onScopeDispose(() => clearTimeout(timer))

  // A saved estimate typed as never null makes `savedShown`, so `shown`, never null: hence the cast.
  const shown = computed(() => {
    const saved = toValue(options.saved)
    const savedShown: ShownEstimate | null = saved.estimate ? { batch: saved.batch, seqLen: saved.seqLen, estimate: saved.estimate, isSaved: true } : null
    if (isSaved.value) return savedShown
    const w = whatIf.value
    if (w && w.model === toValue(options.model)) return { batch: w.batch, seqLen: w.seqLen, estimate: w.estimate, isSaved: false }
    return savedShown
  }) as WhatIfEstimate<Estimate>['shown']

  return { isSaved, shown, estimating, estimateError }
}
