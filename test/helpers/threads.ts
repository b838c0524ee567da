import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'rolldown'

// Worker threads cannot run TypeScript: the engine threads' entry point (main/threads.ts, built as
// out/main/threads.js for the app) is bundled with rolldown into out/test/ for the tests.
const ROOT = resolve(__dirname, '../..')

let built: Promise<string> | null = null

/** The path of the bundled engine-thread script (built once per test process). */
export function engineThreadScript(): Promise<string> {
  built ??= (async () => {
    const dir = join(ROOT, 'out', 'test')
    const file = join(dir, 'threads.cjs')
    mkdirSync(dir, { recursive: true })
    await build({
      input: join(ROOT, 'main', 'threads.ts'),
      platform: 'node',
      external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
      output: { file, format: 'cjs' },
      logLevel: 'warn',
    })
    return file
  })()
  return built
}
