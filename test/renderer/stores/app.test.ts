import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, type AppInfo } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { createConnectionState } from '../../../renderer/src/api/connection'
import { useAppStore } from '../../../renderer/src/stores/app'
import { createFakeApi, type FakeApi } from '../fakes'

const info: AppInfo = {
  name: 'Vernacular',
  version: '0.1.0',
  mode: 'web',
  platform: 'linux',
  defaultProjectsDir: '/home/u/Vernacular',
  capabilities: { pickDirectory: false, revealPath: false },
}

let api: FakeApi
let connection: ReturnType<typeof createConnectionState>
let retries: number

beforeEach(() => {
  retries = 0
  connection = createConnectionState('connecting', () => retries++)
  api = createFakeApi({ 'app.info': () => info, 'shell.pickDirectory': () => ({ path: '/picked' }) }, connection)
  installApi(api)
  setActivePinia(createPinia())
})

describe('app store', () => {
  it('loads AppInfo and derives capabilities from it', async () => {
    const app = useAppStore()
    expect(app.canPickDirectory).toBe(false)
    await app.load()
    expect(app.info).toEqual(info)
    expect(app.isWeb).toBe(true)
    expect(app.canRevealPath).toBe(false)
  })

  it('follows the connection state and retries through it', () => {
    const app = useAppStore()
    expect(app.connection).toBe('connecting')
    connection.set('connected')
    expect(app.connected).toBe(true)
    connection.set('reconnecting')
    expect(app.connection).toBe('reconnecting')
    app.retryConnection()
    expect(retries).toBe(1)
  })

  it('shows unexpected errors with their hint, and can dismiss them', () => {
    connection.set('connected')
    const app = useAppStore()
    app.reportError(new ApiError({ code: 'io', message: 'Disk full.', hint: 'Free some space.' }))
    expect(app.lastError).toEqual({ code: 'io', message: 'Disk full.', hint: 'Free some space.' })
    app.reportError(new Error('plain'))
    expect(app.lastError).toEqual({ code: null, message: 'plain', hint: null })
    app.dismissError()
    expect(app.lastError).toBeNull()
  })

  it('reports a failure to show a path instead of throwing it', async () => {
    connection.set('connected')
    const app = useAppStore()
    // The fake API has no shell.revealPath, as web mode has none.
    await expect(app.revealPath('/p')).resolves.toBeUndefined()
    expect(app.lastError).toMatchObject({ code: 'unknown-method', message: expect.stringContaining('shell.revealPath') })
  })

  it('leaves connection errors to the connection banner while disconnected', () => {
    connection.set('reconnecting')
    const app = useAppStore()
    app.reportError(new ApiError({ code: 'unavailable', message: 'Lost the connection.' }))
    expect(app.lastError).toBeNull()
    connection.set('connected')
    app.reportError(new ApiError({ code: 'unavailable', message: 'The engine did not answer.' }))
    expect(app.lastError?.message).toBe('The engine did not answer.')
  })

  it('asks the shell for a folder', async () => {
    const app = useAppStore()
    await expect(app.pickDirectory('Choose', '/home')).resolves.toBe('/picked')
    expect(api.calls).toEqual([{ method: 'shell.pickDirectory', params: { title: 'Choose', defaultPath: '/home' } }])
  })
})
