import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, expectTypeOf, it } from 'vitest'
import { effectScope } from 'vue'
import { INGEST_JOB, MODEL_RESIZE_JOB, VOCAB_EXTEND_JOB, VOCAB_SWEEP_JOB, type ExtendSummary, type JobOf, type JobSnapshot, type SweepResult } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useFollowedJobs, type JobSlot } from '../../../renderer/src/stores/followedJobs'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { createFakeApi, job, manifest, type FakeApi } from '../fakes'

const PROJECT = '/projects/magyar'
const OTHER = '/projects/other'

let api: FakeApi
/** The jobs each reload was called for, by id. */
let reloads: string[]

beforeEach(async () => {
  reloads = []
  api = createFakeApi({ 'project.open': ({ dir }) => ({ dir, manifest: manifest() }) })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
})

/** Follows vocabulary sweeps and extensions, recording each reload. */
function followVocab() {
  return useFollowedJobs([VOCAB_SWEEP_JOB, VOCAB_EXTEND_JOB], (finished) => {
    reloads.push(finished.id)
  })
}

const sweep = (id: string, overrides: Partial<Omit<JobOf<typeof VOCAB_SWEEP_JOB>, 'kind' | 'id'>> = {}) =>
  job({ id, kind: VOCAB_SWEEP_JOB, projectDir: PROJECT, state: 'running', ...overrides })
const extend = (id: string, overrides: Partial<Omit<JobOf<typeof VOCAB_EXTEND_JOB>, 'kind' | 'id'>> = {}) =>
  job({ id, kind: VOCAB_EXTEND_JOB, projectDir: PROJECT, state: 'running', ...overrides })
const emit = (snapshot: JobSnapshot) => api.emit({ type: 'job', job: snapshot })

describe('followed jobs: the job to show', () => {
  it('shows nothing while no project is open or no job of the kind is known', () => {
    const followed = followVocab()
    expect(followed.shown(VOCAB_SWEEP_JOB)).toBeNull()
    useJobsStore().track(sweep('running'))
    useProjectStore().close()
    expect(followed.shown(VOCAB_SWEEP_JOB)).toBeNull()
    expect(followed.active.value).toEqual([])
  })

  it('shows and tracks the job started from here, typed by its kind', () => {
    const followed = followVocab()
    const started = followed.started(PROJECT, sweep('sweep-1', { state: 'queued' }))
    expect(started.id).toBe('sweep-1')
    expect(useJobsStore().get('sweep-1')?.state).toBe('queued')
    const shown = followed.shown(VOCAB_SWEEP_JOB)
    expect(shown?.id).toBe('sweep-1')
    expect(followed.shown(VOCAB_EXTEND_JOB)).toBeNull()
    expectTypeOf(shown).toEqualTypeOf<JobOf<typeof VOCAB_SWEEP_JOB> | null>()
    expectTypeOf(followed.shown(VOCAB_EXTEND_JOB)?.result).toEqualTypeOf<ExtendSummary | null | undefined>()
    expectTypeOf(shown?.result).toEqualTypeOf<SweepResult | null | undefined>()
    expectTypeOf(started).toEqualTypeOf<JobOf<typeof VOCAB_SWEEP_JOB>>()
  })

  it('follows the started job’s later snapshots', () => {
    const followed = followVocab()
    followed.started(PROJECT, sweep('sweep-1', { state: 'queued' }))
    emit(sweep('sweep-1', { revision: 2, progress: { fraction: 0.5, message: 'half', etaSeconds: 3 } }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.progress.fraction).toBe(0.5)
  })

  it('shows the job started from here while it runs, over newer active ones', () => {
    const followed = followVocab()
    const jobs = useJobsStore()
    followed.started(PROJECT, sweep('mine', { createdAt: '2025-01-01T00:00:00.000Z' }))
    jobs.track(sweep('newer', { createdAt: '2025-01-02T00:00:00.000Z' }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('mine')
  })

  it('keeps showing the finished job started from here while no other runs, else shows the newest active one', () => {
    const followed = followVocab()
    const jobs = useJobsStore()
    followed.started(PROJECT, sweep('mine'))
    emit(sweep('mine', { revision: 2, state: 'failed', error: { code: 'x', message: 'broke' } }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.state).toBe('failed')

    jobs.track(sweep('older', { createdAt: '2025-01-01T00:00:00.000Z' }))
    jobs.track(sweep('newest', { createdAt: '2025-01-03T00:00:00.000Z' }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('newest')

    emit(sweep('newest', { revision: 2, state: 'done', createdAt: '2025-01-03T00:00:00.000Z' }))
    emit(sweep('older', { revision: 2, state: 'cancelled', createdAt: '2025-01-01T00:00:00.000Z' }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('mine')
  })

  it('shows an active job it did not start (another window, or before a reload), of the open project only', () => {
    const followed = followVocab()
    const jobs = useJobsStore()
    jobs.track(sweep('elsewhere', { projectDir: OTHER }))
    jobs.track(sweep('no-project', { projectDir: null }))
    jobs.track(job({ id: 'resize', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'running' }))
    jobs.track(sweep('finished', { state: 'done' }))
    expect(followed.shown(VOCAB_SWEEP_JOB)).toBeNull()

    jobs.track(sweep('from-another-window'))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('from-another-window')
    expect(followed.shown(VOCAB_EXTEND_JOB)).toBeNull()
  })

  it('keeps the job started from here per project folder and per kind', async () => {
    const followed = followVocab()
    followed.started(PROJECT, sweep('sweep-here'))
    followed.started(PROJECT, extend('extend-here'))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('sweep-here')
    expect(followed.shown(VOCAB_EXTEND_JOB)?.id).toBe('extend-here')

    await useProjectStore().open(OTHER)
    expect(followed.shown(VOCAB_SWEEP_JOB)).toBeNull()
    followed.started(OTHER, sweep('sweep-there', { projectDir: OTHER }))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('sweep-there')

    await useProjectStore().open(PROJECT)
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('sweep-here')
    followed.started(PROJECT, sweep('sweep-again'))
    expect(followed.shown(VOCAB_SWEEP_JOB)?.id).toBe('sweep-again')
    expect(followed.shown(VOCAB_EXTEND_JOB)?.id).toBe('extend-here')
  })

  it('places jobs of a kind in slots: its own started job per slot, others by the slot’s test', () => {
    const followed = useFollowedJobs([INGEST_JOB], () => {})
    const jobs = useJobsStore()
    const slot = (role: 'target' | 'english'): JobSlot<JobOf<typeof INGEST_JOB>> => ({ name: role, holds: (j) => j.labels.role === role })
    const ingest = (id: string, overrides: Partial<Omit<JobOf<typeof INGEST_JOB>, 'kind' | 'id'>> = {}) =>
      job({ id, kind: INGEST_JOB, projectDir: PROJECT, state: 'running', ...overrides })

    jobs.track(ingest('demo-english', { labels: { role: 'english' }, createdAt: '2025-01-01T00:00:00.000Z' }))
    expect(followed.shown(INGEST_JOB, slot('english'))?.id).toBe('demo-english')
    expect(followed.shown(INGEST_JOB, slot('target'))).toBeNull()

    // Started from here without a role label: only the slot it was started for shows it.
    followed.started(PROJECT, ingest('mine-target', { createdAt: '2025-01-02T00:00:00.000Z' }), 'target')
    expect(followed.shown(INGEST_JOB, slot('target'))?.id).toBe('mine-target')
    expect(followed.shown(INGEST_JOB, slot('english'))?.id).toBe('demo-english')
    // Without a slot: no job was started from here outside the slots, so the newest active one.
    expect(followed.shown(INGEST_JOB)?.id).toBe('mine-target')
    expect(followed.active.value.map((j) => j.id)).toEqual(['mine-target', 'demo-english'])
  })

  it('lists the active jobs of the followed kinds of the open project, newest first', () => {
    const followed = followVocab()
    const jobs = useJobsStore()
    jobs.track(sweep('old', { createdAt: '2025-01-01T00:00:00.000Z' }))
    jobs.track(extend('new', { createdAt: '2025-01-02T00:00:00.000Z' }))
    jobs.track(sweep('done', { state: 'done' }))
    jobs.track(sweep('elsewhere', { projectDir: OTHER }))
    jobs.track(job({ id: 'ingest', kind: INGEST_JOB, projectDir: PROJECT, state: 'running' }))
    expect(followed.active.value.map((j) => j.id)).toEqual(['new', 'old'])
    expectTypeOf(followed.active.value).toEqualTypeOf<JobOf<typeof VOCAB_SWEEP_JOB | typeof VOCAB_EXTEND_JOB>[]>()
  })
})

describe('followed jobs: reloading when one is done', () => {
  it('reloads once per job of the followed kinds of the open project that is done', () => {
    followVocab()
    emit(sweep('sweep-1', { state: 'running' }))
    expect(reloads).toEqual([])
    emit(sweep('sweep-1', { revision: 2, state: 'done' }))
    emit(sweep('sweep-1', { revision: 2, state: 'done' }))
    emit(extend('extend-1', { state: 'done' }))
    expect(reloads).toEqual(['sweep-1', 'extend-1'])
  })

  it('does not reload for other projects, other kinds, jobs without a project, or jobs that did not finish well', () => {
    followVocab()
    emit(sweep('elsewhere', { projectDir: OTHER, state: 'done' }))
    emit(sweep('no-project', { projectDir: null, state: 'done' }))
    emit(job({ id: 'resize', kind: MODEL_RESIZE_JOB, projectDir: PROJECT, state: 'done' }))
    emit(job({ id: 'ingest', kind: INGEST_JOB, projectDir: PROJECT, state: 'done' }))
    emit(sweep('failed', { state: 'failed', error: { code: 'x', message: 'broke' } }))
    emit(sweep('cancelled', { state: 'cancelled' }))
    emit(sweep('queued', { state: 'queued' }))
    expect(reloads).toEqual([])
  })

  it('reloads for a job that is done before its reply arrives, once', () => {
    const followed = followVocab()
    followed.started(PROJECT, sweep('quick', { state: 'done' }))
    expect(reloads).toEqual(['quick'])
    emit(sweep('quick', { state: 'done' }))
    expect(reloads).toEqual(['quick'])
  })

  it('reloads once for a job whose done event came before its reply', () => {
    const followed = followVocab()
    emit(sweep('raced', { revision: 3, state: 'done' }))
    expect(reloads).toEqual(['raced'])
    // The reply is older than the event: the jobs store keeps the newer snapshot, and nothing reloads again.
    followed.started(PROJECT, sweep('raced', { revision: 1, state: 'queued' }))
    expect(useJobsStore().get('raced')?.state).toBe('done')
    expect(reloads).toEqual(['raced'])
  })

  it('reloads when the jobs store already knows the started job is done', () => {
    const followed = followVocab()
    useJobsStore().track(sweep('known', { revision: 3, state: 'done' }))
    followed.started(PROJECT, sweep('known', { revision: 1, state: 'queued' }))
    expect(reloads).toEqual(['known'])
  })

  it('does not reload for a job started from here whose project is no longer open', async () => {
    const followed = followVocab()
    await useProjectStore().open(OTHER)
    followed.started(PROJECT, sweep('left-behind', { state: 'done' }))
    expect(reloads).toEqual([])
  })

  it('gives the reload the finished job, already recorded by the jobs store', () => {
    const jobs = useJobsStore()
    const seen: (string | undefined)[] = []
    useFollowedJobs([VOCAB_EXTEND_JOB], (finished) => {
      expectTypeOf(finished).toEqualTypeOf<JobOf<typeof VOCAB_EXTEND_JOB>>()
      seen.push(`${finished.labels.count}:${jobs.get(finished.id)?.state}`)
    })
    emit(extend('extend-1', { state: 'done', labels: { mode: 'add', count: '300' } }))
    expect(seen).toEqual(['300:done'])
  })

  it('stops listening when the scope it was set up in ends', () => {
    useJobsStore()
    const before = api.listenerCount()
    const scope = effectScope()
    scope.run(followVocab)
    expect(api.listenerCount()).toBe(before + 1)
    scope.stop()
    expect(api.listenerCount()).toBe(before)
    emit(sweep('after', { state: 'done' }))
    expect(reloads).toEqual([])
  })
})
