import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { CheckpointEvaluation, Comparison, Evaluation, MultipleChoiceResult } from '../../../main/engine/contract'
import { bestRule, relativeChanges, suggestBest } from '../../../main/engine/evaluation/project'
import { comparisonCsv, comparisonHtml, isReport, reportRows, reportTasks, writeComparisonReport } from '../../../main/engine/evaluation/report'
import { createProject } from '../../../main/engine/project/projects'
import { VERNACULAR_VERSION } from '../../../main/engine/common/version'
import { useTmp } from '../../helpers/tmp'

// The writer reads what is evaluated through compareRuns; here it answers a fixed comparison, so
// that writing can be tested without training a model. `fixture.value` null: the real one.
const fixture = vi.hoisted(() => ({ value: null as unknown }))
vi.mock('../../../main/engine/evaluation/project', async (original) => {
  const actual = await original<typeof import('../../../main/engine/evaluation/project')>()
  return { ...actual, compareRuns: async (...args: Parameters<typeof actual.compareRuns>) => (fixture.value ? { ...(fixture.value as Comparison), missing: [] } : actual.compareRuns(...args)) }
})

const tmp = useTmp()

const lang = (bitsPerByte: number) => ({ bitsPerByte, bytePerplexity: 2 ** bitsPerByte, wordPerplexity: 2 ** (bitsPerByte * 6), documents: 50, bytes: 10_000, tokens: 4000 })
const task = (acc: number, accNorm: number, n = 20): MultipleChoiceResult => ({ n, acc, accNorm, accStderr: Math.sqrt((acc * (1 - acc)) / (n - 1)), accNormStderr: Math.sqrt((accNorm * (1 - accNorm)) / (n - 1)) })
const samples = (tag: string) => [
  { id: 'hu-save-as', lang: 'hu', prompt: 'Mentés másként', greedy: ` ${tag} greedy, "quoted"`, topP: ` ${tag} <b>top-p</b>` },
  { id: 'en-open', lang: 'en', prompt: 'Open the', greedy: ` ${tag} file`, topP: ` ${tag} door` },
]

const BASE: Evaluation = { target: lang(3.2), english: lang(1.6), tasks: { 'hu-cloze': task(0.3, 0.35) }, samples: samples('base') }
function checkpoint(step: number, target: number, english: number, acc: number): CheckpointEvaluation {
  return { step, dir: `/p/runs/x/checkpoints/step-${step}`, target: lang(target), english: lang(english), tasks: { 'hu-cloze': task(acc, acc + 0.05), 'en-cloze': task(0.5, 0.55) }, samples: samples(`step ${step}`), tokensTarget: step * 48, tokensEnglish: step * 16 }
}

/** Two runs, as replay 25% against 0%: the second gains more but forgets past the 5% tolerance. */
function comparison(maxEnglishChange = 0.05): Comparison {
  const runs = [
    { run: 'replay-25', base: BASE, checkpoints: [checkpoint(4, 2.4, 1.66, 0.45), checkpoint(2, 2.8, 1.62, 0.4)] },
    { run: 'no-replay', base: BASE, checkpoints: [checkpoint(2, 2.6, 1.7, 0.42), checkpoint(4, 2.2, 1.9, 0.5)] },
  ]
  return { runs, best: suggestBest(runs, 'hu', maxEnglishChange), rule: bestRule('hu', maxEnglishChange), maxEnglishChange, limit: null }
}

/** A CSV parser for the test (RFC 4180: quoted fields with doubled quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(field)
      field = ''
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      i++
    } else field += ch
  }
  if (field !== '' || row.length) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

describe('the rows of a report', () => {
  it('starts with the base, then each run’s checkpoints by step, with the engine’s gains and the suggested one marked', () => {
    const c = comparison()
    const rows = reportRows(c)
    expect(rows.map((r) => [r.run, r.step])).toEqual([
      [null, null],
      ['replay-25', 2],
      ['replay-25', 4],
      ['no-replay', 2],
      ['no-replay', 4],
    ])
    expect(c.best).toMatchObject({ run: 'replay-25', step: 4 })
    expect(rows.filter((r) => r.suggested).map((r) => [r.run, r.step])).toEqual([['replay-25', 4]])
    for (const r of rows.slice(1)) expect({ targetGain: r.targetGain, englishChange: r.englishChange }).toEqual(relativeChanges(BASE, r.evaluation))
    expect(rows[2]!.targetGain).toBeCloseTo(0.25, 12)
    expect(rows[2]!.englishChange).toBeCloseTo(0.0375, 12)
    expect(reportTasks(c)).toEqual(['en-cloze', 'hu-cloze'])
    expect(reportRows({ runs: [], best: null, rule: bestRule('hu', 0.05), maxEnglishChange: 0.05, limit: null })).toEqual([])
  })
})

describe('the CSV report', () => {
  it('has one row per model, every number in full precision, and an empty field where nothing was measured', () => {
    const c = comparison()
    const csv = comparisonCsv(c)
    expect(csv.endsWith('\r\n')).toBe(true)
    const [header, ...rows] = parseCsv(csv)
    expect(header!.slice(0, 5)).toEqual(['model', 'run', 'step', 'tokens_target', 'tokens_english'])
    expect(header).toContain('target_bits_per_byte')
    expect(header).toContain('english_change')
    expect(header).toContain('hu-cloze_acc_norm_stderr')
    expect(header!.slice(-2)).toEqual(['suggested', 'limit'])
    expect(rows).toHaveLength(5)
    const col = (row: string[], name: string) => row[header!.indexOf(name)]
    const base = rows[0]!
    expect([col(base, 'model'), col(base, 'run'), col(base, 'step'), col(base, 'tokens_target'), col(base, 'target_gain'), col(base, 'suggested')]).toEqual(['base', '', '', '', '', ''])
    expect(Number(col(base, 'target_bits_per_byte'))).toBe(3.2)
    // The base was not evaluated on en-cloze: empty fields.
    expect(col(base, 'en-cloze_acc')).toBe('')
    const reportRowsOf = reportRows(c)
    rows.slice(1).forEach((row, i) => {
      const r = reportRowsOf[i + 1]!
      expect(col(row, 'model')).toBe('checkpoint')
      expect(col(row, 'run')).toBe(r.run)
      expect(Number(col(row, 'step'))).toBe(r.step)
      expect(Number(col(row, 'tokens_target'))).toBe(r.tokensTarget)
      expect(Number(col(row, 'target_bits_per_byte'))).toBe(r.evaluation.target!.bitsPerByte)
      expect(Number(col(row, 'english_word_perplexity'))).toBe(r.evaluation.english!.wordPerplexity)
      expect(Number(col(row, 'target_gain'))).toBe(r.targetGain)
      expect(Number(col(row, 'english_change'))).toBe(r.englishChange)
      expect(Number(col(row, 'hu-cloze_acc_stderr'))).toBe(r.evaluation.tasks['hu-cloze']!.accStderr)
      expect(col(row, 'suggested')).toBe(String(r.suggested))
      expect(col(row, 'limit')).toBe('')
    })
    expect(isReport(csv)).toBe(true)
    // Under the project's evaluation limit, every row says so.
    const [limitedHeader, ...limited] = parseCsv(comparisonCsv({ ...c, limit: 40 }))
    for (const row of limited) expect(row[limitedHeader!.indexOf('limit')]).toBe('40')
  })

  it('quotes a field with a comma or a quote', () => {
    const c = comparison()
    c.runs[0]!.base = { ...BASE, tasks: { 'a,"b"': task(0.5, 0.5) } }
    const csv = comparisonCsv(c)
    expect(csv.split('\r\n')[0]).toContain('"a,""b""_acc"')
    expect(parseCsv(csv)[0]).toContain('a,"b"_acc')
  })
})

describe('the HTML report', () => {
  const facts = { projectName: 'Magyar <demo> & co', language: 'hu', createdAt: '2026-11-30T18:00:00.000Z', version: '0.1.0' }

  it('is one page with nothing from outside: inline CSS and SVG, no scripts, links or images', () => {
    const html = comparisonHtml(comparison(), facts)
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|src=|href=/i)
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
    expect(html).toContain('<style>')
    expect(html.match(/<svg /g)).toHaveLength(3)
    expect(isReport(html)).toBe(true)
    expect(isReport('<html>someone else’s page</html>')).toBe(false)
  })

  it('states the suggested checkpoint and its rule, highlights it, and escapes text', () => {
    const c = comparison()
    const html = comparisonHtml(c, facts)
    expect(html).toContain('Suggested checkpoint: replay-25, step 4')
    expect(html).toContain(c.best!.rule)
    expect(html).toContain('Magyar &lt;demo&gt; &amp; co')
    expect(html).not.toContain('<demo>')
    expect(html).not.toContain('<b>top-p</b>')
    expect(html).toContain('&lt;b&gt;top-p&lt;/b&gt;')
    expect(html.match(/<tr class="suggested">/g)).toHaveLength(1)
    expect(html).toMatch(/<tr class="suggested"><th scope="row">replay-25, step 4/)
    // The numbers as the table rounds them: bits per byte to 4 decimals, gains in percent.
    expect(html).toContain('<td class="num">2.4000</td><td class="num">+25.0%</td><td class="num">1.6600</td><td class="num">+3.7%</td>')
    expect(html).toContain('45.0 ± 11.4')
    // The tolerance on the forgetting chart, unless it lies far off the points.
    expect(html).toContain('<title>Tolerance: English +5%</title>')
    expect(comparisonHtml(comparison(10), facts)).not.toContain('Tolerance: English')
    // Samples of the suggested checkpoint next to the base's.
    expect(html).toContain('Samples: replay-25, step 4, next to the base model')
    expect(html).toContain('step 4 greedy, &quot;quoted&quot;')
  })

  it('says when the numbers are a quick check on the first N documents and items', () => {
    expect(comparisonHtml(comparison(), facts)).not.toContain('A quick check')
    expect(comparisonHtml({ ...comparison(), limit: 40 }, facts)).toContain('only the first 40 held-out documents per language and the first 40 items of each task were scored')
  })

  it('says so when no checkpoint meets the rule', () => {
    const c = comparison(0)
    expect(c.best).toBeNull()
    const html = comparisonHtml(c, facts)
    expect(html).toContain('No checkpoint is suggested')
    expect(html).toContain(bestRule('hu', 0))
    expect(html).not.toContain('<tr class="suggested">')
  })
})

describe('writing a report', () => {
  async function project(): Promise<string> {
    const dir = join(tmp(), 'p')
    await createProject({ dir, name: 'Magyar', language: 'hu' })
    return dir
  }

  it('writes the CSV or HTML file, making its folder, and replaces an earlier report', async () => {
    const dir = await project()
    fixture.value = comparison()
    try {
      const out = join(tmp(), 'reports', 'nested', 'comparison.csv')
      const r = await writeComparisonReport(dir, { format: 'csv', out })
      expect(r).toMatchObject({ out, format: 'csv', runs: 2, checkpoints: 4, missing: [] })
      const text = await fs.readFile(out, 'utf8')
      expect(text).toBe(comparisonCsv(comparison()))
      expect(r.bytes).toBe(Buffer.byteLength(text))
      await writeComparisonReport(dir, { format: 'csv', out })
      const html = join(tmp(), 'comparison.html')
      const h = await writeComparisonReport(dir, { format: 'html', out: html, now: new Date('2026-11-30T18:00:00.000Z') })
      expect(await fs.readFile(html, 'utf8')).toBe(comparisonHtml(comparison(), { projectName: 'Magyar', language: 'hu', createdAt: '2026-11-30T18:00:00.000Z', version: VERNACULAR_VERSION }))
      expect(h.format).toBe('html')
    } finally {
      fixture.value = null
    }
  })

  it('refuses a folder, a file it did not write (unless forced), and a project with nothing evaluated', async () => {
    const dir = await project()
    const place = tmp()
    await expect(writeComparisonReport(dir, { format: 'csv', out: place })).rejects.toThrow(/is a folder/)
    const foreign = join(place, 'notes.csv')
    await fs.writeFile(foreign, 'my,own,data\n')
    await expect(writeComparisonReport(dir, { format: 'csv', out: foreign })).rejects.toThrow(/already exists and is not a report/)
    expect(await fs.readFile(foreign, 'utf8')).toBe('my,own,data\n')
    // The real comparison of a project with no runs: nothing to report, and nothing written.
    await expect(writeComparisonReport(dir, { format: 'html', out: join(place, 'r.html') })).rejects.toThrow(/nothing to report/)
    await expect(fs.access(join(place, 'r.html'))).rejects.toThrow()
    fixture.value = comparison()
    try {
      await writeComparisonReport(dir, { format: 'csv', out: foreign, force: true })
      expect(isReport(await fs.readFile(foreign, 'utf8'))).toBe(true)
    } finally {
      fixture.value = null
    }
  })
})
