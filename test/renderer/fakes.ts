/** Test doubles for the renderer: a scripted `VernacularApi` and a fake WebSocket factory. */
import { ApiError, type BENCHMARK_JOB, type EngineEvent, type JobKind, type JobOf, type MethodName, type ParamsIn, type ProjectManifest, type Result } from '../../main/engine/contract'
import type { CorpusDocument, RoleStats, RunStatus, SplitProfile, StepMetrics } from '../../main/engine/contract'
import { ingestOptions } from '../../main/engine/contract'
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
    evaluation: { limit: null },
    training: DEFAULT_TRAINING,
    runs: [],
    ...overrides,
  }
}

/** A job snapshot of kind `kind` (a benchmark when none is given). */
export function job(overrides: Partial<Omit<JobOf<typeof BENCHMARK_JOB>, 'kind'>> & { id: string; kind?: typeof BENCHMARK_JOB }): JobOf<typeof BENCHMARK_JOB>
export function job<K extends JobKind>(overrides: Partial<Omit<JobOf<NoInfer<K>>, 'kind'>> & { id: string; kind: K }): JobOf<K>
export function job<K extends JobKind>(overrides: Partial<Omit<JobOf<K>, 'kind'>> & { id: string; kind?: K }): JobOf<K> {
  return {
    revision: 1,
    kind: 'benchmark',
    title: `Job ${overrides.id}`,
    projectDir: null,
    labels: {},
    state: 'running',
    progress: { fraction: null, message: '', etaSeconds: null },
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    error: null,
    result: null,
    logFile: null,
    ...overrides,
  } as JobOf<K>
}

/** A split profile with small, made-up counts (tests only; the UI shows what the engine sends). */
export function splitProfile(overrides: Partial<SplitProfile> = {}): SplitProfile {
  return {
    documents: 1200,
    characters: 480_000,
    bytes: 530_000,
    words: 70_000,
    scripts: { Latn: 400_000, other: 2_000 },
    lengthHistogram: [
      { upTo: 100, documents: 200 },
      { upTo: 1000, documents: 900 },
      { upTo: 10_000, documents: 100 },
    ],
    topWords: [
      { word: 'a', count: 5000 },
      { word: 'és', count: 3000 },
    ],
    ...overrides,
  }
}

export function roleStats(overrides: Partial<RoleStats> & Pick<RoleStats, 'role'>): RoleStats {
  return {
    language: overrides.role === 'english' ? 'en' : 'hu',
    options: ingestOptions.parse({}),
    sources: [
      {
        path: '/data/hu/news.jsonl.gz',
        format: 'jsonl',
        compressed: true,
        bytes: 210_000,
        sha256: 'ab'.repeat(32),
        documentsRead: 1300,
        kept: 1250,
        removed: { duplicate: 40, 'too-short': 10 },
        invalidBytesReplaced: 0,
      },
    ],
    train: splitProfile(),
    heldout: splitProfile({ documents: 50, characters: 20_000, bytes: 22_000, words: 3000 }),
    removed: { duplicate: 40, 'too-short': 10 },
    rejectsDir: `corpus/${overrides.role}/rejects`,
    updatedAt: '2025-01-03T00:00:00.000Z',
    tokens: null,
    ...overrides,
  }
}

/** One optimizer step's metrics, made up (tests only). */
export function stepMetrics(step: number, overrides: Partial<StepMetrics> = {}): StepMetrics {
  return {
    step,
    loss: 10 - step * 0.1,
    lossTarget: 10.2 - step * 0.1,
    lossEnglish: 9.8 - step * 0.1,
    lr: 1e-4,
    gradNorm: 1.5,
    tokensPerSecond: 2000,
    tokensTarget: step * 48,
    tokensEnglish: step * 16,
    elapsedSeconds: step * 0.5,
    ...overrides,
  }
}

/** A run's status with made-up numbers (tests only). */
export function runStatus(overrides: Partial<RunStatus> & Pick<RunStatus, 'name'>): RunStatus {
  return {
    dir: `/projects/magyar/runs/${overrides.name}`,
    state: 'running',
    step: 0,
    steps: 6,
    tokensTarget: 0,
    tokensEnglish: 0,
    plannedReplayShare: 0.25,
    realisedReplayShare: 0,
    epochsTarget: 0,
    epochsEnglish: 0,
    checkpoints: [],
    settings: null,
    failure: null,
    imported: null,
    last: null,
    baseline: null,
    ...overrides,
  }
}

export function corpusDocument(overrides: Partial<CorpusDocument> = {}): CorpusDocument {
  return { text: 'Árvíztűrő tükörfúrógép.', source: '/data/hu/news.jsonl.gz', line: 12, ...overrides }
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
