import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, INGEST_JOB, VOCAB_EXTEND_JOB, VOCAB_SWEEP_JOB, type VocabStatus } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { useVocabStore } from '../../../renderer/src/stores/vocab'
import { createFakeApi, job, manifest, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'

function status(overrides: Partial<VocabStatus> = {}): VocabStatus {
  return {
    base: {
      path: `${PROJECT}/tokenizer/base/tokenizer.json`,
      family: 'byte-level-bpe',
      vocabSize: 50257,
      modelVocab: 50257,
      merges: 50000,
      byteFallback: false,
      specialTokens: [{ id: 50256, content: '<|endoftext|>' }],
    },
    baseProblem: null,
    sweep: null,
    outputs: [],
    plan: { mode: 'add', count: 5000 },
    ...overrides,
  }
}

let api: FakeApi
let statusReplies: VocabStatus[]

beforeEach(async () => {
  statusReplies = []
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'vocab.status': () => statusReplies.shift() ?? status(),
    'vocab.sweep': () => ({ job: job({ id: 'sweep-1', kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'queued' }) }),
    'vocab.extend': ({ mode, count }) => ({ job: job({ id: 'extend-1', kind: VOCAB_EXTEND_JOB, projectDir: PROJECT, state: 'queued', labels: { mode, count: String(count) } }) }),
    'vocab.preview': ({ count }) => ({ count, base: [], extended: count === 0 ? null : [] }),
    'vocab.setBase': ({ path }) => status({ base: { ...status().base!, path, family: 'sentencepiece-bpe' } }),
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

const statusCalls = () => api.calls.filter((c) => c.method === 'vocab.status')
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('vocab store', () => {
  it('loads the open project’s status, and shows none of another project', async () => {
    const vocab = useVocabStore()
    expect(vocab.status).toBeNull()
    await vocab.load()
    expect(api.calls).toEqual([{ method: 'vocab.status', params: { dir: PROJECT } }])
    expect(vocab.status?.base?.vocabSize).toBe(50257)
    await useProjectStore().open('/projects/other')
    expect(vocab.status).toBeNull()
  })

  it('keeps a failed load as an error', async () => {
    api.handlers['vocab.status'] = () => {
      throw new ApiError({ code: 'unreadable', message: 'vernacular.json is damaged' })
    }
    const vocab = useVocabStore()
    await expect(vocab.load()).resolves.toBeNull()
    expect(vocab.loadError).toEqual({ code: 'unreadable', message: 'vernacular.json is damaged', hint: null })
  })

  it('setBase() shows the status it returns, over a load still on its way', async () => {
    const resolvers: ((s: VocabStatus) => void)[] = []
    api.handlers['vocab.status'] = () => new Promise((resolve) => resolvers.push(resolve))
    const vocab = useVocabStore()
    const loading = vocab.load()
    await vocab.setBase('/models/llama/tokenizer.json')
    expect(api.calls.at(-1)).toEqual({ method: 'vocab.setBase', params: { dir: PROJECT, path: '/models/llama/tokenizer.json' } })
    resolvers[0]?.(status())
    await loading
    expect(vocab.status?.base?.family).toBe('sentencepiece-bpe')
  })

  it('setBase() throws the engine’s error', async () => {
    api.handlers['vocab.setBase'] = () => {
      throw new ApiError({ code: 'not-found', message: '/x/tokenizer.json: no such file', hint: 'Give the path of a tokenizer.json.' })
    }
    await expect(useVocabStore().setBase('/x/tokenizer.json')).rejects.toMatchObject({ code: 'not-found' })
  })

  it('follows the sweep it started and reloads the status once when it is done', async () => {
    const vocab = useVocabStore()
    const jobs = useJobsStore()
    await vocab.load()
    await vocab.sweep([0, 200, 1000])
    expect(api.calls.at(-1)).toEqual({ method: 'vocab.sweep', params: { dir: PROJECT, counts: [0, 200, 1000] } })
    expect(vocab.sweepJob?.id).toBe('sweep-1')
    expect(vocab.sweeping).toBe(true)
    expect(vocab.extending).toBe(false)

    api.calls.length = 0
    api.emit({ type: 'job', job: job({ id: 'sweep-1', kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'running', revision: 2 }) })
    expect(statusCalls()).toHaveLength(0)
    api.emit({ type: 'job', job: job({ id: 'sweep-1', kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'done', revision: 3 }) })
    api.emit({ type: 'job', job: job({ id: 'sweep-1', kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'done', revision: 3 }) })
    await settle()
    expect(statusCalls()).toHaveLength(1)
    expect(vocab.sweeping).toBe(false)
    expect(jobs.get('sweep-1')?.state).toBe('done')
  })

  it('reloads after an extension of the open project, not after one of another project or a failed one', async () => {
    const vocab = useVocabStore()
    await vocab.extend('replace', 300)
    expect(api.calls.at(-1)).toEqual({ method: 'vocab.extend', params: { dir: PROJECT, mode: 'replace', count: 300 } })
    expect(vocab.extendJob?.labels).toEqual({ mode: 'replace', count: '300' })
    api.calls.length = 0
    api.emit({ type: 'job', job: job({ id: 'other', kind: VOCAB_EXTEND_JOB, projectDir: '/projects/other', state: 'done' }) })
    api.emit({ type: 'job', job: job({ id: 'failed', kind: VOCAB_EXTEND_JOB, projectDir: PROJECT, state: 'failed' }) })
    api.emit({ type: 'job', job: job({ id: 'ingest', kind: INGEST_JOB, projectDir: PROJECT, state: 'done' }) })
    await settle()
    expect(statusCalls()).toHaveLength(0)
    api.emit({ type: 'job', job: job({ id: 'extend-1', kind: VOCAB_EXTEND_JOB, projectDir: PROJECT, state: 'done', revision: 5 }) })
    await settle()
    expect(statusCalls()).toHaveLength(1)
  })

  it('shows a sweep another window started, and the project’s running ingest jobs', () => {
    const vocab = useVocabStore()
    const jobs = useJobsStore()
    jobs.track(job({ id: 'elsewhere', kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'running' }))
    jobs.track(job({ id: 'ingest-hu', kind: INGEST_JOB, projectDir: PROJECT, state: 'running' }))
    jobs.track(job({ id: 'ingest-other', kind: INGEST_JOB, projectDir: '/projects/other', state: 'running' }))
    expect(vocab.sweepJob?.id).toBe('elsewhere')
    expect(vocab.sweeping).toBe(true)
    expect(vocab.ingestJobs.map((j) => j.id)).toEqual(['ingest-hu'])
  })

  it('preview() asks for the open project', async () => {
    const result = await useVocabStore().preview('A magyar nyelv', 1000)
    expect(api.calls).toEqual([{ method: 'vocab.preview', params: { dir: PROJECT, text: 'A magyar nyelv', count: 1000 } }])
    expect(result.extended).toEqual([])
  })
})
