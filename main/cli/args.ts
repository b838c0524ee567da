/**
 * What every CLI command shares: the command shape, option parsing, turning command-line words into
 * API params, wording the contract's verdict on them in terms of flags, and following a job to its
 * end with a progress bar.
 *
 * The CLI checks nothing the contract's schemas check: it converts words to values (`5k` → 5000),
 * asks the method's schema, and words any issue it finds as a flag (`--count must be at least 1`).
 */
import type { ParseArgsConfig } from 'node:util'
import type { z } from 'zod'
import type { Engine } from '../engine/api/engine'
import { methods, type JobKind, type JobLabels, type JobResult, type JobSnapshotOf, type MethodName, type ParamsIn, type Result } from '../engine/contract'
import { EngineError, type ErrorInfo } from '../engine/common/errors'
import type { Output } from './output'

export type Options = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | string[] | undefined>

export interface CommandContext {
  engine: Engine
  out: Output
  positionals: string[]
  values: Values
}

export interface Command {
  name: string
  summary: string
  usage: string
  options: Options
  /** Positional arguments, for help. */
  args?: string
  /**
   * How the API params this command fills are named on the command line, where that is not the
   * param in kebab case (`--seq-len` for `seqLen`): a flag (`--changes`) or a positional (`PROJECT`).
   */
  names?: Record<string, string>
  run(this: Command, ctx: CommandContext): Promise<void>
}

export const JSON_OPT: Options = { json: { type: 'boolean', short: 'j' } }

export function usage(cmd: Command | null, message: string): EngineError {
  return new EngineError('invalid-request', message, { hint: cmd ? `Usage: ${cmd.usage}` : 'Run `vernacular --help` for the commands.' })
}

/**
 * A refused request as the command line shows it: the error's message, then its own hint (what to
 * do: `Use --seq-len 64 or less.`) where it has one, then the command's usage, on a line of its own.
 * Usage errors made here already have the usage as their hint; other errors are left as they are.
 */
export function withUsage(cmd: Command, info: ErrorInfo): ErrorInfo {
  if (info.code !== 'invalid-request' || info.hint?.startsWith('Usage:')) return info
  const line = `Usage: ${cmd.usage}`
  return { ...info, hint: info.hint ? `${info.hint}\n${line}` : line }
}

/** The positionals a command requires, in order; a missing one is a usage error naming them all. */
export function positionals(cmd: Command, given: string[], names: string[]): string[] {
  const missing = names.filter((_, i) => given[i] === undefined || given[i] === '')
  if (missing.length) throw usage(cmd, `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'} required.`)
  return given.slice(0, names.length)
}

/** A string option, or undefined when not given. */
export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** A string option that must be given. */
export function requiredOption(cmd: Command, values: Values, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v === '') throw usage(cmd, `--${name} is required.`)
  return v
}

/** An option that may be repeated (`--corpus a b c`), or undefined when not given. */
export function listOption(values: Values, name: string): string[] | undefined {
  const v = values[name]
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : undefined
}

/** `5000`, `5k`, `0.25` → numbers; words that are no number at all are a usage error (ranges are the contract's to check). */
export function toNumber(cmd: Command, flag: string, text: string): number {
  const n = Number(text.trim().replace(/k$/i, '000'))
  if (text.trim() === '' || Number.isNaN(n)) throw usage(cmd, `${flag} must be a number, not "${text}".`)
  return n
}

/** A numeric option, or undefined when not given. */
export function numberOption(cmd: Command, values: Values, name: string): number | undefined {
  const v = stringOption(values, name)
  return v === undefined ? undefined : toNumber(cmd, `--${name}`, v)
}

/** `0,1000,5k` → [0, 1000, 5000]. */
export function numberList(cmd: Command, flag: string, text: string): number[] {
  return text
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => toNumber(cmd, flag, c))
}

/** Drops the keys whose value is undefined, so that schema defaults apply. */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> }
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** How a param is named on the command line (`options.minChars` → `--min-chars`; items of lists are numbered). */
function nameOf(cmd: Command, path: PropertyKey[]): string {
  const keys = path.filter((k): k is string => typeof k === 'string')
  const item = path.find((k): k is number => typeof k === 'number')
  const named = cmd.names?.[keys.join('.')] ?? `--${kebab(keys.at(-1) ?? '')}`
  return item === undefined ? named : `${named} (item ${item + 1})`
}

/** One issue the schema found, in the words of the command line. */
function wordIssue(cmd: Command, issue: z.core.$ZodIssue, params: Record<string, unknown>): string {
  const name = nameOf(cmd, issue.path)
  const given = issue.path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), params)
  const shown = given === undefined ? '' : `, not "${Array.isArray(given) ? given.join(' ') : String(given)}"`
  switch (issue.code) {
    case 'invalid_value':
      return `${name} must be ${issue.values.map(String).join(' or ')}${shown}.`
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `${name} needs at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'value(s)' : 'character(s)'}.`
        : `${name} must be at least ${String(issue.minimum)}${shown}.`
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `${name} takes at most ${String(issue.maximum)} ${issue.origin === 'array' ? 'values' : 'characters'}.`
        : `${name} must be at most ${String(issue.maximum)}${shown}.`
    case 'invalid_type':
      if (given === undefined) return `${name} is required.`
      return issue.expected === 'int' ? `${name} must be a whole number${shown}.` : `${name} must be a ${issue.expected}${shown}.`
    default:
      return `${name}: ${issue.message}`
  }
}

/** Params as the command line gives them: the method's param names, values still to be judged by its schema. */
export type FromArgs<P> = { [K in keyof P]?: unknown }

/**
 * Calls an API method with params made from the command line. The method's schema (the contract)
 * judges them; what it refuses is reported as a usage error in terms of flags.
 */
export async function call<M extends MethodName>(cmd: Command, engine: Engine, method: M, params: FromArgs<ParamsIn<M>>): Promise<Result<M>> {
  const schema = methods[method].params as z.ZodType
  const verdict = schema.safeParse(params)
  if (!verdict.success) {
    const words = verdict.error.issues.map((i) => wordIssue(cmd, i, params as Record<string, unknown>))
    throw usage(cmd, words.join(' '))
  }
  return engine.invoke(method, params as Record<string, unknown>)
}

/** Runs a job to its end, showing progress; Ctrl-C cancels it. Returns its result or throws its error. */
export async function followJob<K extends JobKind>(engine: Engine, out: Output, job: JobSnapshotOf<K, JobResult<K>, JobLabels<K>>): Promise<JobResult<K>> {
  const off = engine.jobs.onChange((j) => {
    if (j.id === job.id && (j.state === 'running' || j.state === 'queued')) out.progress(j)
  })
  const onSigint = () => {
    out.info('Cancelling…')
    engine.jobs.cancel(job.id)
  }
  process.once('SIGINT', onSigint)
  try {
    const final = await engine.jobs.waitFor(job)
    out.endProgress()
    if (final.state === 'done' && final.result !== null) return final.result
    if (final.state === 'cancelled') throw new EngineError('cancelled', `${final.title} was cancelled.`, { hint: final.logFile ? `The log is at ${final.logFile}.` : '' })
    throw new EngineError((final.error?.code as EngineError['code']) ?? 'internal', final.error?.message ?? `${final.title} failed.`, {
      hint: [final.error?.hint, final.logFile ? `The log is at ${final.logFile}.` : ''].filter(Boolean).join(' '),
    })
  } finally {
    off()
    process.off('SIGINT', onSigint)
  }
}

/** Numbers as people read them: 1,234,567. */
export const num = (n: number) => n.toLocaleString('en')
