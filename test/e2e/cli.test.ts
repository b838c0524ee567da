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

describe('vernacular corpus', () => {
  const demo = (lang: string) => join(__dirname, '..', '..', 'resources', 'demo', 'corpora', lang)

  it('adds, profiles and samples Thai text, with sensible word counts', async () => {
    const home = tmp()
    const dir = join(tmp(), 'thai')
    await runCli(['project', 'create', dir, '--name', 'Thai', '--language', 'th'], { env: { VERNACULAR_HOME: home } })
    const added = await runCli(['corpus', 'add', dir, '--role', 'target', demo('th'), '--json'], { env: { VERNACULAR_HOME: home } })
    expect(added.code).toBe(0)
    const stats = JSON.parse(added.stdout)
    expect(stats.role).toBe('target')
    expect(stats.train.scripts.Thai).toBeGreaterThan(0.8 * Object.values(stats.train.scripts as Record<string, number>).reduce((a, b) => a + b, 0))
    // Thai has no spaces; the segmenter still finds words: a few characters each, not whole lines.
    const charsPerWord = stats.train.characters / stats.train.words
    expect(charsPerWord).toBeGreaterThan(2)
    expect(charsPerWord).toBeLessThan(8)
    // Progress went to stderr as JSON lines.
    expect(added.stderr.trim().split('\n').every((l) => JSON.parse(l).type === 'progress')).toBe(true)

    const again = await runCli(['corpus', 'stats', dir, '--json'], { env: { VERNACULAR_HOME: home } })
    expect(JSON.parse(again.stdout).roles[0].train).toEqual(stats.train)
    const sample = await runCli(['corpus', 'sample', dir, '--role', 'target', '--split', 'heldout', '-n', '3', '--seed', '9', '--json'], { env: { VERNACULAR_HOME: home } })
    const docs = JSON.parse(sample.stdout).documents
    expect(docs).toHaveLength(3)
    expect(docs[0].source.startsWith(demo('th'))).toBe(true)
    const human = await runCli(['corpus', 'stats', dir], { env: { VERNACULAR_HOME: home } })
    expect(human.stdout).toMatch(/Target language \(th\), \d+ source\(s\)/)
  })

  it('names an unreadable file and changes nothing', async () => {
    const home = tmp()
    const dir = join(tmp(), 'p')
    chmodSync(join(dir, '..'), 0o777)
    chmodSync(home, 0o777)
    await runCli(['project', 'create', dir, '--name', 'P', '--language', 'hu'], { env: { VERNACULAR_HOME: home } })
    chmodSync(dir, 0o777)
    const src = tmp()
    chmodSync(src, 0o755)
    const secret = join(src, 'secret.txt')
    await fs.writeFile(secret, 'Titkos szöveg, amelyet senki sem olvashat el ebben a tesztben.\n')
    chmodSync(secret, 0o000)
    const isRoot = process.getuid?.() === 0
    const before = await snapshotTree(dir)
    const r = await runCli(['corpus', 'add', dir, '--role', 'target', secret], { env: { VERNACULAR_HOME: home, HOME: home }, ...(isRoot ? { uid: 65534, gid: 65534 } : {}) })
    chmodSync(secret, 0o644)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Cannot read ${secret}: permission denied`)
    const after = await snapshotTree(dir)
    for (const k of Object.keys(before)) expect(after[k]).toBe(before[k])
  })

  it('explains a wrong role and a missing project', async () => {
    const r = await runCli(['corpus', 'add', tmp(), '--role', 'german', 'x.txt'], { env: { VERNACULAR_HOME: tmp() } })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('role')
    const s = await runCli(['corpus', 'stats', tmp()], { env: { VERNACULAR_HOME: tmp() } })
    expect(s.code).toBe(1)
    expect(s.stderr).toContain('is not a Vernacular project')
  })
})
