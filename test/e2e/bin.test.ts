import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CLI, ROOT, type RunResult } from '../helpers/cli'

// package.json's `bin` (`vernacular` → out/main/cli.js) must survive a rebuild: `npm run serve`,
// `npm test` and `npm run build` all rewrite out/, and npm set the executable bit only once, when
// it linked the bin. Without the bit, `npx vernacular` fails with "Permission denied".
function run(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }))
  })
}

describe('the vernacular bin', () => {
  it('stays executable after a rebuild, and `npx vernacular` runs it', { timeout: 180_000 }, async () => {
    const build = await run('npx', ['electron-vite', 'build'])
    expect(build.code, build.stderr).toBe(0)
    const mode = statSync(CLI).mode & 0o777
    expect(mode & 0o111, `${CLI} has mode ${mode.toString(8)}, not executable`).toBe(0o111)
    const help = await run('npx', ['vernacular', '--help'])
    expect(help.stderr).not.toContain('Permission denied')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: vernacular')
  })
})
