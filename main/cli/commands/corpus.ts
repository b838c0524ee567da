/** `vernacular corpus …`: ingest text into a project, profile it, sample it. */
import type { RoleStats } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, num, numberOption, positionals, stringOption, usage, type Command } from '../args'
import { formatBytes } from '../output'

export function describeRole(r: RoleStats): string {
  const split = (name: string, p: RoleStats['train']) =>
    `  ${name.padEnd(9)}${num(p.documents).padStart(12)} docs ${num(p.words).padStart(14)} words ${num(p.characters).padStart(15)} chars ${formatBytes(p.bytes).padStart(10)}`
  const removed = Object.entries(r.removed)
    .filter(([, n]) => n)
    .map(([k, n]) => `${k} ${num(n ?? 0)}`)
  const letters = Object.values(r.train.scripts).reduce((a, b) => a + b, 0) || 1
  const scripts = Object.entries(r.train.scripts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([s, n]) => `${s} ${((100 * n) / letters).toFixed(1)}%`)
  return [
    `${r.role === 'target' ? 'Target language' : 'English replay'} (${r.language}), ${r.sources.length} source(s)`,
    split('train', r.train),
    split('held out', r.heldout),
    `  removed  ${removed.length ? removed.join(', ') : 'nothing'} (kept in ${r.rejectsDir})`,
    `  scripts  ${scripts.join(', ') || '–'}`,
    r.tokens
      ? `  tokens   ≈ ${num(r.tokens.train)} train, ≈ ${num(r.tokens.heldout)} held out (${r.tokens.bytesPerToken.toFixed(2)} bytes per token under the base tokenizer, ${r.tokens.tokenizer})`
      : '',
    `  top words ${r.train.topWords.slice(0, 12).map((w) => w.word).join(' ')}`,
  ]
    .filter(Boolean)
    .join('\n')
}

export const corpusCommands: Command[] = [
  {
    name: 'corpus add',
    summary: 'Ingest text files or folders (.txt, .jsonl, .csv, .tsv, optionally .gz) into a project',
    usage: 'vernacular corpus add PROJECT --role target|english PATH... [--txt-mode auto|line|blank] [--field F] [--column C] [--replace-invalid] [--min-chars N] [--script-threshold X] [--heldout F] [--min-heldout N] [--json]',
    args: 'PROJECT PATH...',
    names: { dir: 'PROJECT', paths: 'PATH', 'options.jsonlField': '--field', 'options.csvColumn': '--column', 'options.invalidUtf8': '--replace-invalid', 'options.heldoutFraction': '--heldout' },
    options: {
      ...JSON_OPT,
      role: { type: 'string', short: 'r' },
      'txt-mode': { type: 'string' },
      field: { type: 'string' },
      column: { type: 'string' },
      'replace-invalid': { type: 'boolean' },
      'min-chars': { type: 'string' },
      'script-threshold': { type: 'string' },
      heldout: { type: 'string' },
      'min-heldout': { type: 'string' },
    },
    async run({ engine, out, positionals: given, values }) {
      const [dir, ...paths] = given
      if (!dir || paths.length === 0 || values.role === undefined) throw usage(this, 'PROJECT, --role and at least one PATH are required.')
      const options = defined({
        txtMode: stringOption(values, 'txt-mode'),
        jsonlField: stringOption(values, 'field'),
        csvColumn: stringOption(values, 'column'),
        invalidUtf8: values['replace-invalid'] ? 'replace' : undefined,
        minChars: numberOption(this, values, 'min-chars'),
        scriptThreshold: numberOption(this, values, 'script-threshold'),
        heldoutFraction: numberOption(this, values, 'heldout'),
        minHeldout: numberOption(this, values, 'min-heldout'),
      })
      const { job } = await call(this, engine, 'corpus.add', { dir, role: values.role, paths, options })
      const stats = await followJob(engine, out, job)
      out.result(stats, () => describeRole(stats))
    },
  },
  {
    name: 'corpus stats',
    summary: "Profile a project's corpora: documents, words, scripts, removals",
    usage: 'vernacular corpus stats PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const stats = await call(this, engine, 'corpus.stats', { dir })
      out.result(stats, () => (stats.roles.length ? stats.roles.map(describeRole).join('\n\n') : 'No text yet. Add some with `vernacular corpus add`.'))
    },
  },
  {
    name: 'corpus sample',
    summary: 'Show random documents of a corpus split',
    usage: 'vernacular corpus sample PROJECT --role target|english [--split train|heldout] [-n 5] [--seed S] [--json]',
    args: 'PROJECT',
    names: { dir: 'PROJECT', n: '-n' },
    options: { ...JSON_OPT, role: { type: 'string', short: 'r' }, split: { type: 'string' }, number: { type: 'string', short: 'n' }, seed: { type: 'string' } },
    async run({ engine, out, positionals: given, values }) {
      if (!given[0] || values.role === undefined) throw usage(this, 'PROJECT and --role are required.')
      const params = defined({ dir: given[0], role: values.role, split: stringOption(values, 'split'), n: numberOption(this, values, 'number'), seed: numberOption(this, values, 'seed') })
      const { documents } = await call(this, engine, 'corpus.sample', params)
      out.result({ documents }, () => documents.map((d) => `── ${d.source}:${d.line}\n${d.text}`).join('\n\n'))
    },
  },
]
