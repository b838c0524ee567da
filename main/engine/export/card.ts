/**
 * The model card (README.md) of an exported folder, in the shape the Hugging Face hub reads: YAML
 * front matter (language, license, library_name, base_model, tags), then what the model is, the
 * base model and its licence, the recipe (tokenizer, embedding initialisation, replay, tokens seen,
 * steps, learning rate), the evaluation against the base, the limitations, how to load it, and the
 * Vernacular version that wrote it. Everything in it comes from `CardFacts`; nothing is measured here.
 */
import type { ExportEvaluation, ExportEvaluationEntry, RunSettings } from '../contract'
import type { FloatDtype } from '../model/dtype'
import { languageName } from '../common/language'

export interface CardFacts {
  projectName: string
  /** The target language (BCP-47). */
  language: string
  run: string
  step: number
  base: {
    /** A hub id (`owner/name`) when the base's config.json records one, else its folder name. */
    name: string
    /** Whether `name` is a hub id (then it goes into `base_model`). */
    hubId: boolean
    modelType: string
    /** The base's licence, as its README front matter or config.json says; null when neither does. */
    licence: string | null
  }
  model: { modelType: string; parameters: number; vocabRows: number; dtype: FloatDtype; tokenizerVocab: number }
  /** The vocabulary change the run's model was resized with (resize.json); null when the base tokenizer was kept. */
  vocabulary: {
    mode: 'add' | 'replace'
    count: number
    rowsBefore: number
    rowsAfter: number
    padding: { from: number; to: number } | null
    init: 'mean' | 'random'
    seed: number | null
  } | null
  settings: RunSettings | null
  /** Tokens trained on up to this checkpoint, per language; null when the run recorded none. */
  tokens: { target: number; english: number } | null
  evaluation: ExportEvaluation | null
  version: string
  createdAt: string
}

const num = (n: number) => n.toLocaleString('en')
const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`

/** A YAML scalar: plain when safe, else double-quoted JSON (which YAML reads). */
function yaml(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(s) ? s : JSON.stringify(s)
}

/** The primary language subtag, which the hub's `language` field takes (ISO 639-1 or 639-3). */
function hubLanguage(tag: string): string {
  return tag.split('-')[0]!.toLowerCase()
}

function frontMatter(f: CardFacts): string[] {
  const english = f.settings ? f.settings.englishShare > 0 : (f.tokens?.english ?? 0) > 0
  const languages = [...new Set([hubLanguage(f.language), ...(english ? ['en'] : [])])]
  return [
    '---',
    'language:',
    ...languages.map((l) => `- ${yaml(l)}`),
    f.base.licence ? `license: ${yaml(f.base.licence)}` : "license: other # not stated in the base model's folder: see the base model's licence",
    'library_name: transformers',
    ...(f.base.hubId ? [`base_model: ${yaml(f.base.name)}`] : []),
    'pipeline_tag: text-generation',
    'tags:',
    '- vernacular',
    '- continual-pretraining',
    '- language-adaptation',
    `- ${yaml(f.base.modelType)}`,
    '---',
  ]
}

function recipe(f: CardFacts): string[] {
  const rows: [string, string][] = []
  const v = f.vocabulary
  if (v) {
    const what = v.mode === 'add' ? `${num(v.count)} target-language tokens added by continued BPE` : `${num(v.count)} rarely used base tokens replaced by target-language tokens (continued BPE)`
    rows.push(['Tokenizer', `${what}; ${num(f.model.tokenizerVocab)} tokens in all`])
    rows.push([
      'Embedding rows',
      `${num(v.rowsBefore)} → ${num(v.rowsAfter)}${v.padding ? ` (rows ${num(v.padding.from)}–${num(v.padding.to - 1)} are padding that no token uses; generation_config.json suppresses them)` : ''}`,
    ])
    rows.push([
      'Embedding init',
      v.init === 'mean'
        ? "each new token's input and output embedding is the mean of the embeddings of the base tokens it was split into (as SambaLingo does)"
        : `random, with each dimension's mean and standard deviation over the base rows (seed ${v.seed ?? 0})`,
    ])
  } else {
    rows.push(['Tokenizer', `the base model's, unchanged (${num(f.model.tokenizerVocab)} tokens)`])
  }
  const s = f.settings
  const t = f.tokens
  if (s) {
    const realised = t && t.target + t.english > 0 ? `; realised ${pct(t.english / (t.target + t.english))} at this checkpoint` : ''
    rows.push(['English replay', `${pct(s.englishShare, 0)} of training tokens planned${realised}`])
  }
  if (t) rows.push(['Tokens seen', `${num(t.target)} ${languageName(f.language)}, ${num(t.english)} English (${num(t.target + t.english)} in all)`])
  if (s) {
    rows.push(['Steps', `${num(f.step)} of ${num(s.steps)} planned optimizer steps; each ${num(s.batchSize)} × ${num(s.gradientAccumulation)} sequences of ${num(s.sequenceLength)} tokens (${num(s.batchSize * s.gradientAccumulation * s.sequenceLength)} tokens)`])
    rows.push(['Learning rate', `peak ${s.learningRate}, linear warm-up over ${num(s.warmupSteps)} steps, then cosine to 10% of the peak; AdamW, weight decay ${s.weightDecay}`])
    if (s.embeddingOnlySteps > 0) rows.push(['Embeddings first', `the first ${num(s.embeddingOnlySteps)} steps trained only the embeddings and the output head`])
    rows.push(['Document masking', s.documentMasking ? 'on: a token attends only to its own document within a packed sequence' : 'off'])
    rows.push(['Seed', String(s.seed)])
  } else {
    rows.push(['Steps', `${num(f.step)} optimizer steps (the run's settings were not recorded)`])
  }
  rows.push(['Weights', `${f.model.dtype} (trained in float32)`])
  return ['| | |', '| --- | --- |', ...rows.map(([k, val]) => `| ${k} | ${val.replace(/\|/g, '\\|')} |`)]
}

function fixed(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits)
}

/** Relative change of a "lower is better" number, signed. */
function change(base: number | null | undefined, adapted: number | null | undefined): string {
  if (base === null || base === undefined || adapted === null || adapted === undefined || !(base > 0)) return '–'
  const r = adapted / base - 1
  return `${r > 0 ? '+' : ''}${(100 * r).toFixed(1)}%`
}

function accuracy(acc: number | null | undefined, stderr: number | null | undefined): string {
  if (acc === null || acc === undefined) return '–'
  return `${(100 * acc).toFixed(1)}%${stderr === null || stderr === undefined ? '' : ` ± ${(100 * stderr).toFixed(1)}`}`
}

function evaluationTable(f: CardFacts, e: ExportEvaluation): string[] {
  const lang = languageName(f.language)
  const rows: string[][] = []
  const perLanguage = (name: string, pick: (x: ExportEvaluationEntry) => ExportEvaluationEntry['target']) => {
    const b = pick(e.base)
    const a = pick(e.adapted)
    if (!b && !a) return
    rows.push([`${name} bits per byte ↓`, fixed(b?.bitsPerByte, 4), fixed(a?.bitsPerByte, 4), change(b?.bitsPerByte, a?.bitsPerByte)])
    if (b?.bytePerplexity != null || a?.bytePerplexity != null) rows.push([`${name} byte perplexity ↓`, fixed(b?.bytePerplexity, 3), fixed(a?.bytePerplexity, 3), change(b?.bytePerplexity, a?.bytePerplexity)])
    if (b?.wordPerplexity != null || a?.wordPerplexity != null) rows.push([`${name} word perplexity ↓`, fixed(b?.wordPerplexity, 1), fixed(a?.wordPerplexity, 1), change(b?.wordPerplexity, a?.wordPerplexity)])
  }
  perLanguage(lang, (x) => x.target)
  perLanguage('English', (x) => x.english)
  const tasks = [...new Set([...Object.keys(e.base.tasks ?? {}), ...Object.keys(e.adapted.tasks ?? {})])].sort()
  for (const task of tasks) {
    const b = e.base.tasks?.[task]
    const a = e.adapted.tasks?.[task]
    const n = a?.n ?? b?.n
    const points = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? '–' : `${(100 * (y - x)) >= 0 ? '+' : ''}${(100 * (y - x)).toFixed(1)} points`)
    rows.push([`${task} acc ↑${n !== undefined ? ` (n = ${num(n)})` : ''}`, accuracy(b?.acc, b?.accStderr), accuracy(a?.acc, a?.accStderr), points(b?.acc, a?.acc)])
    if (b?.accNorm != null || a?.accNorm != null) rows.push([`${task} acc_norm ↑`, accuracy(b?.accNorm, b?.accNormStderr), accuracy(a?.accNorm, a?.accNormStderr), points(b?.accNorm ?? undefined, a?.accNorm ?? undefined)])
  }
  return [
    `Measured by Vernacular on the held-out split of the project's corpora (bits per byte as lm-evaluation-harness defines it, every token scored once with rolling windows${tasks.length ? "; multiple-choice accuracy as the harness's acc, and acc_norm with the log-likelihood divided by the choice's length in characters" : ''}). Base: ${f.base.name} with its own tokenizer; adapted: this checkpoint.${e.limit ? ` **A quick check only:** the first ${num(e.limit)} held-out documents per language and the first ${num(e.limit)} items of each task were scored, not all of them.` : ''}`,
    '',
    `| Metric | Base | Adapted (step ${num(f.step)}) | Change |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ]
}

/** The README.md of an exported folder. */
export function modelCard(f: CardFacts): string {
  const lang = languageName(f.language)
  const licence = f.base.licence
    ? `The base model's folder states its licence as \`${f.base.licence}\`; this adapted model is a derivative of it and is bound by the same terms.`
    : "The base model's folder does not state a licence: see the base model's licence, which this adapted model, a derivative of it, is bound by."
  const english = f.settings ? f.settings.englishShare > 0 : true
  const lines = [
    ...frontMatter(f),
    '',
    `# ${f.projectName}: ${f.base.name} adapted to ${lang}`,
    '',
    `${f.base.name} (a \`${f.base.modelType}\` model, ${num(f.model.parameters)} parameters) adapted to ${lang} (\`${f.language}\`) by continual pretraining${english ? ' with English replay' : ''}, following the recipe of Csaki et al. 2023 ("Efficiently Adapting Pretrained Language Models to New Languages") and SambaLingo (2024). This is checkpoint \`step-${f.step}\` of run \`${f.run}\` of the Vernacular project "${f.projectName}".`,
    '',
    '## Base model',
    '',
    `- Model: ${f.base.hubId ? `[${f.base.name}](https://huggingface.co/${f.base.name})` : `\`${f.base.name}\``} (\`model_type\`: \`${f.base.modelType}\`)`,
    `- Licence: ${f.base.licence ? `\`${f.base.licence}\`` : "see the base model's licence"}`,
    '',
    licence,
    '',
    '## Recipe',
    '',
    ...recipe(f),
    '',
    '## Evaluation',
    '',
    ...(f.evaluation ? evaluationTable(f, f.evaluation) : ['This checkpoint was not evaluated when it was exported. Evaluate it (`vernacular eval run`) and export it again to include the table against the base model.']),
    '',
    '## Limitations',
    '',
    `- This is a base (pretrained) language model, not an instruction-tuned or aligned one: it continues text, and it can produce text that is false, biased or offensive. Do not use its output without review.`,
    `- It was adapted on ${f.tokens ? `${num(f.tokens.target)} ${lang} tokens` : 'the project\'s own corpora'}, which is little next to what the base model was trained on. Its ${lang} is limited by that text and by the size of the base model; it knows the domains and registers of that text best.`,
    `- Continual pretraining on a new language can cost the model some of its English${english ? '; English replay reduces this but does not remove it' : ', and this run used no English replay'}.${f.evaluation ? ' The table above measures it.' : ''}`,
    ...(f.vocabulary ? ['- The tokenizer was extended: use the tokenizer in this folder. Token ids from the base tokenizer do not match the new tokens.'] : []),
    ...(f.evaluation ? ["- The evaluation uses held-out text from the same sources as the training text, so it says more about those sources than about the language in general."] : []),
    '',
    '## How to load',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    '',
    'path = "path/to/this/folder"',
    'tokenizer = AutoTokenizer.from_pretrained(path)',
    'model = AutoModelForCausalLM.from_pretrained(path)',
    '```',
    '',
    '## Provenance',
    '',
    `Written by Vernacular ${f.version} on ${f.createdAt.slice(0, 10)} from checkpoint \`step-${f.step}\` of run \`${f.run}\`; \`vernacular-export.json\` in this folder records the export.`,
    '',
  ]
  return lines.join('\n')
}
