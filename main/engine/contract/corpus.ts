/** Corpora: ingesting target-language and English replay text, its profile and samples. */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import { type CorpusRole, ROLE_VALUES, fsPath } from './values'

export const SPLITS = ['train', 'heldout'] as const
export type Split = (typeof SPLITS)[number]

/** How ingest reads and cleans text. Every field has a default; the ones used are recorded. */
export const ingestOptions = z
  .object({
    /** `.txt` files: one document per line, documents separated by blank lines, or detect. */
    txtMode: z.enum(['auto', 'line', 'blank']).default('auto'),
    /** The JSONL field that holds the text. */
    jsonlField: z.string().min(1).max(200).default('text'),
    /** The CSV/TSV column (header name) that holds the text. */
    csvColumn: z.string().min(1).max(200).default('text'),
    /** Invalid UTF-8: reject the file (naming line and byte), or replace with U+FFFD and count. */
    invalidUtf8: z.enum(['reject', 'replace']).default('reject'),
    /** Documents shorter than this many characters (after cleaning) are set aside. */
    minChars: z.number().int().min(0).max(1_000_000).default(20),
    /** Minimum share of letters in the language's script(s); documents below are set aside. */
    scriptThreshold: z.number().min(0).max(1).default(0.5),
    /** Share of documents held out for evaluation, chosen by document hash. */
    heldoutFraction: z.number().min(0).max(0.5).default(0.02),
    /** At least this many held-out documents, when the corpus has them. */
    minHeldout: z.number().int().min(0).max(1_000_000).default(50),
  })
  .strict()

export type IngestOptions = z.output<typeof ingestOptions>

export const REMOVAL_REASONS = ['empty', 'too-short', 'no-letters', 'wrong-script', 'duplicate'] as const
export type RemovalReason = (typeof REMOVAL_REASONS)[number]

export interface SplitProfile {
  documents: number
  characters: number
  /** UTF-8 bytes of the cleaned text. */
  bytes: number
  /** Words as Intl.Segmenter counts them for the language (Thai has no spaces). */
  words: number
  /** Letters per Unicode script (ISO 15924 code, or `other`). */
  scripts: Record<string, number>
  /**
   * Documents by length in characters, in contiguous doubling buckets (16, 32, 64, … up to the
   * longest document): a bucket counts lengths above the previous `upTo` and up to its own.
   */
  lengthHistogram: { upTo: number; documents: number }[]
  /**
   * The most frequent words (lower-cased). Exact for the first 10,000 documents of each source and
   * split; beyond that estimated from one document in 64 (chosen by hash).
   */
  topWords: { word: string; count: number }[]
}

export interface SourceStats {
  path: string
  format: 'txt' | 'jsonl' | 'csv' | 'tsv'
  compressed: boolean
  bytes: number
  sha256: string
  documentsRead: number
  kept: number
  /** Documents set aside, by reason; a reason not listed means none. */
  removed: Partial<Record<RemovalReason, number>>
  invalidBytesReplaced: number
}

export interface RoleStats {
  role: CorpusRole
  /** The language its text is checked against (the project's language, or `en`). */
  language: string
  options: IngestOptions
  sources: SourceStats[]
  train: SplitProfile
  heldout: SplitProfile
  /** The sum over sources; a reason not listed means none. */
  removed: Partial<Record<RemovalReason, number>>
  /** Where the set-aside documents are, with their reasons (relative to the project). */
  rejectsDir: string
  updatedAt: string
  /**
   * Tokens the text comes to under the project's base tokenizer, estimated from the bytes per
   * token measured on a sample of it; null when the project has no base tokenizer yet.
   */
  tokens: TokenEstimate | null
}

export interface TokenEstimate {
  /** The base tokenizer measured, as `family, N tokens`. */
  tokenizer: string
  bytesPerToken: number
  /** Bytes of text the ratio was measured on. */
  sampledBytes: number
  train: number
  heldout: number
}

export interface CorpusStats {
  /** The project folder, absolute. */
  dir: string
  roles: RoleStats[]
}

export interface CorpusDocument {
  text: string
  source: string
  /** 1-based line of the document's start in its source file. */
  line: number
}

export const INGEST_JOB = 'ingest'

export interface CorpusJobs {
  /** Ingests text into one role of a project; the result is the role's stats. */
  [INGEST_JOB]: { result: RoleStats; labels: { role: CorpusRole } }
}

export const corpusMethods = {
  'corpus.add': jobMethod(INGEST_JOB)(
    z
      .object({ dir: fsPath, role: z.enum(ROLE_VALUES), paths: z.array(fsPath).min(1, 'Give at least one file or folder.').max(10_000), options: ingestOptions.partial().optional() })
      .strict(),
  ),
  /** Ingests the text the project's template ships for a role (`vernacular adapt` on a template project). */
  'corpus.addTemplate': jobMethod(INGEST_JOB)(z.object({ dir: fsPath, role: z.enum(ROLE_VALUES) }).strict()),
  'corpus.stats': method<CorpusStats>()(z.object({ dir: fsPath }).strict()),
  /** Documents drawn at random; the same `seed` gives the same documents. */
  'corpus.sample': method<{ documents: CorpusDocument[] }>()(
    z
      .object({ dir: fsPath, role: z.enum(ROLE_VALUES), split: z.enum(SPLITS).default('heldout'), n: z.number().int().min(1).max(100).default(5), seed: z.number().int().optional() })
      .strict(),
  ),
}
