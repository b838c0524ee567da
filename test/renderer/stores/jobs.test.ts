import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { JobSnapshot } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { RECENT_LIMIT, useJobsStore } from '../../../renderer/src/stores/jobs'
import { createFakeApi, job, type FakeApi } from '../fakes'

let api: FakeApi

beforeEach(() => {
  api = createFakeApi()
  installApi(api)
  setActivePinia(createPinia())
})

/** A benchmark result told apart by its GFLOP/s. */
const bench = (gflops: number) => ({ backend: 'wasm' as const, size: 64, gflops, seconds: 1 })

describe('jobs store', () => {
  it('reduces job events into snapshots by id', () => {
    const jobs = useJobsStore()
    api.emit({ type: 'job', job: job({ id: 'a', state: 'queued' }) })
    api.emit({ type: 'job', job: job({ id: 'a', state: 'running', progress: { fraction: 0.5, message: 'half', etaSeconds: 3 } }) })
    api.emit({ type: 'project', dir: '/p', manifest: {} as never })
    expect(Object.keys(jobs.byId)).toEqual(['a'])
    expect(jobs.get('a')?.progress).toEqual({ fraction: 0.5, message: 'half', etaSeconds: 3 })
    expect(jobs.get('missing')).toBeNull()
  })

  it('derives active (queued/running, newest first) and recent (finished, latest finish first)', () => {
    const jobs = useJobsStore()
    const events: JobSnapshot[] = [
      job({ id: 'q', state: 'queued', createdAt: '2025-01-01T00:00:03Z' }),
      job({ id: 'r', state: 'running', createdAt: '2025-01-01T00:00:04Z' }),
      job({ id: 'd', state: 'done', createdAt: '2025-01-01T00:00:01Z', finishedAt: '2025-01-01T00:05:00Z' }),
      job({ id: 'f', state: 'failed', createdAt: '2025-01-01T00:00:02Z', finishedAt: '2025-01-01T00:01:00Z' }),
    ]
    for (const snapshot of events) api.emit({ type: 'job', job: snapshot })
    expect(jobs.active.map((j) => j.id)).toEqual(['r', 'q'])
    expect(jobs.recent.map((j) => j.id)).toEqual(['d', 'f'])
    expect(jobs.activeCount).toBe(2)

    api.emit({ type: 'job', job: job({ id: 'r', state: 'cancelled', createdAt: '2025-01-01T00:00:04Z', finishedAt: '2025-01-01T00:06:00Z' }) })
    expect(jobs.active.map((j) => j.id)).toEqual(['q'])
    expect(jobs.recent.map((j) => j.id)).toEqual(['r', 'd', 'f'])
  })

  it(`keeps only the ${RECENT_LIMIT} most recently finished jobs in recent`, () => {
    const jobs = useJobsStore()
    for (let i = 0; i < RECENT_LIMIT + 5; i++) {
      const at = `2025-01-01T00:${String(i).padStart(2, '0')}:00Z`
      api.emit({ type: 'job', job: job({ id: `j${i}`, state: 'done', createdAt: at, finishedAt: at }) })
    }
    expect(jobs.recent).toHaveLength(RECENT_LIMIT)
    expect(jobs.recent[0]?.id).toBe(`j${RECENT_LIMIT + 4}`)
  })

  it('never replaces a snapshot with an older revision', () => {
    const jobs = useJobsStore()
    api.emit({ type: 'job', job: job({ id: 'a', revision: 5, state: 'done', result: bench(1) }) })
    jobs.track(job({ id: 'a', revision: 3, state: 'running' }))
    expect(jobs.get('a')?.state).toBe('done')
    // A newer revision does replace it.
    jobs.track(job({ id: 'a', revision: 6, state: 'done', result: bench(2) }))
    expect(jobs.get('a')?.result).toEqual(bench(2))
  })

  it('refresh() merges jobs.list into what events already told it', async () => {
    api.handlers['jobs.list'] = () => [job({ id: 'a', revision: 2, state: 'running' }), job({ id: 'b', state: 'queued' })]
    const jobs = useJobsStore()
    api.emit({ type: 'job', job: job({ id: 'a', revision: 3, state: 'done' }) })
    await jobs.refresh()
    expect(api.calls).toEqual([{ method: 'jobs.list', params: {} }])
    expect(jobs.get('a')?.state).toBe('done')
    expect(jobs.get('b')?.state).toBe('queued')
  })

  it('cancel() calls jobs.cancel and records the snapshot it returns', async () => {
    api.handlers['jobs.cancel'] = ({ id }) => job({ id, revision: 2, state: 'cancelled' })
    const jobs = useJobsStore()
    jobs.track(job({ id: 'a', state: 'running' }))
    await jobs.cancel('a')
    expect(api.calls).toEqual([{ method: 'jobs.cancel', params: { id: 'a' } }])
    expect(jobs.get('a')?.state).toBe('cancelled')
    expect(jobs.activeCount).toBe(0)
  })
})
