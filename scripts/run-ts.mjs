// Builds a TypeScript script with rolldown (installed with vite) and runs it with Node, passing the
// remaining arguments: `node scripts/run-ts.mjs resources/demo/build-base-model.ts --steps 1500`.
// The engine's modules are bundled in; packages stay external (resolved from node_modules).
import { spawnSync } from 'node:child_process'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const file = process.argv[2]
if (!file || !file.endsWith('.ts')) {
  console.error('usage: node scripts/run-ts.mjs <script.ts> [arguments]')
  process.exit(2)
}
const outFile = join(root, 'out', 'scripts', basename(file).replace(/\.ts$/, '.cjs'))
await build({
  input: resolve(root, file),
  platform: 'node',
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  output: { file: outFile, format: 'cjs' },
  logLevel: 'warn',
})
const r = spawnSync(process.execPath, ['--max-old-space-size=4096', outFile, ...process.argv.slice(3)], { stdio: 'inherit', cwd: root })
process.exit(r.status ?? 1)
