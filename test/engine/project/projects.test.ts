import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EngineError } from '../../../main/engine/common/errors'
import { acquireLock } from '../../../main/engine/project/lock'
import { manifestPath, newManifest, writeManifest } from '../../../main/engine/project/manifest'
import { createProject, openProject, renameProject, updateProject } from '../../../main/engine/project/projects'
import { forgetProject, listRecentProjects, rememberProject } from '../../../main/engine/project/recent'
import { ensureDemoProject } from '../../../main/engine/templates/demo'
import { snapshotTree, useTmp } from '../../helpers/tmp'

const tmp = useTmp()

describe('projects', () => {
  it('creates a project folder, parents included, with a valid manifest and no lock left behind', async () => {
    const dir = join(tmp(), 'a', 'b', 'Magyar')
    const { manifest } = await createProject({ dir, name: 'Magyar', language: 'hu' })
    expect(manifest.name).toBe('Magyar')
    expect((await openProject(dir)).manifest).toEqual(manifest)
    expect(await fs.readdir(dir)).toEqual(['vernacular.json'])
  })

  it('refuses to create over an existing project and changes nothing', async () => {
    const dir = tmp()
    await createProject({ dir, name: 'First', language: 'hu' })
    const before = await snapshotTree(dir)
    const e = await createProject({ dir, name: 'Second', language: 'th' }).catch((err: unknown) => err)
    expect((e as EngineError).code).toBe('project-exists')
    expect((e as EngineError).message).toContain('"First"')
    expect(await snapshotTree(dir)).toEqual(before)
  })

  it('refuses a path that is a file', async () => {
    const file = join(tmp(), 'f')
    await fs.writeFile(file, 'x')
    await expect(createProject({ dir: file, name: 'X', language: 'hu' })).rejects.toMatchObject({ code: 'project-exists' })
  })

  it('renames under the lock and keeps the rest of the manifest', async () => {
    const dir = tmp()
    const created = await createProject({ dir, name: 'Old', language: 'th' })
    const renamed = await renameProject(dir, '  New name  ')
    expect(renamed.manifest.name).toBe('New name')
    expect(renamed.manifest.id).toBe(created.manifest.id)
    expect(renamed.manifest.language).toBe('th')
    expect(Date.parse(renamed.manifest.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.manifest.updatedAt))
  })

  it('refuses to rename while another process holds the lock, leaving the file as it was', async () => {
    const dir = tmp()
    await createProject({ dir, name: 'Locked', language: 'hu' })
    const before = await fs.readFile(manifestPath(dir), 'utf8')
    const lock = await acquireLock(dir, 'a long training run')
    try {
      const { withProjectLock } = await import('../../../main/engine/project/lock')
      const e = await withProjectLock(dir, 'rename', async () => 'never', { waitMs: 50 }).catch((err: unknown) => err)
      expect((e as EngineError).code).toBe('locked')
      expect((e as EngineError).message).toContain('a long training run')
    } finally {
      await lock.release()
    }
    expect(await fs.readFile(manifestPath(dir), 'utf8')).toBe(before)
  })

  it('never writes an invalid manifest', async () => {
    const dir = tmp()
    await createProject({ dir, name: 'Valid', language: 'hu' })
    const before = await fs.readFile(manifestPath(dir), 'utf8')
    await expect(updateProject(dir, 'break it', (m) => ({ ...m, replay: { englishShare: 3 } }))).rejects.toMatchObject({ code: 'corrupt-manifest' })
    expect(await fs.readFile(manifestPath(dir), 'utf8')).toBe(before)
  })

  it('does not overwrite a corrupt manifest on rename', async () => {
    const dir = tmp()
    await fs.writeFile(manifestPath(dir), '{"format": "vernacular-project", "schemaVersion": 1, ')
    await expect(renameProject(dir, 'X')).rejects.toMatchObject({ code: 'corrupt-manifest' })
    expect(await fs.readFile(manifestPath(dir), 'utf8')).toBe('{"format": "vernacular-project", "schemaVersion": 1, ')
  })
})

describe('recent projects', () => {
  it('lists most recent first, checks each on disk, and forgets', async () => {
    const home = tmp()
    const a = tmp()
    const b = tmp()
    const pa = await createProject({ dir: a, name: 'A', language: 'hu' })
    const pb = await createProject({ dir: b, name: 'B', language: 'th' })
    await rememberProject(home, a, pa.manifest, new Date('2026-01-01'))
    await rememberProject(home, b, pb.manifest, new Date('2026-01-02'))
    await rememberProject(home, a, pa.manifest, new Date('2026-01-03'))
    expect((await listRecentProjects(home)).map((p) => p.name)).toEqual(['A', 'B'])

    await renameProject(b, 'B renamed elsewhere')
    await fs.writeFile(manifestPath(a), 'garbage')
    const listed = await listRecentProjects(home)
    expect(listed[0]).toMatchObject({ dir: a, status: 'unreadable' })
    expect(listed[0]?.problem).toContain('not valid JSON')
    expect(listed[1]).toMatchObject({ dir: b, status: 'ok', name: 'B renamed elsewhere' })

    await fs.rm(b, { recursive: true })
    expect((await listRecentProjects(home))[1]?.status).toBe('missing')
    await forgetProject(home, b)
    expect((await listRecentProjects(home)).map((p) => p.dir)).toEqual([a])
  })

  it('treats a damaged recent list as empty rather than failing', async () => {
    const home = tmp()
    await fs.writeFile(join(home, 'recent.json'), '{not json')
    expect(await listRecentProjects(home)).toEqual([])
    const dir = tmp()
    await rememberProject(home, dir, newManifest('Z', 'hu'))
    expect((await listRecentProjects(home)).length).toBe(1)
  })
})

describe('demo project', () => {
  it('is created from resources/demo the first time and opened after', async () => {
    const home = tmp()
    const first = await ensureDemoProject(home)
    expect(first.created).toBe(true)
    const template = JSON.parse(await fs.readFile(join(__dirname, '../../../resources/demo/templates/demo/template.json'), 'utf8'))
    expect(first.manifest.name).toBe(template.name)
    expect(first.manifest.language).toBe(template.language)
    const second = await ensureDemoProject(home)
    expect(second.created).toBe(false)
    expect(second.manifest.id).toBe(first.manifest.id)
  })
})

describe('writeManifest', () => {
  it('leaves no temp files behind', async () => {
    const dir = tmp()
    for (let i = 0; i < 5; i++) await writeManifest(dir, newManifest(`N${i}`, 'hu'))
    expect(await fs.readdir(dir)).toEqual(['vernacular.json'])
  })
})
