import { mkdtempSync, promises as fs, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { screenshotWhole, useDemoWebMode } from '../helpers/browser'
import { type FakeHub, startFakeHub } from '../helpers/fakehub'

// "Download from the Hub" in the Base model step, against a fake Hub on loopback that the web-mode
// engine reaches through HF_ENDPOINT; the cache is a temporary HF_HOME. Nothing leaves the machine.
const FIXTURE = join(__dirname, '..', 'engine', 'model', 'fixtures', 'gpt2')
const COMMIT = 'c'.repeat(40)
const FILES = {
  'config.json': readFileSync(join(FIXTURE, 'config.json')),
  'generation_config.json': Buffer.from(JSON.stringify({ bos_token_id: 1, eos_token_id: 2 })),
  'model.safetensors': readFileSync(join(FIXTURE, 'model.safetensors')),
}
const TOTAL = Object.values(FILES).reduce((a, b) => a + b.length, 0)

let hub: FakeHub
const hfHome = mkdtempSync(join(tmpdir(), 'vernacular-e2e-hf-'))
beforeAll(async () => {
  hub = await startFakeHub([{ name: 'org/tiny-gpt2', commits: { [COMMIT]: FILES }, refs: { main: COMMIT } }])
})
afterAll(async () => {
  await hub?.close()
  await fs.rm(hfHome, { recursive: true, force: true })
})
const session = useDemoWebMode({ env: () => ({ HF_ENDPOINT: hub.url, HF_HOME: hfHome, HF_TOKEN: '' }) })

describe('Download from the Hub in Chromium', () => {
  it('shows size and fit, downloads with progress, cancels, resumes and sets the base model', async () => {
    const page: Page = await session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    await page.getByTestId('wizard-step-base-model').click()
    await expect.poll(() => page.getByTestId('basemodel-hub').isVisible(), { timeout: 30_000 }).toBe(true)
    const panel = page.getByTestId('basemodel-hub')

    // A repository that does not exist is reported as such.
    await page.getByTestId('basemodel-hub-repo').fill('org/missing')
    await page.getByTestId('basemodel-hub-check').click()
    await expect.poll(() => panel.getByTestId('basemodel-error').textContent()).toMatch(/no model org\/missing/)

    // Size and fit before downloading.
    await page.getByTestId('basemodel-hub-repo').fill('org/tiny-gpt2')
    await page.getByTestId('basemodel-hub-check').click()
    await expect.poll(() => page.getByTestId('basemodel-hub-info').getAttribute('data-total-bytes')).toBe(String(TOTAL))
    expect(await page.getByTestId('basemodel-hub-size').textContent()).toBe(`${(TOTAL / 1024).toFixed(0)} KiB`)
    expect(await page.getByTestId('basemodel-hub-fit').textContent()).toMatch(/Training at batch 4 × 64 tokens needs about [\d.]+ (KiB|MiB);.* has [\d.]+ (MiB|GiB): it fits\./)

    // A slow download shows bytes, speed and time left, and can be cancelled.
    hub.throttle(20_000)
    await page.getByTestId('basemodel-hub-download').click()
    await expect.poll(() => page.getByTestId('basemodel-hub-bytes').textContent(), { timeout: 20_000 }).toMatch(/KiB of [\d.]+ KiB · [\d.]+ KiB\/s/)
    await expect.poll(() => panel.getByRole('progressbar').getAttribute('aria-valuenow')).not.toBe('0')
    await screenshotWhole(page, join(session.shots, 'basemodel-hub-download.png'))
    await panel.getByTestId('job-cancel').click()
    await expect.poll(() => page.getByTestId('basemodel-hub-cancelled').isVisible(), { timeout: 20_000 }).toBe(true)

    // Downloading again resumes the weights by range, and the model becomes the base model.
    hub.throttle(null)
    const before = hub.requests.length
    await page.getByTestId('basemodel-hub-download').click()
    await expect.poll(() => page.getByTestId('basemodel-hub-done').textContent(), { timeout: 30_000 }).toContain('it is now the base model')
    const snapshot = join(hfHome, 'hub', 'models--org--tiny-gpt2', 'snapshots', COMMIT)
    await expect.poll(() => page.getByTestId('basemodel-path').textContent()).toBe(snapshot)
    expect(await page.getByTestId('basemodel-layers').textContent()).toBe('2')
    const weights = hub.requests.slice(before).filter((q) => q.path.endsWith('/model.safetensors') && q.range !== 'bytes=0-0')
    expect(weights).toHaveLength(1)
    expect(weights[0]!.range).toMatch(/^bytes=[1-9]\d*-$/)
    expect(await fs.readFile(join(snapshot, 'model.safetensors'))).toEqual(FILES['model.safetensors'])
    await screenshotWhole(page, join(session.shots, 'basemodel-hub-done.png'))
  })
})
