import { spawn, type SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const ROOT = resolve(__dirname, '../..')
export const CLI = join(ROOT, 'out', 'main', 'cli.js')

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the end-to-end tests (npm test does).`)
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built `vernacular` CLI as a user would. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; input?: string } = {}): Promise<RunResult> {
  assertBuilt()
  return new Promise((resolvePromise, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] }
    if (opts.uid !== undefined) spawnOpts.uid = opts.uid
    if (opts.gid !== undefined) spawnOpts.gid = opts.gid
    const child = spawn(process.execPath, [CLI, ...args], spawnOpts)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => (stdout += d))
    child.stderr?.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }))
    child.stdin?.end(opts.input ?? '')
  })
}
