import { mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()
const shots = session.shots
const newPage = () => session.newPage()
/** Where the tests create projects and files of their own. */
const workDir = mkdtempSync(join(tmpdir(), 'vernacular-e2e-work-'))
afterAll(() => fs.rm(workDir, { recursive: true, force: true }))

describe('web mode in Chromium', () => {
  it('refuses the page and the API without the session token', async () => {
    const page = await newPage()
    const base = session.web.url.split('?')[0]!.split('#')[0]!
    const none = await page.goto(base)
    expect(none?.status()).toBe(403)
    expect(await page.textContent('body')).toContain('npm run serve')
    const wrong = await page.goto(`${base}?token=${session.web.token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))}`)
    expect(wrong?.status()).toBe(403)
    // A WebSocket opened from a page without the token is refused too.
    const wsRefused = await page.evaluate(
      (port) =>
        new Promise<boolean>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws?token=wrong`)
          ws.onopen = () => resolve(false)
          ws.onerror = () => resolve(true)
        }),
      session.web.port,
    )
    expect(wsRefused).toBe(true)
    await page.context().close()
  })

  it('opens the demo project from the URL that serve --demo prints', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    expect(await page.getByTestId('mode-pill').textContent()).toContain('Web')
    // The token is taken out of the address bar once stored.
    expect(page.url()).not.toContain('token=')
    await page.screenshot({ path: join(shots, 'demo-project.png') })
    await page.context().close()
  })

  it('shows the demo corpora, ingested in the background, with the engine\'s numbers', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await page.getByTestId('wizard-step-corpus').click()
    const panel = page.getByTestId('corpus-stats-target')
    await expect.poll(() => panel.isVisible(), { timeout: 60_000 }).toBe(true)
    await expect.poll(() => page.getByTestId('corpus-stats-english').isVisible(), { timeout: 60_000 }).toBe(true)
    const state = JSON.parse(await fs.readFile(join(session.home, 'demo', 'corpora', 'target', 'corpus.json'), 'utf8')) as { sources: { profile: { train: { documents: number; words: number }; heldout: { documents: number } } }[] }
    const sum = (f: (s: (typeof state.sources)[number]) => number) => state.sources.reduce((a, s) => a + f(s), 0)
    const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''))
    expect(digits(await page.getByTestId('corpus-train-docs-target').textContent())).toBe(sum((s) => s.profile.train.documents))
    expect(digits(await page.getByTestId('corpus-heldout-docs-target').textContent())).toBe(sum((s) => s.profile.heldout.documents))
    expect(digits(await page.getByTestId('corpus-words-target').textContent())).toBe(sum((s) => s.profile.train.words))
    expect(await panel.getByTestId('corpus-length-chart').isVisible()).toBe(true)
    expect(await panel.getByTestId('corpus-script-chart').textContent()).toContain('Latin')
    await page.screenshot({ path: join(shots, 'corpus.png'), fullPage: true })
    await page.getByTestId('corpus-samples-target').click()
    await expect.poll(() => panel.getByTestId('corpus-sample-item').count()).toBe(5)
    await page.context().close()
  })

  it('reports a bad corpus file in the Corpus step, naming the file', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await page.getByTestId('wizard-step-corpus').click()
    const bad = join(workDir, 'latin2.txt')
    await fs.writeFile(bad, Buffer.concat([Buffer.from('Jó sor, rendes UTF-8 szöveggel.\nRossz sor: '), Buffer.from([0xe9, 0x0a])]))
    await page.getByTestId('corpus-paths-english').fill(bad)
    await page.getByTestId('corpus-ingest-english').click()
    await expect.poll(() => page.getByTestId('corpus-error-english').textContent(), { timeout: 30_000 }).toContain(`${bad}, line 2, byte ${Buffer.byteLength('Jó sor, rendes UTF-8 szöveggel.\nRossz sor: ')}: invalid UTF-8`)
    await page.context().close()
  })

  it('creates a project from a template through the UI: its name, language, base model and tasks, its text ingested', async () => {
    const page = await newPage()
    await page.goto(session.web.url.split('#')[0]!)
    await page.getByTestId('new-project').click()
    const dir = join(workDir, 'thai-demo')
    await page.getByTestId('project-template').selectOption('demo-th')
    expect(await page.getByTestId('project-name').inputValue()).toBe('Thai demo')
    expect(await page.getByTestId('project-language').inputValue()).toBe('th')
    await page.getByTestId('project-dir').fill(dir)
    await page.getByTestId('create-project').click()
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Thai demo')
    const manifest = JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8'))
    expect(manifest).toMatchObject({ name: 'Thai demo', language: 'th', template: 'demo-th', baseModel: { path: 'base-model' } })
    expect((await fs.readdir(join(dir, 'tasks'))).sort()).toEqual(['en-cloze.jsonl', 'th-cloze.jsonl'])
    // Both roles' text is ingested as jobs started with the project.
    await session.waitForIdle(dir)
    const stats = await session.rpc<{ roles: { role: string; train: { documents: number } }[] }>('corpus.stats', { dir })
    expect(stats.roles.map((r) => r.role).sort()).toEqual(['english', 'target'])
    for (const r of stats.roles) expect(r.train.documents).toBeGreaterThan(100)
    await page.context().close()
  })

  it('creates a project through the UI, which then exists on disk', async () => {
    const page = await newPage()
    await page.goto(session.web.url.split('#')[0]!)
    await page.getByTestId('new-project').click()
    const dir = join(workDir, 'magyar-proba')
    await page.getByTestId('project-name').fill('Magyar próba')
    await page.getByTestId('project-language').fill('hu')
    await page.getByTestId('project-dir').fill(dir)
    await page.screenshot({ path: join(shots, 'new-project.png') })
    await page.getByTestId('create-project').click()
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Magyar próba')
    expect(await page.getByTestId('project-dir').textContent()).toContain(dir)

    const manifest = JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8'))
    expect(manifest).toMatchObject({ format: 'vernacular-project', schemaVersion: 1, name: 'Magyar próba', language: 'hu' })
    await page.screenshot({ path: join(shots, 'project-overview.png') })

    // A step with nothing to show yet says so, with no numbers.
    await page.getByTestId('wizard-step-compare').click()
    await expect.poll(() => page.getByTestId('compare-no-runs').isVisible()).toBe(true)
    expect(await page.getByTestId('compare-no-runs').textContent()).toContain('No run has a checkpoint yet')

    // Rename through the UI and see it on disk.
    await page.getByTestId('wizard-step-overview').click()
    await page.getByTestId('rename-project').click()
    await page.getByTestId('rename-input').fill('Magyar adaptáció')
    await page.getByTestId('rename-save').click()
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Magyar adaptáció')
    await expect.poll(async () => JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')).name).toBe('Magyar adaptáció')
    await page.context().close()
  })

  it('shows engine errors in the form and lists recent projects', async () => {
    const page = await newPage()
    await page.goto(session.web.url.split('#')[0]!)
    await expect.poll(() => page.getByTestId('recent-item').count()).toBeGreaterThanOrEqual(2)
    expect(await page.getByTestId('recent-list').textContent()).toContain('Magyar adaptáció')
    await page.screenshot({ path: join(shots, 'home.png') })

    await page.getByTestId('new-project').click()
    await page.getByTestId('project-name').fill('Duplicate')
    await page.getByTestId('project-language').fill('hu')
    await page.getByTestId('project-dir').fill(join(workDir, 'magyar-proba'))
    await page.getByTestId('create-project').click()
    await expect.poll(() => page.getByTestId('form-error').textContent()).toContain('already a project')
    const manifest = JSON.parse(await fs.readFile(join(workDir, 'magyar-proba', 'vernacular.json'), 'utf8'))
    expect(manifest.name).toBe('Magyar adaptáció')
    await page.context().close()
  })

  it('shows the backend and runs the benchmark job with progress', async () => {
    const page = await newPage()
    await page.goto(session.web.url.split('#')[0]! + '#/system')
    await expect.poll(() => page.getByTestId('doctor-backend').textContent(), { timeout: 30_000 }).toMatch(/^(wasm|cpu|node|node-gpu)$/)
    await page.getByTestId('run-benchmark').click()
    await expect.poll(() => page.getByTestId('job-item').count()).toBeGreaterThanOrEqual(1)
    await expect.poll(() => page.getByTestId('benchmark-result').textContent(), { timeout: 60_000 }).toMatch(/GFLOP\/s/)
    await page.screenshot({ path: join(shots, 'system.png') })
    await page.context().close()
  })
})
