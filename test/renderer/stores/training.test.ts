import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, TRAIN_JOB, type JobOf, type RunStatus, type StepMetrics } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { POLL_MS, useTrainingStore } from '../../../renderer/src/stores/training'
import { createFakeApi, job, manifest, runStatus, stepMetrics, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'

let api: FakeApi
/** What the fake engine knows: runs by name, and each run's metrics. */
let runs: RunStatus[]
let metrics: Record<string, StepMetrics[]>

type TrainJob = JobOf<typeof TRAIN_JOB>
const trainJob = (id: string, run: string, overrides: Partial<Omit<TrainJob, 'kind' | 'id'>> = {}): TrainJob =>
  job({ id, kind: TRAIN_JOB, projectDir: PROJECT, state: 'running', labels: { run }, ...overrides })

function setRun(status: RunStatus): void {
  runs = runs.some((r) => r.name === status.name) ? runs.map((r) => (r.name === status.name ? status : r)) : [...runs, status]
}

beforeEach(async () => {
  runs = []
  metrics = {}
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'project.setTraining': ({ dir, replay, training }) => ({
      dir,
      manifest: manifest({ replay: replay ?? manifest().replay, training: { ...manifest().training, ...training } }),
    }),
    'train.runs': () => runs,
    'train.status': ({ run }) => {
      const found = runs.find((r) => r.name === (run ?? 'main'))
      if (!found) throw new ApiError({ code: 'not-found', message: `The project has no run "${run}".` })
      return found
    },
    'train.metrics': ({ run }) => metrics[run] ?? [],
    'train.start': ({ run, resume }) => {
      const name = run ?? 'main'
      setRun(runStatus({ name, state: resume ? 'paused' : 'planned' }))
      return { job: trainJob(resume ? 'train-2' : 'train-1', name, { state: 'queued' }) }
    },
    'train.pause': ({ run }) => runs.find((r) => r.name === run)!,
    'train.cancel': ({ run }) => runs.find((r) => r.name === run)!,
    'train.pin': ({ run, step, pinned }) => {
      const found = runs.find((r) => r.name === run)!
      const pinnedRun = { ...found, checkpoints: found.checkpoints.map((c) => (c.step === step ? { ...c, pinned } : c)) }
      setRun(pinnedRun)
      return pinnedRun
    },
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

afterEach(() => {
  vi.useRealTimers()
})

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}
const callsOf = (method: string) => api.calls.filter((c) => c.method === method)
const emit = (snapshot: TrainJob) => api.emit({ type: 'job', job: snapshot })

describe('training store', () => {
  it('loads the runs, then the newest run’s status and metrics; another project shows none', async () => {
    runs = [runStatus({ name: 'main', state: 'done', step: 6 }), runStatus({ name: 'run-2', state: 'paused', step: 3 })]
    metrics = { 'run-2': [stepMetrics(1), stepMetrics(2), stepMetrics(3)] }
    const training = useTrainingStore()
    expect(training.runsLoaded).toBe(false)
    await training.load()
    await settle()
    expect(api.calls[0]).toEqual({ method: 'train.runs', params: { dir: PROJECT } })
    expect(callsOf('train.metrics').at(-1)).toEqual({ method: 'train.metrics', params: { dir: PROJECT, run: 'run-2' } })
    expect(training.shownName).toBe('run-2')
    expect(training.run?.state).toBe('paused')
    expect(training.metrics.map((m) => m.step)).toEqual([1, 2, 3])
    expect(training.training).toBe(false)

    // The history shows another run.
    training.show('main')
    await settle()
    expect(training.run?.state).toBe('done')
    expect(training.metrics).toEqual([])

    await useProjectStore().open('/projects/other')
    expect(training.runs).toEqual([])
    expect(training.run).toBeNull()
  })

  it('asks for no run while the project has none', async () => {
    const training = useTrainingStore()
    await training.load()
    await settle()
    expect(api.calls.map((c) => c.method)).toEqual(['train.runs'])
    expect(training.shownName).toBeNull()
    expect(training.runsLoaded).toBe(true)
  })

  it('saves the replay share and the training settings in the manifest, and the open project shows them', async () => {
    const training = useTrainingStore()
    await training.saveReplay(0.1)
    expect(api.calls.at(-1)).toEqual({ method: 'project.setTraining', params: { dir: PROJECT, replay: { englishShare: 0.1 } } })
    expect(useProjectStore().manifest?.replay.englishShare).toBe(0.1)
    await training.saveSettings({ steps: 6, batchSize: 2 })
    expect(api.calls.at(-1)).toEqual({ method: 'project.setTraining', params: { dir: PROJECT, training: { steps: 6, batchSize: 2 } } })
    expect(useProjectStore().manifest?.training).toMatchObject({ steps: 6, batchSize: 2, sequenceLength: 512 })
  })

  it('starts a run after saving its settings, follows its job step by step, and reloads when it is done', async () => {
    const training = useTrainingStore()
    await training.load()
    const started = await training.start('main', { steps: 6, sequenceLength: 32 })
    expect(api.calls.slice(1, 3)).toEqual([
      { method: 'project.setTraining', params: { dir: PROJECT, training: { steps: 6, sequenceLength: 32 } } },
      { method: 'train.start', params: { dir: PROJECT, run: 'main' } },
    ])
    expect(started.id).toBe('train-1')
    await settle()
    expect(training.shownName).toBe('main')
    expect(training.runJob?.id).toBe('train-1')
    expect(training.run?.state).toBe('planned')
    expect(training.training).toBe(true)

    // Each step the job reports reads the run's status and metrics again.
    setRun(runStatus({ name: 'main', state: 'running', step: 1 }))
    metrics = { main: [stepMetrics(1)] }
    api.calls.length = 0
    emit(trainJob('train-1', 'main', { revision: 2, progress: { fraction: 1 / 6, message: 'step 1/6, loss 9.900, 2000 tok/s', etaSeconds: null, metrics: { step: 1, loss: 9.9 } } }))
    await settle()
    expect(callsOf('train.status')).toEqual([{ method: 'train.status', params: { dir: PROJECT, run: 'main' } }])
    expect(training.metrics.map((m) => m.step)).toEqual([1])
    expect(training.run?.state).toBe('running')
    expect(training.log).toEqual(['step 1/6, loss 9.900, 2000 tok/s'])

    // The same step again (an ETA update) reads nothing; the next one does.
    api.calls.length = 0
    emit(trainJob('train-1', 'main', { revision: 3, progress: { fraction: 1 / 6, message: 'step 1/6, loss 9.900, 2000 tok/s', etaSeconds: 5, metrics: { step: 1, loss: 9.9 } } }))
    await settle()
    expect(callsOf('train.metrics')).toHaveLength(0)
    metrics = { main: [stepMetrics(1), stepMetrics(2)] }
    emit(trainJob('train-1', 'main', { revision: 4, progress: { fraction: 2 / 6, message: 'step 2/6, loss 9.800, 2000 tok/s', etaSeconds: 4, metrics: { step: 2, loss: 9.8 } } }))
    await settle()
    expect(training.metrics.map((m) => m.step)).toEqual([1, 2])
    expect(training.log).toEqual(['step 1/6, loss 9.900, 2000 tok/s', 'step 2/6, loss 9.800, 2000 tok/s'])

    // Done: the runs and the run are read again.
    const done = runStatus({ name: 'main', state: 'done', step: 6, checkpoints: [{ step: 6, dir: `${PROJECT}/runs/main/checkpoints/step-6`, pinned: false }] })
    setRun(done)
    api.calls.length = 0
    emit(trainJob('train-1', 'main', { revision: 5, state: 'done', result: done, progress: { fraction: 1, message: 'step 6/6', etaSeconds: null } }))
    await settle()
    expect(callsOf('train.runs')).toHaveLength(1)
    expect(training.run?.state).toBe('done')
    expect(training.run?.checkpoints).toHaveLength(1)
    expect(training.training).toBe(false)
  })

  it('reads the metrics of each step once, however fast the steps come', async () => {
    const training = useTrainingStore()
    runs = [runStatus({ name: 'main' })]
    await training.load()
    await settle()
    const resolvers: (() => void)[] = []
    api.handlers['train.metrics'] = () => new Promise((resolve) => resolvers.push(() => resolve([])))
    useJobsStore().track(trainJob('train-1', 'main'))
    await settle()
    for (let step = 1; step <= 4; step++) {
      emit(trainJob('train-1', 'main', { revision: step + 1, progress: { fraction: step / 6, message: `step ${step}/6`, etaSeconds: null, metrics: { step } } }))
      await settle()
    }
    // One read in flight, one more queued behind it, whatever the number of steps meanwhile.
    expect(resolvers).toHaveLength(1)
    resolvers[0]!()
    await settle()
    expect(resolvers).toHaveLength(2)
    resolvers[1]!()
    await settle()
    expect(resolvers).toHaveLength(2)
  })

  it('after a page reload, shows the run the project’s active train job follows, and its log from then on', async () => {
    runs = [runStatus({ name: 'old', state: 'done', step: 6 }), runStatus({ name: 'main', state: 'running', step: 3 })]
    metrics = { main: [stepMetrics(1), stepMetrics(2), stepMetrics(3)] }
    // Another window's job, known from jobs.list.
    useJobsStore().track(trainJob('train-elsewhere', 'main', { progress: { fraction: 0.5, message: 'step 3/6, loss 9.700, 2000 tok/s', etaSeconds: 3, metrics: { step: 3 } } }))
    useJobsStore().track(trainJob('train-other-project', 'x', { projectDir: '/projects/other' }))
    const training = useTrainingStore()
    await training.load()
    await settle()
    expect(training.trainJob?.id).toBe('train-elsewhere')
    expect(training.shownName).toBe('main')
    expect(training.training).toBe(true)
    expect(training.metrics).toHaveLength(3)
    expect(training.log).toEqual(['step 3/6, loss 9.700, 2000 tok/s'])
  })

  it('resumes a run with resume: true', async () => {
    runs = [runStatus({ name: 'main', state: 'interrupted', step: 3 })]
    const training = useTrainingStore()
    await training.load()
    await training.resume('main')
    expect(callsOf('train.start').at(-1)).toEqual({ method: 'train.start', params: { dir: PROJECT, run: 'main', resume: true } })
    expect(training.runJob?.id).toBe('train-2')
  })

  it('pause() says the pause is asked for until the job ends; cancel() and pin() send the run', async () => {
    runs = [runStatus({ name: 'main', state: 'running', step: 2, checkpoints: [{ step: 2, dir: '/c/step-2', pinned: false }] })]
    useJobsStore().track(trainJob('train-1', 'main'))
    const training = useTrainingStore()
    await training.load()
    await training.pause('main')
    expect(callsOf('train.pause')).toEqual([{ method: 'train.pause', params: { dir: PROJECT, run: 'main' } }])
    expect(training.stopRequest).toBe('pause')
    setRun(runStatus({ name: 'main', state: 'paused', step: 3 }))
    emit(trainJob('train-1', 'main', { revision: 2, state: 'done', result: runs[0]! }))
    await settle()
    expect(training.stopRequest).toBeNull()
    expect(training.run?.state).toBe('paused')

    await training.cancel('main')
    expect(callsOf('train.cancel')).toEqual([{ method: 'train.cancel', params: { dir: PROJECT, run: 'main' } }])

    runs = [runStatus({ name: 'main', state: 'paused', step: 2, checkpoints: [{ step: 2, dir: '/c/step-2', pinned: false }] })]
    await training.load()
    const pinned = await training.pin('main', 2, true)
    expect(callsOf('train.pin')).toEqual([{ method: 'train.pin', params: { dir: PROJECT, run: 'main', step: 2, pinned: true } }])
    expect(pinned.checkpoints[0]?.pinned).toBe(true)
    expect(training.run?.checkpoints[0]?.pinned).toBe(true)
  })

  it('reads the runs again when a train job fails', async () => {
    useJobsStore().track(trainJob('train-1', 'main'))
    runs = [runStatus({ name: 'main', state: 'running' })]
    const training = useTrainingStore()
    await training.load()
    await settle()
    setRun(runStatus({ name: 'main', state: 'failed', failure: 'the training worker was killed (SIGKILL, perhaps for lack of memory)' }))
    api.calls.length = 0
    emit(trainJob('train-1', 'main', { revision: 2, state: 'failed', error: { code: 'internal', message: 'Run "main" failed.' } }))
    await settle()
    expect(callsOf('train.runs')).toHaveLength(1)
    expect(training.run?.state).toBe('failed')
    expect(training.run?.failure).toMatch(/SIGKILL/)
    // The job another window started still shows how it ended.
    expect(training.trainJob?.state).toBe('failed')
    expect(training.training).toBe(false)
  })

  it('polls a run that another process trains, and stops when it is no longer running', async () => {
    vi.useFakeTimers()
    runs = [runStatus({ name: 'main', state: 'running', step: 1 })]
    const training = useTrainingStore()
    await training.load()
    await vi.advanceTimersByTimeAsync(0)
    api.calls.length = 0
    await vi.advanceTimersByTimeAsync(POLL_MS)
    expect(callsOf('train.status')).toHaveLength(1)
    expect(callsOf('train.metrics')).toHaveLength(1)
    setRun(runStatus({ name: 'main', state: 'done', step: 6 }))
    await vi.advanceTimersByTimeAsync(POLL_MS)
    expect(training.run?.state).toBe('done')
    api.calls.length = 0
    await vi.advanceTimersByTimeAsync(POLL_MS * 3)
    expect(api.calls).toEqual([])
  })

  it('keeps a failed read of the run as an error to show', async () => {
    runs = [runStatus({ name: 'main', state: 'done' })]
    api.handlers['train.metrics'] = () => {
      throw new ApiError({ code: 'io', message: 'Cannot read runs/main/metrics.jsonl' })
    }
    const training = useTrainingStore()
    await training.load()
    await settle()
    expect(training.runError).toEqual({ code: 'io', message: 'Cannot read runs/main/metrics.jsonl', hint: null })
  })

  it('throws the engine’s refusal to start', async () => {
    api.handlers['train.start'] = () => {
      throw new ApiError({ code: 'bad-input', message: 'The base model has not been resized for the vocabulary plan (add 5000).', hint: 'Resize it in the Base model step.' })
    }
    await expect(useTrainingStore().start('main')).rejects.toMatchObject({ code: 'bad-input' })
    expect(callsOf('project.setTraining')).toHaveLength(0)
  })
})
