import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, HANDOFF_JOB, RUNS_IMPORT_JOB, type HandoffResult, type JobOf, type RunStatus, type RunsImportResult } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useHandoffStore } from '../../../renderer/src/stores/handoff'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { useTrainingStore } from '../../../renderer/src/stores/training'
import { createFakeApi, job, manifest, runStatus, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'
const OUT = '/projects/magyar-cluster'

let api: FakeApi
let runs: RunStatus[]

type HandoffJob = JobOf<typeof HANDOFF_JOB>
type ImportJob = JobOf<typeof RUNS_IMPORT_JOB>
const handoffJob = (overrides: Partial<Omit<HandoffJob, 'kind' | 'id'>> = {}): HandoffJob =>
  job({ id: 'handoff-1', kind: HANDOFF_JOB, projectDir: PROJECT, state: 'queued', labels: { run: 'main', target: 'fsdp' }, ...overrides })
const importJob = (overrides: Partial<Omit<ImportJob, 'kind' | 'id'>> = {}): ImportJob =>
  job({ id: 'import-1', kind: RUNS_IMPORT_JOB, projectDir: PROJECT, state: 'queued', labels: { run: 'ext' }, ...overrides })

const written: HandoffResult = {
  out: OUT,
  target: 'fsdp',
  run: 'main',
  created: true,
  files: [{ name: 'README.md', bytes: 100 }],
  command: './launch.sh --nproc-per-node 1',
  importCommand: `vernacular runs import ${PROJECT} ${OUT}/output --run main`,
  tokensPerStep: 64,
  seconds: 1,
}
const broughtBack: RunsImportResult = { run: 'ext', from: '/data/out', checkpoints: [{ step: 2, dir: `${PROJECT}/runs/ext/checkpoints/step-2`, from: '/data/out/checkpoint-2' }], skipped: [], metrics: 0, seconds: 1 }

beforeEach(async () => {
  runs = [runStatus({ name: 'main', state: 'done', step: 2 })]
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'train.runs': () => runs,
    'train.status': ({ run }) => runs.find((r) => r.name === (run ?? 'main'))!,
    'train.metrics': () => [],
    'handoff.write': ({ out, force }) => {
      if (out === '/tmp/full' && !force) throw new ApiError({ code: 'bad-input', message: '/tmp/full is not empty and was not written by vernacular handoff (it holds a.txt).' })
      return { job: handoffJob() }
    },
    'runs.import': () => ({ job: importJob() }),
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}

describe('handoff store', () => {
  it('writes a bundle, follows its job, and keeps the result on show once it is done', async () => {
    const handoff = useHandoffStore()
    expect(handoff.handoffJob).toBeNull()
    await handoff.write({ run: 'main', target: 'fsdp', out: OUT })
    expect(api.calls).toEqual([{ method: 'handoff.write', params: { dir: PROJECT, run: 'main', out: OUT, target: 'fsdp', force: false } }])
    expect(handoff.handoffJob?.id).toBe('handoff-1')
    expect(handoff.writing).toBe(true)
    expect(handoff.importJob).toBeNull()

    api.emit({ type: 'job', job: handoffJob({ revision: 2, state: 'running', progress: { fraction: 0.5, message: 'Writing the model', etaSeconds: null } }) })
    expect(handoff.handoffJob?.progress.fraction).toBe(0.5)
    api.emit({ type: 'job', job: handoffJob({ revision: 3, state: 'done', result: written }) })
    await settle()
    expect(handoff.writing).toBe(false)
    expect(handoff.handoffJob?.state).toBe('done')
    expect(handoff.handoffJob?.result?.importCommand).toContain('--run main')
    // A planned run may have been created: the runs are read again.
    expect(api.calls.some((c) => c.method === 'train.runs')).toBe(true)
  })

  it('throws the engine’s refusal of a foreign folder, and passes Replace as force', async () => {
    const handoff = useHandoffStore()
    await expect(handoff.write({ run: 'main', target: 'llamafactory', out: '/tmp/full' })).rejects.toThrow('is not empty')
    expect(handoff.handoffJob).toBeNull()
    await handoff.write({ run: 'main', target: 'llamafactory', out: '/tmp/full', force: true })
    expect(api.calls.at(-1)).toEqual({ method: 'handoff.write', params: { dir: PROJECT, run: 'main', out: '/tmp/full', target: 'llamafactory', force: true } })
  })

  it('imports a run, and the runs list has it once the job is done', async () => {
    const training = useTrainingStore()
    await training.load()
    const handoff = useHandoffStore()
    await handoff.importRun('/data/out', 'ext')
    expect(api.calls.at(-1)).toEqual({ method: 'runs.import', params: { dir: PROJECT, from: '/data/out', run: 'ext' } })
    expect(handoff.importing).toBe(true)
    runs = [...runs, runStatus({ name: 'ext', state: 'done', step: 2, imported: { from: '/data/out', at: '2026-01-01T00:00:00.000Z' } })]
    api.emit({ type: 'job', job: importJob({ revision: 2, state: 'done', result: broughtBack }) })
    await settle()
    expect(handoff.importing).toBe(false)
    expect(handoff.importJob?.result?.checkpoints.map((c) => c.step)).toEqual([2])
    expect(training.runs.map((r) => [r.name, r.imported?.from ?? null])).toEqual([
      ['main', null],
      ['ext', '/data/out'],
    ])
  })

  it('finds the project’s active jobs again after a reload, and shows none of another project', async () => {
    const handoff = useHandoffStore()
    api.emit({ type: 'job', job: importJob({ state: 'running' }) })
    expect(handoff.importJob?.id).toBe('import-1')
    expect(handoff.handoffJob).toBeNull()
    await useProjectStore().open('/projects/other')
    expect(handoff.importJob).toBeNull()
  })
})
