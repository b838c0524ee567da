import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { JobSnapshot } from '../../main/engine/contract'
import { screenshotWhole as screenshotPage, useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()
const { rpc } = session
const shots = session.shots

// The numbers are read back from the page, so the locale that formats them is fixed.
const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })

const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''))

/** Bytes from "5.7 GiB", "265 MiB". */
function readBytes(text: string | null): number {
  const match = /([\d,.]+)\s*(B|KiB|MiB|GiB|TiB)/.exec(text ?? '')
  if (!match) return Number.NaN
  const units: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }
  return Number(match[1]!.replace(/,/g, '')) * units[match[2]!]!
}

/** The whole page, taller than the window, into test-results/. */
const screenshotWhole = (page: Page, name: string) => screenshotPage(page, join(shots, name))

describe('the Base model step in Chromium', () => {
  it('shows the demo model, its memory fit, and resizes it for an extended tokenizer', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    const projectDir = (await page.getByTestId('project-dir').textContent())!.trim()
    await page.getByTestId('wizard-step-base-model').click()
    await expect.poll(() => page.getByTestId('basemodel-step').isVisible()).toBe(true)

    // The demo's base model: a two-layer GPT-2 pretrained on the English demo text, with an 8k prefix of GPT-2's tokenizer.
    await expect.poll(() => page.getByTestId('basemodel-architecture').textContent(), { timeout: 30_000 }).toBe('GPT2LMHeadModel')
    expect(digits(await page.getByTestId('basemodel-vocabulary').textContent())).toBe(8192)
    expect((await page.getByTestId('basemodel-layers').textContent())?.trim()).toBe('2')
    expect(digits(await page.getByTestId('basemodel-hidden').textContent())).toBe(128)
    expect(await page.getByTestId('basemodel-dtype').textContent()).toBe('float32')
    expect(await page.getByTestId('basemodel-parameters').textContent()).toMatch(/^\d+(\.\d+)?M$/)
    expect(await page.getByTestId('basemodel-tokenizer').getAttribute('data-relation')).toBe('same')

    // Memory fit: the stacked bar, the device's line, and a sentence with the total.
    expect(await page.getByTestId('basemodel-memory-chart').isVisible()).toBe(true)
    expect(await page.getByTestId('basemodel-memory-chart').getAttribute('aria-label')).toMatch(/Activations [\d.]+ (MiB|GiB)/)
    expect(await page.locator('[data-testid="basemodel-memory-chart"] rect[data-part]').count()).toBe(4)
    expect(await page.getByTestId('basemodel-memory-limit').count()).toBe(1)
    const fit = page.getByTestId('basemodel-fit')
    expect(await fit.textContent()).toMatch(/Training at batch 4 × 256 tokens with AdamW needs about [\d.]+ (MiB|GiB);.* has [\d.]+ (MiB|GiB): it (fits|does not fit)\./s)
    expect(['true', 'false']).toContain(await fit.getAttribute('data-fits'))
    const projectTotal = readBytes(await page.getByTestId('basemodel-fit-total').textContent())
    expect(projectTotal).toBeGreaterThan(0)
    expect(readBytes(await page.getByTestId('basemodel-memory-total').textContent())).toBe(projectTotal)

    // With activations recomputed (the training setting recompute): two bars on one axis, kept and recomputed; the kept
    // one is the estimate above, the recomputed one needs less; the demo fits, so auto keeps them.
    expect(await page.getByTestId('basemodel-recompute-chart').isVisible()).toBe(true)
    expect(await page.locator('[data-testid="basemodel-recompute-chart"] g[data-mode]').count()).toBe(2)
    expect(await page.locator('[data-testid="basemodel-recompute-chart"] g[data-mode="recomputed"] rect[data-part]').count()).toBe(4)
    expect(await page.getByTestId('basemodel-recompute-chart').getAttribute('aria-label')).toMatch(/activations kept: [\d.]+ (MiB|GiB).*recomputed: [\d.]+ (MiB|GiB)/)
    const keptTotal = readBytes(await page.getByTestId('basemodel-recompute-kept-total').textContent())
    const recomputedTotal = readBytes(await page.getByTestId('basemodel-recompute-recomputed-total').textContent())
    expect(keptTotal).toBe(projectTotal)
    expect(recomputedTotal).toBeGreaterThan(0)
    expect(recomputedTotal).toBeLessThan(keptTotal)
    expect(readBytes(await page.getByTestId('basemodel-recompute-recomputed-activations').textContent())).toBeLessThan(readBytes(await page.getByTestId('basemodel-recompute-kept-activations').textContent()))
    expect(await page.getByTestId('basemodel-recompute-saving').textContent()).toMatch(/Recomputing saves \d+(\.\d+)?% of the step’s memory/)
    expect(await page.getByTestId('basemodel-recompute-setting').textContent()).toContain('The project’s setting is auto: a run keeps them, since the step fits without recomputing.')
    expect(await page.locator('[data-testid="basemodel-recompute-table"] tr.is-chosen').getAttribute('data-mode')).toBe('kept')

    // The demo template trains at batch 4 × 256 (a small budget). What if: a smaller batch needs less (the engine's estimate, asked for again).
    await page.getByTestId('basemodel-batch').fill('1')
    await page.getByTestId('basemodel-seqlen').fill('128')
    await expect.poll(() => page.getByTestId('basemodel-fit-batch').textContent()).toBe('1')
    await expect.poll(() => page.getByTestId('basemodel-fit-seqlen').textContent()).toBe('128')
    const smallTotal = readBytes(await page.getByTestId('basemodel-fit-total').textContent())
    expect(smallTotal).toBeLessThan(projectTotal)
    expect(await page.getByTestId('basemodel-fit').getAttribute('data-fits')).toBe('true')
    // Longer than the model's context is refused here, not sent.
    await page.getByTestId('basemodel-seqlen').fill('4096')
    await expect.poll(() => page.getByTestId('basemodel-memory').textContent()).toContain('The model reads at most 256 tokens at once.')
    await page.getByTestId('basemodel-seqlen').fill('128')
    await expect.poll(() => page.getByTestId('basemodel-memory').textContent()).not.toContain('The model reads at most')
    // And back to the project's settings.
    await page.getByTestId('basemodel-whatif-reset').click()
    await expect.poll(() => page.getByTestId('basemodel-fit-batch').textContent()).toBe('4')
    expect(readBytes(await page.getByTestId('basemodel-fit-total').textContent())).toBe(projectTotal)

    // A folder that is not a model is refused, and the error names it.
    await page.getByTestId('basemodel-path-input').fill('/nonsense/no-such-model')
    await page.getByTestId('basemodel-set').click()
    const setError = page.locator('[data-testid="basemodel-error"][data-section="set"]')
    await expect.poll(() => setError.count()).toBe(1)
    expect(await setError.textContent()).toContain('/nonsense/no-such-model')
    expect(await page.getByTestId('basemodel-architecture').textContent()).toBe('GPT2LMHeadModel')

    // No extended tokenizer yet: the resize panel points to the Vocabulary step.
    expect(await page.getByTestId('basemodel-no-extended').isVisible()).toBe(true)
    await screenshotWhole(page, 'basemodel-step.png')

    // Extend the tokenizer from a script, once the demo corpora are ingested; the page hears of it.
    await expect
      .poll(async () => (await rpc<JobSnapshot[]>('jobs.list', { projectDir })).filter((job) => job.kind === 'ingest' && !['done', 'failed', 'cancelled'].includes(job.state)).length, {
        timeout: 60_000,
      })
      .toBe(0)
    const { job } = await rpc<{ job: JobSnapshot }>('vocab.extend', { dir: projectDir, mode: 'add', count: 200 })
    await expect.poll(async () => (await rpc<JobSnapshot>('jobs.get', { id: job.id })).state, { timeout: 60_000 }).toBe('done')
    const tokenizerChoice = page.getByTestId('basemodel-resize-tokenizer')
    await expect.poll(() => tokenizerChoice.isVisible(), { timeout: 30_000 }).toBe(true)

    // Resize from the page: mean initialisation (the default), rows padded to a multiple of 64.
    await tokenizerChoice.selectOption('add-200')
    expect(await page.getByTestId('basemodel-resize-init-mean').isChecked()).toBe(true)
    await page.getByTestId('basemodel-resize-pad').check()
    await page.getByTestId('basemodel-resize-run').click()
    const resized = page.getByTestId('basemodel-resized')
    await expect.poll(() => resized.count(), { timeout: 60_000 }).toBe(1)
    expect(await resized.first().getAttribute('data-mode')).toBe('add')
    expect(await resized.first().getAttribute('data-init')).toBe('mean')
    expect(await resized.first().getAttribute('data-rows-before')).toBe('8192')
    expect(await resized.first().getAttribute('data-rows-after')).toBe('8448')
    expect(await resized.first().getByTestId('basemodel-resized-rows').textContent()).toBe('8,192 → 8,448')
    expect(await resized.first().textContent()).toContain('200 appended')
    await expect.poll(() => page.getByTestId('basemodel-resize-done').textContent()).toContain('8,192 → 8,448 rows')
    await fs.access(join(projectDir, 'models', 'add-200-mean', 'resize.json'))
    expect(await page.locator('[data-testid="basemodel-error"]:not([data-section="set"])').count()).toBe(0)
    await screenshotWhole(page, 'basemodel-resized.png')
    await page.context().close()
  })
})
