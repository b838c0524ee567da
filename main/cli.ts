import { join } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { createOutput, formatBytes, formatDuration, type Output } from './cli/output'
import { Engine } from './engine/api/engine'
import type { BaseModelStatus, BenchmarkResult, DoctorReport, ExtendSummary, Fertility, JobSnapshot, MemoryEstimateResult, ModelInfo, ProjectSummary, RecentProject, ResizeSummary, RoleStats, ScoreResult, SweepResult } from './engine/contract'
import { EngineError, toErrorInfo } from './engine/common/errors'
import { VERNACULAR_VERSION } from './engine/common/version'
import { startServer } from './server'

/**
 * `vernacular`: the headless way into the engine. Every command is a thin layer over the same
 * engine methods the desktop app and web mode call.
 */

type Options = NonNullable<ParseArgsConfig['options']>

interface Command {
  name: string
  summary: string
  usage: string
  options: Options
  /** Positional arguments, for help. */
  args?: string
  run(ctx: { engine: Engine; out: Output; positionals: string[]; values: Record<string, string | boolean | string[] | undefined> }): Promise<void>
}

/** Web mode's usual port, so that an SSH tunnel command can stay the same from day to day. */
const DEFAULT_PORT = 8470

const JSON_OPT: Options = { json: { type: 'boolean', short: 'j' } }

function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code
  } catch {
    return code
  }
}

function describeProject({ dir, manifest: m }: ProjectSummary): string {
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

const num = (n: number) => n.toLocaleString('en')

function describeRole(r: RoleStats): string {
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

function describeDoctor(r: DoctorReport): string {
  const lines = [
    `Vernacular ${r.vernacularVersion}`,
    `  Node       ${r.node} (${r.platform} ${r.arch})${r.electron ? `, Electron ${r.electron}` : ''}`,
    `  CPU        ${r.cpu.model} × ${r.cpu.cores}`,
    `  Memory     ${formatBytes(r.memory.totalBytes)} total, ${formatBytes(r.memory.freeBytes)} free`,
    `  GPUs       ${r.gpus.length ? r.gpus.map((g) => `${g.name}${g.memoryBytes ? ` (${formatBytes(g.memoryBytes)})` : ''}${g.driver ? `, driver ${g.driver}` : ''}`).join('; ') : 'none found'}`,
    `  Backend    ${r.backend.name}, ${r.backend.requestedBy === 'auto' ? 'the first that works of node-gpu → node → wasm → cpu' : r.backend.why}`,
    ...r.backend.attempts.map((a) => `    ${a.ok ? '✓' : '✗'} ${a.name.padEnd(9)}${a.reason}`),
    `  Settings   ${r.settingsFile}`,
  ]
  for (const w of r.warnings) lines.push(`  warning: ${w}`)
  return lines.join('\n')
}

/** Runs a job to its end, showing progress; Ctrl-C cancels it. Returns its result or throws its error. */
async function followJob(engine: Engine, out: Output, job: JobSnapshot): Promise<unknown> {
  const off = engine.jobs.onChange((j) => {
    if (j.id === job.id && (j.state === 'running' || j.state === 'queued')) out.progress(j)
  })
  const onSigint = () => {
    out.info('Cancelling…')
    engine.jobs.cancel(job.id)
  }
  process.once('SIGINT', onSigint)
  try {
    const final = await engine.jobs.wait(job.id)
    out.endProgress()
    if (final.state === 'done') return final.result
    if (final.state === 'cancelled') throw new EngineError('cancelled', `${final.title} was cancelled.`, { hint: final.logFile ? `The log is at ${final.logFile}.` : '' })
    throw new EngineError((final.error?.code as EngineError['code']) ?? 'internal', final.error?.message ?? `${final.title} failed.`, {
      hint: [final.error?.hint, final.logFile ? `The log is at ${final.logFile}.` : ''].filter(Boolean).join(' '),
    })
  } finally {
    off()
    process.off('SIGINT', onSigint)
  }
}

const COMMANDS: Command[] = [
  {
    name: 'project create',
    summary: 'Create a project folder with a new vernacular.json',
    usage: 'vernacular project create DIR --name NAME --language CODE [--json]',
    args: 'DIR',
    options: { ...JSON_OPT, name: { type: 'string', short: 'n' }, language: { type: 'string', short: 'l' } },
    async run({ engine, out, positionals, values }) {
      const [dir] = positionals
      if (!dir || values.name === undefined || values.language === undefined) throw usage(this, 'DIR, --name and --language are required.')
      const summary = await engine.invoke('project.create', { dir, name: values.name, language: values.language })
      out.result(summary, () => `Created project "${summary.manifest.name}" in ${summary.dir}\n\n${describeProject(summary)}`)
    },
  },
  {
    name: 'project show',
    summary: "Print a project's manifest",
    usage: 'vernacular project show DIR [--json]',
    args: 'DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'DIR is required.')
      const summary = await engine.invoke('project.open', { dir })
      out.result(summary.manifest, () => describeProject(summary))
    },
  },
  {
    name: 'project rename',
    summary: 'Give a project a new name',
    usage: 'vernacular project rename DIR --name NAME [--json]',
    args: 'DIR',
    options: { ...JSON_OPT, name: { type: 'string', short: 'n' } },
    async run({ engine, out, positionals, values }) {
      const [dir] = positionals
      if (!dir || values.name === undefined) throw usage(this, 'DIR and --name are required.')
      const summary = await engine.invoke('project.rename', { dir, name: values.name })
      out.result(summary.manifest, () => `Renamed to "${summary.manifest.name}".`)
    },
  },
  {
    name: 'project list',
    summary: 'List recently opened projects',
    usage: 'vernacular project list [--json]',
    options: { ...JSON_OPT },
    async run({ engine, out }) {
      const recent: RecentProject[] = await engine.invoke('project.recent', {})
      out.result(recent, () =>
        recent.length
          ? recent.map((p) => `${p.status === 'ok' ? ' ' : '!'} ${p.name.padEnd(28)} ${p.language.padEnd(6)} ${p.dir}${p.problem ? `\n    ${p.problem}` : ''}`).join('\n')
          : 'No recent projects. Create one with `vernacular project create DIR --name NAME --language CODE`.',
      )
    },
  },
  {
    name: 'corpus add',
    summary: 'Ingest text files or folders (.txt, .jsonl, .csv, .tsv, optionally .gz) into a project',
    usage: 'vernacular corpus add PROJECT --role target|english PATH... [--txt-mode auto|line|blank] [--field F] [--column C] [--replace-invalid] [--min-chars N] [--script-threshold X] [--heldout F] [--min-heldout N] [--json]',
    args: 'PROJECT PATH...',
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
    async run({ engine, out, positionals, values }) {
      const [dir, ...paths] = positionals
      if (!dir || paths.length === 0 || values.role === undefined) throw usage(this, 'PROJECT, --role and at least one PATH are required.')
      const numberOption = (name: string): number | undefined => {
        const v = values[name]
        if (v === undefined) return undefined
        const n = Number(v)
        if (!Number.isFinite(n)) throw usage(this, `--${name} must be a number, not "${String(v)}".`)
        return n
      }
      const options = Object.fromEntries(
        Object.entries({
          txtMode: values['txt-mode'],
          jsonlField: values.field,
          csvColumn: values.column,
          invalidUtf8: values['replace-invalid'] ? 'replace' : undefined,
          minChars: numberOption('min-chars'),
          scriptThreshold: numberOption('script-threshold'),
          heldoutFraction: numberOption('heldout'),
          minHeldout: numberOption('min-heldout'),
        }).filter(([, v]) => v !== undefined),
      )
      const { job } = await engine.invoke('corpus.add', { dir, role: values.role, paths, options })
      const stats = (await followJob(engine, out, job)) as RoleStats
      out.result(stats, () => describeRole(stats))
    },
  },
  {
    name: 'corpus stats',
    summary: "Profile a project's corpora: documents, words, scripts, removals",
    usage: 'vernacular corpus stats PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'PROJECT is required.')
      const stats = await engine.invoke('corpus.stats', { dir })
      out.result(stats, () => (stats.roles.length ? stats.roles.map(describeRole).join('\n\n') : 'No text yet. Add some with `vernacular corpus add`.'))
    },
  },
  {
    name: 'corpus sample',
    summary: 'Show random documents of a corpus split',
    usage: 'vernacular corpus sample PROJECT --role target|english [--split train|heldout] [-n 5] [--seed S] [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, role: { type: 'string', short: 'r' }, split: { type: 'string' }, number: { type: 'string', short: 'n' }, seed: { type: 'string' } },
    async run({ engine, out, positionals, values }) {
      const [dir] = positionals
      if (!dir || values.role === undefined) throw usage(this, 'PROJECT and --role are required.')
      const n = values.number === undefined ? 5 : Number(values.number)
      const seed = values.seed === undefined ? undefined : Number(values.seed)
      const { documents } = await engine.invoke('corpus.sample', { dir, role: values.role, split: values.split ?? 'heldout', n, ...(seed === undefined ? {} : { seed }) })
      out.result({ documents }, () => documents.map((d) => `── ${d.source}:${d.line}\n${d.text}`).join('\n\n'))
    },
  },
  {
    name: 'tokenizer info',
    summary: 'What a tokenizer.json is: family, vocabulary, merges, special tokens',
    usage: 'vernacular tokenizer info T.json [--json]',
    args: 'T.json',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [tokenizer] = positionals
      if (!tokenizer) throw usage(this, 'T.json is required.')
      const info = await engine.invoke('tokenizer.info', { tokenizer })
      out.result(info, () =>
        [
          `${info.family}${info.byteFallback ? ' with byte fallback' : ''}`,
          `vocabulary     ${num(info.vocabSize)} ids (${num(info.modelVocab)} in the BPE model)`,
          `merges         ${num(info.merges)}`,
          `special tokens ${info.specialTokens.map((t) => `${t.content} (${t.id})`).join(', ') || 'none'}`,
        ].join('\n'),
      )
    },
  },
  {
    name: 'tokenizer encode',
    summary: 'Token ids of each line of a text file',
    usage: 'vernacular tokenizer encode --tokenizer T.json --text F [--special] [--json]',
    options: { ...JSON_OPT, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, special: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const tokenizer = stringOption(this, values, 'tokenizer')
      const text = stringOption(this, values, 'text')
      const r = await engine.invoke('tokenizer.encode', { tokenizer, text, addSpecialTokens: values.special === true })
      out.result(r, () => r.ids.map((ids) => ids.join(' ')).join('\n'))
    },
  },
  {
    name: 'tokenizer fertility',
    summary: 'Tokens per word, characters and bytes per token, and the share of split words on a text',
    usage: 'vernacular tokenizer fertility --tokenizer T.json --text F [--lang hu] [--json]',
    options: { ...JSON_OPT, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, lang: { type: 'string', short: 'l' } },
    async run({ engine, out, values }) {
      const tokenizer = stringOption(this, values, 'tokenizer')
      const text = stringOption(this, values, 'text')
      const lang = typeof values.lang === 'string' ? values.lang : 'und'
      const f = await engine.invoke('tokenizer.fertility', { tokenizer, text, lang })
      out.result(f, () => describeFertility(f))
    },
  },
  {
    name: 'tokenizer extend',
    summary: 'Learn target-language tokens by continued BPE and add them, or let them replace rare base tokens',
    usage: 'vernacular tokenizer extend --base T.json --corpus F... --mode add|replace --count N [--reference F...] [--min-count 2] --out DIR [--json]',
    options: {
      ...JSON_OPT,
      base: { type: 'string', short: 'b' },
      corpus: { type: 'string', multiple: true },
      mode: { type: 'string', short: 'm' },
      count: { type: 'string', short: 'n' },
      reference: { type: 'string', multiple: true },
      'min-count': { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    async run({ engine, out, values }) {
      const base = stringOption(this, values, 'base')
      const corpus = listOption(this, values, 'corpus')
      const mode = stringOption(this, values, 'mode')
      if (mode !== 'add' && mode !== 'replace') throw usage(this, `--mode must be add or replace, not "${mode}".`)
      const count = intOption(this, values, 'count')
      const outDir = stringOption(this, values, 'out')
      const reference = values.reference === undefined ? undefined : listOption(this, values, 'reference')
      const minCount = values['min-count'] === undefined ? undefined : intOption(this, values, 'min-count')
      const { job } = await engine.invoke('tokenizer.extend', { base, corpus, mode, count, out: outDir, ...(reference ? { reference } : {}), ...(minCount !== undefined ? { minCount } : {}) })
      const r = (await followJob(engine, out, job)) as ExtendSummary
      out.result(r, () => describeExtend(r))
    },
  },
  {
    name: 'tokenizer sweep',
    summary: 'Fertility on held-out target and English text for several numbers of new tokens, from one learning run',
    usage: 'vernacular tokenizer sweep --base T.json --corpus F... --heldout-target F [--heldout-english F] --counts 0,1000,5000 [--lang hu] [--min-count 2] [--json]',
    options: {
      ...JSON_OPT,
      base: { type: 'string', short: 'b' },
      corpus: { type: 'string', multiple: true },
      'heldout-target': { type: 'string' },
      'heldout-english': { type: 'string' },
      counts: { type: 'string' },
      lang: { type: 'string', short: 'l' },
      'min-count': { type: 'string' },
    },
    async run({ engine, out, values }) {
      const base = stringOption(this, values, 'base')
      const corpus = listOption(this, values, 'corpus')
      const heldoutTarget = stringOption(this, values, 'heldout-target')
      const heldoutEnglish = typeof values['heldout-english'] === 'string' ? values['heldout-english'] : undefined
      const counts = countList(this, stringOption(this, values, 'counts'))
      const lang = typeof values.lang === 'string' ? values.lang : 'und'
      const minCount = values['min-count'] === undefined ? undefined : intOption(this, values, 'min-count')
      const { job } = await engine.invoke('tokenizer.sweep', { base, corpus, heldoutTarget, counts, lang, ...(heldoutEnglish ? { heldoutEnglish } : {}), ...(minCount !== undefined ? { minCount } : {}) })
      const r = (await followJob(engine, out, job)) as SweepResult
      out.result(r, () => describeSweep(r))
    },
  },
  {
    name: 'vocab status',
    summary: "A project's base tokenizer, last sweep and extended tokenizers",
    usage: 'vernacular vocab status PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'PROJECT is required.')
      const s = await engine.invoke('vocab.status', { dir })
      out.result(s, () =>
        [
          s.base ? `Base tokenizer: ${s.base.family}, ${num(s.base.vocabSize)} ids (${s.base.path})` : `No base tokenizer${s.baseProblem ? `: ${s.baseProblem}` : ' yet; set one with `vernacular vocab set-base`.'}`,
          `Plan: ${s.plan.mode} ${num(s.plan.count)}`,
          s.sweep ? `\nLast sweep:\n${describeSweep(s.sweep)}` : 'No sweep yet.',
          s.outputs.length ? `\nExtended tokenizers:\n${s.outputs.map((o) => `  ${o.mode} ${num(o.count)}: ${num(o.vocabSize)} ids, ${o.out}`).join('\n')}` : 'No extended tokenizer yet.',
        ].join('\n'),
      )
    },
  },
  {
    name: 'vocab set-base',
    summary: "Copy a tokenizer.json into a project as its base tokenizer",
    usage: 'vernacular vocab set-base PROJECT T.json [--json]',
    args: 'PROJECT T.json',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir, tokenizer] = positionals
      if (!dir || !tokenizer) throw usage(this, 'PROJECT and T.json are required.')
      const s = await engine.invoke('vocab.setBase', { dir, path: tokenizer })
      out.result(s, () => `Base tokenizer set: ${s.base?.family}, ${num(s.base?.vocabSize ?? 0)} ids.`)
    },
  },
  {
    name: 'vocab sweep',
    summary: "Fertility per number of new tokens on a project's corpora (kept for the app's chart and preview)",
    usage: 'vernacular vocab sweep PROJECT --counts 0,1000,5000 [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, counts: { type: 'string' } },
    async run({ engine, out, positionals, values }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'PROJECT is required.')
      const counts = countList(this, stringOption(this, values, 'counts'))
      const { job } = await engine.invoke('vocab.sweep', { dir, counts })
      const r = (await followJob(engine, out, job)) as SweepResult
      out.result(r, () => describeSweep(r))
    },
  },
  {
    name: 'vocab extend',
    summary: "Write an extended tokenizer from a project's corpora (tokenizer/<mode>-<count>/)",
    usage: 'vernacular vocab extend PROJECT --mode add|replace --count N [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, mode: { type: 'string', short: 'm' }, count: { type: 'string', short: 'n' } },
    async run({ engine, out, positionals, values }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'PROJECT is required.')
      const mode = stringOption(this, values, 'mode')
      if (mode !== 'add' && mode !== 'replace') throw usage(this, `--mode must be add or replace, not "${mode}".`)
      const { job } = await engine.invoke('vocab.extend', { dir, mode, count: intOption(this, values, 'count') })
      const r = (await followJob(engine, out, job)) as ExtendSummary
      out.result(r, () => describeExtend(r))
    },
  },
  {
    name: 'model info',
    summary: 'Describe a Hugging Face model folder: architecture, parameters, vocabulary, layers, dims, dtype',
    usage: 'vernacular model info DIR [--json]',
    args: 'DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [model] = positionals
      if (!model) throw usage(this, 'DIR is required.')
      const info = await engine.invoke('model.info', { model })
      out.result(info, () => describeModel(info))
    },
  },
  {
    name: 'model logits',
    summary: 'The logits a model gives for a sequence of token ids, one row per position',
    usage: 'vernacular model logits --model DIR --ids 1,2,3 [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, ids: { type: 'string' } },
    async run({ engine, out, values }) {
      const model = stringOption(this, values, 'model')
      const text = stringOption(this, values, 'ids')
      const ids = text.split(',').map((x) => x.trim()).filter(Boolean).map(Number)
      if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) throw usage(this, `--ids must be a comma-separated list of token ids, not "${text}".`)
      const r = await engine.invoke('model.logits', { model, ids })
      out.result(r, () =>
        r.logits
          .map((row, t) => {
            const top = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5)
            return `position ${t} (id ${ids[t]}): top ${top.map(([v, i]) => `${i} ${v.toFixed(3)}`).join(', ')}`
          })
          .join('\n'),
      )
    },
  },
  {
    name: 'model score',
    summary: 'Summed next-token NLL and bits per byte of a text, each line scored on its own',
    usage: 'vernacular model score --model DIR --tokenizer T.json --text F [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' } },
    async run({ engine, out, values }) {
      const { job } = await engine.invoke('model.score', { model: stringOption(this, values, 'model'), tokenizer: stringOption(this, values, 'tokenizer'), text: stringOption(this, values, 'text') })
      const r = (await followJob(engine, out, job)) as ScoreResult
      out.result(r, () =>
        [
          `bits per byte      ${r.bitsPerByte.toFixed(4)}`,
          `nll                ${r.nll.toFixed(3)} nats (${r.nllPerToken.toFixed(4)} per token)`,
          `tokens             ${r.tokens}`,
          `bytes              ${r.bytes}`,
          `lines              ${r.lines}`,
          r.bos ? `each line after    ${r.bos}` : `no BOS: the first token of each of the ${r.unscoredFirstTokens} lines is not scored`,
        ].join('\n'),
      )
    },
  },
  {
    name: 'model resize',
    summary: 'Give a model embedding rows for an extended tokenizer (from its vocab-changes.json)',
    usage: 'vernacular model resize --model DIR --changes vocab-changes.json --init mean|random --out DIR [--seed S] [--pad-multiple 64] [--json]',
    options: {
      ...JSON_OPT,
      model: { type: 'string', short: 'm' },
      changes: { type: 'string', short: 'c' },
      init: { type: 'string' },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      'pad-multiple': { type: 'string' },
    },
    async run({ engine, out, values }) {
      const init = typeof values.init === 'string' ? values.init : 'mean'
      if (init !== 'mean' && init !== 'random') throw usage(this, `--init must be mean or random, not "${init}".`)
      const { job } = await engine.invoke('model.resize', {
        model: stringOption(this, values, 'model'),
        changes: stringOption(this, values, 'changes'),
        init,
        out: stringOption(this, values, 'out'),
        ...(values.seed !== undefined ? { seed: intOption(this, values, 'seed') } : {}),
        ...(values['pad-multiple'] !== undefined ? { padMultiple: intOption(this, values, 'pad-multiple') } : {}),
      })
      const r = (await followJob(engine, out, job)) as ResizeSummary
      out.result(r, () => describeResize(r))
    },
  },
  {
    name: 'model estimate',
    summary: 'Memory a training step of a model takes: weights, gradients, optimiser state, activations',
    usage: 'vernacular model estimate --model DIR --batch B --seq-len T [--optimizer adamw|sgd] [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, batch: { type: 'string' }, 'seq-len': { type: 'string' }, optimizer: { type: 'string' } },
    async run({ engine, out, values }) {
      const optimizer = typeof values.optimizer === 'string' ? values.optimizer : 'adamw'
      if (optimizer !== 'adamw' && optimizer !== 'sgd') throw usage(this, `--optimizer must be adamw or sgd, not "${optimizer}".`)
      const r = await engine.invoke('model.estimate', { model: stringOption(this, values, 'model'), batch: intOption(this, values, 'batch'), seqLen: intOption(this, values, 'seq-len'), optimizer })
      out.result(r, () => describeEstimate(r))
    },
  },
  {
    name: 'model set-base',
    summary: "Record a Hugging Face model folder as a project's base model",
    usage: 'vernacular model set-base PROJECT DIR [--json]',
    args: 'PROJECT DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir, model] = positionals
      if (!dir || !model) throw usage(this, 'PROJECT and DIR are required.')
      const s = await engine.invoke('baseModel.set', { dir, path: model })
      out.result(s, () => describeBaseModel(s))
    },
  },
  {
    name: 'model status',
    summary: "A project's base model, whether training it fits this machine, and its resized models",
    usage: 'vernacular model status PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals }) {
      const [dir] = positionals
      if (!dir) throw usage(this, 'PROJECT is required.')
      const s = await engine.invoke('baseModel.status', { dir })
      out.result(s, () => describeBaseModel(s))
    },
  },
  {
    name: 'doctor',
    summary: 'Check the machine: Node, tensor backend and why, CPU, GPU, memory',
    usage: 'vernacular doctor [--bench] [--json]',
    options: { ...JSON_OPT, bench: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const report = await engine.invoke('system.doctor', {})
      let bench: BenchmarkResult | undefined
      if (values.bench) {
        const { job } = await engine.invoke('system.benchmark', { size: 512, repeats: 20 })
        bench = (await followJob(engine, out, job)) as BenchmarkResult
      }
      out.result(bench ? { ...report, benchmark: bench } : report, () =>
        describeDoctor(report) + (bench ? `\n  matMul     ${bench.gflops.toFixed(1)} GFLOP/s (${bench.size}×${bench.size} float32 on ${bench.backend}, ${formatDuration(bench.seconds)})` : ''),
      )
    },
  },
  {
    name: 'serve',
    summary: 'Run the web UI on 127.0.0.1 behind a session token',
    usage: 'vernacular serve [--port N (default 8470; 0: any free port)] [--demo] [--json]',
    options: { ...JSON_OPT, port: { type: 'string', short: 'p' }, demo: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const port = values.port === undefined ? DEFAULT_PORT : Number(values.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(this, `--port must be a number from 0 to 65535 (0: any free port), not "${String(values.port)}".`)
      const staticDir = join(__dirname, '..', 'renderer')
      const server = await startServer({ engine, staticDir, port }).catch((e: NodeJS.ErrnoException) => {
        // The default port is a convenience (stable SSH tunnels); if it is taken, any free port will do.
        if (e.code === 'EADDRINUSE' && values.port === undefined) return startServer({ engine, staticDir, port: 0 })
        if (e.code === 'EADDRINUSE') throw new EngineError('unavailable', `Port ${port} on 127.0.0.1 is already in use.`, { hint: 'Choose another with --port, or --port 0 for any free port.' })
        throw e
      })
      let url = server.openUrl
      if (values.demo) {
        const demo = await engine.invoke('project.openDemo', {})
        url += `#/project?dir=${encodeURIComponent(demo.dir)}`
      }
      if (out.json) process.stdout.write(JSON.stringify({ url, port: server.port, token: server.token }) + '\n')
      else process.stdout.write(`Vernacular ${VERNACULAR_VERSION} web mode (loopback only). Open:\n\n  ${url}\n\nPress Ctrl-C to stop.\n`)
      await new Promise<void>((resolve) => {
        const stop = () => resolve()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
      out.info('Stopping…')
      await server.close()
    },
  },
]

function stringOption(cmd: Command, values: Record<string, unknown>, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v === '') throw usage(cmd, `--${name} is required.`)
  return v
}

function listOption(cmd: Command, values: Record<string, unknown>, name: string): string[] {
  const v = values[name]
  const list = Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []
  if (list.length === 0) throw usage(cmd, `--${name} needs at least one file.`)
  return list
}

/** `0,1000,5k` → [0, 1000, 5000]. */
function countList(cmd: Command, text: string): number[] {
  return text
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      const n = Number(c.replace(/k$/i, '000'))
      if (!Number.isInteger(n) || n < 0) throw usage(cmd, `--counts must be a comma-separated list of whole numbers, not "${text}".`)
      return n
    })
}

function intOption(cmd: Command, values: Record<string, unknown>, name: string): number {
  const v = stringOption(cmd, values, name)
  const n = Number(v.replace(/k$/i, '000'))
  if (!Number.isInteger(n) || n < 0) throw usage(cmd, `--${name} must be a whole number, not "${v}".`)
  return n
}

function describeFertility(f: Fertility): string {
  return [
    `lines              ${f.lines}`,
    `words              ${f.words}`,
    `tokens             ${f.tokens}`,
    `tokens per word    ${f.tokensPerWord.toFixed(3)}`,
    `chars per token    ${f.charsPerToken.toFixed(3)}`,
    `bytes per token    ${f.bytesPerToken.toFixed(3)}`,
    `words split        ${(100 * f.continuedWordShare).toFixed(1)}%`,
    `tokens per line    ${f.tokensPerLine.toFixed(2)}`,
  ].join('\n')
}

function describeExtend(r: ExtendSummary): string {
  return [
    `${r.mode === 'add' ? 'Added' : 'Replaced'} ${r.count} tokens (${r.family}); vocabulary ${r.baseVocabSize} → ${r.vocabSize}.`,
    r.addedChars ? `${r.addedChars} of them are characters the base could only spell as bytes.` : '',
    r.removed ? `${r.removed} rarely used base tokens were freed for them.` : '',
    `${(100 * r.reachableShare).toFixed(1)}% of the new tokens are used on the training text (${formatBytes(r.corpus.bytes)}, ${r.corpus.distinctWords} distinct words).`,
    `Learned in ${formatDuration(r.seconds.learn)} (${formatDuration(r.seconds.total)} in all).`,
    `Wrote ${r.tokenizerFile}`,
    `  and ${r.changesFile}`,
    ...r.warnings.map((w) => `Warning: ${w}`),
  ]
    .filter(Boolean)
    .join('\n')
}

function describeSweep(r: SweepResult): string {
  const pct = (a: number, b: number) => (b > 0 ? `${a >= b ? '+' : ''}${((100 * (a - b)) / b).toFixed(1)}%` : '')
  const first = r.points[0]
  const rows = r.points.map((p) =>
    [
      String(p.count).padStart(7),
      String(p.vocabSize).padStart(8),
      p.target.tokensPerWord.toFixed(3).padStart(9),
      (first ? pct(p.target.tokensPerWord, first.target.tokensPerWord) : '').padStart(8),
      p.target.bytesPerToken.toFixed(2).padStart(9),
      (100 * p.target.continuedWordShare).toFixed(1).padStart(7) + '%',
      (p.english ? p.english.tokensPerWord.toFixed(4) : '–').padStart(10),
      (p.english && first?.english ? pct(p.english.tokensPerWord, first.english.tokensPerWord) : '').padStart(8),
    ].join(' '),
  )
  return [
    `  added    vocab  tok/word  change  bytes/tok   split  en tok/word  change`,
    ...rows,
    '',
    `${r.learned} tokens learned on ${formatBytes(r.corpus.bytes)} (${r.corpus.distinctWords} distinct words) in ${formatDuration(r.seconds.learn)}.`,
    r.skipped.length ? `Not reached: ${r.skipped.join(', ')} (${r.exhausted ?? 'the corpus is too small'}).` : '',
  ]
    .filter(Boolean)
    .join('\n')
}

function describeModel(m: ModelInfo): string {
  return [
    `${m.architecture} (${m.modelType}), ${formatCount(m.parameters)} parameters, stored as ${m.dtype} (${formatBytes(m.weightBytes)})`,
    `vocabulary         ${m.vocabulary}`,
    `layers             ${m.layers}`,
    `hidden size        ${m.dims.hidden} (MLP ${m.dims.intermediate})`,
    `attention heads    ${m.dims.heads}${m.dims.kvHeads !== m.dims.heads ? ` (${m.dims.kvHeads} key/value heads)` : ''}, ${m.dims.headDim} wide`,
    `context            ${m.maxPositions} positions`,
    `output head        ${m.tied ? 'tied to the input embeddings' : 'its own matrix'}`,
    m.tokenizer ? `tokenizer          ${m.tokenizer.family}, ${m.tokenizer.vocabSize} ids` : `tokenizer          ${m.tokenizerProblem ? `unusable: ${m.tokenizerProblem}` : 'none in the folder'}`,
  ].join('\n')
}

function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n)
}

function describeEstimate(e: MemoryEstimateResult): string {
  return [
    `weights            ${formatBytes(e.weights)}`,
    `gradients          ${formatBytes(e.gradients)}`,
    `optimiser state    ${formatBytes(e.optimizer)}`,
    `activations        ${formatBytes(e.activations)}`,
    `total              ${formatBytes(e.total)}`,
  ].join('\n')
}

function describeResize(r: ResizeSummary): string {
  return [
    `Resized (${r.mode}, ${r.init} initialisation): ${r.rowsBefore} → ${r.rowsAfter} embedding rows; ${r.appended} appended, ${r.overwritten} overwritten${r.padding ? `, ${r.padding.to - r.padding.from} padding rows` : ''}.`,
    `Changed: ${r.matrices.join(', ')}; everything else is copied byte for byte.`,
    `Wrote ${r.out} in ${formatDuration(r.seconds)}.`,
  ].join('\n')
}

function describeBaseModel(s: BaseModelStatus): string {
  if (!s.path) return 'No base model yet; set one with `vernacular model set-base PROJECT DIR`.'
  if (!s.info) return `Base model ${s.path} cannot be used: ${s.problem ?? 'unknown problem'}`
  const tokenizer = { same: 'the same as the project\'s base tokenizer', different: 'DIFFERENT from the project\'s base tokenizer', 'model-has-none': 'missing from the model folder', 'project-has-none': 'not yet the project\'s base tokenizer' }
  return [
    describeModel(s.info),
    `its tokenizer is   ${s.tokenizer ? tokenizer[s.tokenizer] : '–'}`,
    '',
    `Training at batch ${s.training.batch} × ${Math.min(s.training.seqLen, s.info.maxPositions)} tokens${s.training.seqLen > s.info.maxPositions ? ` (the project's ${s.training.seqLen} cut to the model's context)` : ''} with AdamW needs about ${s.estimate ? formatBytes(s.estimate.total) : '?'}; ${s.device.name} has ${s.device.memoryBytes === null ? 'unknown memory' : formatBytes(s.device.memoryBytes)}${s.fits === null ? '.' : s.fits ? ': it fits.' : ': it does NOT fit.'}`,
    s.resized.length ? `\nResized models:\n${s.resized.map((r) => `  ${r.mode} ${r.init}: ${r.rowsAfter} rows, ${r.out}`).join('\n')}` : '',
  ]
    .filter((l) => l !== undefined)
    .join('\n')
}

function usage(cmd: Command | null, message: string): EngineError {
  return new EngineError('invalid-request', message, { hint: cmd ? `Usage: ${cmd.usage}` : 'Run `vernacular --help` for the commands.' })
}

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    `Vernacular ${VERNACULAR_VERSION}: adapt a pretrained language model to a new language.`,
    '',
    'Usage: vernacular <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options for every command:',
    '  --json, -j   machine output: the result as one JSON document on stdout, progress as JSON lines on stderr',
    '  --help, -h   help for the command',
    '',
    'Environment: VERNACULAR_BACKEND=auto|node-gpu|node|wasm|cpu picks the tensor backend; VERNACULAR_HOME moves the settings folder.',
  ].join('\n')
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([k, o]) => `  --${k}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' VALUE' : ''}`)
  return [`${c.summary}.`, '', `Usage: ${c.usage}`, '', 'Options:', ...opts, '  --help, -h'].join('\n')
}

/** Finds the command named by the leading words of argv (`project create …`). */
function findCommand(argv: string[]): { cmd: Command; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ')
    const cmd = COMMANDS.find((c) => c.name === name)
    if (cmd) return { cmd, rest: argv.slice(words) }
  }
  return null
}

/** `--corpus a b c` → `--corpus a --corpus b --corpus c` for options that take several values. */
function expandLists(args: string[], options: Options): string[] {
  const out: string[] = []
  let list: string | null = null
  for (const a of args) {
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '').split('=')[0]!
      list = options[name]?.multiple && !a.includes('=') ? a : null
      out.push(a)
      continue
    }
    if (list !== null && out[out.length - 1] !== list) out.push(list)
    out.push(a)
  }
  return out
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const wantsJson = argv.includes('--json') || argv.includes('-j')
  const out = createOutput({ json: wantsJson })
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(globalHelp() + '\n')
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    process.stdout.write(VERNACULAR_VERSION + '\n')
    return 0
  }
  const found = findCommand(argv)
  if (!found) {
    const group = COMMANDS.filter((c) => c.name.startsWith(argv[0] + ' '))
    out.error(
      toErrorInfo(
        group.length
          ? usage(null, `"${argv.slice(0, 2).join(' ')}" is not a command. ${argv[0]} has: ${group.map((c) => c.name.split(' ')[1]).join(', ')}.`)
          : usage(null, `Unknown command "${argv[0]}".`),
      ),
    )
    return 2
  }
  const { cmd, rest } = found
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(cmd) + '\n')
    return 0
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: expandLists(rest, cmd.options), options: cmd.options, allowPositionals: true, strict: true })
  } catch (e) {
    out.error(toErrorInfo(usage(cmd, (e as Error).message)))
    return 2
  }
  const engine = new Engine({ mode: 'cli', cwd: process.cwd() })
  try {
    await cmd.run({ engine, out, positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | string[] | undefined> })
    return 0
  } catch (e) {
    const info = toErrorInfo(e)
    // Engine validation errors speak of API fields; on the command line, show the usage instead.
    if (info.code === 'invalid-request' && !info.hint?.startsWith('Usage:')) info.hint = `Usage: ${cmd.usage}`
    out.error(info)
    return info.code === 'invalid-request' ? 2 : info.code === 'cancelled' ? 130 : 1
  } finally {
    await engine.close()
  }
}

// Run when executed as the `vernacular` bin (not when imported by tests or by serve.ts).
if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
