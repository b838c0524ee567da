/** The Compare table as the engine's numbers say it must read (shared by the Compare/Export and whole-path E2E tests). */
import type { Locator, Page } from 'playwright-core'
import { expect } from 'vitest'
import type { Evaluation, Result } from '../../main/engine/contract'
import { formatChange, formatDecimal, formatNumber } from '../../renderer/src/format'

/** The locale the E2E pages format numbers in. */
export const LOCALE = 'en-US'

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()

export type Results = Result<'eval.results'>

/**
 * What each number cell of a table row must say for the engine's results: the engine's values
 * formatted as the UI formats them, and the gain and change worked out as the contract defines
 * them (relative to the base's bits per byte).
 */
export function expectedCells(results: Results, run: string | null, step: number | null): Record<string, string> {
  const base = results.runs[0]!.base
  const e: Evaluation & { tokensTarget?: number; tokensEnglish?: number } = run === null ? base : results.runs.find((r) => r.run === run)!.checkpoints.find((c) => c.step === step)!
  const n = (v: number) => formatNumber(v, LOCALE)
  const bpb = (v: number | undefined) => (v === undefined ? '—' : formatDecimal(v, 4, LOCALE))
  const rel = (b: number | undefined, x: number | undefined) => (b === undefined || x === undefined ? '—' : formatChange((x - b) / b, LOCALE))
  const gain = (b: number | undefined, x: number | undefined) => (b === undefined || x === undefined ? '—' : formatChange(-((x - b) / b), LOCALE))
  const acc = (v: number) => formatDecimal(100 * v, 1, LOCALE)
  const cells: Record<string, string> = {
    step: step === null ? '—' : n(step),
    tokensTarget: run === null ? '—' : n(e.tokensTarget!),
    tokensEnglish: run === null ? '—' : n(e.tokensEnglish!),
    target: bpb(e.target?.bitsPerByte),
    english: bpb(e.english?.bitsPerByte),
    targetGain: run === null ? '—' : gain(base.target?.bitsPerByte, e.target?.bitsPerByte),
    englishChange: run === null ? '—' : rel(base.english?.bitsPerByte, e.english?.bitsPerByte),
  }
  const tasks = new Set(results.runs.flatMap((r) => [r.base, ...r.checkpoints].flatMap((x) => Object.keys(x.tasks))))
  for (const t of tasks) {
    const r = e.tasks[t]
    cells[`task:${t}:acc`] = r ? `${acc(r.acc)}${r.accStderr === null ? '' : ` ± ${acc(r.accStderr)}`}` : '—'
    cells[`task:${t}:accNorm`] = r ? acc(r.accNorm) : '—'
  }
  return cells
}

/** Checks every number of the Compare table against the engine's results, row by row and cell by cell; answers how many cells it compared. */
export async function checkTable(page: Page, results: Results): Promise<number> {
  const keys = ['base', ...results.runs.flatMap((r) => [...r.checkpoints].sort((a, b) => a.step - b.step).map((c) => `${r.run}@${c.step}`))]
  const rows = page.getByTestId('compare-row')
  expect(await rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-key')))).toEqual(keys)
  let compared = 0
  for (const key of keys) {
    const at = key.lastIndexOf('@')
    const run = key === 'base' ? null : key.slice(0, at)
    const step = key === 'base' ? null : Number(key.slice(at + 1))
    const row = page.locator(`[data-testid="compare-row"][data-key="${key}"]`)
    const cells = expectedCells(results, run, step)
    // The row has exactly the cells expected (nothing unchecked), each with the engine's number.
    expect((await row.locator('td[data-field]').evaluateAll((els) => els.map((el) => el.getAttribute('data-field')))).sort()).toEqual(Object.keys(cells).sort())
    for (const [field, expected] of Object.entries(cells)) {
      expect(await text(row.locator(`td[data-field="${field}"]`)), `${key} ${field}`).toBe(expected)
      compared++
    }
    const suggested = results.best !== null && results.best.run === run && results.best.step === step
    expect(await row.getAttribute('data-suggested'), key).toBe(String(suggested))
    expect(await row.getByTestId('compare-suggested-mark').count(), key).toBe(suggested ? 1 : 0)
  }
  return compared
}

/** Checks the suggested checkpoint and its rule against the engine's. */
