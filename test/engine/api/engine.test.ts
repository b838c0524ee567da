import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import type { EngineEvent } from '../../../main/engine/contract'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

describe('Engine API', () => {
  it('creates, opens and renames a project, remembering it and announcing changes', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    const events: EngineEvent[] = []
    engine.onEvent((e) => events.push(e))
    const dir = join(tmp(), 'Thai project')
    const created = await engine.invoke('project.create', { dir, name: 'Thai', language: 'TH' })
    expect(created.manifest.language).toBe('th') // canonicalised BCP-47
    expect(JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')).name).toBe('Thai')
    await engine.invoke('project.rename', { dir, name: 'ภาษาไทย' })
    expect((await engine.invoke('project.open', { dir })).manifest.name).toBe('ภาษาไทย')
    expect(await engine.invoke('project.recent', {})).toMatchObject([{ dir, name: 'ภาษาไทย', language: 'th', status: 'ok' }])
    expect(events.filter((e) => e.type === 'project').map((e) => (e.type === 'project' ? e.manifest.name : ''))).toEqual(['Thai', 'ภาษาไทย'])
    await engine.close()
  })

  it('answers malformed and invalid requests with errors that say what is wrong', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    expect(await engine.handle('not an object')).toMatchObject({ ok: false, id: null, error: { code: 'invalid-request' } })
    expect(await engine.handle({ id: 7, method: 'project.create', params: { dir: '/tmp/x', name: 'X' } })).toMatchObject({
      id: 7,
      ok: false,
      error: { code: 'invalid-request', message: expect.stringContaining('language') },
    })
    expect(await engine.handle({ id: 8, method: 'project.create', params: { dir: '/tmp/x', name: 'X', language: 'hu', extra: 1 } })).toMatchObject({
      ok: false,
      error: { code: 'invalid-request', message: expect.stringContaining('extra') },
    })
    expect(await engine.handle({ id: 9, method: 'project.create', params: { dir: '', name: '  ', language: 'hu_HU!' } })).toMatchObject({
      ok: false,
      error: { details: expect.arrayContaining([expect.stringMatching(/^dir:/), expect.stringMatching(/^name:/), expect.stringMatching(/^language:/)]) },
    })
    expect(await engine.handle({ id: 10, method: 'fs.deleteEverything', params: {} })).toMatchObject({
      ok: false,
      error: { code: 'unknown-method', hint: expect.stringContaining('project.create') },
    })
    expect(await engine.handle({ id: 11, method: 'project.open', params: { dir: '/definitely/not/here' } })).toMatchObject({
      ok: false,
      error: { code: 'not-found', file: '/definitely/not/here' },
    })
    await engine.close()
  })

  it('resolves relative paths against its working directory', async () => {
    const cwd = tmp()
    const engine = new Engine({ mode: 'cli', home: tmp(), cwd })
    const { dir } = await engine.invoke('project.create', { dir: 'rel/p', name: 'R', language: 'hu' })
    expect(dir).toBe(join(cwd, 'rel', 'p'))
    await engine.close()
  })

  it('offers the desktop-only services only where the shell provides them', async () => {
    const web = new Engine({ mode: 'web', home: tmp() })
    expect((await web.invoke('app.info', {})).capabilities).toEqual({ pickDirectory: false, revealPath: false })
    expect(await web.handle({ id: 1, method: 'shell.pickDirectory', params: {} })).toMatchObject({ ok: false, error: { code: 'unavailable', message: expect.stringContaining('web mode') } })
    const desktop = new Engine({ mode: 'desktop', home: tmp(), shell: { pickDirectory: async () => '/chosen' } })
    expect((await desktop.invoke('app.info', {})).capabilities.pickDirectory).toBe(true)
    expect(await desktop.invoke('shell.pickDirectory', {})).toEqual({ path: '/chosen' })
    await web.close()
    await desktop.close()
  })

  it('runs the benchmark as a job whose events reach listeners', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    const states: string[] = []
    engine.onEvent((e) => e.type === 'job' && states.push(e.job.state))
    const { job } = await engine.invoke('system.benchmark', { size: 64, repeats: 3 })
    expect(job.state).toBe('queued')
    const final = await engine.jobs.waitFor(job)
    expect(final.state).toBe('done')
    const result = final.result!
    expect(result.size).toBe(64)
    expect(result.gflops).toBeGreaterThan(0)
    expect(['wasm', 'cpu', 'node', 'node-gpu']).toContain(result.backend)
    expect(states[0]).toBe('queued')
    expect(states.at(-1)).toBe('done')
    expect(await engine.invoke('jobs.list', {})).toHaveLength(1)
    await engine.close()
  })
})

describe('Engine API: corpora', () => {
  it('ingests the demo corpora in the background when the demo project is first opened', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    const demo = await engine.invoke('project.openDemo', {})
    const jobs = engine.jobs.list({ projectDir: demo.dir })
    expect(jobs.map((j) => [j.kind, j.kind === 'ingest' ? j.labels.role : null])).toEqual([
      ['ingest', 'target'],
      ['ingest', 'english'],
    ])
    for (const j of jobs) expect((await engine.jobs.wait(j.id)).state).toBe('done')
    const stats = await engine.invoke('corpus.stats', { dir: demo.dir })
    expect(stats.roles.map((r) => [r.role, r.language])).toEqual([
      ['target', 'hu'],
      ['english', 'en'],
    ])
    for (const r of stats.roles) {
      expect(r.train.documents).toBeGreaterThan(100)
      expect(r.heldout.documents).toBeGreaterThanOrEqual(50)
      expect(r.train.scripts.Latn).toBeGreaterThan(0.95 * Object.values(r.train.scripts).reduce((a, b) => a + b, 0))
    }
    // Opening it again starts nothing new.
    await engine.invoke('project.openDemo', {})
    expect(engine.jobs.list({ projectDir: demo.dir })).toHaveLength(2)
    const { documents } = await engine.invoke('corpus.sample', { dir: demo.dir, role: 'english', n: 3, seed: 1 })
    expect(documents).toHaveLength(3)
    await engine.close()
  })

  it('refuses corpus requests for a folder that is no project, before starting a job', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    const dir = tmp()
    expect(await engine.handle({ id: 1, method: 'corpus.add', params: { dir, role: 'target', paths: [dir] } })).toMatchObject({ ok: false, error: { code: 'not-a-project' } })
    expect(await engine.handle({ id: 2, method: 'corpus.add', params: { dir, role: 'german', paths: [dir] } })).toMatchObject({ ok: false, error: { code: 'invalid-request' } })
    expect(engine.jobs.list()).toHaveLength(0)
    await engine.close()
  })
})
