import type { RunSettings } from '../../main/engine/training/trainer'

/**
 * The run settings the training benchmarks time with: the demo project's plan (AdamW at 1e-4 with
 * warm-up, weight decay 0.1, 25% English, document masking), held-out evaluation off and no
 * checkpoint before the end, at the benchmark's batch, sequence length and number of steps.
 */
export function timingSettings(shape: { seq: number; batch: number }, steps: number): RunSettings {
  return {
    sequenceLength: shape.seq,
    batchSize: shape.batch,
    gradientAccumulation: 1,
    steps,
    learningRate: 1e-4,
    warmupSteps: 100,
    weightDecay: 0.1,
    seed: 42,
    checkpointEvery: 1e9,
    keepCheckpoints: 1,
    evalEvery: 0,
    embeddingOnlySteps: 0,
    documentMasking: true,
    englishShare: 0.25,
  }
}
