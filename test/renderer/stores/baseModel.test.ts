import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, MODEL_DOWNLOAD_JOB, MODEL_RESIZE_JOB, VOCAB_EXTEND_JOB, type BaseModelStatus, type HubModelInfo, type MemoryEstimateResult } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useBaseModelStore } from '../../../renderer/src/stores/baseModel'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { createFakeApi, job, manifest, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'
const MODEL = '/models/gpt2-tiny'

const ESTIMATE: MemoryEstimateResult = { parameters: 1000, weights: 4000, gradients: 4000, optimizer: 8000, activations: 100_000, total: 116_000 }

function status(overrides: Partial<BaseModelStatus> = {}): BaseModelStatus {
  return {
    path: MODEL,
    info: {
      dir: MODEL,
      architecture: 'GPT2LMHeadModel',
      modelType: 'gpt2',
      family: 'gpt2',
      parameters: 1000,
      vocabulary: 50257,
      layers: 2,
      dims: { hidden: 64, intermediate: 256, heads: 4, kvHeads: 4, headDim: 16 },
      maxPositions: 512,
      dtype: 'float16',
      tied: true,
      weightFiles: ['model.safetensors'],
      weightBytes: 2000,
      tokenizer: null,
      tokenizerProblem: null,
    },
    problem: null,
    tokenizer: 'same',
    training: { batch: 8, seqLen: 512, optimizer: 'adamw' },
    estimate: ESTIMATE,
    device: { kind: 'cpu', name: 'CPU (system memory)', memoryBytes: 1_000_000, backend: 'node-cpu' },
    fits: true,
    resized: [],
    ...overrides,
  }
}

let api: FakeApi
let statusReplies: BaseModelStatus[]

beforeEach(async () => {
  statusReplies = []
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'baseModel.status': () => statusReplies.shift() ?? status(),
    'baseModel.set': ({ path }) => status({ path, info: { ...status().info!, dir: path, architecture: 'LlamaForCausalLM' } }),
    'baseModel.resize': ({ mode, count, init }) => ({
      job: job({ id: 'resize-1', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'queued', labels: { mode, count: String(count), init: init ?? 'mean' } }),
    }),
    'model.hubInfo': ({ repo, revision }) => ({ repo, revision: revision ?? 'main', totalBytes: 123 }) as unknown as HubModelInfo,
    'model.download': ({ repo, revision }) => ({
      job: job({ id: 'download-1', kind: MODEL_DOWNLOAD_JOB, projectDir: PROJECT, state: 'queued', labels: { repo, ...(revision ? { revision } : {}) } }),
    }),
    'model.estimate': ({ batch, seqLen }) => ({ ...ESTIMATE, activations: batch * seqLen, total: 16_000 + batch * seqLen }),
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

const statusCalls = () => api.calls.filter((c) => c.method === 'baseModel.status')
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('base model store', () => {
  it('loads the open project’s status, and shows none of another project', async () => {
    const store = useBaseModelStore()
    expect(store.status).toBeNull()
    await store.load()
    expect(api.calls).toEqual([{ method: 'baseModel.status', params: { dir: PROJECT } }])
    expect(store.status?.info?.architecture).toBe('GPT2LMHeadModel')
    await useProjectStore().open('/projects/other')
    expect(store.status).toBeNull()
  })

  it('keeps a failed load as an error', async () => {
    api.handlers['baseModel.status'] = () => {
      throw new ApiError({ code: 'unreadable', message: 'vernacular.json is damaged' })
    }
    const store = useBaseModelStore()
    await expect(store.load()).resolves.toBeNull()
    expect(store.loadError).toEqual({ code: 'unreadable', message: 'vernacular.json is damaged', hint: null })
  })

  it('setModel() shows the status it returns, over a load still on its way', async () => {
    const resolvers: ((s: BaseModelStatus) => void)[] = []
    api.handlers['baseModel.status'] = () => new Promise((resolve) => resolvers.push(resolve))
    const store = useBaseModelStore()
    const loading = store.load()
    await store.setModel('/models/llama')
    expect(api.calls.at(-1)).toEqual({ method: 'baseModel.set', params: { dir: PROJECT, path: '/models/llama' } })
    resolvers[0]?.(status())
    await loading
    expect(store.status?.info?.architecture).toBe('LlamaForCausalLM')
  })

  it('setModel() throws the engine’s error, naming the folder', async () => {
    api.handlers['baseModel.set'] = ({ path }) => {
      throw new ApiError({ code: 'not-found', message: `Cannot open the model folder ${path}: it does not exist.`, hint: 'Check the path.' })
    }
    await expect(useBaseModelStore().setModel('/nonsense')).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining('/nonsense') })
  })

  it('estimate() asks about the project’s base model', async () => {
    const store = useBaseModelStore()
    await expect(store.estimate(1, 128)).rejects.toThrow(/no base model/)
    await store.load()
    const result = await store.estimate(2, 128)
    expect(api.calls.at(-1)).toEqual({ method: 'model.estimate', params: { model: MODEL, batch: 2, seqLen: 128, optimizer: 'adamw' } })
    expect(result.total).toBe(16_256)
  })

  it('follows the resize it started and reloads the status once when it is done', async () => {
    const store = useBaseModelStore()
    const jobs = useJobsStore()
    await store.load()
    await store.resize('add', 200, 'mean', 64)
    expect(api.calls.at(-1)).toEqual({ method: 'baseModel.resize', params: { dir: PROJECT, mode: 'add', count: 200, init: 'mean', padMultiple: 64 } })
    expect(store.resizeJob?.id).toBe('resize-1')
    expect(store.resizing).toBe(true)

    api.calls.length = 0
    api.emit({ type: 'job', job: job({ id: 'other', kind: MODEL_RESIZE_JOB, projectDir: '/projects/other', state: 'done' }) })
    api.emit({ type: 'job', job: job({ id: 'extend', kind: VOCAB_EXTEND_JOB, projectDir: PROJECT, state: 'done' }) })
    api.emit({ type: 'job', job: job({ id: 'resize-1', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'running', revision: 2 }) })
    await settle()
    expect(statusCalls()).toHaveLength(0)
    api.emit({ type: 'job', job: job({ id: 'resize-1', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'done', revision: 3 }) })
    api.emit({ type: 'job', job: job({ id: 'resize-1', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'done', revision: 3 }) })
    await settle()
    expect(statusCalls()).toHaveLength(1)
    expect(store.resizing).toBe(false)
    expect(jobs.get('resize-1')?.state).toBe('done')
  })

  it('leaves padMultiple out when no padding is asked for', async () => {
    await useBaseModelStore().resize('replace', 300, 'random', null)
    expect(api.calls.at(-1)).toEqual({ method: 'baseModel.resize', params: { dir: PROJECT, mode: 'replace', count: 300, init: 'random' } })
  })

  it('shows a resize another window started', () => {
    const store = useBaseModelStore()
    useJobsStore().track(job({ id: 'elsewhere', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'running' }))
    useJobsStore().track(job({ id: 'elsewhere-other', kind: MODEL_RESIZE_JOB, projectDir: '/projects/other', state: 'running' }))
    expect(store.resizeJob?.id).toBe('elsewhere')
    expect(store.resizing).toBe(true)
  })

  it('asks the Hub for size and fit with the project, downloads into the project, and reloads once the download is done', async () => {
    const store = useBaseModelStore()
    expect(await store.hubInfo('org/tiny', null)).toMatchObject({ revision: 'main', totalBytes: 123 })
    expect(await store.hubInfo('org/tiny', 'v1')).toMatchObject({ revision: 'v1' })
    expect(api.calls.filter((c) => c.method === 'model.hubInfo').map((c) => c.params)).toEqual([
      { repo: 'org/tiny', dir: PROJECT },
      { repo: 'org/tiny', revision: 'v1', dir: PROJECT },
    ])
    const started = await store.download('org/tiny', 'v1')
    expect(api.calls.find((c) => c.method === 'model.download')?.params).toEqual({ repo: 'org/tiny', revision: 'v1', dir: PROJECT })
    expect(started.id).toBe('download-1')
    expect(store.downloadJob?.id).toBe('download-1')
    expect(store.downloading).toBe(true)
    const before = statusCalls().length
    api.emit({ type: 'job', job: job({ id: 'download-1', kind: MODEL_DOWNLOAD_JOB, projectDir: PROJECT, state: 'done', revision: 2 }) })
    await settle()
    expect(store.downloading).toBe(false)
    expect(statusCalls().length).toBe(before + 1)
  })
})
