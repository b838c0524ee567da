/** Samples: a model's continuation of a prompt, greedy or top-p with a seed (`model.sample`, and per checkpoint). */
import { z } from 'zod'
import { jobMethod } from './jobs'
import { fsPath } from './values'

/** The most new tokens one sample may ask for. */
export const MAX_SAMPLE_TOKENS = 4096
/** The longest prompt, in characters. */
export const MAX_PROMPT_CHARS = 20_000

/** Why a continuation ended: an end-of-sequence token, the token limit, or the positions the model has. */
export type SampleFinishReason = 'eos' | 'max-tokens' | 'max-positions'

export interface SampleResult {
  prompt: string
  /** The continuation's text: the prompt and continuation decoded together, less the prompt's text (special tokens left out). */
  text: string
  /** The continuation's ids; the end-of-sequence id is the last when one ended it. */
  tokens: number[]
  /** The prompt's ids as the model read them: the BOS (or, without one, the EOS) first, then the prompt's. */
  promptTokens: number[]
  finishReason: SampleFinishReason
  /** Nucleus sampling's top-p; null: greedy. */
  topP: number | null
  /** The temperature and seed of top-p sampling; null when greedy. */
  temperature: number | null
  seed: number | null
  /** Generation time (the prefill over the prompt and every step), without loading the model. */
  seconds: number
  /** New tokens per second over `seconds`. */
  tokensPerSecond: number
}

/** A prompt of the fixed set sampled at each checkpoint (resources/demo/prompts.json). */
export interface SamplePrompt {
  /** Stable across releases, so that samples of one prompt can be set side by side (`hu-save-as`). */
  id: string
  /** BCP-47 language of the prompt. */
  lang: string
  text: string
}

/** One prompt's samples at one checkpoint: greedy, and top-p with the settings' seed. */
export interface PromptSamples {
  prompt: SamplePrompt
  greedy: SampleResult
  topP: SampleResult
}

export const MODEL_SAMPLE_JOB = 'model-sample'

export interface SampleJobs {
  [MODEL_SAMPLE_JOB]: { result: SampleResult; labels: Record<string, never> }
}

export const sampleMethods = {
  /** Continues a prompt with a model folder and a tokenizer: greedy, or top-p when `topP` is given. */
  'model.sample': jobMethod(MODEL_SAMPLE_JOB)(
    z
      .object({
        model: fsPath,
        tokenizer: fsPath,
        prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
        maxTokens: z.number().int().min(1).max(MAX_SAMPLE_TOKENS).default(64),
        topP: z.number().positive().max(1).optional(),
        temperature: z.number().positive().max(100).default(1),
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1)
          .default(0),
      })
      .strict(),
  ),
}
