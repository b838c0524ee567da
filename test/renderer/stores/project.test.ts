import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, type RecentProject } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { createFakeApi, manifest, type FakeApi } from '../fakes'

let api: FakeApi

const recentEntry = (dir: string, name: string, status: RecentProject['status'] = 'ok'): RecentProject => ({
  dir,
  name,
  language: 'hu',
  openedAt: '2025-01-01T00:00:00Z',
  status,
})

beforeEach(() => {
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir: `/abs${dir}`, manifest: manifest({ name: `Project at ${dir}` }) }),
    'project.create': ({ dir, name, language }) => ({ dir, manifest: manifest({ name, language }) }),
    'project.rename': ({ dir, name }) => ({ dir, manifest: manifest({ name, updatedAt: '2025-02-01T00:00:00Z' }) }),
    'project.recent': () => [recentEntry('/a', 'A'), recentEntry('/gone', 'Gone', 'missing')],
    'project.forget': ({ dir }) => [recentEntry('/a', 'A'), recentEntry('/gone', 'Gone', 'missing')].filter((p) => p.dir !== dir),
  })
  installApi(api)
  setActivePinia(createPinia())
})

describe('project store', () => {
  it('loads recent projects and forgets one', async () => {
    const projects = useProjectStore()
    expect(projects.hasRecent).toBe(false)
    await projects.loadRecent()
    expect(projects.recent.map((p) => p.dir)).toEqual(['/a', '/gone'])
    expect(projects.hasRecent).toBe(true)
    await projects.forget('/gone')
    expect(api.calls.at(-1)).toEqual({ method: 'project.forget', params: { dir: '/gone' } })
    expect(projects.recent.map((p) => p.dir)).toEqual(['/a'])
  })

  it('open() makes the summary the engine returns current, with its resolved folder', async () => {
    const projects = useProjectStore()
    await projects.open('/p')
    expect(projects.currentDir).toBe('/abs/p')
    expect(projects.manifest?.name).toBe('Project at /p')
  })

  it('openDemo() asks the engine for the demo project and makes it current', async () => {
    api.handlers['project.openDemo'] = () => ({ dir: '/home/demo', manifest: manifest({ name: 'Hungarian demo', language: 'hu' }) })
    const projects = useProjectStore()
    await projects.openDemo()
    expect(api.calls).toEqual([{ method: 'project.openDemo', params: {} }])
    expect(projects.currentDir).toBe('/home/demo')
    expect(projects.manifest?.name).toBe('Hungarian demo')
  })

  it('create() passes the form values and opens the new project', async () => {
    const projects = useProjectStore()
    await projects.create({ dir: '/new', name: 'Thai Llama', language: 'th' })
    expect(api.calls).toEqual([{ method: 'project.create', params: { dir: '/new', name: 'Thai Llama', language: 'th' } }])
    expect(projects.manifest).toMatchObject({ name: 'Thai Llama', language: 'th' })
  })

  it('rename() renames the open project and shows the new manifest', async () => {
    const projects = useProjectStore()
    await projects.open('/p')
    await projects.rename('Magyar 2')
    expect(api.calls.at(-1)).toEqual({ method: 'project.rename', params: { dir: '/abs/p', name: 'Magyar 2' } })
    expect(projects.manifest?.name).toBe('Magyar 2')
    expect(projects.manifest?.updatedAt).toBe('2025-02-01T00:00:00Z')
  })

  it('rename() without an open project fails before calling the engine', async () => {
    const projects = useProjectStore()
    await expect(projects.rename('X')).rejects.toThrow('No project is open.')
    expect(api.calls).toEqual([])
  })

  it('keeps the current project and engine errors apart when open() fails', async () => {
    api.handlers['project.open'] = () => {
      throw new ApiError({ code: 'not-a-project', message: 'No vernacular.json in /x.', hint: 'Create a project there.' })
    }
    const projects = useProjectStore()
    await expect(projects.open('/x')).rejects.toMatchObject({ code: 'not-a-project', hint: 'Create a project there.' })
    expect(projects.current).toBeNull()
  })

  it('updates the open project and the recent list from project events', async () => {
    const projects = useProjectStore()
    await projects.loadRecent()
    await projects.open('/a') // current dir is /abs/a

    api.emit({ type: 'project', dir: '/abs/a', manifest: manifest({ name: 'Renamed elsewhere', language: 'hu' }) })
    expect(projects.manifest?.name).toBe('Renamed elsewhere')

    api.emit({ type: 'project', dir: '/a', manifest: manifest({ name: 'A, renamed', language: 'fi' }) })
    expect(projects.recent[0]).toMatchObject({ dir: '/a', name: 'A, renamed', language: 'fi', status: 'ok' })
    expect(projects.manifest?.name).toBe('Renamed elsewhere') // /a is not the open project

    api.emit({ type: 'job', job: { id: 'j' } as never })
    expect(projects.manifest?.name).toBe('Renamed elsewhere')
  })
})
