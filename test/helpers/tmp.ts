import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach } from 'vitest'

/** A fresh temporary folder per call, removed after the test. */
export function useTmp(): () => string {
  const made: string[] = []
  afterEach(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = mkdtempSync(join(tmpdir(), 'vernacular-test-'))
    made.push(d)
    return d
  }
}

/** The same, but kept for the whole file (a fixture made in `beforeAll`), removed after its last test. */
export function useSuiteTmp(): () => string {
  const made: string[] = []
  afterAll(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = mkdtempSync(join(tmpdir(), 'vernacular-test-'))
    made.push(d)
    return d
  }
}

/** Every file below `dir` with its content, to prove that an operation changed nothing. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const { promises: fs } = await import('node:fs')
  const out: Record<string, string> = {}
  async function walk(d: string, rel: string): Promise<void> {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`)
      else out[`${rel}${e.name}`] = await fs.readFile(p, 'latin1')
    }
  }
  await walk(dir, '')
  return out
}
