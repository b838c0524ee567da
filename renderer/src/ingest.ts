/**
 * The "Add text" form of the Corpus step, as plain data: the paths the user typed and the ingest
 * options, checked with the contract's own schemas (the engine checks them again at the boundary).
 * Shares are entered as percentages; the engine receives shares (0 … 1).
 */
import { ingestOptions, methods, type IngestOptions } from '../../main/engine/contract'

/** What ingest reads, for the empty state and the help text. */
export const ACCEPTED_FORMATS = ['.txt', '.jsonl', '.csv', '.tsv'] as const

/** The contract's defaults, as the engine fills them in. */
export const DEFAULT_INGEST_OPTIONS: IngestOptions = ingestOptions.parse({})

/** The form's fields; numbers stay as typed (a string or what `<input type="number">` gives) until checked. */
export interface IngestForm {
  txtMode: IngestOptions['txtMode']
  jsonlField: string
  csvColumn: string
  invalidUtf8: IngestOptions['invalidUtf8']
  minChars: string | number
  /** `scriptThreshold` × 100. */
  scriptThresholdPercent: string | number
  /** `heldoutFraction` × 100. */
  heldoutPercent: string | number
  minHeldout: string | number
}

export type IngestFormField = keyof IngestForm

export function ingestFormFrom(options: IngestOptions = DEFAULT_INGEST_OPTIONS): IngestForm {
  return {
    txtMode: options.txtMode,
    jsonlField: options.jsonlField,
    csvColumn: options.csvColumn,
    invalidUtf8: options.invalidUtf8,
    minChars: options.minChars,
    scriptThresholdPercent: toPercent(options.scriptThreshold),
    heldoutPercent: toPercent(options.heldoutFraction),
    minHeldout: options.minHeldout,
  }
}

/** Which form field each option is typed into, and whether it is shown as a percentage. */
const FIELD_OF: Record<keyof IngestOptions, { field: IngestFormField; percent: boolean }> = {
  txtMode: { field: 'txtMode', percent: false },
  jsonlField: { field: 'jsonlField', percent: false },
  csvColumn: { field: 'csvColumn', percent: false },
  invalidUtf8: { field: 'invalidUtf8', percent: false },
  minChars: { field: 'minChars', percent: false },
  scriptThreshold: { field: 'scriptThresholdPercent', percent: true },
  heldoutFraction: { field: 'heldoutPercent', percent: true },
  minHeldout: { field: 'minHeldout', percent: false },
}

export type IngestFormCheck = { ok: true; options: IngestOptions } | { ok: false; errors: Partial<Record<IngestFormField, string>> }

/** Checks the form with `ingestOptions` and gives the options to send, or a message per field. */
export function readIngestForm(form: IngestForm): IngestFormCheck {
  const candidate = {
    txtMode: form.txtMode,
    jsonlField: form.jsonlField.trim(),
    csvColumn: form.csvColumn.trim(),
    invalidUtf8: form.invalidUtf8,
    minChars: toNumber(form.minChars),
    scriptThreshold: fromPercent(toNumber(form.scriptThresholdPercent)),
    heldoutFraction: fromPercent(toNumber(form.heldoutPercent)),
    minHeldout: toNumber(form.minHeldout),
  }
  const checked = ingestOptions.safeParse(candidate)
  if (checked.success) return { ok: true, options: checked.data }
  const errors: Partial<Record<IngestFormField, string>> = {}
  for (const issue of checked.error.issues) {
    const key = issue.path[0]
    if (typeof key !== 'string' || !(key in FIELD_OF)) continue
    const { field, percent } = FIELD_OF[key as keyof IngestOptions]
    errors[field] ??= describeIssue(issue, percent)
  }
  return { ok: false, errors }
}

/** The paths typed one per line: trimmed, blank lines dropped, each once. */
export function parsePathList(text: string): string[] {
  const seen = new Set<string>()
  for (const line of text.split(/\r?\n/)) {
    const path = line.trim()
    if (path !== '') seen.add(path)
  }
  return [...seen]
}

/** Adds a path (from the folder picker) as a new line, unless it is listed already. */
export function appendPath(text: string, path: string): string {
  if (parsePathList(text).includes(path.trim())) return text
  const kept = text.replace(/\s+$/, '')
  return kept === '' ? path : `${kept}\n${path}`
}

export type PathsCheck = { ok: true; paths: string[] } | { ok: false; message: string }

/** Checks the typed paths with the schema `corpus.add` applies to them. */
export function readPaths(text: string): PathsCheck {
  const checked = methods['corpus.add'].params.shape.paths.safeParse(parsePathList(text))
  if (checked.success) return { ok: true, paths: checked.data }
  const issue = checked.error.issues[0]
  const line = typeof issue?.path[0] === 'number' ? ` (line ${issue.path[0] + 1} of the list)` : ''
  return { ok: false, message: `${issue?.message ?? 'Check the paths.'}${line}` }
}

function toNumber(value: string | number): number {
  if (typeof value === 'number') return value
  const trimmed = value.trim()
  return trimmed === '' ? Number.NaN : Number(trimmed)
}

/** 2 → 0.02, without the float noise of a plain division (7 / 100 is fine, 0.07 * 100 is not). */
function fromPercent(percent: number): number {
  return Number.isFinite(percent) ? Number((percent / 100).toPrecision(12)) : percent
}

function toPercent(share: number): number {
  return Number((share * 100).toPrecision(12))
}

interface Issue {
  code: string
  message: string
  origin?: unknown
  minimum?: unknown
  maximum?: unknown
  expected?: unknown
}

/** Zod's messages speak of shares and types; these speak of what the user typed. */
function describeIssue(issue: Issue, percent: boolean): string {
  const bound = (value: unknown) => (typeof value === 'number' ? (percent ? `${toPercent(value)}%` : String(value)) : null)
  if (issue.origin === 'string') {
    if (issue.code === 'too_small') return 'Enter a name.'
    if (issue.code === 'too_big') return `Use at most ${bound(issue.maximum) ?? 'the allowed number of'} characters.`
  }
  if (issue.code === 'too_small' && bound(issue.minimum) !== null) return `Enter at least ${bound(issue.minimum)}.`
  if (issue.code === 'too_big' && bound(issue.maximum) !== null) return `Enter at most ${bound(issue.maximum)}.`
  if (issue.code === 'invalid_type') return issue.expected === 'int' ? 'Enter a whole number.' : 'Enter a number.'
  return issue.message
}
