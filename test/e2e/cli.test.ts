import { chmodSync, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli'
import { snapshotTree, useTmp } from '../helpers/tmp'

const tmp = useTmp()

describe('vernacular CLI', () => {
  it('prints help for itself and for each command', async () => {
    const help = await runCli(['--help'])
    expect(help.code).toBe(0)
    for (const c of ['project create', 'project show', 'doctor', 'serve']) expect(help.stdout).toContain(c)
    const sub = await runCli(['project', 'create', '--help'])
    expect(sub.code).toBe(0)
    expect(sub.stdout).toContain('Usage: vernacular project create DIR --name NAME --language CODE')
    const unknown = await runCli(['project', 'explode'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('project has: create, show, rename, list')
  })

  it('creates a project and shows its manifest as JSON', async () => {
    const home = tmp()
    const dir = join(tmp(), 'p')
    const created = await runCli(['project', 'create', dir, '--name', 'Demo', '--language', 'hu'], { env: { VERNACULAR_HOME: home } })
    expect(created.code).toBe(0)
    expect(created.stdout).toContain(`Created project "Demo" in ${dir}`)
    const shown = await runCli(['project', 'show', dir, '--json'], { env: { VERNACULAR_HOME: home } })
    expect(shown.code).toBe(0)
    const manifest = JSON.parse(shown.stdout)
    expect(manifest).toEqual(JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')))
    expect(manifest).toMatchObject({ format: 'vernacular-project', schemaVersion: 1, name: 'Demo', language: 'hu', replay: { englishShare: 0.25 } })
    const list = await runCli(['project', 'list', '--json'], { env: { VERNACULAR_HOME: home } })
    expect(JSON.parse(list.stdout)).toMatchObject([{ dir, name: 'Demo', status: 'ok' }])
  })

  it('reports errors as JSON on stdout with --json and as text on stderr without', async () => {
    const dir = tmp()
    const human = await runCli(['project', 'show', dir], { env: { VERNACULAR_HOME: tmp() } })
    expect(human.code).toBe(1)
    expect(human.stdout).toBe('')
    expect(human.stderr).toContain(`error: ${dir} is not a Vernacular project: it has no vernacular.json.`)
    expect(human.stderr).toContain('hint: ')
    const json = await runCli(['project', 'show', dir, '--json'], { env: { VERNACULAR_HOME: tmp() } })
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'not-a-project', file: join(dir, 'vernacular.json') } })
    const usage = await runCli(['project', 'create', dir, '--name', 'X'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('Usage: vernacular project create')
  })

  it('refuses a corrupt or future manifest and leaves it byte for byte', async () => {
    const dir = tmp()
    await fs.writeFile(join(dir, 'vernacular.json'), '{"format": "vernacular-project", "schemaVersion": 99, "writtenBy": "vernacular 7.0.0"}')
    const before = await snapshotTree(dir)
    const r = await runCli(['project', 'rename', dir, '--name', 'New'], { env: { VERNACULAR_HOME: tmp() } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('written by a newer Vernacular (project schema 99, vernacular 7.0.0)')
    expect(r.stderr).toContain('Update Vernacular')
    expect(await snapshotTree(dir)).toEqual(before)
  })

  it('refuses while another process holds the project lock', async () => {
    const dir = tmp()
    await runCli(['project', 'create', dir, '--name', 'Busy', '--language', 'hu'], { env: { VERNACULAR_HOME: tmp() } })
    // A live process (this test runner) holds the lock.
    await fs.writeFile(join(dir, '.vernacular.lock'), JSON.stringify({ pid: process.pid, hostname: (await import('node:os')).hostname(), purpose: 'training run', createdAt: new Date().toISOString(), version: 'test' }))
    const before = await snapshotTree(dir)
    const r = await runCli(['project', 'rename', dir, '--name', 'Other'], { env: { VERNACULAR_HOME: tmp() } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`is being written by Vernacular process ${process.pid}`)
    expect(r.stderr).toContain('training run')
    expect(await snapshotTree(dir)).toEqual(before)
  })

  it('explains a folder without write permission and leaves nothing behind', async () => {
    const parent = tmp()
    chmodSync(parent, 0o555)
    const isRoot = process.getuid?.() === 0
    const home = tmp()
    chmodSync(home, 0o777)
    // Root ignores permissions, so as root the CLI runs as the unprivileged user "nobody".
    const r = await runCli(['project', 'create', join(parent, 'p'), '--name', 'X', '--language', 'hu'], {
      env: { VERNACULAR_HOME: home, HOME: home },
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    })
    chmodSync(parent, 0o755)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Cannot create the folder ${join(parent, 'p')}: permission denied`)
    expect(r.stderr).toContain('hint: Choose a folder you can write to')
    expect(await fs.readdir(parent)).toEqual([])
  })

  it('doctor names the backend it would use and why', async () => {
    const r = await runCli(['doctor', '--json'], { env: { VERNACULAR_HOME: tmp(), VERNACULAR_BACKEND: '' } })
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.node).toBe(process.versions.node)
    expect(['node-gpu', 'node', 'wasm', 'cpu']).toContain(report.backend.name)
    expect(report.backend.attempts.at(-1)).toMatchObject({ name: report.backend.name, ok: true })
    expect(report.cpu.cores).toBeGreaterThan(0)
    const forced = await runCli(['doctor', '--json'], { env: { VERNACULAR_HOME: tmp(), VERNACULAR_BACKEND: 'cpu' } })
    expect(JSON.parse(forced.stdout).backend).toMatchObject({ name: 'cpu', requestedBy: 'env' })
    // No console banner from tfjs: with --json, stderr carries only JSON progress lines.
    expect(forced.stderr).toBe('')
    const wrong = await runCli(['doctor'], { env: { VERNACULAR_HOME: tmp(), VERNACULAR_BACKEND: 'cuda' } })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('VERNACULAR_BACKEND is "cuda"')
  })

  it('streams job progress as JSON lines on stderr', async () => {
    const r = await runCli(['doctor', '--bench', '--json'], { env: { VERNACULAR_HOME: tmp() } })
    expect(r.code).toBe(0)
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.length).toBeGreaterThan(1)
    expect(lines.every((l) => l.type === 'progress')).toBe(true)
    expect(lines.some((l) => l.fraction > 0)).toBe(true)
    expect(JSON.parse(r.stdout).benchmark.gflops).toBeGreaterThan(0)
  })
})
