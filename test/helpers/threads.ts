import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'rolldown'

// Worker threads cannot run TypeScript: a thread's entry point is bundled with rolldown, as
// test/bench/run.mjs bundles a benchmark, into out/test/ (under the repository, so that its
// packages resolve). The engine threads' entry (main/threads.ts) is built as out/main/threads.js
// for the app; the tests bundle it here.
const ROOT = resolve(__dirname, '../..')
export const THREAD_BUNDLES = join(ROOT, 'out', 'test')

const built = new Map<string, Promise<string>>()

/** Bundles `input` (relative to the repository) as out/test/<name>.cjs, once per test process; its path. */
export function threadBundle(input: string, name: string): Promise<string> {
  let p = built.get(name)
  if (!p) {
    p = (async () => {
      const file = join(THREAD_BUNDLES, `${name}.cjs`)
      mkdirSync(THREAD_BUNDLES, { recursive: true })
      await build({
        input: join(ROOT, input),
        platform: 'node',
        external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
        output: { file, format: 'cjs' },
        logLevel: 'warn',
      })
      return file
    })()
    built.set(name, p)
  }
  return p
}

/** The engine threads' script (main/threads.ts). */
export function engineThreadScript(): Promise<string> {
  return threadBundle('main/threads.ts', 'threads')
}
