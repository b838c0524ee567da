/** Test doubles for the renderer: a scripted `VernacularApi` and a fake WebSocket factory. */
import { ApiError, type EngineEvent, type JobSnapshot, type MethodName, type ParamsIn, type ProjectManifest, type Result } from '../../main/engine/contract'
import { DEFAULT_REPLAY, DEFAULT_TRAINING, DEFAULT_VOCABULARY, MANIFEST_FORMAT, MANIFEST_SCHEMA_VERSION } from '../../main/engine/contract'
import { alwaysConnected, type ApiClient, type ApiConnection } from '../../renderer/src/api/connection'
import type { Socket, SocketFactory, SocketHandlers } from '../../renderer/src/api/ws'

type Handler<M extends MethodName> = (params: ParamsIn<M>) => Result<M> | Promise<Result<M>>
export type FakeHandlers = { [M in MethodName]?: Handler<M> }

export interface FakeApi extends ApiClient {
  calls: { method: MethodName; params: unknown }[]
  handlers: FakeHandlers
  emit(event: EngineEvent): void
  listenerCount(): number
}

export function createFakeApi(handlers: FakeHandlers = {}, connection: ApiConnection = alwaysConnected()): FakeApi {
  const listeners = new Set<(event: EngineEvent) => void>()
  const fake: FakeApi = {
    calls: [],
    handlers,
    connection,
    async call<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<Result<M>> {
      fake.calls.push({ method, params })
      const handler: Handler<M> | undefined = fake.handlers[method]
      if (!handler) throw new ApiError({ code: 'unknown-method', message: `The fake API has no "${method}".` })
      return handler(params)
    },
    onEvent(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    emit(event) {
      for (const listener of [...listeners]) listener(event)
    },
    listenerCount: () => listeners.size,
    dispose() {},
  }
  return fake
}

export function manifest(overrides: Partial<ProjectManifest> = {}): ProjectManifest {
  return {
    format: MANIFEST_FORMAT,
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    id: 'p-1',
    name: 'Magyar',
    language: 'hu',
    createdAt: '2025-01-02T10:00:00.000Z',
    updatedAt: '2025-01-02T10:00:00.000Z',
    writtenBy: '0.1.0',
    baseModel: null,
    baseTokenizer: null,
    corpora: [],
    vocabulary: DEFAULT_VOCABULARY,
    replay: DEFAULT_REPLAY,
    training: DEFAULT_TRAINING,
    runs: [],
    ...overrides,
  }
}

export function job(overrides: Partial<JobSnapshot> & Pick<JobSnapshot, 'id'>): JobSnapshot {
  return {
    revision: 1,
    kind: 'benchmark',
    title: `Job ${overrides.id}`,
    projectDir: null,
    state: 'running',
    progress: { fraction: null, message: '', etaSeconds: null },
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    error: null,
    result: null,
    logFile: null,
    ...overrides,
  }
}

export interface FakeSocket extends Socket {
  handlers: SocketHandlers
  sent: string[]
  closedWith: { code?: number; reason?: string } | null
  /** The frames sent so far, parsed. */
  requests(): { id: number; method: string; params: unknown }[]
}

/** A socket factory whose sockets the test opens, feeds and closes by hand. */
export function fakeSockets(): { factory: SocketFactory; sockets: FakeSocket[]; latest(): FakeSocket } {
  const sockets: FakeSocket[] = []
  const factory: SocketFactory = (handlers) => {
    const socket: FakeSocket = {
      handlers,
      sent: [],
      closedWith: null,
      send(data) {
        socket.sent.push(data)
      },
      close(code, reason) {
        socket.closedWith = { code, reason }
      },
      requests: () => socket.sent.map((frame) => JSON.parse(frame) as { id: number; method: string; params: unknown }),
    }
    sockets.push(socket)
    return socket
  }
  return {
    factory,
    sockets,
    latest() {
      const socket = sockets.at(-1)
      if (!socket) throw new Error('No socket was opened.')
      return socket
    },
  }
}
