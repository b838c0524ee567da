import { describe, expect, it, vi } from 'vitest'
import { ApiError, type EngineEvent, type PreloadBridge, type WireReply } from '../../../main/engine/contract'
import { createBridgeApi } from '../../../renderer/src/api/bridge'
import { job } from '../fakes'

function fakeBridge(invoke: (method: string, params: unknown) => Promise<WireReply>) {
  const listeners = new Set<(event: EngineEvent) => void>()
  const bridge: PreloadBridge = {
    invoke: vi.fn(invoke),
    onEvent(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
  return { bridge, emit: (event: EngineEvent) => listeners.forEach((l) => l(event)) }
}

describe('createBridgeApi', () => {
  it('passes method and params to the bridge and resolves with the result', async () => {
    const { bridge } = fakeBridge(async () => ({ kind: 'reply', id: 1, ok: true, result: [{ dir: '/p' }] }))
    const api = createBridgeApi(bridge)
    await expect(api.call('project.forget', { dir: '/p' })).resolves.toEqual([{ dir: '/p' }])
    expect(bridge.invoke).toHaveBeenCalledWith('project.forget', { dir: '/p' })
    expect(api.connection.state).toBe('connected')
  })

  it('throws the engine error of an ok:false reply as an ApiError', async () => {
    const { bridge } = fakeBridge(async () => ({
      kind: 'reply',
      id: 1,
      ok: false,
      error: { code: 'permission-denied', message: 'Cannot write /root/p.', hint: 'Choose a folder you can write to.' },
    }))
    const error = await createBridgeApi(bridge)
      .call('project.create', { dir: '/root/p', name: 'P', language: 'hu' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ code: 'permission-denied', message: 'Cannot write /root/p.', hint: 'Choose a folder you can write to.' })
  })

  it('reports a failed IPC call as an unavailable ApiError', async () => {
    const { bridge } = fakeBridge(async () => {
      throw new Error('No handler registered for vernacular:invoke')
    })
    const error = await createBridgeApi(bridge)
      .call('app.info', {})
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ code: 'unavailable' })
    expect((error as ApiError).message).toContain('No handler registered')
  })

  it('forwards engine events until the listener unsubscribes', () => {
    const { bridge, emit } = fakeBridge(async () => ({ kind: 'reply', id: 1, ok: true, result: null }))
    const api = createBridgeApi(bridge)
    const seen: EngineEvent[] = []
    const stop = api.onEvent((e) => seen.push(e))
    const event: EngineEvent = { type: 'job', job: job({ id: 'j' }) }
    emit(event)
    stop()
    emit(event)
    expect(seen).toEqual([event])
  })
})
