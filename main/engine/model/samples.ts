/**
 * Samples: a model's continuation of a text prompt, decoded with its tokenizer (greedy, or top-p
 * with a temperature and a seed; generate.ts does the work), and the fixed prompts per language
 * that every checkpoint continues so that its samples can be read side by side with the base's
 * (`samplePrompts`, with `demoPrompts` from resources/demo/prompts.json).
 *
 * A prompt is read after the tokenizer's BOS (or, where there is none, the EOS that training puts
 * between documents), so that it starts a document as training and scoring see one. Ids at or above
 * the tokenizer's vocabulary (padding rows of a model resized with `--pad-multiple`) are never
 * sampled. Generation stops at the EOS (the tokenizer's, as tokenizer_config.json beside it names
 * it, and the model's `eos_token_id`).
 */
import { promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { engineBackend } from '../backend/select'
import type { PromptSamples, SamplePrompt, SampleResult } from '../contract'
import { EngineError } from '../common/errors'
import { resourcesDir } from '../common/resources'
import type { JobContext } from '../jobs/manager'
import { Tokenizer } from '../tokenizer/tokenizer'
import { openCheckpoint } from './checkpoint'
import { generate } from './generate'
import { CausalLM } from './model'
import { beginningOfSequence } from './operations'

export interface SampleOptions {
  /** New tokens at most. */
  maxTokens: number
  /** Nucleus sampling's top-p; absent or null: greedy. */
  topP?: number | null
  /** Sampling temperature (default 1; ignored when greedy). */
  temperature?: number
  /** The seed of top-p's draws (default 0; ignored when greedy). */
  seed?: number
  signal?: AbortSignal
  /** Called after each new token. */
  onToken?: (count: number) => void
}

/** The ids a prompt is read after and generation stops at, for a model and its tokenizer. */
export interface SpecialIds {
  /** Put before the prompt: the BOS, else the EOS, else nothing. */
  prefix: number | null
  /** End-of-sequence ids. */
  stop: number[]
}

async function tokenizerConfigEos(tok: Tokenizer): Promise<number | undefined> {
  try {
    const cfg = JSON.parse(await fs.readFile(join(dirname(tok.file), 'tokenizer_config.json'), 'utf8')) as { eos_token?: unknown }
    const eos = typeof cfg.eos_token === 'string' ? cfg.eos_token : (cfg.eos_token as { content?: unknown } | undefined)?.content
    return typeof eos === 'string' ? tok.tokenToId(eos) : undefined
  } catch {
    return undefined // no tokenizer_config.json beside it (or not one we can read): the model's EOS
  }
}

/** The prefix and stop ids of a model with its tokenizer (see the module's comment). */
export async function specialIds(model: CausalLM, tok: Tokenizer): Promise<SpecialIds> {
  const stop = new Set<number>()
  const fromConfig = await tokenizerConfigEos(tok)
  if (fromConfig !== undefined) stop.add(fromConfig)
  const eos = model.config.eosTokenId
  if (eos !== null && tok.idToToken(eos) !== undefined) stop.add(eos)
  const bos = await beginningOfSequence(tok, tok.file, model.config.bosTokenId)
  return { prefix: bos?.id ?? [...stop][0] ?? null, stop: [...stop] }
}

/** Refuses a tokenizer with ids the model has no rows for. */
export function checkTokenizerFits(model: CausalLM, tok: Tokenizer): void {
  if (tok.vocabSize > model.config.vocabSize) {
    throw new EngineError('bad-input', `${tok.file} has ${tok.vocabSize} tokens but the model has only ${model.config.vocabSize} embedding rows.`, {
      file: tok.file,
      hint: 'Use the tokenizer that belongs to the model (for an extended tokenizer, resize the model first with `vernacular model resize`).',
    })
  }
}

/**
 * Continues `prompt` with a loaded model and its tokenizer. The text is that of prompt and
 * continuation decoded together less the prompt's own (so that a continuation that begins a word,
 * or a SentencePiece space, decodes as it reads after the prompt).
 */
export async function sampleText(model: CausalLM, tok: Tokenizer, prompt: string, opts: SampleOptions, special?: SpecialIds): Promise<SampleResult> {
  checkTokenizerFits(model, tok)
  const ids = special ?? (await specialIds(model, tok))
  const promptTokens = tok.encode(prompt)
  if (ids.prefix !== null) promptTokens.unshift(ids.prefix)
  const topP = opts.topP ?? null
  const g = await generate(model, promptTokens, {
    maxTokens: opts.maxTokens,
    topP,
    temperature: opts.temperature ?? 1,
    seed: opts.seed ?? 0,
    vocabLimit: tok.vocabSize,
    stopIds: ids.stop,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onToken ? { onToken: (_: number, count: number) => opts.onToken?.(count) } : {}),
  })
  const skip = { skipSpecialTokens: true }
  const before = tok.decode(promptTokens, skip)
  const whole = tok.decode([...promptTokens, ...g.tokens], skip)
  return {
    prompt,
    text: whole.startsWith(before) ? whole.slice(before.length) : tok.decode(g.tokens, skip),
    tokens: g.tokens,
    promptTokens,
    finishReason: g.finishReason,
    topP,
    temperature: topP === null ? null : (opts.temperature ?? 1),
    seed: topP === null ? null : (opts.seed ?? 0),
    seconds: g.seconds,
    tokensPerSecond: g.tokensPerSecond,
  }
}

/** The settings samples are taken with at each checkpoint. */
export interface SampleSettings {
  maxTokens: number
  topP: number
  temperature: number
  seed: number
}

export const DEFAULT_SAMPLE_SETTINGS: SampleSettings = { maxTokens: 64, topP: 0.9, temperature: 1, seed: 0 }

/**
 * Each prompt's continuation by a loaded model (one checkpoint), greedy and top-p. Every prompt's
 * top-p draws start from the same seed, so a prompt's sample does not depend on the others, and
 * the same checkpoint, prompts and settings give the same samples.
 */
export async function samplePrompts(
  model: CausalLM,
  tok: Tokenizer,
  prompts: readonly SamplePrompt[],
  settings: Partial<SampleSettings> = {},
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<PromptSamples[]> {
  const s = { ...DEFAULT_SAMPLE_SETTINGS, ...settings }
  checkTokenizerFits(model, tok)
  const special = await specialIds(model, tok)
  const out: PromptSamples[] = []
  const base = { maxTokens: s.maxTokens, ...(opts.signal ? { signal: opts.signal } : {}) }
  for (const [i, prompt] of prompts.entries()) {
    const greedy = await sampleText(model, tok, prompt.text, base, special)
    opts.onProgress?.(2 * i + 1, 2 * prompts.length)
    const topP = await sampleText(model, tok, prompt.text, { ...base, topP: s.topP, temperature: s.temperature, seed: s.seed }, special)
    opts.onProgress?.(2 * i + 2, 2 * prompts.length)
    out.push({ prompt, greedy, topP })
  }
  return out
}

interface PromptsFile {
  format: string
  prompts: Record<string, { id: string; text: string }[]>
}

/** The demo prompts file: resources/demo/prompts.json. */
export function demoPromptsFile(): string {
  return join(resourcesDir(), 'demo', 'prompts.json')
}

/**
 * The fixed prompts of the given languages (all when none are given), in the file's order; a
 * language without prompts gives none.
 */
export async function demoPrompts(langs?: readonly string[], file = demoPromptsFile()): Promise<SamplePrompt[]> {
  let parsed: PromptsFile
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8')) as PromptsFile
  } catch (e) {
    throw new EngineError('bad-input', `${file}: ${(e as Error).message}`, { file, hint: 'Reinstall Vernacular: this file ships with it.' })
  }
  if (parsed.format !== 'vernacular-sample-prompts' || typeof parsed.prompts !== 'object' || parsed.prompts === null) {
    throw new EngineError('bad-input', `${file} is not a prompts file (format "vernacular-sample-prompts").`, { file, hint: 'Reinstall Vernacular: this file ships with it.' })
  }
  const wanted = langs ?? Object.keys(parsed.prompts)
  return wanted.flatMap((lang) => (parsed.prompts[lang] ?? []).map((p) => ({ id: p.id, lang, text: p.text })))
}

/**
 * `model.sample`: loads a model folder and a tokenizer, and continues one prompt. The job's
 * progress counts new tokens; cancelling stops between tokens.
 */
export async function sampleFolder(modelDir: string, tokenizerFile: string, prompt: string, opts: Omit<SampleOptions, 'signal' | 'onToken'>, ctx?: JobContext): Promise<SampleResult> {
  const tok = await Tokenizer.fromFile(tokenizerFile)
  const ckpt = await openCheckpoint(modelDir)
  const { tf, report } = await engineBackend()
  ctx?.log(`backend ${report.name}: ${report.why}`)
  const model = await CausalLM.load(tf, ckpt, {
    trainable: false,
    ...(ctx ? { signal: ctx.signal, onProgress: (p) => ctx.progress({ done: p.done, total: p.total, message: `Loading ${p.name}` }) } : {}),
  })
  try {
    const result = await sampleText(model, tok, prompt, {
      ...opts,
      ...(ctx
        ? {
            signal: ctx.signal,
            onToken: (count: number) => ctx.progress({ done: count, total: opts.maxTokens, message: `${count} of at most ${opts.maxTokens} tokens` }),
          }
        : {}),
    })
    ctx?.log(`${result.tokens.length} tokens (${result.finishReason}) in ${result.seconds.toFixed(2)} s, ${result.tokensPerSecond.toFixed(1)} tokens/s`)
    return result
  } finally {
    model.dispose()
  }
}
