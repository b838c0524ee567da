import { mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobSnapshot, MethodName, ProjectSummary, Result } from '../../main/engine/contract'
import { launchChromium, screenshotWhole as screenshotPage, startWebMode, type WebMode, webRpc } from '../helpers/browser'
import { ROOT } from '../helpers/cli'
import { LOCALE, type Results, checkTable } from '../helpers/compare'

/**
 * The whole path (issue 12) on the demo template with a tiny budget, through the page wherever
 * the page offers it: create, ingest, base model, sweep and extend, resize, replay mix, train to
 * two checkpoints, evaluate, compare, export. The engine is asked (over web mode's API) only to
 * read back what it says, and for the one thing the page has no UI for (a project from a template).
 *
 * Web mode is started without `--demo`, so nothing else (the demo project's own ingest) runs
 * beside the path.
 */
const shots = join(ROOT, 'test-results')
/** The test's own folder: VERNACULAR_HOME, the project and the export; removed afterwards. */
const work = mkdtempSync(join(tmpdir(), 'vernacular-e2e-whole-path-'))
let browser: Browser | undefined
let web: WebMode | undefined

beforeAll(async () => {
  await fs.mkdir(join(work, 'home'))
  browser = await launchChromium()
  web = await startWebMode({ VERNACULAR_HOME: join(work, 'home') })
  await fs.mkdir(shots, { recursive: true })
})
afterAll(async () => {
  await browser?.close()
  await web?.stop()
  await fs.rm(work, { recursive: true, force: true })
})

/** A page in a fresh context, the locale that formats the numbers fixed; an uncaught error on the page fails the test. */
async function newPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, locale: LOCALE })
  const page = await context.newPage()
  page.on('pageerror', (e) => {
    throw e
  })
  return page
}

/** A call to the engine over web mode's HTTP API, as a script would make it. */
function rpc<T>(method: MethodName, params: unknown): Promise<T> {
  return webRpc<T>(web!, method, params)
}

/** The project's jobs that have not finished. */
async function activeJobs(dir: string, kind?: string): Promise<JobSnapshot[]> {
  return (await rpc<JobSnapshot[]>('jobs.list', { projectDir: dir })).filter((job) => (kind === undefined || job.kind === kind) && !['done', 'failed', 'cancelled'].includes(job.state))
}

/** Every job of the project ended, none of them failed. */
async function expectJobsDone(dir: string, timeout: number): Promise<void> {
  await expect.poll(async () => (await activeJobs(dir)).length, { timeout }).toBe(0)
  const failed = (await rpc<JobSnapshot[]>('jobs.list', { projectDir: dir })).filter((job) => job.state !== 'done')
  expect(failed.map((job) => `${job.kind}: ${job.state}`)).toEqual([])
}

/** The whole page, taller than the window, as test-results/whole-path-<step>.png. */
const shot = (page: Page, step: string) => screenshotPage(page, join(shots, `whole-path-${step}.png`))

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()
const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''))

async function openStep(page: Page, step: string, testid: string): Promise<void> {
  await page.getByTestId(`wizard-step-${step}`).click()
  await expect.poll(() => page.getByTestId(testid).isVisible(), { timeout: 30_000 }).toBe(true)
}


describe('the whole path in Chromium', () => {
  it('creates a demo project, ingests, extends, resizes, sets the mix, trains two checkpoints, evaluates, compares and exports', async () => {
    const started = Date.now()
    const page = await newPage()

    // Create: from the `demo` template in the New project form (its name and language come with it).
    await page.goto(web!.url)
    await page.getByTestId('new-project').click()
    await expect.poll(() => page.getByTestId('project-name').isVisible()).toBe(true)
    await page.getByTestId('project-template').selectOption('demo')
    expect(await page.getByTestId('project-name').inputValue()).toBe('Hungarian demo')
    expect(await page.getByTestId('project-language').inputValue()).toBe('hu')
    const dir = join(work, 'magyar')
    await page.getByTestId('project-dir').fill(dir)
    await page.getByTestId('create-project').click()
    await expect.poll(() => page.getByTestId('project-title').textContent(), { timeout: 30_000 }).toBe('Hungarian demo')
    expect((await page.getByTestId('project-dir').textContent())!.trim()).toBe(dir)
    const created = await rpc<ProjectSummary>('project.open', { dir })
    expect(created.manifest).toMatchObject({ name: 'Hungarian demo', language: 'hu', template: 'demo', vocabulary: { mode: 'add', count: 5000 }, replay: { englishShare: 0.25 } })
    await shot(page, 'project')

    // The template's cloze tasks; evaluation is a quick check on the first 20 held-out documents and
    // task items (the Compare step's own form for it is tested in compare-export), so that it takes seconds.
    expect((await fs.readdir(join(dir, 'tasks'))).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['en-cloze.jsonl', 'hu-cloze.jsonl'])
    expect(await rpc<{ limit: number | null }>('eval.setLimit', { dir, limit: 20 })).toEqual({ limit: 20 })

    // Corpus: the template's text (the demo's Hungarian and English folders) was ingested as jobs when the project was made.
    await openStep(page, 'corpus', 'corpus-paths-target')
    for (const role of ['target', 'english'] as const) {
      await expect.poll(() => page.getByTestId(`corpus-stats-${role}`).isVisible(), { timeout: 180_000 }).toBe(true)
    }
    await expectJobsDone(dir, 180_000)
    expect(await page.locator('[data-testid^="corpus-error-"]').count()).toBe(0)
    const corpus = await rpc<Result<'corpus.stats'>>('corpus.stats', { dir })
    for (const role of ['target', 'english'] as const) {
      const stats = corpus.roles.find((r) => r.role === role)!
      expect(stats.sources.length, role).toBeGreaterThan(0)
      expect(digits(await page.getByTestId(`corpus-train-docs-${role}`).textContent()), role).toBe(stats.train.documents)
      expect(digits(await page.getByTestId(`corpus-heldout-docs-${role}`).textContent()), role).toBe(stats.heldout.documents)
      expect(stats.heldout.documents, role).toBeGreaterThan(0)
    }
    await shot(page, 'corpus')

    // Base model: the template's tiny GPT-2 is shown.
    await openStep(page, 'base-model', 'basemodel-step')
    await expect.poll(() => page.getByTestId('basemodel-architecture').textContent(), { timeout: 30_000 }).toBe('GPT2LMHeadModel')
    expect(digits(await page.getByTestId('basemodel-vocabulary').textContent())).toBe(8192)
    await shot(page, 'base-model')

    // Vocabulary: a small sweep, then 200 tokens added; extending records the plan (add 200) that training follows.
    await openStep(page, 'vocabulary', 'vocab-step')
    await expect.poll(() => page.getByTestId('vocab-sweep-run').isEnabled(), { timeout: 60_000 }).toBe(true)
    await page.getByTestId('vocab-sweep-counts').fill('0, 200')
    await page.getByTestId('vocab-sweep-run').click()
    const sweepRows = page.getByTestId('vocab-sweep-row')
    await expect.poll(() => sweepRows.count(), { timeout: 120_000 }).toBe(2)
    expect(await sweepRows.evaluateAll((all) => all.map((row) => row.getAttribute('data-count')))).toEqual(['0', '200'])
    await page.getByTestId('vocab-extend-mode-add').check()
    await page.getByTestId('vocab-extend-count').fill('200')
    await page.getByTestId('vocab-extend-run').click()
    await expect.poll(() => page.locator('[data-testid="vocab-output"][data-mode="add"][data-count="200"]').count(), { timeout: 120_000 }).toBe(1)
    expect(await page.getByTestId('vocab-error').count()).toBe(0)
    await expectJobsDone(dir, 60_000)
    expect((await rpc<ProjectSummary>('project.open', { dir })).manifest.vocabulary).toEqual({ mode: 'add', count: 200 })
    await shot(page, 'vocabulary')

    // Base model: resized for that tokenizer, mean initialisation.
    await openStep(page, 'base-model', 'basemodel-step')
    const tokenizerChoice = page.getByTestId('basemodel-resize-tokenizer')
    await expect.poll(() => tokenizerChoice.isVisible(), { timeout: 30_000 }).toBe(true)
    await tokenizerChoice.selectOption('add-200')
    await page.getByTestId('basemodel-resize-init-mean').check()
    await page.getByTestId('basemodel-resize-run').click()
    const resized = page.getByTestId('basemodel-resized')
    await expect.poll(() => resized.count(), { timeout: 120_000 }).toBe(1)
    expect(await resized.first().getAttribute('data-init')).toBe('mean')
    expect(await resized.first().getAttribute('data-rows-after')).toBe('8392')
    await fs.access(join(dir, 'models', 'add-200-mean', 'config.json'))
    await shot(page, 'resize')

    // Replay mix: 25% English, moved away and set back with its preset, and saved.
    await openStep(page, 'replay', 'replay-step')
    expect(await page.getByTestId('replay-share-value').textContent()).toBe('25%')
    await page.getByTestId('replay-share').fill('10')
    await page.getByTestId('replay-save').click()
    await expect.poll(() => page.getByTestId('replay-saved').isVisible()).toBe(true)
    await page.getByTestId('replay-preset-25').click()
    await expect.poll(() => page.getByTestId('replay-share-value').textContent()).toBe('25%')
    await page.getByTestId('replay-save').click()
    await expect.poll(() => page.getByTestId('replay-saved').isVisible()).toBe(true)
    expect((await rpc<ProjectSummary>('project.open', { dir })).manifest.replay.englishShare).toBe(0.25)
    await shot(page, 'replay')

    // Training: tiny settings in the form, started from the page, to the end with checkpoints at 2 and 4.
    await openStep(page, 'training', 'training-settings')
    await page.getByTestId('training-steps').fill('4')
    await page.getByTestId('training-sequenceLength').fill('32')
    await page.getByTestId('training-batchSize').fill('2')
    await page.getByTestId('training-checkpointEvery').fill('2')
    await page.getByTestId('training-advanced').locator('summary').click()
    await page.getByTestId('training-evalEvery').fill('2')
    await page.getByTestId('training-warmupSteps').fill('1')
    await expect.poll(() => page.getByTestId('training-fit-seqlen').textContent(), { timeout: 30_000 }).toBe('32')
    await shot(page, 'training-settings')
    await page.getByTestId('training-start').click()
    const run = page.getByTestId('training-run')
    await expect.poll(() => run.getAttribute('data-state'), { timeout: 300_000 }).toBe('done')
    expect(await page.getByTestId('training-run-step').textContent()).toBe('4 / 4')
    const checkpoints = page.getByTestId('training-checkpoint')
    expect(await checkpoints.evaluateAll((all) => all.map((c) => c.getAttribute('data-step')))).toEqual(['2', '4'])
    expect((await rpc<ProjectSummary>('project.open', { dir })).manifest.training).toMatchObject({ steps: 4, sequenceLength: 32, batchSize: 2, checkpointEvery: 2, evalEvery: 2, warmupSteps: 1 })
    const status = await rpc<Result<'train.status'>>('train.status', { dir, run: 'main' })
    expect(status.checkpoints.map((c) => c.step).sort((a, b) => a - b)).toEqual([2, 4])
    expect(await page.getByTestId('training-error').count()).toBe(0)
    await shot(page, 'training')

    // Compare: Evaluate, then the base and steps 2 and 4, every number the engine's.
    await openStep(page, 'compare', 'compare-step')
    await expect.poll(() => page.getByTestId('compare-evaluate').isEnabled(), { timeout: 30_000 }).toBe(true)
    await page.getByTestId('compare-evaluate').click()
    await expect.poll(() => page.getByTestId('compare-job-done').isVisible(), { timeout: 300_000 }).toBe(true)
    await expect.poll(() => page.getByTestId('compare-complete').isVisible()).toBe(true)
    expect(await page.getByTestId('compare-error').count()).toBe(0)
    const results = await rpc<Results>('eval.results', { dir })
    expect(results.missing).toEqual([])
    expect(results.runs.map((r) => [r.run, r.checkpoints.map((c) => c.step).sort((a, b) => a - b)])).toEqual([['main', [2, 4]]])
    expect(Object.keys(results.runs[0]!.base.tasks).sort()).toEqual(['en-cloze', 'hu-cloze'])
    expect(results.runs[0]!.base.tasks['hu-cloze']!.n).toBe(20)
    await expect.poll(() => page.getByTestId('compare-row').count()).toBe(3)
    expect(await checkTable(page, results)).toBeGreaterThanOrEqual(3 * (7 + 2 * 2))
    if (results.best) {
      expect(await page.getByTestId('compare-best').getAttribute('data-step')).toBe(String(results.best.step))
      expect(await text(page.getByTestId('compare-rule'))).toBe(`The rule: ${results.best.rule}.`)
    } else {
      expect(await text(page.getByTestId('compare-rule'))).toBe(`The rule: ${results.rule}.`)
    }
    await shot(page, 'compare')

    // Export: the suggested checkpoint (or, with none suggested, the newest) to a folder of the test's.
    await openStep(page, 'export', 'export-step')
    const offered = results.best ? `${results.best.run}@${results.best.step}` : 'main@4'
    await expect.poll(() => page.getByTestId('export-checkpoint').inputValue(), { timeout: 30_000 }).toBe(offered)
    const out = join(work, 'magyar-model')
    await page.getByTestId('export-out').fill(out)
    await page.getByTestId('export-start').click()
    await expect.poll(() => page.getByTestId('export-done').getAttribute('data-out'), { timeout: 120_000 }).toBe(out)
    expect(await page.getByTestId('export-error').count()).toBe(0)
    const files = await fs.readdir(out)
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'README.md']) {
      expect(files, f).toContain(f)
      expect((await fs.stat(join(out, f))).size, f).toBeGreaterThan(0)
      expect(await page.locator(`[data-testid="export-file"][data-name="${f}"]`).count(), f).toBe(1)
    }
    const step = Number(offered.split('@')[1])
    expect(JSON.parse(await fs.readFile(join(out, 'vernacular-export.json'), 'utf8'))).toMatchObject({ run: 'main', checkpoint: { step }, evaluated: true })
    // The model is the resized one: 8,192 base tokens and the 200 added.
    expect(JSON.parse(await fs.readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ vocab_size: 8392 })
    const readme = await fs.readFile(join(out, 'README.md'), 'utf8')
    expect(readme).toContain('## Evaluation')
    expect(await page.getByTestId('export-snippet').textContent()).toContain(`AutoModelForCausalLM.from_pretrained(${JSON.stringify(out)})`)
    await shot(page, 'export')

    console.log(`whole path: ${((Date.now() - started) / 1000).toFixed(0)} s`)
    await page.context().close()
  }, 1_200_000)
})
