/**
 * Reports of a comparison (`eval.report`, the Compare step's "Export report"): a CSV with one row
 * per model (the base, then every checkpoint of every run), or one self-contained HTML page (inline
 * CSS and SVG charts, no scripts, fonts or images from anywhere, so it opens offline and can be
 * mailed as one file).
 *
 * `comparisonCsv` and `comparisonHtml` are pure: a Comparison in, a string out. Every number in
 * them is the engine's: bits per byte and task results as evaluated, gains and changes by
 * `relativeChanges`, the suggested checkpoint and its rule by `suggestBest` and `bestRule`.
 * `writeComparisonReport` reads what is evaluated (nothing is computed) and writes one of them.
 */
import { promises as fs } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { CheckpointEvaluation, Comparison, Evaluation, LanguageEvaluation, MultipleChoiceResult, ReportFormat, ReportResult } from '../contract'
import { EngineError, fsError } from '../common/errors'
import { writeFileAtomic } from '../common/fsutil'
import { languageName } from '../common/language'
import { VERNACULAR_VERSION } from '../common/version'
import { readManifest } from '../project/manifest'
import { compareRuns, relativeChanges } from './project'

/** What a report says besides the comparison. */
export interface ReportFacts {
  projectName: string
  /** The target language (BCP-47). */
  language: string
  /** When the report was written (ISO 8601). */
  createdAt: string
  version: string
}

/** One model of the comparison, as a report row: the base (run and step null) or a checkpoint. */
export interface ReportRow {
  run: string | null
  step: number | null
  evaluation: Evaluation
  tokensTarget: number | null
  tokensEnglish: number | null
  targetGain: number | null
  englishChange: number | null
  suggested: boolean
}

/** The base (from the first run: every run is evaluated against the same base model), then each run's checkpoints by step. */
export function reportRows(c: Comparison): ReportRow[] {
  const first = c.runs[0]
  if (!first) return []
  const rows: ReportRow[] = [{ run: null, step: null, evaluation: first.base, tokensTarget: null, tokensEnglish: null, targetGain: null, englishChange: null, suggested: false }]
  for (const r of c.runs) {
    for (const cp of [...r.checkpoints].sort((a, b) => a.step - b.step)) {
      const { targetGain, englishChange } = relativeChanges(r.base, cp)
      rows.push({
        run: r.run,
        step: cp.step,
        evaluation: cp,
        tokensTarget: cp.tokensTarget,
        tokensEnglish: cp.tokensEnglish,
        targetGain,
        englishChange,
        suggested: c.best !== null && c.best.run === r.run && c.best.step === cp.step,
      })
    }
  }
  return rows
}

/** The tasks any model was evaluated on, by name. */
export function reportTasks(c: Comparison): string[] {
  const names = new Set<string>()
  for (const r of c.runs) for (const e of [r.base, ...r.checkpoints]) for (const t of Object.keys(e.tasks)) names.add(t)
  return [...names].sort()
}

// CSV

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** The CSV's first columns; a file that starts with them is a report this function wrote. */
export const CSV_HEADER_START = 'model,run,step,'

/**
 * The comparison as CSV: a header, then one row per model (the base first). Numbers are written in
 * full precision; gains and changes are fractions (0.25 is 25%); an empty field is "not measured".
 * Columns: model (base | checkpoint), run, step, tokens per language, per language bits per byte,
 * byte and word perplexity, the target gain and English change against the base, per task n, acc,
 * acc_stderr, acc_norm and acc_norm_stderr, and whether the checkpoint is the suggested one.
 */
export function comparisonCsv(c: Comparison): string {
  const tasks = reportTasks(c)
  const lang = (prefix: string) => [`${prefix}_bits_per_byte`, `${prefix}_byte_perplexity`, `${prefix}_word_perplexity`]
  const header = [
    'model',
    'run',
    'step',
    'tokens_target',
    'tokens_english',
    ...lang('target'),
    'target_gain',
    ...lang('english'),
    'english_change',
    ...tasks.flatMap((t) => [`${t}_n`, `${t}_acc`, `${t}_acc_stderr`, `${t}_acc_norm`, `${t}_acc_norm_stderr`]),
    'suggested',
    // The project's evaluation limit (empty: everything was scored).
    'limit',
  ]
  const langValues = (l: LanguageEvaluation | null) => [l?.bitsPerByte ?? null, l?.bytePerplexity ?? null, l?.wordPerplexity ?? null]
  const taskValues = (t: MultipleChoiceResult | undefined) => [t?.n ?? null, t?.acc ?? null, t?.accStderr ?? null, t?.accNorm ?? null, t?.accNormStderr ?? null]
  const lines = [header.map(csvField).join(',')]
  for (const row of reportRows(c)) {
    const e = row.evaluation
    lines.push(
      [
        row.run === null ? 'base' : 'checkpoint',
        row.run,
        row.step,
        row.tokensTarget,
        row.tokensEnglish,
        ...langValues(e.target),
        row.targetGain,
        ...langValues(e.english),
        row.englishChange,
        ...tasks.flatMap((t) => taskValues(e.tasks[t])),
        row.run === null ? null : row.suggested,
        c.limit,
      ]
        .map(csvField)
        .join(','),
    )
  }
  return lines.join('\r\n') + '\r\n'
}

// HTML

/** The generator mark of the HTML report; a file that holds it is a report this function wrote. */
export const HTML_GENERATOR = 'Vernacular comparison report'

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const num = (n: number) => n.toLocaleString('en')
const fixed = (n: number | null | undefined, digits: number) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits))
const signedPercent = (x: number | null) => (x === null || !Number.isFinite(x) ? '—' : `${x > 0 ? '+' : x < 0 ? '−' : ''}${Math.abs(100 * x).toFixed(1)}%`)
const modelName = (row: { run: string | null; step: number | null }) => (row.run === null ? 'Base model' : `${row.run}, step ${num(row.step ?? 0)}`)

/** Eight run colours that read on white, in order (the first two are the app's target and English colours). */
const RUN_COLOURS = ['#2f5fb3', '#c2571a', '#1d7a46', '#7d5bbf', '#b3261e', '#0f7c8c', '#8a5a00', '#5b6573']
const runColour = (i: number) => RUN_COLOURS[i % RUN_COLOURS.length]!

/** Round axis ticks (1, 2, 2.5 or 5 × a power of ten) from below `min` to above `max`. */
function axisTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1]
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1
    min -= pad
    max += pad
  }
  const rough = (max - min) / count
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power
  const ticks: number[] = []
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)))
  if (ticks.at(-1)! < max) ticks.push(Number((ticks.at(-1)! + step).toPrecision(12)))
  return ticks
}

interface SvgSeries {
  label: string
  colour: string
  dash?: string
  points: { x: number; y: number; title: string }[]
}

/** A line chart as inline SVG: axes with round ticks, one polyline with dots per series, a legend, and a title for screen readers. */
function svgChart(opts: {
  title: string
  xLabel: string
  yLabel: string
  series: SvgSeries[]
  xFormat: (v: number) => string
  yFormat: (v: number) => string
  zeroLines?: boolean
  /** A dashed vertical line (the tolerance), inside the x range. */
  marker?: { x: number; label: string }
}): string {
  const W = 640
  const H = 300
  const L = 64
  const R = 16
  const T = 16
  const B = 48
  const all = opts.series.flatMap((s) => s.points)
  if (all.length === 0) return `<p class="muted">${escapeHtml(opts.title)}: nothing measured.</p>`
  const xExtra = [...(opts.zeroLines ? [0] : []), ...(opts.marker ? [opts.marker.x] : [])]
  const xs = axisTicks(Math.min(...all.map((p) => p.x), ...xExtra), Math.max(...all.map((p) => p.x), ...xExtra))
  const ys = axisTicks(Math.min(...all.map((p) => p.y), ...(opts.zeroLines ? [0] : [])), Math.max(...all.map((p) => p.y), ...(opts.zeroLines ? [0] : [])))
  const x0 = xs[0]!
  const x1 = xs.at(-1)!
  const y0 = ys[0]!
  const y1 = ys.at(-1)!
  const sx = (v: number) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R)
  const sy = (v: number) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - T - B)
  const f = (v: number) => v.toFixed(1)
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="t-${escapeHtml(slug(opts.title))}">`)
  parts.push(`<title id="t-${escapeHtml(slug(opts.title))}">${escapeHtml(opts.title)}</title>`)
  for (const t of ys) parts.push(`<line x1="${L}" x2="${W - R}" y1="${f(sy(t))}" y2="${f(sy(t))}" class="grid${opts.zeroLines && t === 0 ? ' zero' : ''}"/><text x="${L - 6}" y="${f(sy(t))}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeHtml(opts.yFormat(t))}</text>`)
  for (const t of xs) parts.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${T}" y2="${H - B}" class="grid${opts.zeroLines && t === 0 ? ' zero' : ''}"/><text x="${f(sx(t))}" y="${H - B + 16}" class="tick" text-anchor="middle">${escapeHtml(opts.xFormat(t))}</text>`)
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" class="axis" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`)
  parts.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeHtml(opts.yLabel)}</text>`)
  if (opts.marker) parts.push(`<line x1="${f(sx(opts.marker.x))}" x2="${f(sx(opts.marker.x))}" y1="${T}" y2="${H - B}" class="marker"><title>${escapeHtml(opts.marker.label)}</title></line>`)
  for (const s of opts.series) {
    const pts = s.points.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ')
    parts.push(`<g><polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`)
    for (const p of s.points) parts.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="4" fill="${s.colour}"><title>${escapeHtml(p.title)}</title></circle>`)
    parts.push('</g>')
  }
  parts.push('</svg>')
  const legend =
    opts.series.map((s) => `<li><span class="swatch" style="background:${s.colour}"></span>${escapeHtml(s.label)}</li>`).join('') +
    (opts.marker ? `<li><span class="swatch dashed"></span>${escapeHtml(opts.marker.label)}</li>` : '')
  return `<figure><figcaption>${escapeHtml(opts.title)}</figcaption><ul class="legend">${legend}</ul>${parts.join('')}</figure>`
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

/** The forgetting chart: English change (x) against target gain (y), one point per checkpoint, one line per run, starting at the base (0, 0). */
function forgettingChart(c: Comparison, target: string): string {
  const series: SvgSeries[] = c.runs.map((r, i) => {
    const points: SvgSeries['points'] = [{ x: 0, y: 0, title: `${r.run}: the base model` }]
    for (const cp of [...r.checkpoints].sort((a, b) => a.step - b.step)) {
      const { targetGain, englishChange } = relativeChanges(r.base, cp)
      if (targetGain === null || englishChange === null) continue
      points.push({ x: 100 * englishChange, y: 100 * targetGain, title: `${r.run}, step ${num(cp.step)}: English ${signedPercent(englishChange)}, ${target} gain ${signedPercent(targetGain)}` })
    }
    return { label: r.run, colour: runColour(i), points: points.length > 1 ? points : [] }
  })
  // The tolerance is drawn when it lies near the points; a far one (1000%) would squeeze them into a corner.
  const changes = series.flatMap((s) => s.points.map((p) => Math.abs(p.x)))
  const tolerance = 100 * c.maxEnglishChange
  const marker = tolerance <= Math.max(1, 2 * Math.max(0, ...changes)) ? { x: tolerance, label: `Tolerance: English +${+tolerance.toFixed(2)}%` } : undefined
  return svgChart({
    ...(marker ? { marker } : {}),
    title: `Forgetting: ${target} gain against English change`,
    xLabel: 'English bits per byte, change from the base (%)',
    yLabel: `${target} gain over the base (%)`,
    series,
    xFormat: (v) => `${+v.toFixed(2)}%`,
    yFormat: (v) => `${+v.toFixed(2)}%`,
    zeroLines: true,
  })
}

/** Held-out bits per byte over the steps, one chart per language, one line per run from the base at step 0. */
function bitsPerByteChart(c: Comparison, role: 'target' | 'english', label: string): string {
  const series: SvgSeries[] = c.runs.map((r, i) => {
    const points: SvgSeries['points'] = []
    const base = r.base[role]
    if (base) points.push({ x: 0, y: base.bitsPerByte, title: `${r.run}: the base model, ${fixed(base.bitsPerByte, 4)} bits per byte` })
    for (const cp of [...r.checkpoints].sort((a, b) => a.step - b.step)) {
      const l = cp[role]
      if (l) points.push({ x: cp.step, y: l.bitsPerByte, title: `${r.run}, step ${num(cp.step)}: ${fixed(l.bitsPerByte, 4)} bits per byte` })
    }
    return { label: r.run, colour: runColour(i), ...(role === 'english' ? { dash: '6 4' } : {}), points }
  })
  return svgChart({ title: `${label}: held-out bits per byte over the steps`, xLabel: 'Step (0: the base model)', yLabel: 'Bits per byte', series, xFormat: (v) => num(v), yFormat: (v) => `${+v.toFixed(3)}` })
}

function taskCell(t: MultipleChoiceResult | undefined): string {
  if (!t) return '<td class="num">—</td><td class="num">—</td>'
  const pm = (v: number | null) => (v === null ? '' : ` ± ${fixed(100 * v, 1)}`)
  return `<td class="num">${fixed(100 * t.acc, 1)}${pm(t.accStderr)}</td><td class="num">${fixed(100 * t.accNorm, 1)}${pm(t.accNormStderr)}</td>`
}

function comparisonTable(c: Comparison, target: string): string {
  const tasks = reportTasks(c)
  const head = [
    '<th scope="col">Model</th>',
    `<th scope="col" class="num">Tokens seen, ${escapeHtml(target)}</th>`,
    '<th scope="col" class="num">Tokens seen, English</th>',
    `<th scope="col" class="num">${escapeHtml(target)} bits per byte</th>`,
    `<th scope="col" class="num">${escapeHtml(target)} gain</th>`,
    '<th scope="col" class="num">English bits per byte</th>',
    '<th scope="col" class="num">English change</th>',
    ...tasks.map((t) => `<th scope="col" class="num">${escapeHtml(t)} acc (%)</th><th scope="col" class="num">${escapeHtml(t)} acc_norm (%)</th>`),
  ]
  const body = reportRows(c).map((row) => {
    const e = row.evaluation
    const cls = row.suggested ? ' class="suggested"' : row.run === null ? ' class="base"' : ''
    return (
      `<tr${cls}><th scope="row">${escapeHtml(modelName(row))}${row.suggested ? ' <span class="badge">suggested</span>' : ''}</th>` +
      `<td class="num">${row.tokensTarget === null ? '—' : num(row.tokensTarget)}</td><td class="num">${row.tokensEnglish === null ? '—' : num(row.tokensEnglish)}</td>` +
      `<td class="num">${fixed(e.target?.bitsPerByte, 4)}</td><td class="num">${row.run === null ? '—' : signedPercent(row.targetGain)}</td>` +
      `<td class="num">${fixed(e.english?.bitsPerByte, 4)}</td><td class="num">${row.run === null ? '—' : signedPercent(row.englishChange)}</td>` +
      tasks.map((t) => taskCell(e.tasks[t])).join('') +
      '</tr>'
    )
  })
  return `<div class="scroll"><table><thead><tr>${head.join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`
}

/** The suggested checkpoint's samples (else the last checkpoint's of the first run) next to the base's. */
function samplesSection(c: Comparison): string {
  let chosen: { run: string; cp: CheckpointEvaluation; base: Evaluation } | null = null
  for (const r of c.runs) {
    const cp = c.best && c.best.run === r.run ? r.checkpoints.find((x) => x.step === c.best!.step) : undefined
    if (cp) chosen = { run: r.run, cp, base: r.base }
  }
  if (!chosen) {
    const r = c.runs.find((x) => x.checkpoints.length)
    const cp = r ? [...r.checkpoints].sort((a, b) => b.step - a.step)[0] : undefined
    if (r && cp) chosen = { run: r.run, cp, base: r.base }
  }
  if (!chosen || chosen.cp.samples.length === 0) return ''
  const { run, cp, base } = chosen
  const rows = cp.samples.map((s) => {
    const b = base.samples.find((x) => x.id === s.id)
    const cell = (text: string | undefined) => `<td>${text === undefined ? '—' : `<span class="prompt">${escapeHtml(s.prompt)}</span>${escapeHtml(text)}`}</td>`
    return `<tr><th scope="row">${escapeHtml(s.id)}<br><span class="muted">${escapeHtml(s.lang)}</span></th>${cell(b?.greedy)}${cell(s.greedy)}${cell(b?.topP)}${cell(s.topP)}</tr>`
  })
  return (
    `<section><h2>Samples: ${escapeHtml(run)}, step ${num(cp.step)}, next to the base model</h2>` +
    '<p class="muted">Each prompt (in grey) continued greedily and by top-p sampling with a fixed seed.</p>' +
    `<div class="scroll"><table class="samples"><thead><tr><th scope="col">Prompt</th><th scope="col">Base, greedy</th><th scope="col">Step ${num(cp.step)}, greedy</th><th scope="col">Base, top-p</th><th scope="col">Step ${num(cp.step)}, top-p</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`
  )
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',Arial,sans-serif;color:#1c2430;background:#fff;margin:0 auto;padding:1.5rem;max-width:75rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.muted{color:#4f5b69}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.875rem;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #dde1e6;text-align:left;vertical-align:top}
thead th{color:#4f5b69}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.base th,tr.base td{background:#f6f7f9}tr.suggested th,tr.suggested td{background:#e6eefb}
.badge{display:inline-block;padding:0 .4rem;border-radius:999px;background:#2f5fb3;color:#fff;font-size:.75rem;font-weight:600}
.rule{padding:.75rem 1rem;border-left:4px solid #2f5fb3;background:#f6f7f9}
figure{margin:1rem 0}figcaption{font-weight:600}svg{max-width:100%;height:auto}
.grid{stroke:#dde1e6}.grid.zero{stroke:#7a8592}.tick{font-size:11px;fill:#4f5b69}.axis{font-size:12px;fill:#4f5b69}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;padding:0;margin:.25rem 0;font-size:.875rem}
.swatch{display:inline-block;width:1.2rem;height:.25rem;margin-right:.4rem;vertical-align:middle;border-radius:2px}
.samples td{min-width:12rem;white-space:pre-wrap}.prompt{color:#7a8592}
.marker{stroke:#b3261e;stroke-width:1.5;stroke-dasharray:5 4}.swatch.dashed{height:0;border-top:2px dashed #b3261e}
@media print{body{padding:0}}
`

/**
 * The comparison as one HTML page with everything inline: the suggested checkpoint and its rule,
 * the table (the base row first, the suggested checkpoint highlighted), the forgetting chart, bits
 * per byte over the steps per language, and the suggested checkpoint's samples next to the base's.
 */
export function comparisonHtml(c: Comparison, facts: ReportFacts): string {
  const target = languageName(facts.language)
  const best = c.best
  const checkpoints = c.runs.reduce((n, r) => n + r.checkpoints.length, 0)
  const suggestion = best
    ? `<p class="rule"><strong>Suggested checkpoint: ${escapeHtml(best.run)}, step ${num(best.step)}</strong>, by the rule: ${escapeHtml(best.rule)}.</p>`
    : `<p class="rule"><strong>No checkpoint is suggested</strong>: none meets the rule, ${escapeHtml(c.rule)}.</p>`
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="${HTML_GENERATOR} (Vernacular ${escapeHtml(facts.version)})">`,
    `<title>${escapeHtml(facts.projectName)}: comparison of checkpoints</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(facts.projectName)}: comparison of checkpoints</h1>`,
    `<p class="muted">Adapting a model to ${escapeHtml(target)}. ${c.runs.length} run${c.runs.length === 1 ? '' : 's'} (${c.runs.map((r) => escapeHtml(r.run)).join(', ') || 'none'}), ${checkpoints} checkpoint${checkpoints === 1 ? '' : 's'} evaluated against the base model. Written ${escapeHtml(facts.createdAt)} by Vernacular ${escapeHtml(facts.version)}.</p>`,
    suggestion,
    ...(c.limit === null ? [] : [`<p class="rule"><strong>A quick check:</strong> only the first ${num(c.limit)} held-out documents per language and the first ${num(c.limit)} items of each task were scored.</p>`]),
    '<h2>Every checkpoint against the base model</h2>',
    `<p class="muted">Held-out bits per byte (lower is better; it does not depend on the tokenizer, so the base and the extended tokenizer compare fairly). The ${escapeHtml(target)} gain is how far its bits per byte fell below the base's; the English change is how far English bits per byte rose above the base's (forgetting). Task accuracies are lm-evaluation-harness's acc and acc_norm in percent, ± their standard error.</p>`,
    comparisonTable(c, target),
    '<h2>Charts</h2>',
    forgettingChart(c, target),
    bitsPerByteChart(c, 'target', target),
    bitsPerByteChart(c, 'english', 'English'),
    samplesSection(c),
    '</body>',
    '</html>',
    '',
  ].join('\n')
}

// Writing

/** Whether `text` is a report that `comparisonCsv` or `comparisonHtml` wrote (so it may be replaced). */
export function isReport(text: string): boolean {
  return text.startsWith(CSV_HEADER_START) || text.includes(`<meta name="generator" content="${HTML_GENERATOR}`)
}

/**
 * Writes the project's comparison (from what is evaluated; nothing is computed) as a CSV or HTML
 * report to the file `out`, atomically, creating its folder. An existing file is replaced only
 * when it is an earlier report, or with `force`; a folder is refused.
 */
export async function writeComparisonReport(
  projectDir: string,
  opts: { runs?: string[]; maxEnglishChange?: number; format: ReportFormat; out: string; force?: boolean; now?: Date },
): Promise<ReportResult> {
  const out = resolve(opts.out)
  let existing: string | null = null
  try {
    const st = await fs.stat(out)
    if (st.isDirectory()) throw new EngineError('bad-input', `${out} is a folder.`, { file: out, hint: `Give the report a file name in it, for example ${out.replace(/[\\/]+$/, '')}/comparison.${opts.format}.` })
    existing = (await fs.readFile(out, 'utf8')).slice(0, 4096)
  } catch (e) {
    if (e instanceof EngineError) throw e
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, out, 'read')
  }
  if (existing !== null && !opts.force && !isReport(existing)) {
    throw new EngineError('bad-input', `${out} already exists and is not a report Vernacular wrote.`, { file: out, hint: 'Choose another file name; an earlier report is replaced without asking.' })
  }
  const manifest = await readManifest(projectDir)
  const comparison = await compareRuns(projectDir, { ...(opts.runs ? { runs: opts.runs } : {}), ...(opts.maxEnglishChange !== undefined ? { maxEnglishChange: opts.maxEnglishChange } : {}), compute: false })
  const { missing, ...c } = comparison
  const checkpoints = c.runs.reduce((n, r) => n + r.checkpoints.length, 0)
  if (checkpoints === 0) {
    throw new EngineError('bad-input', 'No checkpoint is evaluated yet, so there is nothing to report.', { hint: 'Evaluate the runs first (Evaluate in the Compare step, or `vernacular eval run`).' })
  }
  const text = opts.format === 'csv' ? comparisonCsv(c) : comparisonHtml(c, { projectName: manifest.name, language: manifest.language, createdAt: (opts.now ?? new Date()).toISOString(), version: VERNACULAR_VERSION })
  try {
    await fs.mkdir(dirname(out), { recursive: true })
  } catch (e) {
    throw fsError(e, dirname(out), 'write')
  }
  await writeFileAtomic(out, text)
  return { out, format: opts.format, bytes: Buffer.byteLength(text), runs: c.runs.length, checkpoints, missing }
}
