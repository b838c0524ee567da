import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useDemoWebMode } from '../helpers/browser'

const session = useDemoWebMode()
const shots = session.shots

// The numbers are read back from the page, so the locale that formats them is fixed.
const newPage = (): Promise<Page> => session.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })

const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''))
const decimal = (s: string | null) => Number((s ?? '').replace(/[^\d.]/g, ''))

/** Has ő (not in GPT-2's vocabulary as one token: it is spelled in two byte tokens) as well as á, é, ó. */
const SENTENCE = 'A magyar nyelv az uráli nyelvcsalád legnagyobb tagja, anyanyelvként körülbelül tizenhárom millióan beszélik, és ők őrzik.'

describe('the Vocabulary step in Chromium', () => {
  it('sweeps vocabulary sizes, previews tokens and writes an extended tokenizer for the demo', async () => {
    const page = await newPage()
    await page.goto(session.web.url)
    await expect.poll(() => page.getByTestId('project-title').textContent()).toBe('Hungarian demo')
    await page.getByTestId('wizard-step-vocabulary').click()
    await expect.poll(() => page.getByTestId('vocab-step').isVisible()).toBe(true)

    // The demo's base tokenizer is an 8k prefix of GPT-2's.
    await expect.poll(() => page.getByTestId('vocab-base-family').textContent(), { timeout: 30_000 }).toBe('byte-level-bpe')
    expect(digits(await page.getByTestId('vocab-base-size').textContent())).toBe(8192)

    // The sweep can start once the demo corpora are ingested.
    await expect.poll(() => page.getByTestId('vocab-sweep-run').isEnabled(), { timeout: 60_000 }).toBe(true)
    await page.getByTestId('vocab-sweep-counts').fill('0, 200, 1000')
    await page.getByTestId('vocab-sweep-run').click()
    const rows = page.getByTestId('vocab-sweep-row')
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBe(3)
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-count')))).toEqual(['0', '200', '1000'])
    const cell = async (count: number, testid: string) => decimal(await page.locator(`[data-testid="vocab-sweep-row"][data-count="${count}"] [data-testid="${testid}"]`).textContent())
    const target0 = await cell(0, 'vocab-sweep-target-tpw')
    const target1000 = await cell(1000, 'vocab-sweep-target-tpw')
    expect(target0).toBeGreaterThan(1)
    expect(target1000).toBeLessThan(target0)
    // English is measured too, and barely moves.
    const english0 = await cell(0, 'vocab-sweep-english-tpw')
    const english1000 = await cell(1000, 'vocab-sweep-english-tpw')
    expect(english0).toBeGreaterThan(1)
    expect(Math.abs(english1000 - english0) / english0).toBeLessThan(0.05)
    expect(await page.getByTestId('vocab-sweep-chart').isVisible()).toBe(true)

    // Live preview: the base chips spell the text exactly; 1000 new tokens make it shorter.
    await page.getByTestId('vocab-preview-input').fill(SENTENCE)
    await page.getByTestId('vocab-preview-count').selectOption('1000')
    const baseRow = page.getByTestId('vocab-preview-base')
    const extendedRow = page.getByTestId('vocab-preview-extended')
    await expect.poll(async () => (await baseRow.getByTestId('vocab-token').allTextContents()).join('')).toBe(SENTENCE)
    await expect.poll(async () => (await extendedRow.getByTestId('vocab-token').allTextContents()).join('')).toBe(SENTENCE)
    const baseCount = Number(await page.getByTestId('vocab-preview-base-count').textContent())
    const extendedCount = Number(await page.getByTestId('vocab-preview-extended-count').textContent())
    expect(baseCount).toBe(await baseRow.getByTestId('vocab-token').count())
    expect(extendedCount).toBe(await extendedRow.getByTestId('vocab-token').count())
    expect(extendedCount).toBeLessThan(baseCount)
    expect(await baseRow.getByTestId('vocab-token').first().getAttribute('title')).toMatch(/^id \d+/)
    expect(await extendedRow.locator('.tok--new').count()).toBeGreaterThan(0)
    await page.screenshot({ path: join(shots, 'vocab-step.png'), fullPage: true })

    // Extend: add 200 tokens; the output is listed and written into the project.
    await page.getByTestId('vocab-extend-mode-add').check()
    await page.getByTestId('vocab-extend-count').fill('200')
    await page.getByTestId('vocab-extend-run').click()
    const outputs = page.getByTestId('vocab-output')
    await expect.poll(() => outputs.count(), { timeout: 60_000 }).toBe(1)
    expect(await outputs.first().getAttribute('data-mode')).toBe('add')
    expect(await outputs.first().getAttribute('data-count')).toBe('200')
    expect(await outputs.first().textContent()).toContain('8,392')
    await fs.access(join(session.home, 'demo', 'tokenizer', 'add-200', 'tokenizer.json'))
    expect(await page.getByTestId('vocab-error').count()).toBe(0)
    await page.screenshot({ path: join(shots, 'vocab-extended.png'), fullPage: true })

    // The Corpus step estimates how many tokens each corpus comes to under the base tokenizer;
    // GPT-2 spends more tokens per byte on Hungarian than on English.
    await page.getByTestId('wizard-step-corpus').click()
    const tokens = (role: string) => page.getByTestId(`corpus-train-tokens-${role}`)
    await expect.poll(() => tokens('target').isVisible(), { timeout: 30_000 }).toBe(true)
    const bytesPerToken = async (role: string) => decimal((/([\d.]+) bytes per token/.exec((await page.getByTestId(`corpus-tokens-note-${role}`).textContent()) ?? '') ?? [])[1] ?? null)
    expect(digits(await tokens('target').textContent())).toBeGreaterThan(100_000)
    expect(await bytesPerToken('english')).toBeGreaterThan(await bytesPerToken('target'))
    await page.context().close()
  })
})
