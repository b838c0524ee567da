/**
 * The held-out sample a run scores every `evalEvery` steps, so the linguist watches gain (target
 * language) and forgetting (English) as they happen: the first lines of each role's held-out
 * split, up to a token budget, scored as `model score` scores a text file (each line on its own,
 * after the BOS, in rolling windows of the sequence length), in bits per byte.
 *
 * The budget keeps evaluation under 10% of training time: scoring a token is a forward pass, about
 * a third of a training token's forward and backward, so two languages of T tokens cost about
 * 2T/3 training tokens, and T ≤ 0.15 × the tokens trained between two evaluations keeps that
 * under 10%. It is capped at 16,384 tokens per language and is at least one sequence.
 */
import type { CorpusRole } from '../contract'
import { corpusLines } from '../corpus/text'
import type { CausalLM } from '../model/model'
import { rollingWindows, scoreWindows } from '../model/operations'
import type { Tokenizer } from '../tokenizer/tokenizer'

export const MAX_HELDOUT_TOKENS = 16_384

export interface HeldoutSample {
  windows: number[][]
  /** UTF-8 bytes of the lines sampled. */
  bytes: number
  lines: number
}

/** Tokens per language the held-out sample may have, for this run's shape (see the top of the file). */
export function heldoutBudget(s: { evalEvery: number; batchSize: number; sequenceLength: number; gradientAccumulation: number }): number {
  const between = s.evalEvery * s.batchSize * s.sequenceLength * s.gradientAccumulation
  return Math.max(s.sequenceLength, Math.min(MAX_HELDOUT_TOKENS, Math.floor(0.15 * between)))
}

/** The first held-out lines of a role, up to `budget` tokens; null when the role has no held-out text. */
export async function heldoutSample(projectDir: string, role: CorpusRole, tok: Tokenizer, bos: number | null, windowLength: number, budget: number): Promise<HeldoutSample | null> {
  const encoder = new TextEncoder()
  const sample: HeldoutSample = { windows: [], bytes: 0, lines: 0 }
  let tokens = 0
  try {
    for await (const line of corpusLines(projectDir, role, 'heldout')) {
      if (line.trim() === '') continue
      const ids = tok.encode(line)
      if (bos !== null) ids.unshift(bos)
      if (ids.length < 2) continue
      if (tokens > 0 && tokens + ids.length > budget) break
      sample.windows.push(...rollingWindows(ids, windowLength))
      sample.bytes += encoder.encode(line).length
      sample.lines++
      tokens += ids.length
    }
  } catch {
    // No ingested text for the role: nothing to score.
    return null
  }
  return sample.lines ? sample : null
}

/** Bits per byte of the model on a held-out sample. */
export async function heldoutBitsPerByte(model: CausalLM, sample: HeldoutSample): Promise<number> {
  const { nll } = await scoreWindows(model, sample.windows)
  return nll / Math.LN2 / sample.bytes
}
