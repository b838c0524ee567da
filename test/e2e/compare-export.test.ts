import { mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import type { JobSnapshot, ModelInfo, RunStatus } from '../../main/engine/contract'
import { formatBytes } from '../../renderer/src/format'
import { screenshotWhole as screenshotPage, useDemoWebMode } from '../helpers/browser'
import { LOCALE, type Results, checkTable } from '../helpers/compare'

const session = useDemoWebMode()
const { rpc } = session
const waitForJob = (id: string) => session.waitForJob(id, 180_000)
const shots = session.shots

// The numbers are read back from the page, so the locale that formats them is fixed.
const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: LOCALE })

/** Where exports and reports go; removed after the file's tests. */
const work = mkdtempSync(join(tmpdir(), 'vernacular-e2e-export-'))
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true })
})

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

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()

async function checkSuggestion(page: Page, results: Results): Promise<void> {
  if (results.best) {
    const best = page.getByTestId('compare-best')
    expect(await best.getAttribute('data-run')).toBe(results.best.run)
    expect(await best.getAttribute('data-step')).toBe(String(results.best.step))
    expect(await text(page.getByTestId('compare-rule'))).toBe(`The rule: ${results.best.rule}.`)
  } else {
    expect(await page.getByTestId('compare-best-none').isVisible()).toBe(true)
    expect(await text(page.getByTestId('compare-rule'))).toBe(`The rule: ${results.rule}.`)
  }
}

async function setTolerance(page: Page, percent: string): Promise<void> {
  await page.getByTestId('compare-tolerance').fill(percent)
  await page.getByTestId('compare-tolerance-apply').click()
  await expect.poll(() => page.getByTestId('compare-tolerance-apply').isDisabled()).toBe(true)
}

describe('the Compare and Export steps in Chromium', () => {
  it('evaluates two checkpoints, shows the engine’s numbers, suggests one, writes reports, keeps the job over a reload, and exports', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    const dir = (await page.getByTestId('project-dir').textContent())!.trim()

    // Through the API, as a script would: once the demo corpora are ingested, a small vocabulary
    // extension, the base model resized for it, and a tiny run with checkpoints at steps 2 and 4.
    await session.makeTrainable(dir)
    // The project's tasks: the template's cloze tasks (evaluated below on their first items only).
    const tasksDir = join(dir, 'tasks')
    await fs.mkdir(tasksDir, { recursive: true })
    if (!(await fs.readdir(tasksDir)).some((f) => f.endsWith('.jsonl'))) await fs.copyFile(join(__dirname, '../../resources/demo/tasks/hu-cloze.jsonl'), join(tasksDir, 'hu-cloze.jsonl'))
    const overrides = { sequenceLength: 32, batchSize: 2, steps: 4, checkpointEvery: 2, evalEvery: 2, warmupSteps: 1 }
    await waitForJob((await rpc<{ job: JobSnapshot }>('train.start', { dir, run: 'main', overrides })).job.id)
    const status = await rpc<RunStatus>('train.status', { dir, run: 'main' })
    expect(status.checkpoints.map((c) => c.step).sort((a, b) => a - b)).toEqual([2, 4])

    // Compare: what is cached shows at once; Evaluate fills in the rest with the job's progress.
    await page.getByTestId('wizard-step-compare').click()
    await expect.poll(() => page.getByTestId('compare-step').isVisible()).toBe(true)
    await expect.poll(() => page.getByTestId('compare-evaluate').isEnabled(), { timeout: 30_000 }).toBe(true)
    const before = await rpc<Results>('eval.results', { dir })
    if (before.missing.length) {
      expect(await text(page.getByTestId('compare-missing'))).toContain('Not evaluated yet')
      await screenshotWhole(page, 'compare-before.png')
    }
    // A quick check, so that evaluating stays quick: the first 24 held-out documents and task items.
    expect(await page.getByTestId('compare-limit-note').count()).toBe(0)
    await page.getByTestId('compare-limit-quick').check()
    await page.getByTestId('compare-limit').fill('24')
    await page.getByTestId('compare-limit-apply').click()
    await expect.poll(() => page.getByTestId('compare-limit-note').getAttribute('data-limit')).toBe('24')
    expect((await rpc<Results>('eval.results', { dir })).limit).toBe(24)
    await page.getByTestId('compare-evaluate').click()
    await expect.poll(() => page.getByTestId('compare-job-done').isVisible(), { timeout: 300_000 }).toBe(true)
    await expect.poll(() => page.getByTestId('compare-complete').isVisible()).toBe(true)
    expect(await page.getByTestId('compare-error').count()).toBe(0)

    // The table: the base and two checkpoints, every number the engine's.
    const results = await rpc<Results>('eval.results', { dir })
    expect(results.missing).toEqual([])
    expect(results.limit).toBe(24)
    for (const e of [results.runs[0]!.base, ...results.runs[0]!.checkpoints]) {
      expect([e.target?.documents, e.english?.documents]).toEqual([24, 24])
      for (const t of Object.values(e.tasks)) expect(t.n).toBe(24)
    }
    expect(results.runs.map((r) => [r.run, r.checkpoints.map((c) => c.step).sort()])).toEqual([['main', [2, 4]]])
    await expect.poll(() => page.getByTestId('compare-row').count()).toBe(3)
    const cells = await checkTable(page, results)
    expect(cells).toBeGreaterThanOrEqual(3 * 7)
    await checkSuggestion(page, results)
    // The charts: two checkpoints on the forgetting chart, and the base (step 0) and steps 2 and 4 over the steps.
    expect(await page.getByTestId('compare-chart-forgetting').getAttribute('data-points')).toBe('2')
    expect(await page.getByTestId('compare-chart-bpb').getAttribute('data-points')).toBe('3')
    expect(await page.getByTestId('compare-forgetting-best').count()).toBe(results.best ? 1 : 0)
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280)
    await screenshotWhole(page, 'compare-step.png')
    await screenshotOf(page, 'compare-table', 'compare-table.png')
    await screenshotOf(page, 'compare-charts', 'compare-charts.png')

    // The tolerance: none allowed, then a lot; each time the page says what the engine says.
    await setTolerance(page, '0')
    const strict = await rpc<Results>('eval.results', { dir, maxEnglishChange: 0 })
    await expect.poll(() => text(page.getByTestId('compare-rule'))).toBe(`The rule: ${strict.best?.rule ?? strict.rule}.`)
    await checkSuggestion(page, strict)
    await checkTable(page, strict)
    await setTolerance(page, '1000')
    const loose = await rpc<Results>('eval.results', { dir, maxEnglishChange: 10 })
    expect(loose.best).not.toBeNull()
    await expect.poll(() => page.getByTestId('compare-best').getAttribute('data-step')).toBe(String(loose.best!.step))
    await checkSuggestion(page, loose)
    await checkTable(page, loose)
    const best = loose.best!
    expect(await page.locator('[data-testid="compare-row"][data-suggested="true"]').getAttribute('data-key')).toBe(`${best.run}@${best.step}`)
    await screenshotOf(page, 'compare-suggestion', 'compare-suggestion.png')

    // Samples of the suggested checkpoint next to the base's, as the engine wrote them.
    const run = results.runs[0]!
    const chosen = run.checkpoints.find((c) => c.step === best.step)!
    expect(await page.getByTestId('compare-samples-checkpoint').inputValue()).toBe(`${best.run}@${best.step}`)
    const sampleRows = page.getByTestId('compare-sample')
    expect(await sampleRows.count()).toBe(2 * chosen.samples.length)
    expect(chosen.samples.length).toBeGreaterThan(0)
    for (const s of chosen.samples) {
      const b = run.base.samples.find((x) => x.id === s.id)!
      const greedy = page.locator(`[data-testid="compare-sample"][data-id="${s.id}"][data-decoding="greedy"]`)
      const topP = page.locator(`[data-testid="compare-sample"][data-id="${s.id}"][data-decoding="top-p"]`)
      expect(await greedy.locator('[data-field="checkpoint"]').textContent()).toBe(s.prompt + s.greedy)
      expect(await greedy.locator('[data-field="base"]').textContent()).toBe(s.prompt + b.greedy)
      expect(await topP.locator('[data-field="checkpoint"]').textContent()).toBe(s.prompt + s.topP)
      expect(await topP.locator('[data-field="base"]').textContent()).toBe(s.prompt + b.topP)
    }
    await screenshotOf(page, 'compare-samples', 'compare-samples.png')

    // Export report: a CSV (one row per model) and an HTML page with nothing from outside, where the user typed.
    await page.getByTestId('compare-report-csv').check()
    const csvFile = join(work, 'reports', 'comparison.csv')
    await page.getByTestId('compare-report-path').fill(csvFile)
    await page.getByTestId('compare-report-save').click()
    await expect.poll(() => page.getByTestId('compare-report-done').getAttribute('data-out')).toBe(csvFile)
    const csv = (await fs.readFile(csvFile, 'utf8')).trim().split('\r\n')
    expect(csv).toHaveLength(4)
    expect(csv[0]).toMatch(/^model,run,step,tokens_target,tokens_english,/)
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['base,,', 'checkpoint,main,2', 'checkpoint,main,4'])
    // The last two columns: suggested, and the evaluation limit the numbers were computed under.
    expect(csv[0]).toMatch(/,suggested,limit$/)
    expect(csv.find((l) => l.startsWith(`checkpoint,${best.run},${best.step},`))!.endsWith(',true,24')).toBe(true)
    await page.getByTestId('compare-report-html').check()
    const htmlFile = join(work, 'reports', 'comparison.html')
    await page.getByTestId('compare-report-path').fill(htmlFile)
    await page.getByTestId('compare-report-save').click()
    await expect.poll(() => page.getByTestId('compare-report-done').getAttribute('data-out')).toBe(htmlFile)
    const html = await fs.readFile(htmlFile, 'utf8')
    expect(html).toContain(`Suggested checkpoint: ${best.run}, step ${best.step}`)
    expect(html.match(/<svg /g)).toHaveLength(3)
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(/i)
    // A file the report did not write is left alone.
    const notes = join(work, 'notes.csv')
    await fs.writeFile(notes, 'mine\n')
    await page.getByTestId('compare-report-path').fill(notes)
    await page.getByTestId('compare-report-save').click()
    await expect.poll(() => page.locator('[data-testid="compare-error"][data-section="report"]').textContent()).toContain('is not a report Vernacular wrote')
    expect(await fs.readFile(notes, 'utf8')).toBe('mine\n')
    await screenshotOf(page, 'compare-report', 'compare-report.png')

    // The offline report, opened in the browser: it draws its charts.
    const report = await page.context().newPage()
    await report.goto(`file://${htmlFile}`)
    expect(await report.locator('svg').count()).toBe(3)
    await report.screenshot({ path: join(shots, 'compare-report-html.png'), fullPage: true })
    await report.close()

    // Export: the suggested checkpoint is offered first, with the size of each storage type.
    await page.getByTestId('wizard-step-export').click()
    await expect.poll(() => page.getByTestId('export-step').isVisible()).toBe(true)
    await expect.poll(() => page.getByTestId('export-checkpoint').inputValue(), { timeout: 30_000 }).toBe(`${best.run}@${best.step}`)
    const info = await rpc<ModelInfo>('model.info', { model: chosen.dir })
    for (const [dtype, bytes] of [
      ['f32', 4],
      ['f16', 2],
      ['bf16', 2],
    ] as const) {
      await expect.poll(() => text(page.getByTestId(`export-size-${dtype}`)), { timeout: 30_000 }).toBe(`about ${formatBytes(info.parameters * bytes, LOCALE)}`)
    }
    // The model card preview is the card the engine would write, with the evaluation against the base.
    const card = await rpc<{ markdown: string }>('export.card', { dir, run: best.run, checkpoint: best.step, dtype: 'f32' })
    await expect.poll(() => page.getByTestId('export-card-markdown').textContent(), { timeout: 30_000 }).toBe(card.markdown)
    expect(card.markdown).toContain('## Evaluation')
    expect(card.markdown).toContain('A quick check only:** the first 24 held-out documents')
    await screenshotWhole(page, 'export-step.png')

    const out = join(work, 'magyar-model')
    await page.getByTestId('export-out').fill(out)
    await page.getByTestId('export-start').click()
    await expect.poll(() => page.getByTestId('export-done').getAttribute('data-out'), { timeout: 120_000 }).toBe(out)
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md']) {
      await fs.access(join(out, f))
      expect(await page.locator(`[data-testid="export-file"][data-name="${f}"]`).count(), f).toBe(1)
    }
    expect(JSON.parse(await fs.readFile(join(out, 'vernacular-export.json'), 'utf8'))).toMatchObject({ run: best.run, checkpoint: { step: best.step }, dtype: 'f32', evaluated: true })
    expect(await page.getByTestId('export-snippet').textContent()).toContain(`AutoModelForCausalLM.from_pretrained(${JSON.stringify(out)})`)
    await screenshotOf(page, 'export-done', 'export-done.png')

    // A non-empty folder no export wrote is refused; Replace it asks first, and Cancel leaves it alone.
    const foreign = join(work, 'my-folder')
    await fs.mkdir(foreign)
    await fs.writeFile(join(foreign, 'notes.txt'), 'keep me\n')
    await page.getByTestId('export-dtype-bf16').check()
    await page.getByTestId('export-out').fill(foreign)
    await page.getByTestId('export-start').click()
    await expect.poll(() => page.getByTestId('export-refused').isVisible(), { timeout: 30_000 }).toBe(true)
    expect(await text(page.getByTestId('export-refused'))).toContain('is not empty and was not written by vernacular export')
    expect(await page.getByTestId('export-replace-confirmation').count()).toBe(0)
    await page.getByTestId('export-replace').click()
    expect(await text(page.getByTestId('export-replace-confirmation'))).toContain(`Delete everything in ${foreign}`)
    await screenshotOf(page, 'export-refused', 'export-refused.png')
    await page.getByTestId('export-replace-cancel').click()
    expect(await page.getByTestId('export-replace-confirmation').count()).toBe(0)
    expect(await fs.readFile(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me\n')
    // Confirmed: the folder is replaced by the export.
    await page.getByTestId('export-replace').click()
    await page.getByTestId('export-replace-confirm').click()
    await expect.poll(() => page.getByTestId('export-done').getAttribute('data-out'), { timeout: 120_000 }).toBe(foreign)
    expect((await fs.readdir(foreign)).sort()).not.toContain('notes.txt')
    expect(JSON.parse(await fs.readFile(join(foreign, 'config.json'), 'utf8'))).toMatchObject({ torch_dtype: 'bfloat16' })
    expect(await page.getByTestId('export-error').count()).toBe(0)

    // GGUF: the storage types it has, with the file size the engine computes for each; Q8_0 written with a Modelfile.
    await page.getByTestId('export-format-gguf').check()
    expect(await page.getByTestId('export-dtype-bf16').count()).toBe(0)
    const { sizes } = await rpc<{ sizes: Record<'f32' | 'f16' | 'q8_0', number> }>('export.ggufSizes', { dir, run: best.run, checkpoint: best.step })
    for (const dtype of ['f32', 'f16', 'q8_0'] as const) {
      await expect.poll(() => text(page.getByTestId(`export-size-${dtype}`)), { timeout: 30_000 }).toBe(formatBytes(sizes[dtype], LOCALE))
    }
    expect(sizes.q8_0).toBeLessThan(sizes.f16)
    expect(sizes.f16).toBeLessThan(sizes.f32)
    expect(await page.getByTestId('export-card').count()).toBe(0)
    await page.getByTestId('export-dtype-q8_0').check()
    const ggufOut = join(work, 'magyar-gguf')
    await page.getByTestId('export-out').fill(ggufOut)
    await page.getByTestId('export-start').click()
    await expect.poll(() => page.getByTestId('export-done').getAttribute('data-out'), { timeout: 120_000 }).toBe(ggufOut)
    const ggufFile = `Hungarian-demo-step-${best.step}-q8_0.gguf`
    expect((await fs.readdir(ggufOut)).sort()).toEqual([ggufFile, 'Modelfile', 'vernacular-export.json'])
    expect((await fs.stat(join(ggufOut, ggufFile))).size).toBe(sizes.q8_0)
    expect(await page.locator(`[data-testid="export-file"][data-name="${ggufFile}"]`).count()).toBe(1)
    expect(await page.getByTestId('export-snippet').textContent()).toContain('ollama create my-model -f Modelfile')
    expect(await page.getByTestId('export-error').count()).toBe(0)
    // The whole page (the format and dtype choices with their sizes, and the result): the jobs panel has grown by now, and would cover a part.
    await screenshotWhole(page, 'export-gguf.png')
    await page.getByTestId('export-format-hf').check()

    // A reload during an evaluation keeps showing its job: the cached results of step 4 (the folder
    // of evaluations/ whose parts name its checkpoint) are removed, so it is evaluated again.
    const cache = join(dir, 'evaluations')
    let removed = 0
    for (const key of await fs.readdir(cache)) {
      const parts = await fs.readdir(join(cache, key))
      const model = (JSON.parse(await fs.readFile(join(cache, key, parts[0]!), 'utf8')) as { model: string }).model
      if (model === status.checkpoints.find((c) => c.step === 4)!.dir) {
        await fs.rm(join(cache, key), { recursive: true })
        removed++
      }
    }
    expect(removed).toBe(1)
    await page.getByTestId('wizard-step-compare').click()
    await page.reload()
    await expect.poll(() => page.getByTestId('compare-missing').isVisible(), { timeout: 30_000 }).toBe(true)
    expect(await text(page.getByTestId('compare-missing'))).toBe('Not evaluated yet: run “main”: step 4.')
    await expect.poll(() => page.getByTestId('compare-row').count()).toBe(2)
    await page.getByTestId('compare-evaluate').click()
    await expect.poll(() => page.getByTestId('compare-job').isVisible(), { timeout: 30_000 }).toBe(true)
    await page.reload()
    await expect.poll(() => page.getByTestId('compare-job').getAttribute('data-state'), { timeout: 30_000 }).toMatch(/queued|running/)
    expect(await text(page.getByTestId('compare-job'))).toContain('Compare runs')
    await screenshotOf(page, 'compare-evaluate-panel', 'compare-reloaded.png')
    await expect.poll(() => page.getByTestId('compare-job-done').isVisible(), { timeout: 300_000 }).toBe(true)
    await expect.poll(() => page.getByTestId('compare-row').count()).toBe(3)
    await checkTable(page, await rpc<Results>('eval.results', { dir }))
    await page.context().close()
  }, 900_000)
})
