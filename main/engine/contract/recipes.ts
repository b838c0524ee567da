/**
 * The training defaults, in one place: one set for small models (up to a few hundred million
 * parameters: the demo, quick experiments) and one for billion-parameter models, each value with
 * where it comes from. A new project starts with the small set (`DEFAULT_TRAINING`); the Training
 * step shows both, with their sources, and offers the one that fits the base model.
 *
 * Only what a paper reports is attributed to it; the rest is marked as Vernacular's choice, with
 * the reason.
 */
import type { RecomputeSetting } from './values'

export const CITATIONS = {
  sambalingo: 'Csaki et al. 2024, “SambaLingo: Teaching Large Language Models New Languages”',
  csaki2023: 'Csaki et al. 2023, “Efficiently Adapting Pretrained Language Models to New Languages”',
  llama2: 'Touvron et al. 2023, “Llama 2: Open Foundation and Fine-Tuned Chat Models”, §2.2',
  gpt3: 'Brown et al. 2020, “Language Models are Few-Shot Learners”, appendix B',
  chineseLlama: 'Cui, Yang and Yao 2023, “Efficient and Effective Text Encoding for Chinese LLaMA and Alpaca”',
  vernacular: 'Vernacular’s choice',
} as const

export type CitationKey = keyof typeof CITATIONS

export interface DefaultValue<V extends number | boolean | string = number | boolean | string> {
  value: V
  source: CitationKey
  /** What the source says, or why we chose it. */
  why: string
}

/** Every setting a run takes (the manifest's training settings and the replay share). */
export interface TrainingDefaults {
  sequenceLength: DefaultValue<number>
  batchSize: DefaultValue<number>
  gradientAccumulation: DefaultValue<number>
  learningRate: DefaultValue<number>
  warmupSteps: DefaultValue<number>
  steps: DefaultValue<number>
  weightDecay: DefaultValue<number>
  checkpointEvery: DefaultValue<number>
  keepCheckpoints: DefaultValue<number>
  evalEvery: DefaultValue<number>
  embeddingOnlySteps: DefaultValue<number>
  documentMasking: DefaultValue<boolean>
  recompute: DefaultValue<RecomputeSetting>
  seed: DefaultValue<number>
  englishShare: DefaultValue<number>
}

export type ModelScale = 'small' | 'billion'

export interface TrainingRecipe {
  scale: ModelScale
  title: string
  /** The models it is meant for. */
  appliesTo: string
  settings: TrainingDefaults
}

/** Shared by both scales: the optimisation recipe and the data mix. */
const common = {
  weightDecay: { value: 0.1, source: 'llama2', why: 'Llama 2 pretraining used AdamW with weight decay 0.1, gradient clipping at 1.0 and a cosine schedule down to 10% of the peak; Vernacular clips and decays the same way.' },
  englishShare: { value: 0.25, source: 'sambalingo', why: 'SambaLingo mixed English into the target-language data at 1 part in 4 to limit forgetting.' },
  documentMasking: { value: true, source: 'sambalingo', why: 'SambaLingo packs documents into sequences and restricts attention to each document.' },
  embeddingOnlySteps: {
    value: 0,
    source: 'chineseLlama',
    why: 'Chinese-LLaMA trained only the embeddings in a first stage after extending the vocabulary; off by default, since mean-initialised rows already start close.',
  },
  keepCheckpoints: { value: 3, source: 'vernacular', why: 'Enough to go back past a bad stretch without filling the disk.' },
  recompute: {
    value: 'auto',
    source: 'vernacular',
    why: 'Recomputing each layer’s activations in the backward pass cuts a step’s memory several times over for about one more forward pass of time; auto does it only when the memory estimate says the step would not fit otherwise.',
  },
  seed: { value: 42, source: 'vernacular', why: 'Any fixed seed: the same seed draws the same batches.' },
} satisfies Partial<TrainingDefaults>

export const TRAINING_RECIPES: Record<ModelScale, TrainingRecipe> = {
  small: {
    scale: 'small',
    title: 'Small models',
    appliesTo: 'models up to a few hundred million parameters (GPT-2 sizes, the demo), on a CPU or one GPU',
    settings: {
      ...common,
      sequenceLength: { value: 512, source: 'vernacular', why: 'Within the context of small models (GPT-2 takes 1,024), and cheap to attend over on a CPU.' },
      batchSize: { value: 8, source: 'vernacular', why: '4,096 tokens a step: steps fast enough to watch on a CPU.' },
      gradientAccumulation: { value: 1, source: 'vernacular', why: 'A micro-batch is a whole step.' },
      learningRate: { value: 1e-4, source: 'sambalingo', why: 'SambaLingo continued pretraining at a peak learning rate of 1e-4; a small model can take more, which the demo templates do.' },
      warmupSteps: { value: 100, source: 'vernacular', why: 'A tenth of the steps: long enough for AdamW’s moments to settle on the new rows.' },
      steps: { value: 1000, source: 'vernacular', why: 'About 4 M tokens: a first look at gain and forgetting on a workstation.' },
      checkpointEvery: { value: 200, source: 'vernacular', why: 'Five checkpoints to compare in a run.' },
      evalEvery: { value: 50, source: 'vernacular', why: 'Twenty points on the held-out curves, at under 10% of the training time.' },
    },
  },
  billion: {
    scale: 'billion',
    title: 'Billion-parameter models',
    appliesTo: 'Llama-2-7B-class models and other models of a billion parameters or more, on a workstation GPU',
    settings: {
      ...common,
      sequenceLength: { value: 4096, source: 'sambalingo', why: 'SambaLingo trained on sequences of 4,096 tokens, Llama 2’s context.' },
      batchSize: { value: 1, source: 'vernacular', why: 'One 4,096-token sequence is what a workstation GPU holds for a 7B model with its optimizer state; the memory estimate says whether it fits.' },
      gradientAccumulation: {
        value: 32,
        source: 'vernacular',
        why: '131,072 tokens a step on one GPU. SambaLingo stepped on far larger global batches across many accelerators; hand such runs to a distributed trainer.',
      },
      learningRate: { value: 1e-4, source: 'sambalingo', why: 'SambaLingo’s peak learning rate for continued pretraining of Llama 2 7B.' },
      warmupSteps: { value: 100, source: 'vernacular', why: 'A short warm-up: the model is pretrained, only the new rows are fresh.' },
      steps: { value: 2000, source: 'vernacular', why: 'About 260 M tokens at 131,072 a step: what a workstation trains in days, not weeks.' },
      checkpointEvery: { value: 250, source: 'vernacular', why: 'Eight checkpoints to compare; each is the size of the model.' },
      evalEvery: { value: 100, source: 'vernacular', why: 'Twenty points on the held-out curves.' },
    },
  },
}

/** Models from this many parameters take the billion-parameter defaults. */
export const BILLION_SCALE_FROM = 700_000_000

export function modelScale(parameters: number): ModelScale {
  return parameters >= BILLION_SCALE_FROM ? 'billion' : 'small'
}

/** The plain values of a recipe's settings. */
export function recipeValues(recipe: TrainingRecipe): { [K in keyof TrainingDefaults]: TrainingDefaults[K]['value'] } {
  const s = recipe.settings
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.value])) as { [K in keyof TrainingDefaults]: TrainingDefaults[K]['value'] }
}
