import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { screenshotWhole as screenshotPage, useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()
const shots = session.shots

// The numbers are read back from the page, so the locale that formats them is fixed.
const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })

/** The whole page, taller than the window, into test-results/. */
const screenshotWhole = (page: Page, name: string) => screenshotPage(page, join(shots, name))

/** One part of the page, with the window as tall as the page so that the sticky header and jobs panel do not cover it. */
async function screenshotOf(page: Page, testid: string, name: string): Promise<void> {
  const viewport = page.viewportSize()!
  const height = await page.evaluate<number>('document.documentElement.scrollHeight')
  await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) })
  await page.evaluate('window.scrollTo(0, 0)')
  await page.getByTestId(testid).screenshot({ path: join(shots, name) })
  await page.setViewportSize(viewport)
}

/** The light theme's series colours (styles.css): the target language and English. */
const TARGET_RGB = [0x2f, 0x5f, 0xb3]
const ENGLISH_RGB = [0xc2, 0x57, 0x1a]

/** Pixels of a chart's canvas drawn in about `rgb`: a line that is drawn has some, an empty box none. */
function colouredPixels(page: Page, testid: string, rgb: number[]): Promise<number> {
  return page.evaluate<number>(`(() => {
    const canvas = document.querySelector('[data-testid="${testid}"] canvas')
    if (!canvas) return 0
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
    const [r, g, b] = ${JSON.stringify(rgb)}
    let n = 0
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40) n++
    }
    return n
  })()`)
}

const points = async (page: Page, testid: string) => Number(await page.getByTestId(testid).getAttribute('data-points'))
const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''))

describe('the Replay mix and Training steps in Chromium', () => {
  it('sets the mix, trains a short run with live charts that survive a reload, pauses, resumes and finishes with two checkpoints', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    const dir = (await page.getByTestId('project-dir').textContent())!.trim()

    // Make the demo trainable through the API: once its corpora are ingested, a small vocabulary
    // extension (the plan becomes add 50) and the base model resized for it.
    await session.makeTrainable(dir)

    // Replay mix: the demo plans 25%; the plan multiplied out (150 steps × 4 × 256 tokens).
    await page.getByTestId('wizard-step-replay').click()
    await expect.poll(() => page.getByTestId('replay-step').isVisible()).toBe(true)
    expect(await page.getByTestId('replay-share-value').textContent()).toBe('25%')
    expect(digits(await page.getByTestId('replay-tokens-total').textContent())).toBe(150 * 4 * 256)
    expect(digits(await page.getByTestId('replay-tokens-english').locator('.num').textContent())).toBe(38_400)
    await expect.poll(() => page.getByTestId('replay-target-passes').textContent(), { timeout: 30_000 }).toContain('an estimate')
    expect(await page.getByTestId('replay-target-passes').textContent()).toMatch(/about [\d.,]+×/)
    // No run has measured a speed yet: no time is made up.
    expect(await page.getByTestId('replay-time').textContent()).toContain('Measured on the first steps of the first run')
    // The slider, then a preset; saving writes the manifest.
    await page.getByTestId('replay-share').fill('10')
    await expect.poll(() => page.getByTestId('replay-share-value').textContent()).toBe('10%')
    await page.getByTestId('replay-preset-50').click()
    await expect.poll(() => page.getByTestId('replay-share-value').textContent()).toBe('50%')
    expect(digits(await page.getByTestId('replay-tokens-english').locator('.num').textContent())).toBe(76_800)
    await page.getByTestId('replay-save').click()
    await expect.poll(() => page.getByTestId('replay-saved').isVisible()).toBe(true)
    const manifest = async () => JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')) as { replay: { englishShare: number }; training: Record<string, number> }
    expect((await manifest()).replay.englishShare).toBe(0.5)
    await screenshotWhole(page, 'replay-step.png')

    // Training: small settings, the memory fit follows them, a bad value is refused in the form.
    await page.getByTestId('wizard-step-training').click()
    await expect.poll(() => page.getByTestId('training-settings').isVisible()).toBe(true)
    expect(await page.getByTestId('training-run').count()).toBe(0)
    // The defaults with their sources: the demo's 1.5M-parameter base takes the small-model column.
    const recipes = page.getByTestId('training-recipes')
    await recipes.locator('summary').click()
    await expect.poll(() => page.getByTestId('training-recipe-small').textContent(), { timeout: 30_000 }).toContain('fits this model')
    expect(await page.getByTestId('training-recipe-billion').textContent()).not.toContain('fits this model')
    expect(await page.getByTestId('training-recipe-row-learningRate').textContent()).toContain('SambaLingo')
    await page.getByTestId('training-recipe-apply-billion').click()
    expect(await page.getByTestId('training-sequenceLength').inputValue()).toBe('4096')
    await page.getByTestId('training-recipe-apply-small').click()
    expect(await page.getByTestId('training-sequenceLength').inputValue()).toBe('512')
    expect(await page.getByTestId('training-steps').inputValue()).toBe('1000')
    await screenshotOf(page, 'training-recipes', 'training-defaults.png')
    await page.getByTestId('training-steps').fill('0')
    await expect.poll(() => page.getByTestId('training-settings').textContent()).toContain('The steps must be at least 1.')
    expect(await page.getByTestId('training-start').isDisabled()).toBe(true)
    await page.getByTestId('training-steps').fill('12')
    await page.getByTestId('training-sequenceLength').fill('256')
    await page.getByTestId('training-batchSize').fill('4')
    await page.getByTestId('training-checkpointEvery').fill('3')
    await page.getByTestId('training-advanced').locator('summary').click()
    await page.getByTestId('training-evalEvery').fill('3')
    await page.getByTestId('training-keepCheckpoints').fill('2')
    await page.getByTestId('training-warmupSteps').fill('2')
    await expect.poll(() => page.getByTestId('training-fit-seqlen').textContent(), { timeout: 30_000 }).toBe('256')
    expect(await page.getByTestId('training-fit-batch').textContent()).toBe('4')
    expect(await page.getByTestId('training-fit').getAttribute('data-fits')).toBe('true')
    expect(await page.locator('[data-testid="training-memory"] rect[data-part]').count()).toBe(4)
    expect(await page.getByTestId('training-step-tokens').textContent()).toContain('1,024 tokens, 12,288 in all')
    expect(await page.getByTestId('training-run-name').inputValue()).toBe('main')
    expect(await page.getByTestId('training-start').textContent()).toContain('Save and start training')
    // Recompute activations: auto by default, with its effect at the saved batch × sequence; the demo fits, so a run keeps them.
    expect(await page.getByTestId('training-recompute').inputValue()).toBe('auto')
    expect(await page.getByTestId('training-recompute-effect').textContent()).toMatch(/with activations kept and [\d.]+ (MiB|GiB) recomputed \(\d+(\.\d+)?% less\).* On auto a run here keeps them: the step fits\./s)
    await screenshotWhole(page, 'training-settings.png')

    // Start: the settings are saved first, then the run trains and the charts move.
    await page.getByTestId('training-start').click()
    const run = page.getByTestId('training-run')
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 30_000 }).toBe('running')
    expect((await manifest()).training).toMatchObject({ steps: 12, sequenceLength: 256, batchSize: 4, checkpointEvery: 3, evalEvery: 3, keepCheckpoints: 2, warmupSteps: 2 })
    await expect.poll(() => points(page, 'training-chart-loss'), { timeout: 120_000 }).toBeGreaterThanOrEqual(2)
    expect(await page.getByTestId('training-speed').textContent()).toMatch(/[\d,]+ tokens a second/)
    expect(await page.getByTestId('training-recompute-state').getAttribute('data-recompute')).toBe('false')
    await expect.poll(() => page.locator('[data-testid="training-log"] li').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('training-log').textContent()).toMatch(/step \d+\/12, loss [\d.]+/)
    await expect.poll(() => colouredPixels(page, 'training-chart-loss', TARGET_RGB)).toBeGreaterThan(20)

    // A reload in the middle of the run: the page finds the run and its job again, and follows it.
    await page.reload()
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 30_000 }).toBe('running')
    await expect.poll(() => points(page, 'training-chart-loss'), { timeout: 30_000 }).toBeGreaterThanOrEqual(2)
    const before = await points(page, 'training-chart-loss')
    expect(before).toBeLessThan(12)
    await expect.poll(() => points(page, 'training-chart-loss'), { timeout: 60_000 }).toBeGreaterThan(before)
    await expect.poll(() => page.locator('[data-testid="training-log"] li').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('training-run-step').textContent()).toMatch(/^\d+ \/ 12$/)
    await screenshotOf(page, 'training-run', 'training-running.png')

    // Pause: the worker finishes its step, writes a checkpoint, and the run waits to be resumed.
    await page.getByTestId('training-pause').click()
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 60_000 }).toBe('paused')
    const pausedAt = digits((await page.getByTestId('training-run-step').textContent())!.split('/')[0]!)
    expect(pausedAt).toBeGreaterThan(0)
    expect(pausedAt).toBeLessThan(12)
    expect(await page.getByTestId('training-checkpoint').count()).toBeGreaterThanOrEqual(1)
    expect(await page.locator(`[data-testid="training-checkpoint"][data-step="${pausedAt}"]`).count()).toBe(1)
    expect(await page.getByTestId('training-resume').isVisible()).toBe(true)
    expect(await page.locator('[data-testid="training-history-run"][data-run="main"]').getAttribute('data-state')).toBe('paused')
    // Nothing pushes the page wider than the window (a wide table scrolls within the step).
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280)
    await screenshotWhole(page, 'training-paused.png')

    // Resume, and train to the end: two checkpoints kept (keepCheckpoints 2), the last at step 12.
    await page.getByTestId('training-resume').click()
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 120_000 }).toBe('done')
    expect(await page.getByTestId('training-run-step').textContent()).toBe('12 / 12')
    const checkpoints = page.getByTestId('training-checkpoint')
    await expect.poll(() => checkpoints.count()).toBe(2)
    expect(await checkpoints.last().getAttribute('data-step')).toBe('12')
    await fs.access(join(dir, 'runs', 'main', 'checkpoints', 'step-12', 'config.json'))
    await expect.poll(() => points(page, 'training-chart-loss')).toBe(12)
    expect(await points(page, 'training-chart-lr')).toBe(12)
    // Held-out bits per byte before the first step (the baseline) and every 3 steps: 0, 3, 6, 9, 12.
    expect(await points(page, 'training-chart-heldout')).toBe(5)
    for (const chart of ['training-chart-loss', 'training-chart-heldout']) {
      expect(await colouredPixels(page, chart, TARGET_RGB), chart).toBeGreaterThan(20)
      expect(await colouredPixels(page, chart, ENGLISH_RGB), chart).toBeGreaterThan(20)
    }
    expect(await page.getByTestId('training-chart-heldout').locator('[role="img"]').getAttribute('aria-label')).toMatch(/5 points, up to step 12: Hungarian [\d.]+, English [\d.]+/)
    expect(await page.locator('[data-testid="training-history-run"][data-run="main"]').getAttribute('data-state')).toBe('done')

    // Pin the older checkpoint: the run records it.
    const older = checkpoints.first()
    const olderStep = Number(await older.getAttribute('data-step'))
    await older.getByTestId('training-pin').check()
    await expect.poll(() => older.getAttribute('data-pinned')).toBe('true')
    expect((JSON.parse(await fs.readFile(join(dir, 'runs', 'main', 'run.json'), 'utf8')) as { pinned: number[] }).pinned).toEqual([olderStep])
    expect(await page.getByTestId('training-error').count()).toBe(0)
    await screenshotWhole(page, 'training-done.png')
    await screenshotOf(page, 'training-charts', 'training-charts.png')

    // A run the manifest says is training, with no worker holding it (the app stopped mid-run), is
    // shown interrupted, with Resume: here the manifest is set back to running by hand.
    const onDisk = JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')) as { runs: { name: string; status: string }[] }
    onDisk.runs = onDisk.runs.map((r) => (r.name === 'main' ? { ...r, status: 'running' } : r))
    await fs.writeFile(join(dir, 'vernacular.json'), JSON.stringify(onDisk, null, 2) + '\n')
    await page.reload()
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 30_000 }).toBe('interrupted')
    expect(await page.getByTestId('training-interrupted').textContent()).toContain('Resume continues from its newest checkpoint')
    expect(await page.getByTestId('training-resume').isVisible()).toBe(true)
    expect(await page.getByTestId('training-history-resume-main').isVisible()).toBe(true)
    await screenshotOf(page, 'training-run', 'training-interrupted.png')
    await page.getByTestId('training-resume').click()
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 60_000 }).toBe('done')
    expect(await page.getByTestId('training-run-step').textContent()).toBe('12 / 12')

    // The Replay mix step now has a measured speed to give the plan a time.
    await page.getByTestId('wizard-step-replay').click()
    await expect.poll(() => page.getByTestId('replay-time').textContent(), { timeout: 30_000 }).toMatch(/about [\d.]+ (s|min|h).* of training steps at [\d,]+ tokens a second, the speed step 12 of run “main” measured/s)
    await page.context().close()
  }, 420_000)
})
