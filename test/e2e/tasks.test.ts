import { mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/cli'
import { screenshotWhole, useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()

// The item counts are read back from the page, so the locale that formats them is fixed.
const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })

/** Where the task files to add are written; removed after the file's tests. */
const work = mkdtempSync(join(tmpdir(), 'vernacular-e2e-tasks-'))
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true })
})

const item = (context: string, choices: string[], gold: number) => JSON.stringify({ context, choices, gold })
/** Items of a task file: its non-blank lines. */
const itemsOf = async (file: string) => (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '').length

describe('the Compare step’s tasks in Chromium', () => {
  it('lists the template’s tasks, shows a bad task file’s line, adds a good one and replaces it only after a confirmation', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    const dir = (await page.getByTestId('project-dir').textContent())!.trim()

    await page.getByTestId('wizard-step-compare').click()
    await expect.poll(() => page.getByTestId('compare-step').isVisible()).toBe(true)
    const panel = page.getByTestId('tasks-panel')
    const task = (name: string) => panel.locator(`[data-testid="tasks-item"][data-task="${name}"]`)
    await expect.poll(() => panel.getByTestId('tasks-item').count(), { timeout: 30_000 }).toBe(2)
    for (const name of ['en-cloze', 'hu-cloze']) {
      const n = await itemsOf(join(ROOT, 'resources', 'demo', 'tasks', `${name}.jsonl`))
      expect(await task(name).getAttribute('data-items')).toBe(String(n))
      expect(await task(name).getByTestId('tasks-item-count').textContent()).toBe(`${n.toLocaleString('en-US')} items`)
    }
    expect(await panel.getByTestId('tasks-note').textContent()).toContain('Evaluate again to score the new task')

    // A malformed line 3: refused with the file and the line, and nothing is added.
    const bad = join(work, 'bad-task.jsonl')
    await fs.writeFile(bad, [item('A kutya ', ['ugat.', 'nyávog.'], 0), item('A macska ', ['nyávog.', 'ugat.'], 0), '{"context": "A tehén ", "choices": ["bőg.", "ugat."], "gold": 0', ''].join('\n'))
    await page.getByTestId('tasks-file').fill(bad)
    await page.getByTestId('tasks-add').click()
    await expect.poll(() => panel.getByTestId('tasks-error').textContent(), { timeout: 30_000 }).toContain(`${bad}, line 3`)
    expect(await panel.getByTestId('tasks-error').textContent()).toContain('not valid JSON')
    expect(await panel.getByTestId('tasks-item').count()).toBe(2)
    await expect.poll(async () => (await fs.readdir(join(dir, 'tasks'))).sort()).toEqual(['en-cloze.jsonl', 'hu-cloze.jsonl'])

    // A good small task: listed with its items.
    const good = join(work, 'hu-animals.jsonl')
    await fs.writeFile(good, [item('A kutya ', ['ugat.', 'nyávog.'], 0), item('A macska ', ['ugat.', 'nyávog.'], 1), item('A tehén ', ['bőg.', 'ugat.', 'nyávog.'], 0)].join('\n') + '\n')
    await page.getByTestId('tasks-file').fill(good)
    await page.getByTestId('tasks-add').click()
    await expect.poll(() => panel.getByTestId('tasks-added').textContent(), { timeout: 30_000 }).toContain('hu-animals (3 items)')
    expect(await panel.getByTestId('tasks-error').count()).toBe(0)
    await expect.poll(() => task('hu-animals').getAttribute('data-items')).toBe('3')
    expect(await task('hu-animals').getByTestId('tasks-item-count').textContent()).toBe('3 items')
    expect(await fs.readFile(join(dir, 'tasks', 'hu-animals.jsonl'), 'utf8')).toBe(await fs.readFile(good, 'utf8'))

    // The same again: refused with the name, and Replace it asks first.
    await fs.appendFile(good, item('A ló ', ['nyerít.', 'ugat.'], 0) + '\n')
    await page.getByTestId('tasks-add').click()
    await expect.poll(() => panel.getByTestId('tasks-refused').textContent(), { timeout: 30_000 }).toContain('already has a task named hu-animals')
    expect(await panel.getByTestId('tasks-added').count()).toBe(0)
    expect(await panel.getByTestId('tasks-replace-confirmation').count()).toBe(0)
    await page.getByTestId('tasks-replace').click()
    expect(await panel.getByTestId('tasks-replace-confirmation').textContent()).toContain('hu-animals')
    await page.getByTestId('tasks-replace-cancel').click()
    expect(await panel.getByTestId('tasks-replace-confirmation').count()).toBe(0)
    expect(await task('hu-animals').getAttribute('data-items')).toBe('3')
    await page.getByTestId('tasks-replace').click()
    await screenshotWhole(page, join(session.shots, 'compare-tasks-replace.png'))
    await page.getByTestId('tasks-replace-confirm').click()
    await expect.poll(() => panel.getByTestId('tasks-added').textContent(), { timeout: 30_000 }).toContain('hu-animals (4 items)')
    expect(await panel.getByTestId('tasks-refused').count()).toBe(0)
    await expect.poll(() => task('hu-animals').getAttribute('data-items')).toBe('4')
    expect(await panel.getByTestId('tasks-item').count()).toBe(3)
    expect(await itemsOf(join(dir, 'tasks', 'hu-animals.jsonl'))).toBe(4)

    // A damaged file in the tasks folder shows its error, with the line, after a reload.
    await fs.writeFile(join(dir, 'tasks', 'broken.jsonl'), item('A kutya ', ['ugat.', 'nyávog.'], 0) + '\n[1, 2]\n')
    await page.reload()
    await expect.poll(() => panel.getByTestId('tasks-item').count(), { timeout: 30_000 }).toBe(4)
    expect(await task('broken').getAttribute('data-items')).toBe('')
    expect(await task('broken').getByTestId('tasks-item-error').textContent()).toContain('line 2')
    await screenshotWhole(page, join(session.shots, 'compare-tasks.png'))
    await page.context().close()
  })
})
