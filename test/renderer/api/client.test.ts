import { afterEach, describe, expect, it, vi } from 'vitest'
import { getApi, getConnection, installApi } from '../../../renderer/src/api/client'
import { createFakeApi } from '../fakes'

describe('installApi / getApi', () => {
  afterEach(() => {
    installApi(createFakeApi())
  })

  it('hands out the installed client, which stores use without knowing its transport', async () => {
    const fake = createFakeApi({ 'project.recent': () => [] })
    installApi(fake)
    await expect(getApi().call('project.recent', {})).resolves.toEqual([])
    expect(getConnection()).toBe(fake.connection)
  })

  it('disposes the client it replaces', () => {
    const first = createFakeApi()
    const dispose = vi.spyOn(first, 'dispose')
    installApi(first)
    installApi(first)
    expect(dispose).not.toHaveBeenCalled()
    installApi(createFakeApi())
    expect(dispose).toHaveBeenCalledOnce()
  })
})
