// Builds a benchmark written in TypeScript with rolldown (already installed with vite) and runs it:
// `node test/bench/run.mjs corpus`.
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const name = process.argv[2]
if (!name) {
  console.error('usage: node test/bench/run.mjs <name>   (test/bench/<name>.ts)')
  process.exit(2)
}
const outFile = join(root, 'out', 'bench', `${name}.cjs`)
await build({
  input: join(here, `${name}.ts`),
  platform: 'node',
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  output: { file: outFile, format: 'cjs' },
  logLevel: 'warn',
})
const r = spawnSync(process.execPath, ['--max-old-space-size=4096', outFile, ...process.argv.slice(3)], { stdio: 'inherit', cwd: root })
process.exit(r.status ?? 1)
