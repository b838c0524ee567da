import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, type EngineEvent, type WireMessage } from '../../../main/engine/contract'
import { LOST_CONNECTION, TOKEN_REJECTED, type ConnectionState } from '../../../renderer/src/api/connection'
import { createWsApi, parseMessage } from '../../../renderer/src/api/ws'
import { fakeSockets, job, manifest } from '../fakes'

const reply = (message: WireMessage) => JSON.stringify(message)

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ApiError)
  return error as ApiError
}

describe('createWsApi', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('queues calls until the socket opens, then sends them as WireRequest frames', () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    expect(api.connection.state).toBe('connecting')

    void api.call('project.open', { dir: '/p' })
    void api.call('app.info', {})
    expect(latest().sent).toEqual([])

    latest().handlers.open()
    expect(api.connection.state).toBe('connected')
    expect(latest().requests()).toEqual([
      { id: 1, method: 'project.open', params: { dir: '/p' } },
      { id: 2, method: 'app.info', params: {} },
    ])

    void api.call('project.recent', {})
    expect(latest().requests()[2]).toEqual({ id: 3, method: 'project.recent', params: {} })
  })

  it('routes each reply to its call by id, in whatever order the replies come', async () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    latest().handlers.open()

    const recent = api.call('project.recent', {})
    const opened = api.call('project.open', { dir: '/p' })
    const [recentId, openId] = latest().requests().map((r) => r.id)
    const summary = { dir: '/p', manifest: manifest() }
    latest().handlers.message(reply({ kind: 'reply', id: openId!, ok: true, result: summary }))
    latest().handlers.message(reply({ kind: 'reply', id: recentId!, ok: true, result: [] }))

    await expect(opened).resolves.toEqual(summary)
    await expect(recent).resolves.toEqual([])
  })

  it('turns an error reply into an ApiError carrying code, message, hint, file and details', async () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    latest().handlers.open()

    const call = api.call('project.create', { dir: '/p', name: 'X', language: 'hu' })
    const { id } = latest().requests()[0]!
    latest().handlers.message(
      reply({
        kind: 'reply',
        id,
        ok: false,
        error: { code: 'project-exists', message: 'There is already a project in /p.', hint: 'Open it instead.', file: '/p/vernacular.json', details: ['a'] },
      }),
    )
    const error = await rejection(call)
    expect(error.code).toBe('project-exists')
    expect(error.message).toBe('There is already a project in /p.')
    expect(error.hint).toBe('Open it instead.')
    expect(error.file).toBe('/p/vernacular.json')
    expect(error.details).toEqual(['a'])
  })

  it('passes events to every listener until it unsubscribes, and never replies', () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    latest().handlers.open()
    const first: EngineEvent[] = []
    const second: EngineEvent[] = []
    const stopFirst = api.onEvent((e) => first.push(e))
    api.onEvent((e) => second.push(e))

    const jobEvent: EngineEvent = { type: 'job', job: job({ id: 'j1' }) }
    latest().handlers.message(reply({ kind: 'event', event: jobEvent }))
    stopFirst()
    const projectEvent: EngineEvent = { type: 'project', dir: '/p', manifest: manifest() }
    latest().handlers.message(reply({ kind: 'event', event: projectEvent }))
    latest().handlers.message(reply({ kind: 'reply', id: 99, ok: true, result: null }))

    expect(first).toEqual([jobEvent])
    expect(second).toEqual([jobEvent, projectEvent])
  })

  it('keeps delivering events when one listener throws', () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    latest().handlers.open()
    const seen: EngineEvent[] = []
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    api.onEvent(() => {
      throw new Error('boom')
    })
    api.onEvent((e) => seen.push(e))
    latest().handlers.message(reply({ kind: 'event', event: { type: 'job', job: job({ id: 'j1' }) } }))
    expect(seen).toHaveLength(1)
    expect(consoleError).toHaveBeenCalled()
    consoleError.mockRestore()
  })

  it('ignores frames that are not WireMessages and replies nobody waits for', async () => {
    const { factory, latest } = fakeSockets()
    const api = createWsApi(factory)
    latest().handlers.open()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const call = api.call('app.info', {})
    latest().handlers.message('not json')
    latest().handlers.message('{"kind":"reply"}')
    latest().handlers.message(reply({ kind: 'reply', id: 12345, ok: true, result: 'stray' }))
    latest().handlers.message(reply({ kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: 'bad frame' } }))
    latest().handlers.message(reply({ kind: 'reply', id: 1, ok: true, result: { name: 'Vernacular' } }))
    await expect(call).resolves.toEqual({ name: 'Vernacular' })
    expect(warn).toHaveBeenCalledTimes(3)
    warn.mockRestore()
  })

  it('rejects waiting calls when the connection drops, then reconnects with a growing back-off', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 100, maxDelayMs: 250 })
    const states: ConnectionState[] = []
    api.connection.onStateChange((s) => states.push(s))
    latest().handlers.open()

    const waiting = api.call('system.doctor', {})
    latest().handlers.close(1006, '')
    const error = await rejection(waiting)
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe(LOST_CONNECTION.message)
    expect(error.hint).toBe('Is `npm run serve` still running? Reload the page.')
    expect(api.connection.state).toBe('reconnecting')

    // First retry after 100 ms; it fails, the next waits 200 ms, then the ceiling of 250 ms.
    expect(sockets).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(99)
    expect(sockets).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sockets).toHaveLength(2)
    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(199)
    expect(sockets).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(sockets).toHaveLength(3)
    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(250)
    expect(sockets).toHaveLength(4)

    // Connected again: the back-off starts over and calls flow on the new socket.
    latest().handlers.open()
    expect(api.connection.state).toBe('connected')
    const info = api.call('app.info', {})
    const { id } = latest().requests()[0]!
    latest().handlers.message(reply({ kind: 'reply', id, ok: true, result: 'ok' }))
    await expect(info).resolves.toBe('ok')
    expect(states).toEqual(['connected', 'reconnecting', 'connected'])

    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(100)
    expect(sockets).toHaveLength(5)
  })

  it('ignores late messages from a socket it has replaced', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 10 })
    latest().handlers.open()
    const old = latest()
    old.handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(10)
    expect(sockets).toHaveLength(2)
    latest().handlers.open()
    const call = api.call('app.info', {})
    old.handlers.message(reply({ kind: 'reply', id: 1, ok: true, result: 'from the old socket' }))
    latest().handlers.message(reply({ kind: 'reply', id: 1, ok: true, result: 'from the new socket' }))
    await expect(call).resolves.toBe('from the new socket')
  })

  it('tries again at once when a call is made during the back-off, or on retryNow()', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 5000 })
    latest().handlers.open()
    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(0)
    expect(sockets).toHaveLength(1)

    const call = api.call('app.info', {})
    expect(sockets).toHaveLength(2)
    latest().handlers.open()
    expect(latest().requests()).toEqual([{ id: 1, method: 'app.info', params: {} }])
    latest().handlers.message(reply({ kind: 'reply', id: 1, ok: true, result: 'ok' }))
    await expect(call).resolves.toBe('ok')

    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(0)
    api.connection.retryNow()
    expect(sockets).toHaveLength(3)
    // No second attempt while one is already under way.
    api.connection.retryNow()
    expect(sockets).toHaveLength(3)
  })

  it('stops for good when the server closes with 4403 (bad token)', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 10 })
    latest().handlers.open()
    const waiting = api.call('app.info', {})
    latest().handlers.close(4403, 'bad token')
    await rejection(waiting)
    expect(api.connection.state).toBe('rejected')

    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
    const later = await rejection(api.call('app.info', {}))
    expect(later.code).toBe(TOKEN_REJECTED.code)
    expect(later.message).toBe('The session token is missing or wrong: open the URL printed by `npm run serve`.')
  })

  it('treats an upgrade refused by a server that answers HTTP as a bad token', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const serverReachable = vi.fn(async () => true)
    const api = createWsApi(factory, { initialDelayMs: 10, serverReachable })
    latest().handlers.close(1006, '') // never opened
    await vi.advanceTimersByTimeAsync(0)
    // Once could be a server that was still starting: one more try.
    expect(api.connection.state).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(10)
    expect(sockets).toHaveLength(2)
    latest().handlers.close(1006, '')
    await vi.advanceTimersByTimeAsync(0)
    expect(api.connection.state).toBe('rejected')
    expect(serverReachable).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(2)
  })

  it('keeps retrying while the server does not answer at all', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 10, maxDelayMs: 10, serverReachable: async () => false })
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(sockets).toHaveLength(attempt)
      latest().handlers.close(1006, '')
      await vi.advanceTimersByTimeAsync(10)
    }
    expect(api.connection.state).toBe('reconnecting')
    latest().handlers.open()
    expect(api.connection.state).toBe('connected')
  })

  it('does not count a socket that opened and later dropped as a refused upgrade', async () => {
    const { factory, latest } = fakeSockets()
    const serverReachable = vi.fn(async () => true)
    const api = createWsApi(factory, { initialDelayMs: 10, serverReachable })
    for (let i = 0; i < 3; i++) {
      latest().handlers.open()
      latest().handlers.close(1006, '')
      await vi.advanceTimersByTimeAsync(10)
    }
    expect(serverReachable).not.toHaveBeenCalled()
    expect(api.connection.state).toBe('reconnecting')
  })

  it('dispose() closes the socket, rejects waiting calls and stops reconnecting', async () => {
    const { factory, sockets, latest } = fakeSockets()
    const api = createWsApi(factory, { initialDelayMs: 10 })
    latest().handlers.open()
    const waiting = api.call('app.info', {})
    api.dispose()
    expect(latest().closedWith).toEqual({ code: 1000, reason: 'closed by the client' })
    expect((await rejection(waiting)).code).toBe('unavailable')
    latest().handlers.close(1000, '')
    await vi.advanceTimersByTimeAsync(1000)
    expect(sockets).toHaveLength(1)
    await rejection(api.call('app.info', {}))
  })
})

describe('parseMessage', () => {
  it('accepts replies and events', () => {
    expect(parseMessage('{"kind":"reply","id":1,"ok":true,"result":null}')).toEqual({ kind: 'reply', id: 1, ok: true, result: null })
    expect(parseMessage('{"kind":"reply","id":"a","ok":false,"error":{"code":"x","message":"y"}}')).not.toBeNull()
    expect(parseMessage('{"kind":"event","event":{"type":"job"}}')).not.toBeNull()
  })

  it('rejects what is not a WireMessage', () => {
    for (const frame of ['', '[]', 'null', '{"kind":"event"}', '{"kind":"reply","id":1}', '{"kind":"reply","id":{},"ok":true}', '{"kind":"reply","id":1,"ok":false,"error":"x"}', '{"kind":"other"}']) {
      expect(parseMessage(frame), frame).toBeNull()
    }
  })
})
