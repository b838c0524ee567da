import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { DoctorReport } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useSystemStore } from '../../../renderer/src/stores/system'
import { createFakeApi, job, type FakeApi } from '../fakes'

let api: FakeApi

const doctor = { backend: { name: 'wasm' } } as DoctorReport

beforeEach(() => {
  api = createFakeApi({
    'system.doctor': () => doctor,
    'system.benchmark': () => ({ job: job({ id: 'bench', kind: 'benchmark', state: 'queued' }) }),
  })
  installApi(api)
  setActivePinia(createPinia())
})

describe('system store', () => {
  it('loads the doctor report', async () => {
    const system = useSystemStore()
    await system.loadDoctor()
    expect(system.doctor?.backend.name).toBe('wasm')
  })

  it('follows the benchmark job through events and reads its result when done', async () => {
    const system = useSystemStore()
    const jobs = useJobsStore()
    await system.runBenchmark({ size: 64 })
    expect(api.calls).toEqual([{ method: 'system.benchmark', params: { size: 64 } }])
    expect(system.benchmarkRunning).toBe(true)
    expect(jobs.activeCount).toBe(1)
    expect(system.benchmarkResult).toBeNull()

    api.emit({ type: 'job', job: job({ id: 'bench', state: 'running', progress: { fraction: 0.5, message: 'repeat 10 of 20', etaSeconds: 1 } }) })
    expect(system.benchmarkJob?.progress.fraction).toBe(0.5)
    expect(system.benchmarkResult).toBeNull()

    const result = { backend: 'wasm' as const, size: 64, gflops: 1.25, seconds: 0.01 }
    api.emit({ type: 'job', job: job({ id: 'bench', state: 'done', result }) })
    expect(system.benchmarkRunning).toBe(false)
    expect(system.benchmarkResult).toEqual(result)
  })

  it('has no result for a failed benchmark', async () => {
    const system = useSystemStore()
    await system.runBenchmark()
    api.emit({ type: 'job', job: job({ id: 'bench', state: 'failed', error: { code: 'internal', message: 'out of memory' } }) })
    expect(system.benchmarkResult).toBeNull()
    expect(system.benchmarkJob?.error?.message).toBe('out of memory')
  })
})
