/** `vernacular project …`: create, show, rename and list projects. */
import type { ProjectSummary } from '../../engine/contract'
import { JSON_OPT, call, defined, positionals, stringOption, usage, type Command } from '../args'

function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code
  } catch {
    return code
  }
}

export function describeProject({ dir, manifest: m }: ProjectSummary): string {
  const t = m.training
  const rows: [string, string][] = [
    ['folder', dir],
    ['language', `${m.language} (${languageName(m.language)})`],
    ['created', new Date(m.createdAt).toLocaleString()],
    ['updated', new Date(m.updatedAt).toLocaleString()],
    ['base model', m.baseModel?.path ?? 'not chosen yet'],
    ['tokenizer', m.baseTokenizer?.path ?? 'not chosen yet'],
    ['corpora', m.corpora.length ? m.corpora.map((c) => `${c.role}: ${c.sources.length} source(s)`).join(', ') : 'none yet'],
    ['vocabulary', `${m.vocabulary.mode} ${m.vocabulary.count} tokens (planned)`],
    ['replay', `${Math.round(m.replay.englishShare * 100)}% English (planned)`],
    ['training', `${t.steps} steps × batch ${t.batchSize} × ${t.sequenceLength} tokens, lr ${t.learningRate} (planned)`],
    ['runs', m.runs.length ? String(m.runs.length) : 'none yet'],
  ]
  return [m.name, ...rows.map(([k, v]) => `  ${k.padEnd(11)}${v}`)].join('\n')
}

export const projectCommands: Command[] = [
  {
    name: 'project create',
    summary: 'Create a project folder with a new vernacular.json',
    usage: 'vernacular project create DIR --name NAME --language CODE [--json]\n       vernacular project create DIR --template demo|demo-th [--name NAME] [--language CODE] [--json]',
    args: 'DIR',
    names: { dir: 'DIR' },
    options: { ...JSON_OPT, name: { type: 'string', short: 'n' }, language: { type: 'string', short: 'l' }, template: { type: 'string', short: 't' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['DIR'])
      const summary = await call(this, engine, 'project.create', defined({ dir, name: stringOption(values, 'name'), language: stringOption(values, 'language'), template: stringOption(values, 'template') }))
      out.result(summary, () => `Created project "${summary.manifest.name}" in ${summary.dir}\n\n${describeProject(summary)}`)
    },
  },
  {
    name: 'project show',
    summary: "Print a project's manifest",
    usage: 'vernacular project show DIR [--json]',
    args: 'DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir] = positionals(this, given, ['DIR'])
      const summary = await call(this, engine, 'project.open', { dir })
      out.result(summary.manifest, () => describeProject(summary))
    },
  },
  {
    name: 'project rename',
    summary: 'Give a project a new name',
    usage: 'vernacular project rename DIR --name NAME [--json]',
    args: 'DIR',
    names: { dir: 'DIR' },
    options: { ...JSON_OPT, name: { type: 'string', short: 'n' } },
    async run({ engine, out, positionals: given, values }) {
      const name = stringOption(values, 'name')
      if (!given[0] || name === undefined) throw usage(this, 'DIR and --name are required.')
      const summary = await call(this, engine, 'project.rename', { dir: given[0], name })
      out.result(summary.manifest, () => `Renamed to "${summary.manifest.name}".`)
    },
  },
  {
    name: 'project list',
    summary: 'List recently opened projects',
    usage: 'vernacular project list [--json]',
    options: { ...JSON_OPT },
    async run({ engine, out }) {
      const recent = await call(this, engine, 'project.recent', {})
      out.result(recent, () =>
        recent.length
          ? recent.map((p) => `${p.status === 'ok' ? ' ' : '!'} ${p.name.padEnd(28)} ${p.language.padEnd(6)} ${p.dir}${p.problem ? `\n    ${p.problem}` : ''}`).join('\n')
          : 'No recent projects. Create one with `vernacular project create DIR --name NAME --language CODE`.',
      )
    },
  },
]
