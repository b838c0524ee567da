/** `vernacular eval …`: held-out bits per byte and multiple-choice accuracy, as lm-evaluation-harness defines them. */
import type { Comparison, Evaluation, HeldoutScore, MultipleChoiceResult, RunEvaluation } from '../../engine/contract'
import { languageName } from '../../engine/common/language'
import { relativeChanges } from '../../engine/evaluation/project'
import { JSON_OPT, call, defined, followJob, listOption, num, numberOption, positionals, stringOption, toNumber, usage, type Command } from '../args'

/** The lines `eval bpb` and `model score` print for a held-out score. */
export function describeHeldout(s: HeldoutScore): string[] {
  return [
    `bits per byte      ${s.bitsPerByte.toFixed(4)}`,
    `byte perplexity    ${s.bytePerplexity.toFixed(4)}`,
    `word perplexity    ${s.wordPerplexity === null ? '– (no words)' : s.wordPerplexity.toFixed(2)}`,
    `nll                ${s.nll.toFixed(3)} nats`,
    `documents          ${num(s.documents)}`,
    `bytes              ${num(s.bytes)}`,
    `words              ${num(s.words)}`,
    `tokens             ${num(s.tokens)}`,
  ]
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const stderr = (x: number | null) => (x === null ? '' : ` ± ${(100 * x).toFixed(1)}`)

function describeChoices(r: MultipleChoiceResult): string {
  return [`acc                ${pct(r.acc)}${stderr(r.accStderr)}`, `acc_norm           ${pct(r.accNorm)}${stderr(r.accNormStderr)}`, `items              ${num(r.n)}`].join('\n')
}

const signed = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`)

/** A table: the base and each checkpoint of each run, bits per byte per language with the change over the base, task accuracies. */
export function evaluationTable(runs: readonly RunEvaluation[], language: string, best?: { run: string; step: number } | null): string {
  const tasks = [...new Set(runs.flatMap((r) => [r.base, ...r.checkpoints].flatMap((e) => Object.keys(e.tasks))))].sort()
  const lang = languageName(language)
  const header = ['run', 'model', `${language} tokens`, 'en tokens', `${lang} bpb`, 'gain', 'English bpb', 'change', ...tasks.map((t) => `${t} acc`)]
  const bpb = (e: Evaluation, role: 'target' | 'english') => (e[role] ? e[role].bitsPerByte.toFixed(3) : '–')
  const acc = (e: Evaluation, t: string) => {
    const r = e.tasks[t]
    return r ? `${pct(r.acc)}${stderr(r.accStderr)}` : '–'
  }
  const rows: string[][] = []
  for (const r of runs) {
    rows.push([r.run, 'base', '–', '–', bpb(r.base, 'target'), '–', bpb(r.base, 'english'), '–', ...tasks.map((t) => acc(r.base, t))])
    for (const c of r.checkpoints) {
      const { targetGain, englishChange } = relativeChanges(r.base, c)
      const mark = best && best.run === r.run && best.step === c.step ? ' ★' : ''
      rows.push([r.run, `step ${c.step}${mark}`, num(c.tokensTarget), num(c.tokensEnglish), bpb(c, 'target'), signed(targetGain), bpb(c, 'english'), signed(englishChange), ...tasks.map((t) => acc(c, t))])
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** The line that says results are a quick check on part of the data (the project's evaluation limit). */
export function limitNote(limit: number | null): string[] {
  return limit === null ? [] : [`A quick check: only the first ${num(limit)} held-out documents per language and items per task were scored (\`vernacular eval limit PROJECT all\` scores everything).`]
}

function describeComparison(c: Comparison, language: string): string {
  const lines = [evaluationTable(c.runs, language, c.best), ...limitNote(c.limit), '']
  lines.push(c.best ? `Suggested: run ${c.best.run}, step ${c.best.step} (★): ${c.best.rule}.` : `No checkpoint meets the rule (${c.rule}); raise --max-english-change to see more.`)
  return lines.join('\n')
}

const PROJECT_ARGS = { args: 'PROJECT', names: { dir: 'PROJECT' } } as const

export const evaluationCommands: Command[] = [
  {
    name: 'eval bpb',
    summary: 'Held-out bits per byte, byte and word perplexity of a text, each line a document scored in rolling windows',
    usage: 'vernacular eval bpb --model DIR --tokenizer T.json --text F [--lang CODE] [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, lang: { type: 'string', short: 'l' } },
    async run({ engine, out, values }) {
      const params = defined({ model: stringOption(values, 'model'), tokenizer: stringOption(values, 'tokenizer'), text: stringOption(values, 'text'), lang: stringOption(values, 'lang') })
      const { job } = await call(this, engine, 'eval.bpb', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeHeldout(r).join('\n'))
    },
  },
  {
    name: 'eval mc',
    summary: 'Accuracy on a multiple-choice task (JSONL: context/choices/gold, Belebele rows, or the harness’s query/choices/gold)',
    usage: 'vernacular eval mc --model DIR --tokenizer T.json --task F.jsonl [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, task: { type: 'string' } },
    async run({ engine, out, values }) {
      const params = defined({ model: stringOption(values, 'model'), tokenizer: stringOption(values, 'tokenizer'), task: stringOption(values, 'task') })
      const { job } = await call(this, engine, 'eval.mc', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeChoices(r))
    },
  },
  {
    name: 'eval run',
    summary: "Evaluate the base model and a run's checkpoints: held-out bits per byte per language, the project's tasks, samples (cached)",
    usage: 'vernacular eval run PROJECT [--run NAME] [--checkpoint STEP|all|last] [--no-samples] [--json]',
    ...PROJECT_ARGS,
    options: { ...JSON_OPT, run: { type: 'string', short: 'r' }, checkpoint: { type: 'string' }, 'no-samples': { type: 'boolean' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const raw = stringOption(values, 'checkpoint')
      const checkpoint = raw === undefined || raw === 'all' || raw === 'last' ? raw : toNumber(this, '--checkpoint', raw)
      const { job } = await call(this, engine, 'eval.run', defined({ dir, run: stringOption(values, 'run'), checkpoint, samples: values['no-samples'] ? false : undefined }))
      const r = await followJob(engine, out, job)
      const { manifest } = await engine.invoke('project.open', { dir: dir! })
      out.result(r, () => [evaluationTable([r], manifest.language), ...limitNote(r.limit)].join('\n'))
    },
  },
  {
    name: 'eval limit',
    summary: "Score only the first N held-out documents per language and items per task (a quick check), or all of them",
    usage: 'vernacular eval limit PROJECT N|all [--json]',
    args: 'PROJECT N|all',
    names: { dir: 'PROJECT' },
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir, raw] = positionals(this, given, ['PROJECT', 'N|all'])
      const limit = raw === 'all' ? null : toNumber(this, 'N', raw!)
      const r = await call(this, engine, 'eval.setLimit', defined({ dir, limit }))
      out.result(r, () => (r.limit === null ? 'Evaluations score every held-out document and task item.' : `Evaluations score the first ${num(r.limit)} held-out documents per language and items per task (a quick check; results are kept apart from full ones).`))
    },
  },
  {
    name: 'eval compare',
    summary: 'Compare runs checkpoint by checkpoint (evaluating what is missing) and suggest the best by a stated rule',
    usage: 'vernacular eval compare PROJECT [--runs A,B] [--max-english-change 0.05] [--json | --csv OUT | --html OUT]',
    ...PROJECT_ARGS,
    options: { ...JSON_OPT, runs: { type: 'string' }, 'max-english-change': { type: 'string' }, csv: { type: 'string' }, html: { type: 'string' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const csv = stringOption(values, 'csv')
      const html = stringOption(values, 'html')
      if ([csv, html, values.json ? 'json' : undefined].filter(Boolean).length > 1) throw usage(this, 'Give one of --json, --csv OUT and --html OUT.')
      const params = defined({ dir, runs: listOption(values, 'runs'), maxEnglishChange: numberOption(this, values, 'max-english-change') })
      const { job } = await call(this, engine, 'eval.compare', params)
      const c = await followJob(engine, out, job)
      const { manifest } = await engine.invoke('project.open', { dir: dir! })
      const report = csv ?? html
      if (report) {
        const written = await call(this, engine, 'eval.report', defined({ ...params, format: csv ? ('csv' as const) : ('html' as const), out: report }))
        out.result(written, () => `${describeComparison(c, manifest.language)}\n\nWrote ${written.out}`)
        return
      }
      out.result(c, () => describeComparison(c, manifest.language))
    },
  },
  {
    name: 'eval tasks',
    summary: "A project's multiple-choice tasks (the JSONL files of its tasks/ folder), each checked",
    usage: 'vernacular eval tasks PROJECT [--json]',
    ...PROJECT_ARGS,
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const tasks = await call(this, engine, 'eval.tasks', defined({ dir }))
      out.result(tasks, () => (tasks.length ? tasks.map((t) => `${t.name.padEnd(20)} ${t.items === null ? `unreadable: ${t.error}` : `${num(t.items)} items`}`).join('\n') : 'No tasks: add one with `vernacular eval add-task`.'))
    },
  },
  {
    name: 'eval add-task',
    summary: "Check a multiple-choice task file (JSONL) and add it to a project's tasks, which eval run scores",
    usage: 'vernacular eval add-task PROJECT FILE [--name NAME] [--force] [--json]',
    args: 'PROJECT FILE',
    names: { dir: 'PROJECT', file: 'FILE' },
    options: { ...JSON_OPT, name: { type: 'string' }, force: { type: 'boolean' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir, file] = positionals(this, given, ['PROJECT', 'FILE'])
      const t = await call(this, engine, 'eval.addTask', defined({ dir, file, name: stringOption(values, 'name'), force: values.force ? true : undefined }))
      out.result(t, () => `Added the task ${t.name} (${num(t.items ?? 0)} items): ${t.file}`)
    },
  },
]
