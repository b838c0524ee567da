import { describe, expect, it } from 'vitest'
import { CITATIONS, type DefaultValue, DEFAULT_REPLAY, DEFAULT_TRAINING, TRAINING_RECIPES, modelScale, recipeValues, replayMix, trainingSettings } from '../../../main/engine/contract'

describe('training defaults', () => {
  it('are one set per model scale, each a valid plan, and a new project takes the small one', () => {
    for (const recipe of Object.values(TRAINING_RECIPES)) {
      const { englishShare, ...settings } = recipeValues(recipe)
      expect(trainingSettings.strict().parse(settings)).toEqual(settings)
      expect(replayMix.parse({ englishShare })).toEqual({ englishShare })
      for (const [key, v] of Object.entries(recipe.settings) as [string, DefaultValue][]) {
        expect(CITATIONS[v.source], key).toBeTruthy()
        expect(v.why.length, key).toBeGreaterThan(20)
      }
    }
    const { englishShare, ...small } = recipeValues(TRAINING_RECIPES.small)
    expect(DEFAULT_TRAINING).toEqual(small)
    expect(DEFAULT_REPLAY).toEqual({ englishShare })
    // Billion-parameter models train on long sequences with small micro-batches.
    expect(TRAINING_RECIPES.billion.settings.sequenceLength.value).toBeGreaterThan(TRAINING_RECIPES.small.settings.sequenceLength.value)
    expect(TRAINING_RECIPES.billion.settings.batchSize.value).toBeLessThan(TRAINING_RECIPES.small.settings.batchSize.value)
  })

  it('pick the scale by the base model’s parameters', () => {
    expect(modelScale(1_478_144)).toBe('small')
    expect(modelScale(124_000_000)).toBe('small')
    expect(modelScale(6_738_000_000)).toBe('billion')
    expect(modelScale(1_100_000_000)).toBe('billion')
  })
})
