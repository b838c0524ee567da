/** `vernacular tokenizer …` on files and `vernacular vocab …` on a project: fertility, extension, sweeps. */
import type { ExtendSummary, Fertility, SweepResult } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, listOption, num, numberList, numberOption, positionals, stringOption, type Command } from '../args'
import { formatBytes, formatDuration } from '../output'

/** The memory budget of word counting (docs/performance.md, "Tokenizer learning"). */
const BUDGET_OPT = {
  /** distinct words kept while counting (default 1,000,000) */
  'max-words': { type: 'string' },
  /** MiB of text counted at most; a larger corpus is counted on a seeded sample (default 256; 0 = all) */
  'sample-mb': { type: 'string' },
} as const

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

export const tokenizerCommands: Command[] = [
  {
    name: 'tokenizer info',
    summary: 'What a tokenizer.json is: family, vocabulary, merges, special tokens',
    usage: 'vernacular tokenizer info T.json [--json]',
    args: 'T.json',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [tokenizer] = positionals(this, given, ['T.json'])
      const info = await call(this, engine, 'tokenizer.info', { tokenizer })
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
      const r = await call(this, engine, 'tokenizer.encode', { tokenizer: stringOption(values, 'tokenizer'), text: stringOption(values, 'text'), addSpecialTokens: values.special === true })
      out.result(r, () => r.ids.map((ids) => ids.join(' ')).join('\n'))
    },
  },
  {
    name: 'tokenizer fertility',
    summary: 'Tokens per word, characters and bytes per token, and the share of split words on a text',
    usage: 'vernacular tokenizer fertility --tokenizer T.json --text F [--lang hu] [--json]',
    options: { ...JSON_OPT, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, lang: { type: 'string', short: 'l' } },
    async run({ engine, out, values }) {
      const f = await call(this, engine, 'tokenizer.fertility', defined({ tokenizer: stringOption(values, 'tokenizer'), text: stringOption(values, 'text'), lang: stringOption(values, 'lang') }))
      out.result(f, () => describeFertility(f))
    },
  },
  {
    name: 'tokenizer extend',
    summary: 'Learn target-language tokens by continued BPE and add them, or let them replace rare base tokens',
    usage: 'vernacular tokenizer extend --base T.json --corpus F... --mode add|replace --count N [--reference F...] [--min-count 2] [--max-words 1000000] [--sample-mb 256] --out DIR [--json]',
    options: {
      ...JSON_OPT,
      base: { type: 'string', short: 'b' },
      corpus: { type: 'string', multiple: true },
      mode: { type: 'string', short: 'm' },
      count: { type: 'string', short: 'n' },
      reference: { type: 'string', multiple: true },
      'min-count': { type: 'string' },
      ...BUDGET_OPT,
      out: { type: 'string', short: 'o' },
    },
    async run({ engine, out, values }) {
      const params = defined({
        base: stringOption(values, 'base'),
        corpus: listOption(values, 'corpus'),
        mode: stringOption(values, 'mode'),
        count: numberOption(this, values, 'count'),
        out: stringOption(values, 'out'),
        reference: listOption(values, 'reference'),
        minCount: numberOption(this, values, 'min-count'),
        maxWords: numberOption(this, values, 'max-words'),
        sampleMb: numberOption(this, values, 'sample-mb'),
      })
      const { job } = await call(this, engine, 'tokenizer.extend', params)
      const r = await followJob(engine, out, job)
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
      const counts = stringOption(values, 'counts')
      const params = defined({
        base: stringOption(values, 'base'),
        corpus: listOption(values, 'corpus'),
        heldoutTarget: stringOption(values, 'heldout-target'),
        heldoutEnglish: stringOption(values, 'heldout-english'),
        counts: counts === undefined ? undefined : numberList(this, '--counts', counts),
        lang: stringOption(values, 'lang'),
        minCount: numberOption(this, values, 'min-count'),
      })
      const { job } = await call(this, engine, 'tokenizer.sweep', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeSweep(r))
    },
  },
  {
    name: 'vocab status',
    summary: "A project's base tokenizer, last sweep and extended tokenizers",
    usage: 'vernacular vocab status PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const s = await call(this, engine, 'vocab.status', { dir })
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
    summary: 'Copy a tokenizer.json into a project as its base tokenizer',
    usage: 'vernacular vocab set-base PROJECT T.json [--json]',
    args: 'PROJECT T.json',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir, path] = positionals(this, given, ['PROJECT', 'T.json'])
      const s = await call(this, engine, 'vocab.setBase', { dir, path })
      out.result(s, () => `Base tokenizer set: ${s.base?.family}, ${num(s.base?.vocabSize ?? 0)} ids.`)
    },
  },
  {
    name: 'vocab sweep',
    summary: "Fertility per number of new tokens on a project's corpora (kept for the app's chart and preview)",
    usage: 'vernacular vocab sweep PROJECT --counts 0,1000,5000 [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, counts: { type: 'string' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const counts = stringOption(values, 'counts')
      const { job } = await call(this, engine, 'vocab.sweep', { dir, counts: counts === undefined ? undefined : numberList(this, '--counts', counts) })
      const r = await followJob(engine, out, job)
      out.result(r, () => describeSweep(r))
    },
  },
  {
    name: 'vocab extend',
    summary: "Write an extended tokenizer from a project's corpora (tokenizer/<mode>-<count>/)",
    usage: 'vernacular vocab extend PROJECT --mode add|replace --count N [--max-words 1000000] [--sample-mb 256] [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, mode: { type: 'string', short: 'm' }, count: { type: 'string', short: 'n' }, ...BUDGET_OPT },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const { job } = await call(
        this,
        engine,
        'vocab.extend',
        defined({ dir, mode: stringOption(values, 'mode'), count: numberOption(this, values, 'count'), maxWords: numberOption(this, values, 'max-words'), sampleMb: numberOption(this, values, 'sample-mb') }),
      )
      const r = await followJob(engine, out, job)
      out.result(r, () => describeExtend(r))
    },
  },
]
