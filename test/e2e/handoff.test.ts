import { mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import type { JobSnapshot, RunStatus } from '../../main/engine/contract'
import { screenshotWhole as screenshotPage, useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()
const { rpc, waitForJob } = session

const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })
const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim()

/** The bundle and the "external" run; outside the project (a bundle may not be inside it), removed after the file's tests. */
const work = mkdtempSync(join(tmpdir(), 'vernacular-e2e-handoff-'))
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true })
})

describe('Run on a cluster, in Chromium', () => {
  it('writes an FSDP bundle (replacing a foreign folder when asked), shows the commands, and imports an external run', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    const dir = (await page.getByTestId('project-dir').textContent())!.trim()

    // Through the API: the demo extended and resized, and a tiny run with one checkpoint (step 2).
    await session.makeTrainable(dir)
    const overrides = { sequenceLength: 32, batchSize: 2, steps: 2, checkpointEvery: 2, evalEvery: 0, warmupSteps: 1 }
    await waitForJob((await rpc<{ job: JobSnapshot }>('train.start', { dir, run: 'main', overrides })).job.id)

    await page.getByTestId('wizard-step-training').click()
    await expect.poll(() => page.getByTestId('training-step').isVisible()).toBe(true)
    await page.getByTestId('cluster-toggle').click()
    expect(await page.getByTestId('cluster-run').inputValue()).toBe('main')
    expect(await page.getByTestId('cluster-out').inputValue()).toBe(`${dir}-cluster`)
    expect(await page.getByTestId('cluster-target-fsdp').isChecked()).toBe(true)

    // A folder with someone else's file is refused, with the engine's message; Replace writes over it.
    const bundle = join(work, 'bundle')
    await fs.mkdir(bundle)
    await fs.writeFile(join(bundle, 'notes.txt'), 'mine\n')
    await page.getByTestId('cluster-out').fill(bundle)
    await page.getByTestId('cluster-write-start').click()
    const refused = page.locator('[data-testid="cluster-error"][data-section="refused"]')
    await expect.poll(() => refused.isVisible()).toBe(true)
    expect(await text(refused)).toContain('is not empty and was not written by vernacular handoff (it holds notes.txt)')
    expect(await text(refused)).toContain('Replace the folder')
    await page.getByTestId('cluster-force').check()
    await page.getByTestId('cluster-write-start').click()
    const done = page.getByTestId('cluster-write-done')
    await expect.poll(() => done.isVisible(), { timeout: 60_000 }).toBe(true)
    expect(await page.getByTestId('cluster-error').count()).toBe(0)
    expect(await done.getAttribute('data-out')).toBe(bundle)
    expect(await done.getAttribute('data-target')).toBe('fsdp')

    // The files are on disk, and the page says how many.
    for (const f of ['README.md', 'vernacular-run.json', 'train.py', 'launch.sh', 'vernacular_data.py', 'model/config.json', 'model/tokenizer.json', 'data/target.tokens']) {
      expect((await fs.stat(join(bundle, f))).isFile(), f).toBe(true)
    }
    await expect(fs.stat(join(bundle, 'notes.txt'))).rejects.toThrow()
    const files = Number(await text(page.getByTestId('cluster-write-files')))
    expect(files).toBeGreaterThanOrEqual(8)
    const settings = (await rpc<RunStatus>('train.status', { dir, run: 'main' })).settings!
    expect(Number((await text(page.getByTestId('cluster-tokens-per-step'))).replace(/\D/g, ''))).toBe(settings.batchSize * settings.sequenceLength * settings.gradientAccumulation)

    // The commands: one GPU (the engine's), eight GPUs, several nodes; and the import command.
    const commands = await page.getByTestId('cluster-command').allTextContents()
    const shown = commands.map((c) => c.replace(/\s*Copy(ed)?\s*$/, '').trim())
    expect(shown).toEqual(expect.arrayContaining(['./launch.sh --nproc-per-node 1', './launch.sh --nproc-per-node 8']))
    expect(shown.some((c) => c.includes('--nnodes 4'))).toBe(true)
    expect(await text(page.getByTestId('cluster-import-command').locator('code'))).toBe(`vernacular runs import ${dir} ${join(bundle, 'output')} --run main`)
    expect(await page.getByTestId('cluster-from').inputValue()).toBe(join(bundle, 'output'))
    expect(await page.getByTestId('cluster-import-run').inputValue()).toBe('main-cluster')

    // An "external" run: checkpoint-2/, the Hugging Face files of the local step 2 (no checksums, no trainer state).
    const external = join(work, 'external')
    const from = join(dir, 'runs', 'main', 'checkpoints', 'step-2')
    await fs.mkdir(join(external, 'checkpoint-2'), { recursive: true })
    for (const entry of await fs.readdir(from, { withFileTypes: true })) {
      if (entry.isFile() && /\.(json|safetensors)$/.test(entry.name) && entry.name !== 'checksums.json') await fs.copyFile(join(from, entry.name), join(external, 'checkpoint-2', entry.name))
    }
    await page.getByTestId('cluster-from').fill(external)
    await page.getByTestId('cluster-import-run').fill('ext')
    await page.getByTestId('cluster-import-start').click()
    const imported = page.getByTestId('cluster-import-done')
    await expect.poll(() => imported.isVisible(), { timeout: 60_000 }).toBe(true)
    expect(await imported.getAttribute('data-run')).toBe('ext')
    expect(await text(page.getByTestId('cluster-import-steps'))).toBe('2')

    // The run list has it, marked as trained elsewhere, with no Resume.
    const row = page.locator('[data-testid="training-history-run"][data-run="ext"]')
    await expect.poll(() => row.getAttribute('data-imported')).toBe('true')
    expect(await text(row.getByTestId('training-history-imported'))).toBe(`trained elsewhere (imported from ${external})`)
    expect(await page.getByTestId('training-history-resume-ext').count()).toBe(0)
    const status = await rpc<RunStatus>('train.status', { dir, run: 'ext' })
    expect(status.imported?.from).toBe(external)
    expect(status.checkpoints.map((c) => c.step)).toEqual([2])
    // Shown (the newest run is), it says where it was trained and offers no Resume.
    if (await page.getByTestId('training-show-ext').count()) await page.getByTestId('training-show-ext').click()
    await expect.poll(() => page.getByTestId('training-imported').isVisible()).toBe(true)
    expect(await page.getByTestId('training-resume').count()).toBe(0)
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280)
    await screenshotPage(page, join(session.shots, 'training-cluster.png'))
  })
})
