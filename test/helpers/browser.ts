import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect } from 'vitest'
import type { JobSnapshot, MethodName } from '../../main/engine/contract'
import { ROOT } from './cli'

/** Debian's Chromium; Playwright's own browser downloads are not possible here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

export interface WebMode {
  url: string
  port: number
  token: string
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts `npm run serve`'s entry point (the built out/main/serve.js) and reads the URL it prints. */
export async function startWebMode(env: NodeJS.ProcessEnv, args: string[] = []): Promise<WebMode> {
  const entry = join(ROOT, 'out', 'main', 'serve.js')
  if (!existsSync(join(ROOT, 'out', 'renderer', 'index.html'))) throw new Error('The renderer is not built: run `npm run build` first (npm test does).')
  const child = spawn(process.execPath, [entry, '--json', '--port', '0', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => (stderr += d))
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)))
  })
  const { url, port, token } = JSON.parse(first) as { url: string; port: number; token: string }
  return {
    url,
    port,
    token,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/**
 * A browser test file's fixture: Debian's Chromium and web mode on the demo project with its own
 * temporary VERNACULAR_HOME, started before the file's tests and cleaned up after them.
 */
export interface DemoSession {
  readonly web: WebMode
  readonly home: string
  /** Where screenshots go (test-results/). */
  readonly shots: string
  /** A page in a fresh context; an uncaught error on the page fails the test. */
  newPage(options?: BrowserContextOptions): Promise<Page>
  /** A call to the engine over web mode's HTTP API, as a script would make it. */
  rpc<T>(method: MethodName, params: unknown): Promise<T>
  /** Waits until a job is done (failing on any other end). */
  waitForJob(id: string, timeout?: number): Promise<void>
  /** Waits until no job of the project is queued or running (the demo's ingest, for one). */
  waitForIdle(projectDir: string, timeout?: number): Promise<void>
  /** Makes the demo trainable through the API, as a script would: once its corpora are ingested, 50 new tokens (the plan becomes add 50) and the base model resized for them. */
  makeTrainable(projectDir: string): Promise<void>
}

/** `env` is read when the server starts (after the file's earlier `beforeAll`s), and added to its environment. */
export function useDemoWebMode(opts: { env?: () => NodeJS.ProcessEnv } = {}): DemoSession {
  let browser: Browser | undefined
  let web: WebMode | undefined
  let home = ''
  const shots = join(ROOT, 'test-results')
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'vernacular-e2e-home-'))
    browser = await launchChromium()
    web = await startWebMode({ ...opts.env?.(), VERNACULAR_HOME: home }, ['--demo'])
    await fs.mkdir(shots, { recursive: true })
  })
  afterAll(async () => {
    await browser?.close()
    await web?.stop()
    if (home) await fs.rm(home, { recursive: true, force: true })
  })
  return {
    get web() {
      return web!
    },
    get home() {
      return home
    },
    shots,
    async newPage(options = { viewport: { width: 1280, height: 800 } }) {
      const context = await browser!.newContext(options)
      const page = await context.newPage()
      page.on('pageerror', (e) => {
        throw e
      })
      return page
    },
    rpc,
    waitForJob,
    waitForIdle,
    makeTrainable,
  }
  function rpc<T>(method: MethodName, params: unknown): Promise<T> {
    return webRpc<T>(web!, method, params)
  }
  async function waitForJob(id: string, timeout = 120_000): Promise<void> {
    await expect.poll(async () => (await rpc<JobSnapshot>('jobs.get', { id })).state, { timeout }).toBe('done')
  }
  async function makeTrainable(dir: string): Promise<void> {
    await waitForIdle(dir)
    await waitForJob((await rpc<{ job: JobSnapshot }>('vocab.extend', { dir, mode: 'add', count: 50 })).job.id)
    await waitForJob((await rpc<{ job: JobSnapshot }>('baseModel.resize', { dir, mode: 'add', count: 50, init: 'mean' })).job.id)
  }
  async function waitForIdle(projectDir: string, timeout = 120_000): Promise<void> {
    await expect
      .poll(async () => (await rpc<JobSnapshot[]>('jobs.list', { projectDir })).filter((job) => !['done', 'failed', 'cancelled'].includes(job.state)).length, { timeout })
      .toBe(0)
  }
}

/**
 * Screenshots the whole page, taller than the window: the window is made as tall as the page
 * first, so the sticky header and jobs panel sit where they belong instead of over the content
 * (as they do in a `fullPage` screenshot).
 */
/** A call to the engine over web mode's HTTP API, as a script would make it; an engine error is thrown with the method's name. */
export async function webRpc<T>(web: Pick<WebMode, 'port' | 'token'>, method: MethodName, params: unknown): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${web.port}/api/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${web.token}` },
    body: JSON.stringify({ id: 1, method, params }),
  })
  const reply = (await response.json()) as { ok: true; result: T } | { ok: false; error: { message: string } }
  if (!reply.ok) throw new Error(`${method}: ${reply.error.message}`)
  return reply.result
}

export async function screenshotWhole(page: Page, path: string): Promise<void> {
  const viewport = page.viewportSize()!
  await page.evaluate('window.scrollTo(0, 0)')
  // The jobs panel may grow with the window (its height is a share of it): grow until all fits.
  for (let i = 0; i < 5; i++) {
    const height = await page.evaluate<number>('document.documentElement.scrollHeight')
    if (height <= page.viewportSize()!.height) break
    await page.setViewportSize({ width: viewport.width, height })
  }
  await page.screenshot({ path })
  await page.setViewportSize(viewport)
}
