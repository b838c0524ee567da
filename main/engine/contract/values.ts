/**
 * Value schemas and limits that several stages of the contract share. Every limit is defined
 * here once; the schemas use it, and the renderer reads it back from the schemas or from here.
 */
import { z } from 'zod'

/** A BCP-47 language tag (`hu`, `th`, `pt-BR`, `sr-Latn`), canonicalised by `Intl`. */
export const languageTag = z
  .string()
  .trim()
  .min(1, 'Enter a language code such as "hu" or "th".')
  .max(64)
  .refine(
    (s) => {
      try {
        return Intl.getCanonicalLocales(s).length === 1
      } catch {
        return false
      }
    },
    { message: 'Not a BCP-47 language tag; use a code such as "hu", "th" or "pt-BR".' },
  )
  .transform((s) => Intl.getCanonicalLocales(s)[0] as string)

export const projectName = z
  .string()
  .trim()
  .min(1, 'The project needs a name.')
  .max(120, 'Keep the project name under 120 characters.')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { message: 'The name contains control characters.' })

/** A filesystem path as the user typed it; the engine resolves it (and `~`). */
export const fsPath = z
  .string()
  .trim()
  .min(1, 'Enter a folder path.')
  .max(4096)
  .refine((s) => !s.includes('\u0000'), { message: 'The path contains a NUL character.' })

export const ROLE_VALUES = ['target', 'english'] as const
export type CorpusRole = (typeof ROLE_VALUES)[number]

export const VOCABULARY_MODES = ['add', 'replace'] as const

/** Project templates that ship with the app (resources/demo/templates/<name>/). */
export const TEMPLATE_NAMES = ['demo', 'demo-th'] as const
export type TemplateName = (typeof TEMPLATE_NAMES)[number]
export type ExtendMode = (typeof VOCABULARY_MODES)[number]

/** The most tokens one extension can learn (add or replace). */
export const MAX_NEW_TOKENS = 200_000
/** The most vocabulary sizes one sweep evaluates. */
export const MAX_SWEEP_COUNTS = 50
/** The most sequences in one micro-batch. */
export const MAX_BATCH = 4096
/** The longest training sequence, in tokens. */
export const MAX_SEQ_LEN = 131_072
/**
 * Activation recomputation (gradient checkpointing) in training: `auto` turns it on only when a
 * step would not fit the device's memory without it.
 */
export const RECOMPUTE_VALUES = ['auto', 'on', 'off'] as const
export type RecomputeSetting = (typeof RECOMPUTE_VALUES)[number]

/** The longest text the token preview takes, in characters. */
export const MAX_PREVIEW_CHARS = 20_000

/** The largest row multiple the resized embedding matrices may be padded to. */
export const MAX_PAD_MULTIPLE = 4096

/** How many tokens to add or replace. */
export const newTokenCount = z.number().int().min(1).max(MAX_NEW_TOKENS)
/** The vocabulary sizes of a sweep (0: the base tokenizer). */
export const sweepCounts = z.array(z.number().int().min(0).max(MAX_NEW_TOKENS)).min(1).max(MAX_SWEEP_COUNTS)
export const batchSize = z.number().int().min(1).max(MAX_BATCH)

export const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an ISO date' })

/** Params of a method that takes none. */
export const noParams = z.object({}).strict()
