import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import { ApiError, EVAL_COMPARE_JOB, EVAL_RUN_JOB, EXPORT_JOB, type Result } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useCompareStore } from '../../../renderer/src/stores/compare'
import { useExportStore } from '../../../renderer/src/stores/export'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { createFakeApi, job, manifest, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'

const results = (maxEnglishChange: number): Result<'eval.results'> => ({
  runs: [],
  best: null,
  rule: `rule ${maxEnglishChange}`,
  maxEnglishChange,
  limit: null,
  missing: [{ run: 'main', step: null }],
})

let api: FakeApi

beforeEach(async () => {
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'eval.results': ({ maxEnglishChange }) => results(maxEnglishChange ?? 0.05),
    'eval.compare': () => ({ job: job({ id: 'cmp-1', kind: EVAL_COMPARE_JOB, projectDir: PROJECT, state: 'queued', labels: {} }) }),
    'eval.report': ({ out, format }) => ({ out, format, bytes: 10, runs: 1, checkpoints: 2, missing: [] }),
    'export.checkpoint': ({ run, checkpoint }) => ({ job: job({ id: 'exp-1', kind: EXPORT_JOB, projectDir: PROJECT, state: 'queued', labels: { run, checkpoint: String(checkpoint) } }) }),
    'export.card': ({ run, checkpoint, dtype }) => ({ markdown: `# ${run} ${checkpoint} ${dtype}` }),
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

const resultCalls = () => api.calls.filter((c) => c.method === 'eval.results')
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('compare store', () => {
  it('reads what is evaluated with the tolerance, and again with a new one', async () => {
    const store = useCompareStore()
    expect(store.results).toBeNull()
    await store.load()
    expect(api.calls).toEqual([{ method: 'eval.results', params: { dir: PROJECT, maxEnglishChange: 0.05 } }])
    expect(store.results?.rule).toBe('rule 0.05')
    await store.setTolerance(0.1)
    expect(api.calls.at(-1)).toEqual({ method: 'eval.results', params: { dir: PROJECT, maxEnglishChange: 0.1 } })
    expect(store.results?.maxEnglishChange).toBe(0.1)
    await useProjectStore().open('/projects/other')
    expect(store.results).toBeNull()
  })

  it('keeps a failed read as an error', async () => {
    api.handlers['eval.results'] = () => {
      throw new ApiError({ code: 'not-a-project', message: 'No vernacular.json' })
    }
    const store = useCompareStore()
    await store.load()
    expect(store.loadError).toEqual({ code: 'not-a-project', message: 'No vernacular.json', hint: null })
  })

  it('follows the evaluation it started, reads again as each model is done, and once more at the end', async () => {
    const store = useCompareStore()
    await store.load()
    await store.setTolerance(0.02)
    api.calls.length = 0
    await store.evaluate()
    expect(api.calls).toEqual([{ method: 'eval.compare', params: { dir: PROJECT, maxEnglishChange: 0.02 } }])
    expect(store.job?.id).toBe('cmp-1')
    expect(store.evaluating).toBe(true)

    const running = (revision: number, fraction: number | null) =>
      job({ id: 'cmp-1', kind: EVAL_COMPARE_JOB, projectDir: PROJECT, state: 'running', revision, labels: {}, progress: { fraction, message: 'main: Evaluating…', etaSeconds: null } })
    api.emit({ type: 'job', job: running(2, 0) })
    await nextTick()
    await settle()
    expect(resultCalls()).toHaveLength(0)
    api.emit({ type: 'job', job: running(3, 1 / 3) })
    await nextTick()
    await settle()
    expect(resultCalls()).toHaveLength(1)
    api.emit({ type: 'job', job: job({ id: 'cmp-1', kind: EVAL_COMPARE_JOB, projectDir: PROJECT, state: 'done', revision: 4, labels: {} }) })
    await nextTick()
    await settle()
    expect(resultCalls()).toHaveLength(2)
    expect(store.evaluating).toBe(false)
    // How it ended stays shown.
    expect(store.job?.state).toBe('done')
  })

  it('shows the project’s active evaluation after a reload, or an eval.run job another window started', () => {
    const store = useCompareStore()
    const jobs = useJobsStore()
    jobs.track(job({ id: 'run-elsewhere', kind: EVAL_RUN_JOB, projectDir: PROJECT, state: 'running', labels: { run: 'main' } }))
    expect(store.job?.id).toBe('run-elsewhere')
    jobs.track(job({ id: 'cmp-other-project', kind: EVAL_COMPARE_JOB, projectDir: '/projects/other', state: 'running', labels: {} }))
    jobs.track(job({ id: 'cmp-elsewhere', kind: EVAL_COMPARE_JOB, projectDir: PROJECT, state: 'running', labels: {} }))
    expect(store.job?.id).toBe('cmp-elsewhere')
    expect(store.evaluating).toBe(true)
  })

  it('writes a report with the tolerance shown', async () => {
    const store = useCompareStore()
    await store.setTolerance(0.07)
    const written = await store.report('csv', '/tmp/r.csv')
    expect(api.calls.at(-1)).toEqual({ method: 'eval.report', params: { dir: PROJECT, format: 'csv', out: '/tmp/r.csv', maxEnglishChange: 0.07 } })
    expect(written.out).toBe('/tmp/r.csv')
  })
})

describe('export store', () => {
  it('starts an export (forced only when asked) and follows its job', async () => {
    const store = useExportStore()
    await store.start({ run: 'main', checkpoint: 4, dtype: 'bf16', out: '/tmp/model' })
    // A Hugging Face folder unless GGUF is asked for.
    expect(api.calls.at(-1)).toEqual({ method: 'export.checkpoint', params: { dir: PROJECT, run: 'main', checkpoint: 4, format: 'hf', dtype: 'bf16', out: '/tmp/model', force: false } })
    expect(store.job?.id).toBe('exp-1')
    expect(store.exporting).toBe(true)
    await store.start({ run: 'main', checkpoint: 4, dtype: 'f32', out: '/tmp/model', force: true })
    expect(api.calls.at(-1)?.params).toMatchObject({ force: true })
    await store.start({ run: 'main', checkpoint: 4, format: 'gguf', dtype: 'q8_0', out: '/tmp/gguf' })
    expect(api.calls.at(-1)?.params).toMatchObject({ format: 'gguf', dtype: 'q8_0', out: '/tmp/gguf' })
    api.emit({ type: 'job', job: job({ id: 'exp-1', kind: EXPORT_JOB, projectDir: PROJECT, state: 'done', revision: 2, labels: { run: 'main', checkpoint: '4' } }) })
    expect(store.exporting).toBe(false)
    expect(store.job?.state).toBe('done')
  })

  it('asks for the model card of a checkpoint and storage type', async () => {
    expect(await useExportStore().card('main', 4, 'f16')).toBe('# main 4 f16')
    expect(api.calls.at(-1)).toEqual({ method: 'export.card', params: { dir: PROJECT, run: 'main', checkpoint: 4, dtype: 'f16' } })
  })

  it('passes the engine’s refusal on', async () => {
    api.handlers['export.checkpoint'] = () => {
      throw new ApiError({ code: 'bad-input', message: '/tmp/model is not empty and was not written by vernacular export (it holds a.txt).' })
    }
    await expect(useExportStore().start({ run: 'main', checkpoint: 4, dtype: 'f32', out: '/tmp/model' })).rejects.toMatchObject({ code: 'bad-input' })
  })
})
