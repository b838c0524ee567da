import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'rolldown'

// Worker threads cannot run TypeScript: the data-parallel workers' entry point
// (test/engine/model/fixtures/gradient-worker.ts) is bundled with rolldown, as test/bench/run.mjs
// bundles a benchmark, into out/test/ (under the repository, so that its packages resolve).
const ROOT = resolve(__dirname, '../..')
export const GRADIENT_WORKER_OUT = join(ROOT, 'out', 'test')

let built: Promise<string> | null = null

/** The path of the bundled worker script (built once per test process). */
export function gradientWorkerScript(): Promise<string> {
  built ??= (async () => {
    const file = join(GRADIENT_WORKER_OUT, 'gradient-worker.cjs')
    mkdirSync(GRADIENT_WORKER_OUT, { recursive: true })
    await build({
      input: join(ROOT, 'test', 'engine', 'model', 'fixtures', 'gradient-worker.ts'),
      platform: 'node',
      external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
      output: { file, format: 'cjs' },
      logLevel: 'warn',
    })
    return file
  })()
  return built
}
